"""An optional tqdm progress bar (programs/s and the mix of statuses so far); tqdm is
imported only when a bar is asked for."""

from __future__ import annotations

import importlib
import logging
import threading
from collections import Counter
from collections.abc import Sequence
from typing import Any, Protocol

from client.models import Result, Status

logger = logging.getLogger(__name__)

_ORDER = [str(status) for status in Status]


class Progress(Protocol):
    def update(self, n: int) -> None: ...

    def set_postfix_str(self, s: str = "", refresh: bool = True) -> None: ...

    def close(self) -> None: ...


class _Silent:
    def update(self, n: int) -> None:
        del n

    def set_postfix_str(self, s: str = "", refresh: bool = True) -> None:
        del s, refresh

    def close(self) -> None:
        return None


def open_progress(enabled: bool, total: int, *, desc: str = "evaluate", **kwargs: Any) -> Progress:
    """A tqdm bar over ``total`` programs, or a no-op when disabled or tqdm is missing."""
    if not enabled:
        return _Silent()
    try:
        # Through importlib: tqdm is optional and ships no type stubs.
        tqdm_auto = importlib.import_module("tqdm.auto")
    except ImportError:
        logger.warning("progress=True but tqdm is not installed (pip install 'utrs[progress]')")
        return _Silent()
    bar: Progress = tqdm_auto.tqdm(total=total, desc=desc, unit=" programs", **kwargs)
    return bar


def status_mix(counts: Counter[str]) -> str:
    """``pass 12, failure 3, error 1`` in the statuses' order."""
    keys = [k for k in _ORDER if counts[k]] + sorted(k for k in counts if k not in _ORDER)
    return ", ".join(f"{key} {counts[key]}" for key in keys)


class StatusBar:
    """A progress bar that also shows the status mix of the results seen so far."""

    def __init__(self, bar: Progress) -> None:
        self._bar = bar
        self._lock = threading.Lock()  # chunks finish in the sync client's threads
        self.counts: Counter[str] = Counter()

    def add(self, results: Sequence[Result]) -> None:
        with self._lock:
            self.counts.update(str(result.status) for result in results)
            self._bar.set_postfix_str(status_mix(self.counts), refresh=False)
            self._bar.update(len(results))

    def close(self) -> None:
        self._bar.close()
