"""Broker helpers for the benchmarks: reachability, and clearing what a run left retained.

A benchmark uses its own topic prefix, so its messages never reach another user of the broker; the
retained ones it caused (availability, Home Assistant discovery and states, valve positions) are
cleared at the end so the broker is left as it was found.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import uuid

from gasguard.benchmarks.databases import BenchUnavailable
from gasguard.benchmarks.defaults import DEFAULT_MQTT_URL
from gasguard.ingest.mqtt import BrokerAddress, make_client, parse_mqtt_url


def reachable_broker(url: str = DEFAULT_MQTT_URL) -> BrokerAddress:
    """The broker at ``url``; ``BenchUnavailable`` when nothing answers there."""
    broker = parse_mqtt_url(url)
    try:
        with socket.create_connection((broker.host, broker.port), timeout=2):
            pass
    except OSError as exc:
        raise BenchUnavailable(f"MQTT broker {broker.host}:{broker.port} unreachable: {exc}") from None
    return broker


def bench_prefix() -> str:
    """A fresh topic prefix of letters and digits only (so it is also its Home Assistant node id)."""
    return f"ggbench{uuid.uuid4().hex[:8]}"


async def clear_retained(broker: BrokerAddress, prefix: str, *, settle_s: float = 1.0) -> int:
    """Delete every retained message under ``prefix/#`` and its Home Assistant discovery topics."""
    filters = [f"{prefix}/#", f"homeassistant/+/{prefix}/#"]  # node id = prefix (letters and digits)
    topics: set[str] = set()
    client = make_client(broker, client_id=f"{prefix}-cleanup-{uuid.uuid4().hex[:6]}", availability_topic=None)
    async with client:
        for flt in filters:
            await client.subscribe(flt, qos=0)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(settle_s):
                async for message in client.messages:
                    if message.retain:
                        topics.add(message.topic.value)
        for topic in topics:
            await client.publish(topic, b"", qos=0, retain=True)
        await client.publish(f"{prefix}/cleared", b"", qos=1, retain=True)  # acknowledged after the ones before
    return len(topics)
