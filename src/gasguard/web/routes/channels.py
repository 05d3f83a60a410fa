"""Channels in TEST: a bump test or calibration with test gas, at most 30 minutes, audited.

While a channel is in TEST it does not vote and its alarms are test alarms (no outputs, no
notifications); the zone's other channels keep protecting, and a zone with no other voting channel
keeps its valves closed for the test. The safety core decides and says why.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, HTTPException, status

from gasguard.domain import OperatorAction
from gasguard.web.deps import OperatorUser, RuntimeDep
from gasguard.web.routes.operate import REFUSED, UNAVAILABLE, Responses, run_command
from gasguard.web.schemas import ChannelTestBody, OperatorResponse, ReasonBody

router = APIRouter(prefix="/api/v1/channels", tags=["channels"])

NOT_FOUND: Responses = {404: {"description": "No such channel"}}


def _channel_or_404(runtime: RuntimeDep, channel_id: str) -> None:
    if runtime.zone_of_channel(channel_id) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no channel {channel_id!r}")


@router.post("/{channel_id}/test", responses={**NOT_FOUND, **REFUSED, **UNAVAILABLE})
async def start_test(
    channel_id: str, body: ChannelTestBody, user: OperatorUser, runtime: RuntimeDep
) -> OperatorResponse:
    """Put the channel in TEST for ``minutes`` (at most 30). Refused while it reads gas."""
    _channel_or_404(runtime, channel_id)
    until = runtime.clock() + body.minutes * 60.0
    return await run_command(runtime, user, OperatorAction.TEST_CHANNEL, channel_id, body.reason, until=until)


@router.post("/{channel_id}/end-test", responses={**NOT_FOUND, **UNAVAILABLE})
async def end_test(
    channel_id: str, user: OperatorUser, runtime: RuntimeDep, body: Annotated[ReasonBody | None, Body()] = None
) -> OperatorResponse:
    """Bring the channel back from TEST; gas still on it is judged at once (and trips if at A2)."""
    _channel_or_404(runtime, channel_id)
    return await run_command(runtime, user, OperatorAction.END_TEST, channel_id, (body or ReasonBody()).reason)
