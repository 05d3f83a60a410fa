"""The HTTP API: ``create_app(settings, services)`` builds a FastAPI app with no global state."""

from gasguard.web.app import create_app
from gasguard.web.services import Services, build_services

__all__ = ["Services", "build_services", "create_app"]
