"""MQTT ingestion and publishing with aiomqtt.

``MqttReadingSource`` subscribes to ``<prefix>/<site>/+/+/reading`` and yields parsed readings for as
long as it is iterated: it reconnects with exponential backoff (0.5 s doubling to 30 s) when the broker
goes away, and an invalid message is counted in ``stats.invalid`` and logged (rate-limited), never
raised. Each client announces itself on an availability topic: ``online`` (retained) on connect, and a
retained ``offline`` last will that the broker publishes if the process dies.

``MqttPublisher`` implements ``notify.Publisher``: ``publish`` only queues (bounded, oldest dropped and
counted), and ``run`` sends the queue, reconnecting the same way. The audit trail (sign-ins, user and
token changes) is not sent unless ``publish_audit`` is set, and even then without client addresses:
whoever may subscribe to the broker is not necessarily someone who may read who signed in from where.

Connections (credentials, TLS) are made by ``gasguard.mqtt_client``, shared with the valve actuators.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import aiomqtt

from gasguard.ingest.payloads import (
    DEFAULT_MAX_SKEW_S,
    ParsedPayload,
    ParseError,
    TopicAddress,
    parse_payload,
    parse_topic,
)
from gasguard.mqtt_client import OFFLINE, BrokerAddress, make_client, parse_mqtt_url
from gasguard.notify import AUDIT_TOPIC, Message, without_client_addresses

__all__ = [  # the client helpers live in gasguard.mqtt_client; named here for existing imports
    "OFFLINE",
    "ONLINE",
    "BrokerAddress",
    "IncomingReading",
    "IngestStats",
    "MqttPublisher",
    "MqttReadingSource",
    "make_client",
    "parse_mqtt_url",
]

logger = logging.getLogger(__name__)

ONLINE = "online"
LOG_EVERY_N_INVALID = 100  # after the first 10, log one invalid message in this many


@dataclass
class IngestStats:
    received: int = 0
    readings: int = 0
    invalid: int = 0
    clock_suspect: int = 0
    connects: int = 0
    connect_failures: int = 0
    connected: bool = False
    last_error: str | None = None
    recent_invalid: deque[str] = field(default_factory=lambda: deque(maxlen=20))


@dataclass(frozen=True, slots=True)
class IncomingReading:
    """A parsed message with where it came from and when it arrived (the receive time)."""

    address: TopicAddress
    parsed: ParsedPayload
    received_at: float


class _Backoff:
    def __init__(self, initial_s: float, max_s: float) -> None:
        self.initial_s = initial_s
        self.max_s = max_s
        self.delay = initial_s

    def reset(self) -> None:
        self.delay = self.initial_s

    def next(self) -> float:
        delay = self.delay
        self.delay = min(self.delay * 2, self.max_s)
        return delay


class MqttReadingSource:
    """Readings from MQTT, as an async iterator that survives broker outages and bad messages."""

    def __init__(
        self,
        broker: BrokerAddress,
        *,
        prefix: str = "gasguard",
        site: str = "+",
        client_id: str | None = None,
        availability_topic: str | None = None,
        backoff_initial_s: float = 0.5,
        backoff_max_s: float = 30.0,
        max_skew_s: float = DEFAULT_MAX_SKEW_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.broker = broker
        self.prefix = prefix
        self.subscription = f"{prefix}/{site}/+/+/reading"
        self.client_id = client_id or f"gasguard-ingest-{uuid.uuid4().hex[:8]}"
        self.availability_topic = availability_topic or f"{prefix}/availability/{self.client_id}"
        self._backoff = _Backoff(backoff_initial_s, backoff_max_s)
        self._max_skew_s = max_skew_s
        self._clock = clock
        self.stats = IngestStats()

    def handle(self, topic: str, payload: bytes | str) -> IncomingReading | None:
        """Parse one message; invalid ones are counted and logged and give ``None``."""
        now = self._clock()
        self.stats.received += 1
        try:
            address = parse_topic(topic, prefix=self.prefix)
            parsed = parse_payload(payload, channel=address.channel, now=now, max_skew_s=self._max_skew_s)
        except ParseError as exc:
            self.stats.invalid += 1
            self.stats.recent_invalid.append(f"{topic[:200]}: {exc}")
            if self.stats.invalid <= 10 or self.stats.invalid % LOG_EVERY_N_INVALID == 0:
                logger.warning("invalid MQTT message #%d on %s: %s", self.stats.invalid, topic[:200], exc)
            return None
        self.stats.readings += len(parsed.readings)
        if parsed.clock_suspect:
            self.stats.clock_suspect += 1
        return IncomingReading(address=address, parsed=parsed, received_at=now)

    async def __aiter__(self) -> AsyncIterator[IncomingReading]:
        while True:
            client = make_client(self.broker, client_id=self.client_id, availability_topic=self.availability_topic)
            try:
                async with client:
                    self.stats.connects += 1
                    self.stats.connected = True
                    self._backoff.reset()
                    await client.publish(self.availability_topic, ONLINE, qos=1, retain=True)
                    await client.subscribe(self.subscription, qos=1)
                    logger.info("MQTT source connected to %s", self.broker.display)
                    try:
                        async for message in client.messages:
                            payload = message.payload
                            if not isinstance(payload, bytes | str):
                                payload = b"" if payload is None else str(payload)
                            incoming = self.handle(message.topic.value, payload)
                            if incoming is not None:
                                yield incoming
                    finally:
                        self.stats.connected = False
                        with contextlib.suppress(aiomqtt.MqttError, asyncio.CancelledError):
                            await asyncio.wait_for(
                                client.publish(self.availability_topic, OFFLINE, qos=1, retain=True), 2.0
                            )
            except aiomqtt.MqttError as exc:
                self.stats.connected = False
                self.stats.connect_failures += 1
                self.stats.last_error = str(exc)[:300]
                delay = self._backoff.next()
                logger.warning("MQTT source lost the broker (%s); retrying in %.1f s", exc, delay)
                await asyncio.sleep(delay)


def default_topic(prefix: str) -> Callable[[Message], str]:
    return lambda message: f"{prefix}/events/{message.topic}"


class MqttPublisher:
    """A ``notify.Publisher`` that sends messages to the broker as JSON."""

    def __init__(
        self,
        broker: BrokerAddress,
        *,
        prefix: str = "gasguard",
        client_id: str | None = None,
        availability_topic: str | None = None,
        topic_for: Callable[[Message], str] | None = None,
        max_queue: int = 10_000,
        backoff_initial_s: float = 0.5,
        backoff_max_s: float = 30.0,
        publish_audit: bool = False,
    ) -> None:
        self.broker = broker
        self.publish_audit = publish_audit
        self.client_id = client_id or f"gasguard-publish-{uuid.uuid4().hex[:8]}"
        self.availability_topic = availability_topic or f"{prefix}/availability/{self.client_id}"
        self._topic_for = topic_for or default_topic(prefix)
        self._queue: deque[tuple[str, str, bool]] = deque()
        self._max_queue = max_queue
        self._ready = asyncio.Event()
        self._backoff = _Backoff(backoff_initial_s, backoff_max_s)
        self.sent = 0
        self.dropped = 0
        self.withheld = 0  # audit messages not sent because publish_audit is off
        self.connected = False
        self.last_error: str | None = None

    def enqueue(self, topic: str, payload: object, *, retain: bool = False) -> None:
        if len(self._queue) >= self._max_queue:
            self._queue.popleft()
            self.dropped += 1
        self._queue.append((topic, json.dumps(payload, separators=(",", ":"), default=str), retain))
        self._ready.set()

    async def publish(self, message: Message) -> None:
        if message.topic == AUDIT_TOPIC:
            if not self.publish_audit:
                self.withheld += 1
                return
            message = without_client_addresses(message)
        self.enqueue(self._topic_for(message), {"ts": message.ts, **message.payload})

    @property
    def queued(self) -> int:
        return len(self._queue)

    async def run(self) -> None:
        """Send queued messages for ever; on a broker error keep the unsent message and reconnect."""
        while True:
            client = make_client(self.broker, client_id=self.client_id, availability_topic=self.availability_topic)
            try:
                async with client:
                    self.connected = True
                    self._backoff.reset()
                    await client.publish(self.availability_topic, ONLINE, qos=1, retain=True)
                    while True:
                        while self._queue:
                            topic, payload, retain = self._queue[0]
                            await client.publish(topic, payload, qos=1, retain=retain)
                            self._queue.popleft()
                            self.sent += 1
                        self._ready.clear()
                        await self._ready.wait()
            except aiomqtt.MqttError as exc:
                self.connected = False
                self.last_error = str(exc)[:300]
                delay = self._backoff.next()
                logger.warning("MQTT publisher lost the broker (%s); retrying in %.1f s", exc, delay)
                await asyncio.sleep(delay)
            finally:
                self.connected = False
