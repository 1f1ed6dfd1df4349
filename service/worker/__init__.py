"""Worker: ``utrs-worker``, one RQ worker process holding a warm sandbox pool for its life.

Owns the RQ job entry points (:mod:`.jobs`: run a chunk, answer a chunk that failed for
good), the context a worker hands its jobs (:mod:`.context`: its settings and its pool)
and the process (:mod:`.main`: the RQ worker class, heartbeats, signals). It may import
:mod:`service.queue`, :mod:`service.sandbox`, :mod:`service.feedback`,
:mod:`service.metrics` and the core modules (settings, budgets, errors). Nothing imports
it: RQ reaches its job functions by import string.
"""
