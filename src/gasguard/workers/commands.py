"""Operator commands from a web tier to the worker that owns the zone, over the MQTT broker.

Why MQTT request/reply and not a command table with LISTEN/NOTIFY: the workers and web tiers already
hold broker connections for readings and live events, a command then costs two small messages and no
database round trips on the safety path, and it keeps working through a short database outage (the
safety loop does too). The database still decides *who* may answer: the web tier reads the zone's
lease first and refuses at once when no worker owns it ("no worker owns zone kitchen: check the
workers"), and a worker answers only for zones it holds.

Answered exactly once:

- Every request has an id and an ``expires_at`` (now + ``COMMAND_TIMEOUT_S``). A worker never runs a
  request past its expiry, so a command the operator was told timed out can never take effect later
  (after a takeover, say).
- A worker remembers the answer per request id for ``REMEMBER_S``; a redelivered request (QoS 1 may
  deliver twice) gets the stored answer again and is not run a second time.
- The web tier takes the first answer per id and drops any duplicate.

Requests use a clean session (never queued for a dead owner); a web tier that gets no answer in time
says so, and that the command may or may not have been carried out, so the operator checks the zone.

Signed both ways: the broker ACL keeps devices off the request topics, but a site with a looser broker
(or a leaked service password) must still not let anything on the broker reset a zone or reopen a
valve. Every request and answer travels as ``{"body": "<json>", "mac": "<hex>"}``, with an HMAC-SHA256
over the body under a key derived from ``GASGUARD_SECRET_KEY`` (which every worker and web tier of a
site already shares: tokens and sessions are checked by all of them). The body names the zone, so a
signed request copied onto another zone's topic is refused; its expiry bounds a replay, and its id
makes a replay within the expiry a duplicate that is never run twice. Unsigned, badly signed or
misdirected messages are dropped and logged, never run.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from typing import Any

from gasguard.config import SiteConfig
from gasguard.domain import OperatorAction, OperatorCommand, OperatorResult
from gasguard.mqtt_client import BrokerAddress, make_client
from gasguard.workers.lease import LeaseTable, unowned_message, zone_owners

log = logging.getLogger(__name__)

COMMAND_TIMEOUT_S = 5.0
"""How long a web tier waits for the owning worker's answer; also the request's lifetime."""

REMEMBER_S = 600.0
"""How long a worker keeps an answer to re-send for a redelivered request."""


KEY_PURPOSE = b"gasguard operator command channel v1"
"""Domain separation: the command key is derived from the secret key, never the secret key itself."""


class UnsignedMessageError(ValueError):
    """A command request or answer without a valid signature (dropped, never run)."""


def command_key(secret_key: str) -> bytes:
    """The key that signs command requests and answers, derived from the site's shared secret key."""
    return hmac.new(secret_key.encode(), KEY_PURPOSE, hashlib.sha256).digest()


def seal(key: bytes, body: dict[str, Any]) -> bytes:
    """``body`` as a signed envelope for the broker."""
    text = json.dumps(body, separators=(",", ":"), sort_keys=True)
    mac = hmac.new(key, text.encode(), hashlib.sha256).hexdigest()
    return json.dumps({"body": text, "mac": mac}).encode()


def unseal(key: bytes, payload: bytes | str) -> dict[str, Any]:
    """The body of a signed envelope; ``UnsignedMessageError`` when it is not signed with ``key``."""
    try:
        envelope = json.loads(payload)
        text, mac = str(envelope["body"]), str(envelope["mac"])
    except (ValueError, KeyError, TypeError) as exc:
        raise UnsignedMessageError(f"not a signed envelope ({type(exc).__name__})") from None
    expected = hmac.new(key, text.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, mac):
        raise UnsignedMessageError("bad signature (a different secret key, or a forged message)")
    try:
        body = json.loads(text)
    except ValueError:
        raise UnsignedMessageError("the signed body is not JSON") from None
    if not isinstance(body, dict):
        raise UnsignedMessageError("the signed body is not an object")
    return body


def request_topic(prefix: str, site: str, zone: str) -> str:
    return f"{prefix}/{site}/{zone}/command/request"


def zone_of_target(site: SiteConfig, action: OperatorAction, target: str) -> tuple[str, str] | None:
    """(site id, zone id) of a command's target from the site file alone (a web tier has no safety state)."""
    for entry, zone in site.zones():
        if action is OperatorAction.RESET and target == zone.id:
            return entry.id, zone.id
        if target.split("/", 1)[0] == zone.id and "/" in target:  # an alarm id: zone/channel/LEVEL
            return entry.id, zone.id
        if target in {v.id for v in zone.valves} | {c.id for c in zone.channels}:
            return entry.id, zone.id
    for entry in site.sites:
        for output in entry.outputs:
            if output.id == target and isinstance(output.zones, list) and len(output.zones) == 1:
                return entry.id, output.zones[0]
    return None


def _result(zone: str, command: OperatorCommand, accepted: bool, message: str) -> OperatorResult:
    return OperatorResult(zone, command.action, command.target, command.user, command.reason, accepted, message)


class CommandServer:
    """Worker side: answer requests for the zones ``owns`` says we hold, each id at most once."""

    def __init__(
        self,
        broker: BrokerAddress,
        *,
        prefix: str,
        owner: str,
        operate: Callable[[str, OperatorCommand], Awaitable[OperatorResult] | None],
        key: bytes,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.broker = broker
        self.prefix = prefix
        self.owner = owner
        self._key = key
        self._operate = operate
        self._clock = clock
        self._answers: OrderedDict[str, tuple[float, str, bytes]] = OrderedDict()
        self.answered = 0
        self.duplicates = 0
        self.expired = 0
        self.refused = 0

    async def run(self) -> None:
        client = make_client(
            self.broker, client_id=f"gasguard-commands-{uuid.uuid4().hex[:10]}", availability_topic=None
        )
        async with client:
            await client.subscribe(f"{self.prefix}/+/+/command/request", qos=1)
            async for message in client.messages:
                payload = message.payload if isinstance(message.payload, bytes | str) else b""
                reply = await self.handle(message.topic.value, payload)
                if reply is not None:
                    await client.publish(reply[0], reply[1], qos=1)

    async def handle(self, topic: str, payload: bytes | str) -> tuple[str, bytes] | None:
        """The reply (topic, payload) to send, or ``None`` when this worker must stay silent."""
        zone = topic.split("/")[-3]
        try:
            request = unseal(self._key, payload)
        except UnsignedMessageError as exc:
            self.refused += 1
            log.error("operator command request on %s refused: %s", topic, exc)
            return None
        if request.get("zone") != zone:
            self.refused += 1
            log.error("operator command request on %s refused: signed for zone %r", topic, request.get("zone"))
            return None
        try:
            request_id, reply_to = str(request["id"]), str(request["reply_to"])
            command_data = dict(request["command"])
            command_data["action"] = OperatorAction(command_data["action"])
            command = OperatorCommand(**command_data)
            expires_at = float(request["expires_at"])
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("operator command request refused as malformed: %s", exc)
            return None
        now = self._clock()
        self._forget(now)
        known = self._answers.get(request_id)
        if known is not None:
            self.duplicates += 1
            return known[1], known[2]
        if now > expires_at:
            self.expired += 1
            log.warning("operator command %s for zone %s arrived after its expiry; not run", request_id, zone)
            return None
        pending = self._operate(zone, command)
        if pending is None:
            return None  # not our zone: its owner answers
        result = await pending
        body = seal(self._key, {"id": request_id, "worker": self.owner, "result": asdict(result)})
        self._answers[request_id] = (now, reply_to, body)
        self.answered += 1
        return reply_to, body

    def _forget(self, now: float) -> None:
        while self._answers and next(iter(self._answers.values()))[0] < now - REMEMBER_S:
            self._answers.popitem(last=False)


class CommandClient:
    """Web side: send a command to the zone's owner and wait for its one answer."""

    def __init__(
        self,
        broker: BrokerAddress,
        site: SiteConfig,
        leases: LeaseTable,
        *,
        prefix: str,
        key: bytes,
        timeout_s: float = COMMAND_TIMEOUT_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.broker = broker
        self.site = site
        self.leases = leases
        self.prefix = prefix
        self._key = key
        self.timeout_s = timeout_s
        self.clock = clock
        self.client_id = f"gasguard-web-{uuid.uuid4().hex[:10]}"
        self.reply_topic = f"{prefix}/replies/{self.client_id}"
        self._waiting: dict[str, asyncio.Future[OperatorResult]] = {}
        self._outbox: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()
        self._ready = asyncio.Event()

    async def run(self) -> None:
        """Hold the broker connection: publish requests, resolve the first answer per request id."""
        client = make_client(self.broker, client_id=self.client_id, availability_topic=None)
        async with client:
            await client.subscribe(self.reply_topic, qos=1)
            self._ready.set()

            async def send() -> None:
                while True:
                    topic, body = await self._outbox.get()
                    await client.publish(topic, body, qos=1)

            sender = asyncio.create_task(send())
            try:
                async for message in client.messages:
                    payload = message.payload if isinstance(message.payload, bytes | str) else b""
                    self._resolve(payload)
            finally:
                self._ready.clear()
                sender.cancel()

    def _resolve(self, payload: bytes | str) -> None:
        try:
            answer = unseal(self._key, payload)
        except UnsignedMessageError as exc:
            log.error("an answer on %s was dropped: %s", self.reply_topic, exc)
            return
        try:
            data: dict[str, Any] = dict(answer["result"])
            data["action"] = OperatorAction(data["action"])
            result = OperatorResult(**data)
            future = self._waiting.pop(str(answer["id"]))
        except (ValueError, KeyError, TypeError):
            return  # a duplicate answer, or one for a request we gave up on
        if not future.done():
            future.set_result(result)

    async def operate(self, command: OperatorCommand) -> OperatorResult:
        place = zone_of_target(self.site, command.action, command.target)
        if place is None:
            return _result("", command, False, f"{command.target} is not in the site file")
        site_id, zone = place
        owners = await asyncio.to_thread(zone_owners, self.leases, [zone])
        owner = owners[zone]
        if owner is None:
            return _result(zone, command, False, unowned_message(zone))
        if not self._ready.is_set():
            return _result(zone, command, False, "the web tier is not connected to the broker: try again shortly")
        request_id = uuid.uuid4().hex
        future: asyncio.Future[OperatorResult] = asyncio.get_running_loop().create_future()
        self._waiting[request_id] = future
        request = {
            "id": request_id,
            "zone": zone,
            "reply_to": self.reply_topic,
            "expires_at": self.clock() + self.timeout_s,
            "command": {**asdict(command), "action": command.action.value},
        }
        await self._outbox.put((request_topic(self.prefix, site_id, zone), seal(self._key, request)))
        try:
            return await asyncio.wait_for(future, self.timeout_s)
        except TimeoutError:
            self._waiting.pop(request_id, None)
            return _result(
                zone,
                command,
                False,
                f"no answer from worker {owner} (owner of zone {zone}) within {self.timeout_s:.0f} s: the command "
                "may or may not have been carried out; check the zone's events before repeating it",
            )
