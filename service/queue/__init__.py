"""Queue: Redis + RQ between the API and the workers (one RQ job per chunk of a batch).

Owns the whole Redis key layout (:mod:`.keys`), the Redis clients and the one translator
of Redis' errors (:mod:`.redis`), the typed RQ job envelope (:mod:`.envelope`), a batch's
plan (:mod:`.plan`), the result cache (:mod:`.cache`), enqueueing (:mod:`.producer`) and
publishing, waiting for and reading back results (:mod:`.results`). Only JSON crosses
Redis. It may import :mod:`service.settings`, :mod:`service.budgets` and
:mod:`service.errors`; the API and the workers import it, never the other way round (the
producer names the worker's job functions by import string, :data:`.envelope.RUN_CHUNK`).
"""
