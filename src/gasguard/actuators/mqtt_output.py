"""A sounder, beacon, fan or relay behind an MQTT relay node (ESPHome, Tasmota, a PLC gateway).

Topics below the output's base topic (default ``<prefix>/<site>/output/<output id>``, or the driver's
``topic``):

- ``<base>/set``: GasGuard publishes ``ON``, ``OFF`` or ``PULSE`` (QoS 1, **never retained**: a
  retained ``ON`` would sound a sounder by itself when its node reboots long after the alarm, and a
  retained command hides that GasGuard stopped). ``PULSE`` asks the node to pulse the output (about
  0.5 s on, 0.5 s off) until the next command. On every (re)connection the current command is sent
  again, so a node that restarted meanwhile learns it.
- ``<base>/state`` (when the output has ``feedback: true``): the node reports ``on`` or ``off``
  (``pulse``/``pulsed`` count as on; ``{"state": "ON"}`` is accepted too), shown as ``feedback``.
- ``<base>/heartbeat``: published every ``heartbeat_s`` while the safety loop ticks (QoS 0, not
  retained); ``<base>/availability``: ``online`` (retained) while connected, and the connection's
  last will ``offline`` (retained). ``docs/watchdog.md`` shows ESPHome and Tasmota set-ups that go to
  the safe state (a fault relay off) when heartbeats stop or ``offline`` arrives.

``set`` raises ``OutputDriverError`` when the broker is not connected in time or does not
acknowledge; ``RetryingOutput`` tries again and reports the output unreachable (``SystemFault``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid

import aiomqtt

from gasguard.actuators.base import Alive, LinkHealth, OutputDriverError, Report
from gasguard.actuators.feedback import FeedbackCheck
from gasguard.actuators.heartbeat import always_alive, publish_heartbeats
from gasguard.actuators.mqtt import ONLINE
from gasguard.domain import OutputMode
from gasguard.mqtt_client import OFFLINE, BrokerAddress, make_client, publish_command

logger = logging.getLogger(__name__)

COMMANDS = {OutputMode.OFF: "OFF", OutputMode.ON: "ON", OutputMode.PULSED: "PULSE"}
STATE_WORDS = {"on": True, "off": False, "pulse": True, "pulsed": True, "true": True, "false": False}
MAX_STATE_BYTES = 256


def output_base_topic(prefix: str, site: str, output: str) -> str:
    """The default base topic of an output's relay node.

    >>> output_base_topic("gasguard", "plant", "boiler-sounder")
    'gasguard/plant/output/boiler-sounder'
    """
    return f"{prefix}/{site}/output/{output}"


def parse_output_state(payload: bytes | str) -> bool | None:
    """Energised or not, from a state message; ``None`` for an empty (cleared) message.

    Raises ``ValueError`` for anything else.

    >>> parse_output_state(b"ON")
    True
    >>> parse_output_state('{"state": "off"}')
    False
    """
    if len(payload) > MAX_STATE_BYTES:
        raise ValueError(f"state message of {len(payload)} bytes is too long")
    try:
        text = (payload.decode("utf-8") if isinstance(payload, bytes) else payload).strip()
    except UnicodeDecodeError:
        raise ValueError("state message is not UTF-8") from None
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
    state = STATE_WORDS.get(text.lower())
    if state is None:
        raise ValueError(f"unknown output state {text[:40]!r}; expected on or off")
    return state


class MqttOutput:
    """Drives one output by MQTT commands and feeds its node's watchdog (an ``OutputDriver``)."""

    def __init__(
        self,
        output_id: str,
        broker: BrokerAddress,
        *,
        base_topic: str,
        feedback: bool = False,
        check_feedback: bool = False,
        heartbeat_s: float = 1.0,
        client_id: str | None = None,
        publish_timeout_s: float = 5.0,
        lost_after_s: float = 10.0,
        backoff_initial_s: float = 0.5,
        backoff_max_s: float = 30.0,
    ) -> None:
        self.output_id = output_id
        self.broker = broker
        self.base_topic = base_topic
        self.command_topic = f"{base_topic}/set"
        self.state_topic = f"{base_topic}/state" if feedback else None
        self.heartbeat_topic = f"{base_topic}/heartbeat"
        self.availability_topic = f"{base_topic}/availability"
        self.heartbeat_s = heartbeat_s
        self.client_id = client_id or f"gasguard-output-{output_id[:40]}-{uuid.uuid4().hex[:6]}"
        self.publish_timeout_s = publish_timeout_s
        self.lost_after_s = lost_after_s
        self.backoff_initial_s = backoff_initial_s
        self.backoff_max_s = backoff_max_s
        self.mode: OutputMode | None = None  # last mode the broker took
        self.modes: list[OutputMode] = []
        self.feedback: bool | None = None
        self.invalid_states = 0
        self.connected = False
        self.link = LinkHealth(f"output:{output_id}")
        self.feedback_check = FeedbackCheck(output_id, pulsed_reports_on=True) if feedback and check_feedback else None
        self._client: aiomqtt.Client | None = None
        self._ready = asyncio.Event()
        self._alive: Alive = always_alive
        self._lost_timer: asyncio.TimerHandle | None = None

    def attach(self, report: Report) -> None:
        self.link.attach(report)
        if self.feedback_check is not None:
            self.feedback_check.attach(report)

    def set_alive(self, alive: Alive) -> None:
        """Publish heartbeats only while ``alive()`` (the safety loop ticks)."""
        self._alive = alive

    async def set(self, mode: OutputMode) -> None:
        """Publish ``ON``, ``OFF`` or ``PULSE``; raise ``OutputDriverError`` if the broker does not take it."""
        payload = COMMANDS[mode]
        problem = await publish_command(
            self._ready, lambda: self._client, self.broker, self.command_topic, payload, self.publish_timeout_s
        )
        if problem is not None:
            raise OutputDriverError(f"{self.output_id}: {payload} on {self.command_topic}: {problem}")
        self.mode = mode
        self.modes.append(mode)
        logger.info("output %s: %s published on %s", self.output_id, payload, self.command_topic)
        if self.feedback_check is not None:
            self.feedback_check.update(mode, self.feedback)

    def handle(self, payload: bytes | str) -> None:
        """Apply one state message (invalid ones are counted and ignored)."""
        try:
            state = parse_output_state(payload)
        except ValueError as exc:
            self.invalid_states += 1
            if self.invalid_states <= 10 or self.invalid_states % 100 == 0:
                logger.warning("output %s: invalid state message on %s: %s", self.output_id, self.state_topic, exc)
            return
        if state is not None:
            self.feedback = state
            if self.feedback_check is not None:
                self.feedback_check.update(self.mode, state)

    async def run(self) -> None:
        """Stay connected, resend the current command on each connection, publish heartbeats, until cancelled."""
        loop = asyncio.get_running_loop()
        delay = self.backoff_initial_s
        self._arm_lost_timer(loop)
        try:
            while True:
                client = make_client(self.broker, client_id=self.client_id, availability_topic=self.availability_topic)
                try:
                    async with client:
                        if self.state_topic:
                            await client.subscribe(self.state_topic, qos=1)
                        await client.publish(self.availability_topic, ONLINE, qos=1, retain=True)
                        if self.mode is not None:
                            await client.publish(self.command_topic, COMMANDS[self.mode], qos=1, retain=False)
                        self._client = client
                        self._ready.set()
                        self.connected = True
                        self._disarm_lost_timer()
                        self.link.ok()
                        delay = self.backoff_initial_s
                        beats = asyncio.create_task(
                            publish_heartbeats(
                                client,
                                self.heartbeat_topic,
                                every_s=self.heartbeat_s,
                                alive=self._alive,
                                name=f"output {self.output_id}",
                            )
                        )
                        try:
                            async for message in client.messages:
                                payload = message.payload
                                self.handle(payload if isinstance(payload, bytes | str) else b"")
                        finally:
                            beats.cancel()
                            with contextlib.suppress(asyncio.CancelledError, aiomqtt.MqttError):
                                await beats
                            with contextlib.suppress(aiomqtt.MqttError, TimeoutError, asyncio.CancelledError):
                                async with asyncio.timeout(2.0):
                                    await client.publish(self.availability_topic, OFFLINE, qos=1, retain=True)
                except aiomqtt.MqttError as exc:
                    logger.warning("output %s: MQTT broker lost (%s); retrying in %.1f s", self.output_id, exc, delay)
                finally:
                    self._client = None
                    self._ready.clear()
                    self.connected = False
                self._arm_lost_timer(loop)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.backoff_max_s)
        finally:
            self._disarm_lost_timer()

    async def aclose(self) -> None:
        self._disarm_lost_timer()

    def _arm_lost_timer(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._lost_timer is None:
            self._lost_timer = loop.call_later(
                self.lost_after_s,
                self.link.failed,
                f"no connection to the MQTT broker for {self.lost_after_s:g} s",
            )

    def _disarm_lost_timer(self) -> None:
        if self._lost_timer is not None:
            self._lost_timer.cancel()
            self._lost_timer = None
