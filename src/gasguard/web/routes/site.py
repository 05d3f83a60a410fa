"""The whole live plant in one call: sites, zones, channels, valves, alarms and identifications."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from gasguard.web.deps import CurrentUser, PlantDep
from gasguard.web.routes.operate import UNAVAILABLE
from gasguard.web.schemas import PlantView

router = APIRouter(prefix="/api/v1/site", tags=["live"])


@router.get("", response_model=PlantView, responses={**UNAVAILABLE})
def get_site(_user: CurrentUser, plant: PlantDep) -> dict[str, Any]:
    """Everything the dashboard shows, as one snapshot (the WebSocket sends the same on connect)."""
    view: dict[str, Any] = plant.view()
    return view
