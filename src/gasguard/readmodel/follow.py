"""A web tier's live feed: the workers' events from the broker onto the local bus.

Workers publish every stored event and their zones' state events to ``<prefix>/events/<kind>``
(``workers.worker.forward_events``). ``BrokerFollower`` subscribes to all of them and publishes each
on the web tier's own bus, as a ``Message`` of that kind: the read model listens there exactly as in
a single process, and the dashboards' live feed (``/api/v1/ws``) gets alarms, trips, valves and
readings like a single process would send them.

A clean session at QoS 0: a web tier wants the present, not a replay of what it missed while away;
the next heartbeat of each zone (``readmodel.HEARTBEAT_S``) makes it right again. While the broker is
away the read model is told (``feed_problem``), so every zone is shown as stale with the reason.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

import aiomqtt

from gasguard.mqtt_client import BrokerAddress, make_client
from gasguard.notify import FanoutBus, Message
from gasguard.readmodel.model import PlantReadModel

log = logging.getLogger(__name__)

BACKOFF_S = (0.5, 10.0)
"""Reconnect after a lost broker connection with a delay doubling between these bounds (seconds)."""


class BrokerFollower:
    """Events from the broker to the local bus, with the broker's reachability told to the read model."""

    def __init__(
        self,
        broker: BrokerAddress,
        bus: FanoutBus,
        model: PlantReadModel,
        *,
        prefix: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.broker = broker
        self.bus = bus
        self.model = model
        self.clock = clock
        self.events_prefix = f"{prefix}/events/"
        self.client_id = f"gasguard-web-follow-{uuid.uuid4().hex[:10]}"
        self.connected = False
        self.received = 0
        self.invalid = 0
        model.feed_problem = "not connected to the broker yet: live state from the workers not received"

    def handle(self, topic: str, payload: bytes | str) -> Message | None:
        """The bus message for one broker message (published on the bus); ``None`` when it is not one."""
        if not topic.startswith(self.events_prefix):
            return None
        kind = topic[len(self.events_prefix) :]
        try:
            data: Any = json.loads(payload)
        except ValueError:
            data = None
        if not kind or "/" in kind or not isinstance(data, dict):
            self.invalid += 1
            log.warning("ignored a malformed event on %s", topic)
            return None
        ts = data.get("ts")
        message = Message(topic=kind, payload=data, ts=float(ts) if isinstance(ts, int | float) else self.clock())
        self.received += 1
        self.bus.publish_nowait(message)
        return message

    async def run(self) -> None:
        """Follow the broker for ever, reconnecting after a loss."""
        delay = BACKOFF_S[0]
        while True:
            client = make_client(self.broker, client_id=self.client_id, availability_topic=None, clean_session=True)
            try:
                async with client:
                    await client.subscribe(f"{self.events_prefix}#", qos=0)
                    self.connected, delay = True, BACKOFF_S[0]
                    self.model.feed_problem = None
                    log.info("web tier following %s# on the broker", self.events_prefix)
                    async for message in client.messages:
                        raw = message.payload if isinstance(message.payload, bytes | str) else b""
                        self.handle(message.topic.value, raw)
            except aiomqtt.MqttError as exc:
                log.warning("web tier lost the broker (%s); reconnecting in %.1f s", exc, delay)
            finally:
                self.connected = False
                self.model.feed_problem = (
                    "this web tier cannot reach the broker: the zones are shown as last heard, not live"
                )
            await asyncio.sleep(delay)
            delay = min(delay * 2, BACKOFF_S[1])

    def health(self) -> dict[str, Any]:
        return {"connected": self.connected, "received": self.received, "invalid": self.invalid}
