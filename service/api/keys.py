"""API keys: compared in constant time, rotated without a restart.

Keys come from ``UTRS_API_KEYS`` (fixed for the process's life) and ``UTRS_API_KEYS_FILE``
(one key per line, ``#`` comments), which is read again whenever its modification time
changes (looked at no more than once a second): add the new key to the file, move the
clients over, remove the old one. Every configured key is compared with what the request
sent (``hmac.compare_digest`` on SHA-256 digests of equal length, no early exit), so the
time a check takes says nothing about any key. No key at all: the API is open, which
:func:`check_exposure` allows only on a loopback address.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import os
import threading
import time
from pathlib import Path

from service.settings import Settings

__all__ = ["ApiKeys", "ExposureRefused", "check_exposure"]

log = logging.getLogger(__name__)
_RECHECK_S = 1.0


class ExposureRefused(RuntimeError):
    """The API would serve an open code-execution endpoint beyond this machine."""


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest()


class ApiKeys:
    """The keys a request may carry; one per app."""

    def __init__(self, settings: Settings) -> None:
        self._fixed = [_digest(k) for k in settings.api_keys]
        self._path = Path(settings.api_keys_file) if settings.api_keys_file else None
        self._from_file: list[bytes] = []
        self._mtime: float | None = None
        self._checked = 0.0
        self._lock = threading.Lock()
        self._reload()

    @property
    def configured(self) -> bool:
        """Whether any key is configured (else the API is open)."""
        self._maybe_reload()
        return bool(self._fixed or self._from_file or self._path is not None)

    def accepts(self, given: str) -> bool:
        """Whether ``given`` is one of the keys, comparing with every one of them."""
        self._maybe_reload()
        digest = _digest(given)
        ok = False
        for key in (*self._fixed, *self._from_file):
            ok |= hmac.compare_digest(digest, key)
        return ok

    def _maybe_reload(self) -> None:
        if self._path is None or time.monotonic() - self._checked < _RECHECK_S:
            return
        with self._lock:
            self._reload()

    def _reload(self) -> None:
        self._checked = time.monotonic()
        if self._path is None:
            return
        try:
            mtime = os.stat(self._path).st_mtime
            if mtime == self._mtime:
                return
            lines = self._path.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            log.error("cannot read the API keys file %s: %s (keeping the keys read before)", self._path, exc)
            return
        keys = [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
        self._from_file, self._mtime = [_digest(k) for k in keys], mtime
        log.info("API keys file read: %d keys", len(keys))


def check_exposure(host: str, settings: Settings) -> None:
    """Refuse to serve without API keys on anything but a loopback address.

    Raises:
        ExposureRefused: ``host`` is not loopback, no key is configured, and
            ``UTRS_API_OPEN`` does not say that something in front authenticates.
    """
    if settings.api_keys or settings.api_keys_file or settings.api_open or _loopback(host):
        return
    raise ExposureRefused(
        f"refusing to serve on {host!r} without API keys: anyone who reaches it could run code "
        "on this machine's workers. Set UTRS_API_KEYS (or UTRS_API_KEYS_FILE), bind 127.0.0.1, or set "
        "UTRS_API_OPEN=true if a proxy in front of it authenticates every request"
    )


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
