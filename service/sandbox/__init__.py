"""Sandbox: warm, locked-down containers, the streams to the agents inside them, and the
executor that turns request items into judged results (docs/sandbox.md).

Owns the agent protocol as the worker speaks it (:mod:`.protocol`), the Docker engine
(:mod:`.docker`, the only user of the Docker SDK and the one place its errors are
translated), the agent stream (:mod:`.stream`), the pool of containers (:mod:`.pool`), the
scheduling of runs over it (:mod:`.scheduler`: in-flight window, blame and retry), the
executor (:mod:`.executor`) and ``utrs-sandbox`` (:mod:`.cli`). The container-level
modules may import only :mod:`service.settings`, :mod:`service.budgets` and
:mod:`service.errors`; the executor and the CLI may also import :mod:`service.feedback`,
the next stage of the data flow. Nothing here knows about Redis or HTTP.
"""
