"""The live feed at ``/api/v1/ws``: a snapshot on connect, then every alarm, valve, trip, health,
operator and audit event as it is stored, throttled readings, identifications and camera scores.

Browsers cannot set an ``Authorization`` header on a WebSocket, so the first message must be
``{"type": "auth", "token": "..."}`` within ``AUTH_TIMEOUT_S``; anything else closes the socket with
4401. Each connection reads from its own bounded bus subscription: a client too slow to keep up loses
messages, so it is closed (4408) and must reconnect for a fresh snapshot rather than show a state that
silently skipped an alarm.

A feed ends (4401) soon after its session does, whatever the traffic: a sign-out, a disabled account,
a new password, a role change or a new secret key. Two paths, because the web tier may be one of
several processes sharing the database:

- at once, when the change is made by a request in this process (``Services.live_sessions``);
- within ``RECHECK_INTERVAL_S`` otherwise (another process, ``gasguard users set-password``, an expiry):
  each socket re-reads its token on a timer of its own, independent of the messages it forwards.
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
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from gasguard.auth import Principal, Role, authenticate_token
from gasguard.auth.users import recheck_session
from gasguard.notify import Message, Subscription
from gasguard.services import LiveWatch, Services

logger = logging.getLogger(__name__)

router = APIRouter()

AUTH_TIMEOUT_S = 5.0
PING_INTERVAL_S = 15.0
RECHECK_INTERVAL_S = 0.5
"""How often each socket re-reads its token: a revocation made elsewhere ends the feed within about this
long (promised: 1 s). Cost: one primary-key read per socket per interval (2 small queries per second per
socket; 500 dashboards make 1,000 indexed point reads a second), in a worker thread."""
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
    "output",
)

CLOSE_UNAUTHORIZED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_TOO_SLOW = 4408
CLOSE_UNAVAILABLE = 4503

REASON_TOKEN_INVALID = "token is no longer valid; sign in again"
REASON_ROLE_CHANGED = "role changed; sign in again"
REASON_CHECK_FAILED = "the session could not be checked; sign in again"


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


def _recheck(services: Services, principal: Principal, token: str) -> str | None:
    """Why the session may no longer watch (a close reason), or ``None`` while it still may.

    The token is re-read by id and its hash compared under the current key (``services.hasher``), so a
    revoked or expired token, a disabled user and a key the token no longer matches all end the feed.
    A role change ends it too, though the token stays good: the snapshot and the dashboard were built
    for the old role, and a reconnect gets the new one.

    The secret key is read once, when the services are built (``build_services``), so a running process
    never changes it by itself: a new key takes a restart, which closes this process's sockets, and the
    old tokens are refused on reconnect. Reading ``services.hasher`` at every check still closes every
    feed within a recheck should the hasher be replaced while the process runs.
    """
    with services.session_factory() as session:
        current = recheck_session(
            session, token_id=principal.token_id, token=token, hasher=services.hasher, now=services.clock()
        )
    if current is None:
        return REASON_TOKEN_INVALID
    if current.role != principal.role:
        return REASON_ROLE_CHANGED
    return None


async def _until_session_ends(services: Services, principal: Principal, token: str, watch: LiveWatch) -> str:
    """Wait until this socket's session ends; the close reason.

    Wakes at once when a request in this process ends the session (``watch``), and re-reads the token
    every ``RECHECK_INTERVAL_S`` otherwise. A database that cannot be reached is logged and the feed goes
    on, so an operator does not lose the live alarms in an outage (revocations made here still arrive
    through ``watch``; the next recheck tries again). Any other failure closes the feed: a check that
    keeps failing for a reason nobody expected must not quietly keep a revoked session watching.
    """
    failing = False
    while True:
        with anyio.move_on_after(RECHECK_INTERVAL_S):
            await watch.ended.wait()
        if watch.reason is not None:
            return watch.reason
        try:
            reason = await asyncio.to_thread(_recheck, services, principal, token)
        except (DBAPIError, PoolTimeoutError) as exc:
            if not failing:
                logger.warning("cannot re-check the live feed session of %s: %s", principal.name, exc)
            failing = True
            continue
        except Exception:
            logger.exception("re-checking the live feed session of %s failed; closing it", principal.name)
            return REASON_CHECK_FAILED
        failing = False
        if reason is not None:
            return reason


async def _read_until_closed(websocket: WebSocket) -> None:
    """Consume what the client sends (pongs, keep-alives) so a disconnect is noticed at once."""
    while (await websocket.receive())["type"] != "websocket.disconnect":
        pass


def _event(message: Message) -> dict[str, Any]:
    return {"type": message.topic, "ts": message.ts, "data": dict(message.payload)}


async def _send_loop(websocket: WebSocket, subscription: Subscription) -> None:
    """Forward bus messages; ping when nothing happened for ``PING_INTERVAL_S``.

    The session is not checked here: a busy feed would never reach a check, so ``_until_session_ends``
    watches it beside this loop.
    """
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
            outgoing = {"type": "ping"}
        try:
            with anyio.fail_after(SEND_TIMEOUT_S):
                await websocket.send_text(dumps(outgoing))
        except TimeoutError:
            logger.info("live client not reading for %.0f s; closing it", SEND_TIMEOUT_S)
            with contextlib.suppress(Exception):
                await websocket.close(CLOSE_TOO_SLOW, "too slow: reconnect")
            return


async def _pump(
    websocket: WebSocket,
    services: Services,
    subscription: Subscription,
    signed_in: tuple[Principal, str],
    watch: LiveWatch,
) -> None:
    """Send until the client leaves, the send loop closes the socket or the session ends, whichever is first.

    An ended session cancels the send loop even in the middle of a send to a slow client, then closes
    the socket with 4401, so the close does not wait for the traffic to pause.
    """
    principal, token = signed_in
    ended: str | None = None
    async with anyio.create_task_group() as group:

        async def until_client_leaves() -> None:
            await _read_until_closed(websocket)
            group.cancel_scope.cancel()

        async def until_session_ends() -> None:
            nonlocal ended
            ended = await _until_session_ends(services, principal, token, watch)
            group.cancel_scope.cancel()

        group.start_soon(until_client_leaves)
        group.start_soon(until_session_ends)
        try:
            await _send_loop(websocket, subscription)
        except (WebSocketDisconnect, RuntimeError):  # the client went away while we were sending
            pass
        finally:
            group.cancel_scope.cancel()
    if ended is not None:
        logger.info("live feed of %s closed: %s", principal.name, ended)
        with contextlib.suppress(Exception), anyio.move_on_after(SEND_TIMEOUT_S):
            await websocket.close(CLOSE_UNAUTHORIZED, ended)


@router.websocket("/api/v1/ws")
async def live_feed(websocket: WebSocket) -> None:
    services: Services = websocket.app.state.services
    await websocket.accept()
    signed_in = await _authenticate(websocket, services)
    if signed_in is None:
        return
    principal, _token = signed_in
    plant = services.plant
    if plant is None:
        await websocket.close(CLOSE_UNAVAILABLE, "the live runtime is not running in this service")
        return
    # Watched from here on, before the snapshot, so a sign-out made while it is sent is not missed.
    watch = services.live_sessions.watch(user_id=principal.user_id, token_id=principal.token_id)
    subscription = services.bus.subscribe(maxsize=QUEUE_SIZE, topics=TOPICS)
    try:
        view = plant.view()
        user = {"username": principal.name, "role": str(principal.role)}
        await websocket.send_text(dumps({"type": "snapshot", "ts": view.get("ts"), "data": view, "user": user}))
        await _pump(websocket, services, subscription, signed_in, watch)
    except (WebSocketDisconnect, RuntimeError):
        return
    finally:
        services.bus.unsubscribe(subscription)
        services.live_sessions.forget(watch)
