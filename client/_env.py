"""The client's environment: ``UTRS_URL`` and ``UTRS_API_KEY``, read here and nowhere else.

An explicit argument always wins; the variables fill in what a caller (a framework that
imports a reward function by path, the CLI, a notebook) did not pass.
"""

from __future__ import annotations

import os

__all__ = ["API_KEY_VAR", "DEFAULT_URL", "URL_VAR", "api_key", "service_url"]

DEFAULT_URL = "http://127.0.0.1:8000"
URL_VAR = "UTRS_URL"
API_KEY_VAR = "UTRS_API_KEY"


def service_url(url: str | None = None) -> str:
    """``url``, else ``$UTRS_URL``, else :data:`DEFAULT_URL`."""
    return url or os.environ.get(URL_VAR) or DEFAULT_URL


def api_key(key: str | None = None) -> str | None:
    """``key``, else ``$UTRS_API_KEY``, else no key."""
    return key or os.environ.get(API_KEY_VAR) or None
