"""Liveness and readiness with per-component status; open to monitoring without a token.

Anonymous callers get each component's status only; a signed-in person (any role, a valid bearer token)
also gets the details. Details name hosts, counts and error messages: useful to an operator, and a map
of the weak spots for anybody else who can reach the port.
"""

from __future__ import annotations

import asyncio
import logging

from fastapi import APIRouter, Request, Response, status
from sqlalchemy.exc import SQLAlchemyError

from gasguard.auth import authenticate_token
from gasguard.services import Services
from gasguard.storage.writer import ComponentStatus
from gasguard.web.deps import OptionalCredentials, ServicesDep
from gasguard.web.health import RecentViewers, describe_error, overall, public_detail, run_checks
from gasguard.web.schemas import ComponentPublic, HealthPublic

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/api/v1/health", tags=["health"])


def _viewers(request: Request) -> RecentViewers:
    """The app's memory of recently checked tokens (made on first use, one per app)."""
    viewers: RecentViewers | None = getattr(request.app.state, "health_viewers", None)
    if viewers is None:
        viewers = RecentViewers()
        request.app.state.health_viewers = viewers
    return viewers


def may_see_details(services: Services, viewers: RecentViewers, token: str) -> bool:
    """Whether ``token`` belongs to a signed-in person; while the database cannot say, whether it did recently.

    Device tokens get no details: a gateway has no use for them and is the likelier thing to be stolen.
    Checking does not update the token's last-used time (a health poll is not a use of the account).
    """
    key = services.hasher.hash(token)
    now = services.clock()
    try:
        with services.session_factory() as session:
            principal = authenticate_token(session, token=token, hasher=services.hasher, now=now)
            session.rollback()
    except SQLAlchemyError as exc:
        logger.debug("health: token not checked, the database failed: %s", describe_error(exc))
        return viewers.recent(key, now)
    if principal is None or principal.role is None:
        viewers.forget(key)
        return False
    viewers.remember(key, now)
    return True


@router.get(
    "",
    response_model_exclude_none=True,
    responses={503: {"model": HealthPublic, "description": "A component is down"}},
)
async def health(
    request: Request, services: ServicesDep, response: Response, credentials: OptionalCredentials
) -> HealthPublic:
    """Readiness: 200 when every component is ok or degraded, 503 when one is down.

    Each component's ``detail`` is only given to a signed-in person (``Authorization: Bearer <token>``).
    """
    components = await asyncio.to_thread(run_checks, dict(services.health_checks))
    state = overall(components)
    if state is ComponentStatus.DOWN:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    detailed = False
    if credentials is not None and credentials.scheme.lower() == "bearer":
        detailed = await asyncio.to_thread(may_see_details, services, _viewers(request), credentials.credentials)
    return HealthPublic(
        status=state,
        components={
            name: ComponentPublic(status=c.status, detail=public_detail(dict(c.detail)) if detailed else None)
            for name, c in components.items()
        },
    )


@router.get("/live")
async def live() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "ok"}
