"""The queue layer against a real Redis (the root conftest's ``redis_server``), with
in-process burst workers running the real sandbox pool (RQ's own testing habit)."""

from tests.support.sandbox import pool, settings

__all__ = ["pool", "settings"]
