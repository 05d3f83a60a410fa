"""HTTP ingest for devices that cannot speak MQTT: one reading or a batch, all or nothing.

Every reading of a request is checked (known channel, valid time) before any is handed to the safety
pipeline, so a bad batch is refused whole with a message naming what is wrong and a device can simply
retry it. A ``null``, NaN or infinite value is accepted: the safety core puts the channel in FAULT
rather than the reading silently vanishing.

A device token bound to channels or zones (``gasguard users token create --channels ...``) may only
post those: a batch with any other channel is refused whole with 403 naming the channels, so a token
taken from one detector cannot report "no gas" for another.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from fastapi import APIRouter, HTTPException, status

from gasguard.auth import Principal
from gasguard.domain import Reading
from gasguard.ingest.payloads import ParseError, parse_timestamp
from gasguard.web.deps import DeviceCaller, RuntimeDep
from gasguard.web.routes.operate import UNAVAILABLE
from gasguard.web.schemas import IngestAccepted, IngestBatch, IngestBody, IngestReading

if TYPE_CHECKING:  # the runtime module imports the web services
    from gasguard.runtime import Runtime

router = APIRouter(prefix="/api/v1/ingest", tags=["ingest"])


def _reading(item: IngestReading, where: str, now: float) -> Reading:
    try:
        ts = now if item.ts is None else parse_timestamp(item.ts)
    except ParseError as exc:
        raise HTTPException(422, detail=f"{where}: {exc}") from None
    value = item.value if item.value is not None and math.isfinite(item.value) else None
    return Reading(channel=item.channel, value=value, ts=ts)


def _refuse_outside_scope(device: Principal, channels: list[str], runtime: Runtime) -> None:
    """403 naming every channel a bound device token may not post (nothing of the request is taken)."""
    if device.scope is None:
        return
    scope = device.scope
    refused = sorted({c for c in channels if not scope.allows(c, zone=runtime.zone_of_channel(c))})
    if refused:
        token = device.name.removeprefix("device:")
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail=f"token {token!r} may not post {', '.join(refused)}; nothing was accepted",
        )


@router.post(
    "/readings",
    status_code=status.HTTP_202_ACCEPTED,
    responses={
        403: {"description": "The device token is bound to other channels or zones; nothing was accepted"},
        422: {"description": "Unknown channel or bad reading; nothing was accepted"},
        **UNAVAILABLE,
    },
)
async def post_readings(body: IngestBody, device: DeviceCaller, runtime: RuntimeDep) -> IngestAccepted:
    """Queue readings for the safety pipeline (device token, or an admin testing a device by hand)."""
    items = body.readings if isinstance(body, IngestBatch) else [body]
    _refuse_outside_scope(device, [item.channel for item in items], runtime)
    unknown = sorted({item.channel for item in items if runtime.zone_of_channel(item.channel) is None})
    if unknown:
        raise HTTPException(422, detail=f"unknown channel(s): {', '.join(unknown)}; nothing was accepted")
    now = runtime.clock()
    batch = isinstance(body, IngestBatch)
    readings = [_reading(item, f"body.readings.{i}.ts" if batch else "body.ts", now) for i, item in enumerate(items)]
    for reading in readings:
        runtime.submit_reading(reading)
    return IngestAccepted(accepted=len(readings))
