"""One long-lived client per service URL for adapters that frameworks call per sample.

Frameworks such as verl import a reward function by path and call it with fixed
arguments, so the URL comes from the call's keyword arguments or, failing that, from
``UTRS_URL`` (read here and nowhere else in the client).
"""

from __future__ import annotations

import os
import threading

from client.client import RewardClient

__all__ = ["DEFAULT_URL", "default_url", "shared_client"]

DEFAULT_URL = "http://127.0.0.1:8000"

_lock = threading.Lock()
_clients: dict[tuple[str, str | None], RewardClient] = {}


def default_url() -> str:
    return os.environ.get("UTRS_URL", DEFAULT_URL)


def shared_client(url: str | None = None, *, api_key: str | None = None) -> RewardClient:
    """The process's client for ``url`` (made on first use; nothing connects before)."""
    key = (url or default_url(), api_key)
    with _lock:
        if key not in _clients:
            _clients[key] = RewardClient(key[0], api_key=api_key)
        return _clients[key]
