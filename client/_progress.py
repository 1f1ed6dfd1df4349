"""An optional tqdm progress bar; tqdm is imported only when a bar is asked for."""

from __future__ import annotations

import importlib
import logging
from typing import Any, Protocol

logger = logging.getLogger(__name__)


class Progress(Protocol):
    def update(self, n: int) -> None: ...

    def close(self) -> None: ...


class _Silent:
    def update(self, n: int) -> None:
        del n

    def close(self) -> None:
        return None


def open_progress(enabled: bool, total: int, *, desc: str = "evaluate", **kwargs: Any) -> Progress:
    """A tqdm bar over ``total`` items, or a no-op when disabled or tqdm is missing."""
    if not enabled:
        return _Silent()
    try:
        # Through importlib: tqdm is optional and ships no type stubs.
        tqdm_auto = importlib.import_module("tqdm.auto")
    except ImportError:
        logger.warning("progress=True but tqdm is not installed (pip install 'utrs[progress]')")
        return _Silent()
    bar: Progress = tqdm_auto.tqdm(total=total, desc=desc, unit="prog", **kwargs)
    return bar
