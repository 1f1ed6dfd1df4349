"""The HTTP API (FastAPI): the first stage of the data flow. ``create_app(settings)``
builds it; ``utrs-api`` (``python -m service.api``) serves it.

Owns the routes (:mod:`.routes`), their typed dependencies and the API-key check
(:mod:`.deps`), admission against the server's limits (:mod:`.admission`), the response
bodies (:mod:`.responses`, from ``client.models``), the only exception-to-status map
(:mod:`.http_errors`), the ASGI middleware and the batch use cases (:mod:`.batches`).
It may import :mod:`service.queue`, :mod:`service.feedback` (reward-spec checks),
:mod:`service.metrics` and the core modules; it never imports the Docker SDK, and
nothing imports it.
"""

from service.api.app import create_app, main

__all__ = ["create_app", "main"]
