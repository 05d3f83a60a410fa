"""Readings: the latest value of every channel (live), and a channel's history from storage, downsampled.

History is aggregated in the database into at most ``max_points`` equal time buckets, so a week of
one-second readings comes back as a chart-sized answer; empty buckets are left out so gaps show.
"""

from __future__ import annotations

import asyncio
import math
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query

from gasguard.services import Services
from gasguard.storage.readings import MAX_POINTS_LIMIT, downsample_readings
from gasguard.web.deps import CurrentUser, PlantDep, ServicesDep
from gasguard.web.routes.operate import UNAVAILABLE
from gasguard.web.routes.zones import zone_or_404
from gasguard.web.schemas import HistoryPoint, LatestReading, ReadingHistory

router = APIRouter(prefix="/api/v1/readings", tags=["readings"])

DEFAULT_WINDOW_S = 3600.0


@router.get(
    "/latest", response_model=list[LatestReading], responses={404: {"description": "No such zone"}, **UNAVAILABLE}
)
async def get_latest(_user: CurrentUser, plant: PlantDep, zone: str | None = None) -> list[dict[str, Any]]:
    if zone is not None:
        zone_or_404(plant, zone)
    return plant.latest_readings(zone)


def _history(services: Services, channel: str, start: float, end: float, max_points: int) -> ReadingHistory:
    with services.session_factory() as session:
        buckets = downsample_readings(session, channel=channel, start=start, end=end, max_points=max_points)
    return ReadingHistory(
        channel=channel,
        start=start,
        end=end,
        bucket_s=(end - start) / max_points,
        points=[HistoryPoint(ts=b.start, value=b.mean, min=b.minimum, max=b.maximum) for b in buckets],
    )


@router.get("")
async def get_history(
    _user: CurrentUser,
    services: ServicesDep,
    channel: Annotated[str, Query(min_length=1, max_length=200)],
    start: Annotated[
        float | None, Query(allow_inf_nan=False, description="Epoch s; default: an hour before end.")
    ] = None,
    end: Annotated[float | None, Query(allow_inf_nan=False, description="Epoch s; default: now.")] = None,
    max_points: Annotated[int, Query(ge=1, le=MAX_POINTS_LIMIT)] = 500,
) -> ReadingHistory:
    """Stored readings of ``channel`` in ``[start, end)``: mean, min and max per time bucket, oldest first."""
    end = services.clock() if end is None else end
    start = end - DEFAULT_WINDOW_S if start is None else start
    if not end > start:
        raise HTTPException(422, detail="end must be after start")
    if not math.isfinite(end - start):
        raise HTTPException(422, detail="the time range is too long")
    return await asyncio.to_thread(_history, services, channel, start, end, max_points)
