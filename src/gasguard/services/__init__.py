"""The service layer: what one GasGuard process shares (``Services``, built by ``build_services``),
its health checks and its live-feed sessions. The web app, the runtime and the zone workers use it;
it imports none of them."""

from gasguard.services.container import Services, build_services
from gasguard.services.health import ComponentHealth, HealthCheck
from gasguard.services.live_sessions import LiveSessions, LiveWatch

__all__ = ["ComponentHealth", "HealthCheck", "LiveSessions", "LiveWatch", "Services", "build_services"]
