"""Hostile programs in the real sandbox, each beside benign ones that must keep their
verdicts (a session pool of this directory's own: what an attack leaves behind must not
reach another layer's tests)."""

from tests.support.sandbox import pool, settings

__all__ = ["pool", "settings"]
