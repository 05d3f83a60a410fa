"""The live feed at ``/api/v1/ws``: a snapshot on connect, then every alarm, valve, trip, health,
operator and audit event as it is stored, throttled readings, identifications and camera scores.

Browsers cannot set an ``Authorization`` header on a WebSocket, so the first message must be
``{"type": "auth", "token": "..."}`` within ``AUTH_TIMEOUT_S``; anything else closes the socket with
4401. Each connection reads from its own bounded bus subscription: a client too slow to keep up loses
messages, so it is closed (4408) and must reconnect for a fresh snapshot rather than show a state that
silently skipped an alarm. The token is checked again at every ping, so a sign-out or a revoked
account ends the feed too.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
from typing import Any

import anyio
from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from gasguard.auth import Principal, Role, authenticate_token
from gasguard.notify import Message, Subscription
from gasguard.web.services import Services

logger = logging.getLogger(__name__)

router = APIRouter()

AUTH_TIMEOUT_S = 5.0
PING_INTERVAL_S = 15.0
SEND_TIMEOUT_S = 10.0
QUEUE_SIZE = 500
TOPICS = (
    "alarm",
    "valve",
    "valve_command",
    "health",
    "trip",
    "operator",
    "audit",
    "reading",
    "identification",
    "camera",
)

CLOSE_UNAUTHORIZED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_TOO_SLOW = 4408
CLOSE_UNAVAILABLE = 4503


def _finite(value: Any) -> Any:
    """JSON for browsers: NaN and infinity are not JSON, so they go out as null."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value


def dumps(data: dict[str, Any]) -> str:
    try:
        return json.dumps(data, allow_nan=False, default=str)
    except ValueError:
        return json.dumps(_finite(data), allow_nan=False, default=str)


def _check_token(services: Services, token: str) -> Principal | None:
    with services.session_factory() as session:
        principal = authenticate_token(session, token=token, hasher=services.hasher, now=services.clock())
        if principal is None:
            session.rollback()
            return None
        session.commit()
        return principal


async def _authenticate(websocket: WebSocket, services: Services) -> tuple[Principal, str] | None:
    """Wait for the auth message; close the socket and return ``None`` when it is missing or wrong."""
    try:
        text = await asyncio.wait_for(websocket.receive_text(), AUTH_TIMEOUT_S)
    except TimeoutError:
        await websocket.close(CLOSE_UNAUTHORIZED, f"send {{type: auth, token}} within {AUTH_TIMEOUT_S:g} s")
        return None
    except (WebSocketDisconnect, KeyError):  # KeyError: the client sent bytes, not text
        with contextlib.suppress(Exception):
            await websocket.close(CLOSE_UNAUTHORIZED, "the first message must be a JSON text message")
        return None
    try:
        message = json.loads(text)
    except ValueError:
        message = None
    token = message.get("token") if isinstance(message, dict) and message.get("type") == "auth" else None
    if not isinstance(token, str) or not token or len(token) > 512:
        await websocket.close(CLOSE_UNAUTHORIZED, 'the first message must be {"type": "auth", "token": "..."}')
        return None
    principal = await asyncio.to_thread(_check_token, services, token)
    if principal is None:
        await websocket.close(CLOSE_UNAUTHORIZED, "token is invalid, expired or revoked")
        return None
    if not principal.allows(Role.VIEWER):
        await websocket.close(CLOSE_FORBIDDEN, "the live feed needs a user token, not a device token")
        return None
    return principal, token


async def _read_until_closed(websocket: WebSocket) -> None:
    """Consume what the client sends (pongs, keep-alives) so a disconnect is noticed at once."""
    while (await websocket.receive())["type"] != "websocket.disconnect":
        pass


def _event(message: Message) -> dict[str, Any]:
    return {"type": message.topic, "ts": message.ts, "data": dict(message.payload)}


async def _send_loop(websocket: WebSocket, services: Services, subscription: Subscription, token: str) -> None:
    """Forward bus messages; ping (and re-check the token) when nothing happened for ``PING_INTERVAL_S``."""
    while True:
        message: Message | None = None
        with anyio.move_on_after(PING_INTERVAL_S):
            message = await subscription.get()
        if message is not None:
            if subscription.dropped:
                await websocket.close(CLOSE_TOO_SLOW, "too slow: live messages were lost; reconnect")
                return
            outgoing = _event(message)
        else:
            if await asyncio.to_thread(_check_token, services, token) is None:
                await websocket.close(CLOSE_UNAUTHORIZED, "token is no longer valid; sign in again")
                return
            outgoing = {"type": "ping"}
        try:
            with anyio.fail_after(SEND_TIMEOUT_S):
                await websocket.send_text(dumps(outgoing))
        except TimeoutError:
            logger.info("live client not reading for %.0f s; closing it", SEND_TIMEOUT_S)
            with contextlib.suppress(Exception):
                await websocket.close(CLOSE_TOO_SLOW, "too slow: reconnect")
            return


async def _pump(websocket: WebSocket, services: Services, subscription: Subscription, token: str) -> None:
    """Send until the client leaves or the send loop closes the socket, whichever comes first."""
    async with anyio.create_task_group() as group:

        async def until_client_leaves() -> None:
            await _read_until_closed(websocket)
            group.cancel_scope.cancel()

        group.start_soon(until_client_leaves)
        try:
            await _send_loop(websocket, services, subscription, token)
        except (WebSocketDisconnect, RuntimeError):  # the client went away while we were sending
            pass
        finally:
            group.cancel_scope.cancel()


@router.websocket("/api/v1/ws")
async def live_feed(websocket: WebSocket) -> None:
    services: Services = websocket.app.state.services
    await websocket.accept()
    signed_in = await _authenticate(websocket, services)
    if signed_in is None:
        return
    principal, token = signed_in
    runtime = services.runtime
    if runtime is None:
        await websocket.close(CLOSE_UNAVAILABLE, "the live runtime is not running in this service")
        return
    subscription = services.bus.subscribe(maxsize=QUEUE_SIZE, topics=TOPICS)
    try:
        view = runtime.view()
        user = {"username": principal.name, "role": str(principal.role)}
        await websocket.send_text(dumps({"type": "snapshot", "ts": view.get("ts"), "data": view, "user": user}))
        await _pump(websocket, services, subscription, token)
    except (WebSocketDisconnect, RuntimeError):
        return
    finally:
        services.bus.unsubscribe(subscription)
