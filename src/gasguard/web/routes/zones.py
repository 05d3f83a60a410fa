"""Zones: their live state, and reset after a trip (the safety core refuses while gas is still present)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, status

from gasguard.domain import OperatorAction
from gasguard.readmodel import PlantReadModel
from gasguard.web.deps import CurrentUser, OperatorUser, PlantDep, RuntimeDep
from gasguard.web.routes.operate import REFUSED, UNAVAILABLE, Responses, run_command
from gasguard.web.schemas import OperatorResponse, ResetBody, ZoneView

router = APIRouter(prefix="/api/v1/zones", tags=["live"])

NOT_FOUND: Responses = {404: {"description": "No such zone"}}


def zone_or_404(plant: PlantReadModel, zone_id: str) -> dict[str, Any]:
    zone: dict[str, Any] | None = plant.zone_view(zone_id)
    if zone is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no zone {zone_id!r}")
    return zone


@router.get("", response_model=list[ZoneView], responses={**UNAVAILABLE})
def get_zones(_user: CurrentUser, plant: PlantDep) -> list[dict[str, Any]]:
    return plant.zones_view()


@router.get("/{zone_id}", response_model=ZoneView, responses={**NOT_FOUND, **UNAVAILABLE})
def get_zone(zone_id: str, _user: CurrentUser, plant: PlantDep) -> dict[str, Any]:
    return zone_or_404(plant, zone_id)


@router.post("/{zone_id}/reset", responses={**NOT_FOUND, **REFUSED, **UNAVAILABLE})
async def reset_zone(
    zone_id: str,
    user: OperatorUser,
    runtime: RuntimeDep,
    plant: PlantDep,
    body: ResetBody,
) -> OperatorResponse:
    """Clear the zone's latched alarms and trip. Refused (409) while any cause is still present.

    After an accepted reset the valves stay closed; each is reopened by an operator with a reason.
    """
    zone_or_404(plant, zone_id)
    return await run_command(runtime, user, OperatorAction.RESET, zone_id, body.reason)
