"""The sandbox layer: the container pool, the executor and the agent against the real
Docker engine and the real sandbox image (one session pool for this directory)."""

from tests.support.sandbox import pool, settings

__all__ = ["pool", "settings"]
