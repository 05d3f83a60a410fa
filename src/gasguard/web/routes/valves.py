"""Valves: their state, close (always allowed) and reopen (an operator, after reset, with a reason)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Body, HTTPException, status

from gasguard.domain import OperatorAction
from gasguard.web.deps import CurrentUser, OperatorUser, PlantDep, RuntimeDep
from gasguard.web.routes.operate import REFUSED, UNAVAILABLE, Responses, run_command
from gasguard.web.schemas import OperatorResponse, ReasonBody, ValveOpenBody, ValvePublic

if TYPE_CHECKING:
    from gasguard.runtime import Runtime

router = APIRouter(prefix="/api/v1/valves", tags=["valves"])

NOT_FOUND: Responses = {404: {"description": "No such valve"}}


def _valve_or_404(runtime: Runtime, valve_id: str) -> None:
    if runtime.zone_of_valve(valve_id) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no valve {valve_id!r}")


@router.get("", response_model=list[ValvePublic], responses={**UNAVAILABLE})
async def get_valves(_user: CurrentUser, plant: PlantDep) -> list[dict[str, Any]]:
    return plant.valves_view()


@router.post("/{valve_id}/close", responses={**NOT_FOUND, **UNAVAILABLE})
async def close_valve(
    valve_id: str, user: OperatorUser, runtime: RuntimeDep, body: Annotated[ReasonBody | None, Body()] = None
) -> OperatorResponse:
    """Close the valve. Always allowed and idempotent; the reason is audited when given."""
    _valve_or_404(runtime, valve_id)
    return await run_command(runtime, user, OperatorAction.CLOSE, valve_id, (body or ReasonBody()).reason)


@router.post("/{valve_id}/open", responses={**NOT_FOUND, **REFUSED, **UNAVAILABLE})
async def open_valve(valve_id: str, body: ValveOpenBody, user: OperatorUser, runtime: RuntimeDep) -> OperatorResponse:
    """Reopen the valve. Needs a reason; refused (409) while the zone is tripped or has not been reset."""
    _valve_or_404(runtime, valve_id)
    return await run_command(runtime, user, OperatorAction.OPEN, valve_id, body.reason)
