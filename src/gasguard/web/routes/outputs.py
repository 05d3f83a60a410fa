"""Outputs: sounders, beacons, fans, relays and the system-failure relay; silence and the admin test.

Silence is an operator's acknowledgement of a sounder: it stops sounding (or goes steady) until a new
alarm, and acknowledges no alarm. A test forces an output to its alarm state (sounding, running, or
the fault relay dropped) for at most 10 minutes; only an admin may, and it is audited.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException, status

from gasguard.domain import OperatorAction
from gasguard.readmodel import PlantReadModel
from gasguard.web.deps import AdminUser, CurrentUser, OperatorUser, PlantDep, RuntimeDep
from gasguard.web.routes.operate import REFUSED, UNAVAILABLE, Responses, run_command
from gasguard.web.schemas import OperatorResponse, OutputPublic, OutputTestBody, ReasonBody

router = APIRouter(prefix="/api/v1/outputs", tags=["outputs"])

NOT_FOUND: Responses = {404: {"description": "No such output"}}


def _output_or_404(plant: PlantReadModel, output_id: str) -> None:
    if not plant.has_output(output_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no output {output_id!r}")


@router.get("", response_model=list[OutputPublic], responses={**UNAVAILABLE})
async def get_outputs(_user: CurrentUser, plant: PlantDep) -> list[dict[str, Any]]:
    """Every output: what it is doing now, why, and what drives it."""
    return plant.outputs_view()


@router.post("/{output_id}/silence", responses={**NOT_FOUND, **REFUSED, **UNAVAILABLE})
async def silence_output(
    output_id: str,
    user: OperatorUser,
    runtime: RuntimeDep,
    plant: PlantDep,
    body: Annotated[ReasonBody | None, Body()] = None,
) -> OperatorResponse:
    """Silence a sounder until a new alarm. The alarms themselves stay unacknowledged and latched."""
    _output_or_404(plant, output_id)
    return await run_command(runtime, user, OperatorAction.SILENCE, output_id, (body or ReasonBody()).reason)


@router.post("/{output_id}/test", responses={**NOT_FOUND, **REFUSED, **UNAVAILABLE})
async def test_output(
    output_id: str, body: OutputTestBody, user: AdminUser, runtime: RuntimeDep, plant: PlantDep
) -> OperatorResponse:
    """Force the output to its alarm state for ``minutes`` (at most 10). Admins only; audited."""
    _output_or_404(plant, output_id)
    until = runtime.clock() + body.minutes * 60.0
    return await run_command(runtime, user, OperatorAction.TEST_OUTPUT, output_id, body.reason, until=until)
