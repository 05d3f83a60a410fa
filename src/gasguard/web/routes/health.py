"""Liveness and readiness with per-component status; open to monitoring without a token."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Response, status

from gasguard.storage.writer import ComponentStatus
from gasguard.web.deps import ServicesDep
from gasguard.web.health import overall, run_checks
from gasguard.web.schemas import ComponentPublic, HealthPublic

router = APIRouter(prefix="/api/v1/health", tags=["health"])


@router.get("", responses={503: {"model": HealthPublic, "description": "A component is down"}})
async def health(services: ServicesDep, response: Response) -> HealthPublic:
    """Readiness: 200 when every component is ok or degraded, 503 when one is down."""
    components = await asyncio.to_thread(run_checks, dict(services.health_checks))
    state = overall(components)
    if state is ComponentStatus.DOWN:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return HealthPublic(
        status=state,
        components={name: ComponentPublic(status=c.status, detail=dict(c.detail)) for name, c in components.items()},
    )


@router.get("/live")
async def live() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "ok"}
