"""MQTT source and publisher against the real Mosquitto on this machine.

The broker is ``GASGUARD_TEST_MQTT_URL`` (default mqtt://127.0.0.1:1883). Unreachable: skipped, or a
failure under ``CI=true``. Every test uses its own topic prefix, so runs do not see each other.
"""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import aiomqtt
import pytest

from gasguard.ingest.mqtt import BrokerAddress, MqttPublisher, MqttReadingSource, make_client, parse_mqtt_url
from gasguard.notify import Message

pytestmark = pytest.mark.server


@pytest.fixture
def prefix() -> str:
    return f"ggtest-{uuid.uuid4().hex[:10]}"


async def _watch(
    broker: BrokerAddress, topic: str, until: Callable[[list[Any]], bool], action: Callable[[], Awaitable[None]]
) -> list[Any]:
    """Subscribe to ``topic``, run ``action``, collect (topic, payload, retain) until ``until`` holds."""
    got: list[Any] = []
    async with make_client(broker, client_id=f"watch-{uuid.uuid4().hex[:8]}", availability_topic=None) as client:
        await client.subscribe(topic, qos=1)
        await action()
        async with asyncio.timeout(10):
            async for message in client.messages:
                got.append((message.topic.value, bytes(message.payload).decode(), message.retain))  # type: ignore[arg-type]
                if until(got):
                    return got
    return got


def test_url_parsing() -> None:
    assert parse_mqtt_url("mqtts://u%40x:p%3Aw@broker.example") == BrokerAddress(
        "broker.example", 8883, "u@x", "p:w", True
    )
    with pytest.raises(ValueError):
        parse_mqtt_url("tcp://broker")


def test_source_yields_valid_readings_and_counts_invalid_ones(broker: BrokerAddress, prefix: str) -> None:
    async def scenario() -> tuple[list[tuple[str, str, float | None]], MqttReadingSource]:
        source = MqttReadingSource(broker, prefix=prefix)
        received: list[tuple[str, str, float | None]] = []

        async def consume() -> None:
            async for incoming in source:
                for reading in incoming.parsed.readings:
                    received.append((incoming.address.zone, reading.channel, reading.value))
                if len(received) >= 3:
                    return

        task = asyncio.create_task(consume())
        async with asyncio.timeout(10):
            while source.stats.connects == 0 or not source.stats.connected:
                await asyncio.sleep(0.02)
            await asyncio.sleep(0.1)  # subscription in place
            async with make_client(broker, client_id=f"dev-{uuid.uuid4().hex[:6]}", availability_topic=None) as dev:
                await dev.publish(f"{prefix}/demo/kitchen/ch1/reading", b"{broken", qos=1)
                await dev.publish(f"{prefix}/demo/kitchen/ch1/reading", b'{"ppm": 120}', qos=1)
                await dev.publish(f"{prefix}/demo/kitchen/bad topic/reading", b'{"ppm": 1}', qos=1)
                await dev.publish(f"{prefix}/demo/boiler/arr/reading", b'{"values": {"MQ2": 555, "MQ3": NaN}}', qos=1)
            await task
        return received, source

    received, source = asyncio.run(scenario())
    assert received == [("kitchen", "ch1", 120.0), ("boiler", "arr/MQ2", 555.0), ("boiler", "arr/MQ3", None)]
    assert (source.stats.received, source.stats.invalid, source.stats.readings) == (4, 2, 3)
    assert "not valid UTF-8 JSON" in source.stats.recent_invalid[0]


def test_source_announces_itself_online_retained(broker: BrokerAddress, prefix: str) -> None:
    async def scenario() -> list[Any]:
        source = MqttReadingSource(broker, prefix=prefix, client_id=f"src-{uuid.uuid4().hex[:6]}")
        task: asyncio.Task[None] | None = None

        async def start() -> None:
            nonlocal task

            async def consume() -> None:
                async for _ in source:
                    pass

            task = asyncio.create_task(consume())

        try:
            return await _watch(
                broker, source.availability_topic, lambda got: any(p == "online" for _, p, _r in got), start
            )
        finally:
            assert task is not None
            task.cancel()

    assert "online" in [p for _, p, _r in asyncio.run(scenario())]


def test_last_will_says_offline_when_the_process_dies(broker: BrokerAddress, prefix: str) -> None:
    topic = f"{prefix}/availability/victim"
    child_code = f"""
import asyncio, sys
from gasguard.ingest.mqtt import BrokerAddress, make_client
async def main():
    address = BrokerAddress({broker.host!r}, {broker.port})
    async with make_client(address, client_id="victim-{prefix}", availability_topic={topic!r}) as c:
        await c.publish({topic!r}, "online", qos=1, retain=True)
        print("ready", flush=True)
        await asyncio.sleep(60)
asyncio.run(main())
"""

    async def scenario() -> list[Any]:
        child = subprocess.Popen([sys.executable, "-c", child_code], stdout=subprocess.PIPE, text=True)
        try:
            assert child.stdout is not None
            line = await asyncio.wait_for(asyncio.to_thread(child.stdout.readline), 20)
            assert line.strip() == "ready"

            async def kill() -> None:
                child.kill()  # no DISCONNECT is sent: the broker must publish the will

            return await _watch(broker, topic, lambda got: got[-1][1] == "offline", kill)
        finally:
            child.kill()
            child.wait()

    got = asyncio.run(scenario())
    assert got[-1][1] == "offline"


def test_source_keeps_retrying_an_unreachable_broker(prefix: str) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        free_port = s.getsockname()[1]

    async def scenario() -> MqttReadingSource:
        source = MqttReadingSource(
            BrokerAddress("127.0.0.1", free_port), prefix=prefix, backoff_initial_s=0.05, backoff_max_s=0.1
        )

        async def consume() -> None:
            async for _ in source:
                pass

        task = asyncio.create_task(consume())
        await asyncio.sleep(0.6)
        assert not task.done()  # still trying, never crashed
        task.cancel()
        return source

    source = asyncio.run(scenario())
    assert source.stats.connect_failures >= 3
    assert source.stats.connected is False and source.stats.last_error


def test_publisher_sends_messages_as_json(broker: BrokerAddress, prefix: str) -> None:
    async def scenario() -> list[Any]:
        publisher = MqttPublisher(broker, prefix=prefix)
        task = asyncio.create_task(publisher.run())

        async def send() -> None:
            await publisher.publish(Message(topic="alarm", payload={"zone": "kitchen", "state": "latched"}, ts=5.0))

        try:
            return await _watch(broker, f"{prefix}/events/#", lambda got: len(got) >= 1, send)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    [(topic, payload, _retain)] = asyncio.run(scenario())
    assert topic.endswith("/events/alarm")
    assert json.loads(payload) == {"ts": 5.0, "zone": "kitchen", "state": "latched"}


def test_broker_errors_are_aiomqtt_errors() -> None:
    # the source and publisher catch exactly this type to reconnect
    assert issubclass(aiomqtt.MqttCodeError, aiomqtt.MqttError)
