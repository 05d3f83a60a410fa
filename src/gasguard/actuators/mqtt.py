"""A gas valve behind an MQTT valve controller (a relay board, ESPHome/Tasmota node or PLC gateway).

Topics (``<base>`` is set per valve, see ``valve_base_topic``):

- ``<base>/set``: GasGuard publishes ``OPEN`` or ``CLOSE`` (QoS 1, **never retained**: a retained
  ``OPEN`` would reopen the valve by itself when the controller reboots, and a retained ``CLOSE``
  would hide that GasGuard stopped re-asserting it);
- ``<base>/state``: the controller publishes its limit-switch position ``open``, ``closed`` or
  ``moving`` (``opening``, ``closing`` and ``stopped`` count as moving, ``unknown`` as unknown; a JSON
  object ``{"state": "closed"}`` is accepted too). It should publish retained, so GasGuard learns the
  position as soon as it (re)connects. Any other payload is counted as invalid and ignored.

Default base topic: ``<prefix>/<site>/<zone>/valve`` when the zone has one valve (the topics named in
ARCHITECTURE.md), ``<prefix>/<site>/<zone>/valve/<valve id>`` when it has several, so each controller
has its own pair. A valve's ``driver.topic`` overrides it.

``drive`` returns once the broker acknowledged the command (QoS 1); the controller's state message
confirms the movement. It raises ``ValveDriverError`` when the broker is not connected within
``publish_timeout_s`` or does not acknowledge, so ``RetryingValve`` retries and the safety core
raises a VALVE FAULT. While the broker is unreachable for ``feedback_lost_s`` the position is
reported UNKNOWN once (the core raises a VALVE FAULT): GasGuard cannot see the valve.

Watchdog (``docs/watchdog.md``): while the safety loop ticks GasGuard publishes ``<base>/heartbeat``
every ``heartbeat_s`` (QoS 0, never retained), and its connection for the valve has a last will:
``offline`` (retained) on ``<base>/availability``, where it publishes ``online`` once connected and
``offline`` when it stops. A controller that closes the valve when heartbeats stop for three
heartbeats, or when ``offline`` arrives, closes it when GasGuard hangs (heartbeats stop), dies (the
broker publishes the will as soon as the connection drops) or freezes with its connection open (the
broker publishes the will after one and a half keep-alives, 45 s: the heartbeat is the fast path).

The connection uses the broker's credentials and TLS (``gasguard.mqtt_client``). On a secured broker
the controller's user may only read ``<base>/set`` and write ``<base>/state`` (``docs/mqtt-security.md``),
so no other device can open the valve or fake its position.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from dataclasses import dataclass

import aiomqtt

from gasguard.actuators.base import Alive, LinkHealth, Report, ValveDriverError
from gasguard.actuators.heartbeat import always_alive, publish_heartbeats
from gasguard.domain import ValveAction, ValveFeedback, ValvePosition
from gasguard.mqtt_client import OFFLINE, BrokerAddress, make_client, publish_command

logger = logging.getLogger(__name__)

ONLINE = "online"
COMMANDS = {ValveAction.OPEN: "OPEN", ValveAction.CLOSE: "CLOSE"}
STATE_WORDS = {
    "open": ValvePosition.OPEN,
    "closed": ValvePosition.CLOSED,
    "moving": ValvePosition.MOVING,
    "opening": ValvePosition.MOVING,
    "closing": ValvePosition.MOVING,
    "stopped": ValvePosition.MOVING,  # stopped between the seats: neither open nor closed
    "unknown": ValvePosition.UNKNOWN,
}
MAX_STATE_BYTES = 256


def valve_base_topic(prefix: str, site: str, zone: str, valve: str, *, valves_in_zone: int = 1) -> str:
    """The default base topic of a valve controller (``/set`` and ``/state`` go below it).

    >>> valve_base_topic("gasguard", "plant", "boiler", "boiler-valve")
    'gasguard/plant/boiler/valve'
    >>> valve_base_topic("gasguard", "plant", "boiler", "boiler-valve", valves_in_zone=2)
    'gasguard/plant/boiler/valve/boiler-valve'
    """
    base = f"{prefix}/{site}/{zone}/valve"
    return base if valves_in_zone <= 1 else f"{base}/{valve}"


def parse_valve_state(payload: bytes | str) -> ValvePosition | None:
    """The position a state message reports; ``None`` for an empty (cleared) message.

    Raises ``ValueError`` for anything that is not a known state.

    >>> parse_valve_state(b"closed")
    <ValvePosition.CLOSED: 'closed'>
    >>> parse_valve_state('{"state": "OPENING"}')
    <ValvePosition.MOVING: 'moving'>
    """
    if len(payload) > MAX_STATE_BYTES:
        raise ValueError(f"state message of {len(payload)} bytes is too long")
    try:
        text = payload.decode("utf-8") if isinstance(payload, bytes) else payload
    except UnicodeDecodeError:
        raise ValueError("state message is not UTF-8") from None
    text = text.strip()
    if not text:
        return None
    if text.startswith("{"):
        try:
            document = json.loads(text)
        except ValueError:
            raise ValueError("state message is not valid JSON") from None
        word = document.get("state") if isinstance(document, dict) else None
        if not isinstance(word, str):
            raise ValueError('JSON state message needs a "state" string')
        text = word.strip()
    position = STATE_WORDS.get(text.lower())
    if position is None:
        raise ValueError(f"unknown valve state {text[:40]!r}; expected one of {', '.join(STATE_WORDS)}")
    return position


@dataclass
class MqttValveStats:
    received: int = 0
    invalid: int = 0
    commands: int = 0
    connects: int = 0
    connect_failures: int = 0
    connected: bool = False
    last_error: str | None = None


class MqttValve:
    """Drives one valve by MQTT commands and reports the state its controller publishes (a ``ValveDriver``)."""

    def __init__(
        self,
        valve_id: str,
        broker: BrokerAddress,
        *,
        command_topic: str,
        state_topic: str,
        client_id: str | None = None,
        feedback_lost_s: float = 10.0,
        publish_timeout_s: float = 5.0,
        backoff_initial_s: float = 0.5,
        backoff_max_s: float = 30.0,
        heartbeat_topic: str | None = None,
        availability_topic: str | None = None,
        heartbeat_s: float = 1.0,
    ) -> None:
        self.valve_id = valve_id
        self.broker = broker
        self.command_topic = command_topic
        self.state_topic = state_topic
        self.heartbeat_topic = heartbeat_topic
        self.availability_topic = availability_topic
        self.heartbeat_s = heartbeat_s
        self.link = LinkHealth(f"valve:{valve_id}")
        self.client_id = client_id or f"gasguard-valve-{valve_id[:40]}-{uuid.uuid4().hex[:6]}"
        self.feedback_lost_s = feedback_lost_s
        self.publish_timeout_s = publish_timeout_s
        self.backoff_initial_s = backoff_initial_s
        self.backoff_max_s = backoff_max_s
        self.stats = MqttValveStats()
        self.position: ValvePosition | None = None  # last position reported
        self.commands: list[ValveAction] = []
        self._report: Report | None = None
        self._client: aiomqtt.Client | None = None
        self._ready = asyncio.Event()
        self._lost_timer: asyncio.TimerHandle | None = None
        self._alive: Alive = always_alive

    def attach(self, report: Report) -> None:
        """Report positions through ``report`` (``run`` must run to receive them)."""
        self._report = report
        self.link.attach(report)

    def set_alive(self, alive: Alive) -> None:
        """Publish heartbeats only while ``alive()`` (the safety loop ticks)."""
        self._alive = alive

    async def drive(self, action: ValveAction) -> None:
        """Publish ``OPEN`` or ``CLOSE``; raise ``ValveDriverError`` if the broker does not take it in time."""
        payload = COMMANDS[action]
        problem = await publish_command(
            self._ready, lambda: self._client, self.broker, self.command_topic, payload, self.publish_timeout_s
        )
        if problem is not None:
            raise self._failed(f"{self.valve_id}: {payload} on {self.command_topic}: {problem}")
        self.stats.commands += 1
        self.commands.append(action)
        logger.info("valve %s: %s published on %s", self.valve_id, payload, self.command_topic)

    def handle(self, payload: bytes | str) -> ValvePosition | None:
        """Apply one state message; report a changed position. Invalid messages are counted and ignored."""
        self.stats.received += 1
        try:
            position = parse_valve_state(payload)
        except ValueError as exc:
            self.stats.invalid += 1
            self.stats.last_error = f"invalid state message on {self.state_topic}: {exc}"[:300]
            if self.stats.invalid <= 10 or self.stats.invalid % 100 == 0:
                logger.warning("valve %s: %s", self.valve_id, self.stats.last_error)
            return None
        if position is not None and position is not self.position:
            self._publish(position)
        return position

    async def run(self) -> None:
        """Stay connected, receive state messages and keep the command path ready, until cancelled."""
        loop = asyncio.get_running_loop()
        delay = self.backoff_initial_s
        self._arm_lost_timer(loop)
        try:
            while True:
                client = make_client(self.broker, client_id=self.client_id, availability_topic=self.availability_topic)
                try:
                    async with client:
                        await client.subscribe(self.state_topic, qos=1)
                        if self.availability_topic:
                            await client.publish(self.availability_topic, ONLINE, qos=1, retain=True)
                        self._client = client
                        self._ready.set()
                        self.stats.connected = True
                        self.stats.connects += 1
                        self._disarm_lost_timer()
                        self.link.ok()
                        delay = self.backoff_initial_s
                        logger.info("valve %s: listening on %s", self.valve_id, self.state_topic)
                        beats = self._start_heartbeat(client)
                        try:
                            async for message in client.messages:
                                payload = message.payload
                                if not isinstance(payload, bytes | str):
                                    payload = b"" if payload is None else str(payload)
                                self.handle(payload)
                        finally:
                            await self._stop_heartbeat(client, beats)
                except aiomqtt.MqttError as exc:
                    self.stats.connect_failures += 1
                    self.stats.last_error = f"broker: {exc}"[:300]
                    logger.warning("valve %s: MQTT broker lost (%s); retrying in %.1f s", self.valve_id, exc, delay)
                finally:
                    self._client = None
                    self._ready.clear()
                    self.stats.connected = False
                self._arm_lost_timer(loop)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.backoff_max_s)
        finally:
            self._disarm_lost_timer()

    async def aclose(self) -> None:
        self._disarm_lost_timer()

    # ------------------------------------------------------------------ helpers

    def _start_heartbeat(self, client: aiomqtt.Client) -> asyncio.Task[None] | None:
        if self.heartbeat_topic is None:
            return None
        return asyncio.create_task(
            publish_heartbeats(
                client, self.heartbeat_topic, every_s=self.heartbeat_s, alive=self._alive, name=f"valve {self.valve_id}"
            ),
            name=f"heartbeat-{self.valve_id}",
        )

    async def _stop_heartbeat(self, client: aiomqtt.Client, beats: asyncio.Task[None] | None) -> None:
        """Stop the heartbeat and, while the connection still works, say ``offline`` (an orderly stop)."""
        if beats is not None:
            beats.cancel()
            with contextlib.suppress(asyncio.CancelledError, aiomqtt.MqttError):
                await beats
        if self.availability_topic:
            with contextlib.suppress(aiomqtt.MqttError, TimeoutError, asyncio.CancelledError):
                async with asyncio.timeout(2.0):
                    await client.publish(self.availability_topic, OFFLINE, qos=1, retain=True)

    def _publish(self, position: ValvePosition) -> None:
        self.position = position
        if self._report is not None:
            self._report(ValveFeedback(self.valve_id, position))

    def _arm_lost_timer(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._lost_timer is None:
            self._lost_timer = loop.call_later(self.feedback_lost_s, self._feedback_lost)

    def _disarm_lost_timer(self) -> None:
        if self._lost_timer is not None:
            self._lost_timer.cancel()
            self._lost_timer = None

    def _feedback_lost(self) -> None:
        self._lost_timer = None
        self.link.failed(f"no connection to the MQTT broker for {self.feedback_lost_s:g} s")
        if self.position is not ValvePosition.UNKNOWN:
            logger.error(
                "valve %s: no MQTT connection for %.0f s; position unknown", self.valve_id, self.feedback_lost_s
            )
            self._publish(ValvePosition.UNKNOWN)

    def _failed(self, message: str) -> ValveDriverError:
        self.stats.last_error = message[:300]
        return ValveDriverError(message)
