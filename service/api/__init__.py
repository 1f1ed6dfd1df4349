"""The HTTP API (FastAPI). ``create_app(settings)`` builds it; ``utrs-api`` serves it."""

from service.api.app import create_app, main

__all__ = ["create_app", "main"]
