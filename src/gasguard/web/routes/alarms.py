"""Alarms: the active list, the history from the event log, and the operator's actions on one alarm.

Alarm ids are ``zone/source/LEVEL`` (``kitchen/kitchen-ch1/A2``) and contain slashes, so the id is a
``path`` parameter followed by the action. Shelve and inhibit always expire; the safety core still
trips on a shelved alarm (shelving only hides it from the list).
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, HTTPException, Query, status

from gasguard.domain import OperatorAction
from gasguard.readmodel import PlantReadModel
from gasguard.services import Services
from gasguard.storage.events import EventFilter, EventKind, list_events
from gasguard.web.deps import CurrentUser, OperatorUser, PlantDep, RuntimeDep, ServicesDep, get_plant
from gasguard.web.routes.operate import REFUSED, UNAVAILABLE, Responses, run_command
from gasguard.web.routes.zones import zone_or_404
from gasguard.web.schemas import AlarmView, EventPublic, InhibitBody, OperatorResponse, ReasonBody, ShelveBody

router = APIRouter(prefix="/api/v1/alarms", tags=["alarms"])

NOT_FOUND: Responses = {404: {"description": "No such alarm"}}
ACTION_RESPONSES: Responses = {**NOT_FOUND, **REFUSED, **UNAVAILABLE}


def _history(services: Services, zone: str | None, limit: int) -> list[EventPublic]:
    with services.session_factory() as session:
        events = list_events(session, flt=EventFilter(kinds=[EventKind.ALARM], zone=zone), limit=limit)
    return [EventPublic(**event.to_json()) for event in events]


@router.get("", response_model=list[AlarmView] | list[EventPublic], responses={**UNAVAILABLE})
async def get_alarms(
    _user: CurrentUser,
    services: ServicesDep,
    zone: str | None = None,
    include: Literal["active", "history"] = "active",
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[Any]:
    """``active``: alarms not in the normal state, unacknowledged first, then by priority (live core).
    ``history``: alarm events from the event log, newest first."""
    if include == "history":
        return await asyncio.to_thread(_history, services, zone, limit)
    plant = get_plant(services)
    if zone is not None:
        zone_or_404(plant, zone)
    return plant.alarms_view(zone)[:limit]


def _alarm_or_404(plant: PlantReadModel, alarm_id: str) -> str:
    zone: str | None = plant.zone_of_alarm(alarm_id)
    if zone is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no alarm {alarm_id!r}")
    return zone


def _channel_of(plant: PlantReadModel, alarm_id: str) -> str:
    """The gas channel an alarm is about; inhibit acts on the channel (all of its alarms)."""
    _alarm_or_404(plant, alarm_id)
    parts = alarm_id.split("/")
    source = parts[1] if len(parts) == 3 else ""
    if not source or plant.zone_of_channel(source) is None:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            detail=f"alarm {alarm_id!r} is not about a gas channel; only a channel can be taken out of service",
        )
    return source


@router.post("/{alarm_id:path}/ack", responses=ACTION_RESPONSES)
async def ack_alarm(
    alarm_id: str,
    user: OperatorUser,
    runtime: RuntimeDep,
    plant: PlantDep,
    body: Annotated[ReasonBody | None, Body()] = None,
) -> OperatorResponse:
    """Acknowledge: the operator has seen it. Acknowledge is not reset; a latched alarm stays latched."""
    _alarm_or_404(plant, alarm_id)
    return await run_command(runtime, user, OperatorAction.ACK, alarm_id, (body or ReasonBody()).reason)


@router.post("/{alarm_id:path}/shelve", responses=ACTION_RESPONSES)
async def shelve_alarm(
    alarm_id: str, body: ShelveBody, user: OperatorUser, runtime: RuntimeDep, plant: PlantDep
) -> OperatorResponse:
    """Hide a nuisance alarm for ``minutes`` (it expires). The interlock still trips on it."""
    _alarm_or_404(plant, alarm_id)
    until = runtime.clock() + body.minutes * 60.0
    return await run_command(runtime, user, OperatorAction.SHELVE, alarm_id, body.reason, until=until)


@router.post("/{alarm_id:path}/unshelve", responses=ACTION_RESPONSES)
async def unshelve_alarm(
    alarm_id: str,
    user: OperatorUser,
    runtime: RuntimeDep,
    plant: PlantDep,
    body: Annotated[ReasonBody | None, Body()] = None,
) -> OperatorResponse:
    _alarm_or_404(plant, alarm_id)
    return await run_command(runtime, user, OperatorAction.UNSHELVE, alarm_id, (body or ReasonBody()).reason)


@router.post("/{alarm_id:path}/inhibit", responses=ACTION_RESPONSES)
async def inhibit_alarm(
    alarm_id: str, body: InhibitBody, user: OperatorUser, runtime: RuntimeDep, plant: PlantDep
) -> OperatorResponse:
    """Take the alarm's channel out of service for ``minutes`` (maintenance). Refused if the zone could no
    longer trip with the channels left in service."""
    channel = _channel_of(plant, alarm_id)
    until = runtime.clock() + body.minutes * 60.0
    return await run_command(runtime, user, OperatorAction.INHIBIT, channel, body.reason, until=until)


@router.post("/{alarm_id:path}/uninhibit", responses=ACTION_RESPONSES)
async def uninhibit_alarm(
    alarm_id: str,
    user: OperatorUser,
    runtime: RuntimeDep,
    plant: PlantDep,
    body: Annotated[ReasonBody | None, Body()] = None,
) -> OperatorResponse:
    """Put the alarm's channel back in service."""
    channel = _channel_of(plant, alarm_id)
    return await run_command(runtime, user, OperatorAction.UNINHIBIT, channel, (body or ReasonBody()).reason)
