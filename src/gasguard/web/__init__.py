"""The HTTP API: ``create_app(settings, services)`` builds a FastAPI app with no global state.

The services it serves (``gasguard.services``) are built by the caller, or from the settings."""

from gasguard.web.app import create_app

__all__ = ["create_app"]
