"""HTTP ingest for devices that cannot speak MQTT: one reading or a batch, all or nothing.

Every reading of a request is checked (known channel, valid time) before any is handed to the safety
pipeline, so a bad batch is refused whole with a message naming what is wrong and a device can simply
retry it. A ``null``, NaN or infinite value is accepted: the safety core puts the channel in FAULT
rather than the reading silently vanishing.
"""

from __future__ import annotations

import math

from fastapi import APIRouter, HTTPException, status

from gasguard.domain import Reading
from gasguard.ingest.payloads import ParseError, parse_timestamp
from gasguard.web.deps import DeviceCaller, RuntimeDep
from gasguard.web.routes.operate import UNAVAILABLE
from gasguard.web.schemas import IngestAccepted, IngestBatch, IngestBody, IngestReading

router = APIRouter(prefix="/api/v1/ingest", tags=["ingest"])


def _reading(item: IngestReading, where: str, now: float) -> Reading:
    try:
        ts = now if item.ts is None else parse_timestamp(item.ts)
    except ParseError as exc:
        raise HTTPException(422, detail=f"{where}: {exc}") from None
    value = item.value if item.value is not None and math.isfinite(item.value) else None
    return Reading(channel=item.channel, value=value, ts=ts)


@router.post(
    "/readings",
    status_code=status.HTTP_202_ACCEPTED,
    responses={422: {"description": "Unknown channel or bad reading; nothing was accepted"}, **UNAVAILABLE},
)
async def post_readings(body: IngestBody, _device: DeviceCaller, runtime: RuntimeDep) -> IngestAccepted:
    """Queue readings for the safety pipeline (device token, or an admin testing a device by hand)."""
    items = body.readings if isinstance(body, IngestBatch) else [body]
    unknown = sorted({item.channel for item in items if runtime.zone_of_channel(item.channel) is None})
    if unknown:
        raise HTTPException(422, detail=f"unknown channel(s): {', '.join(unknown)}; nothing was accepted")
    now = runtime.clock()
    batch = isinstance(body, IngestBatch)
    readings = [_reading(item, f"body.readings.{i}.ts" if batch else "body.ts", now) for i, item in enumerate(items)]
    for reading in readings:
        runtime.submit_reading(reading)
    return IngestAccepted(accepted=len(readings))
