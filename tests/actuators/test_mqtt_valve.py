"""The MQTT valve driver against the real Mosquitto on this machine.

The broker is ``GASGUARD_TEST_MQTT_URL`` (default mqtt://127.0.0.1:1883). Unreachable: skipped, or a
failure under ``CI=true``. Every test uses its own topic prefix, so runs do not see each other.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiomqtt
import pytest

from gasguard.actuators.base import RetryingValve, ValveDriverError
from gasguard.actuators.mqtt import MqttValve, parse_valve_state, valve_base_topic
from gasguard.domain import Event, SystemFault, ValveAction, ValveDriverFailed, ValveFeedback, ValvePosition
from gasguard.ingest.mqtt import BrokerAddress, make_client


@pytest.fixture
def base() -> str:
    return valve_base_topic(f"ggtest-{uuid.uuid4().hex[:10]}", "plant", "boiler", "boiler-valve")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def positions(events: list[Event]) -> list[ValvePosition]:
    return [e.position for e in events if isinstance(e, ValveFeedback)]


async def wait_for(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(10):
        while not condition():
            await asyncio.sleep(0.01)


@contextlib.asynccontextmanager
async def running(valve: MqttValve) -> AsyncIterator[None]:
    task = asyncio.create_task(valve.run())
    try:
        await wait_for(lambda: valve.stats.connected or task.done())
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@contextlib.asynccontextmanager
async def device(broker: BrokerAddress) -> AsyncIterator[aiomqtt.Client]:
    """A second client standing in for the valve controller."""
    async with make_client(broker, client_id=f"ggtest-dev-{uuid.uuid4().hex[:8]}", availability_topic=None) as client:
        yield client


async def clear_retained(broker: BrokerAddress, topic: str) -> None:
    async with device(broker) as client:
        await client.publish(topic, b"", qos=1, retain=True)


# --------------------------------------------------------------------------- parsing (no broker)


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (b"open", ValvePosition.OPEN),
        (b"closed", ValvePosition.CLOSED),
        (b" CLOSED\n", ValvePosition.CLOSED),
        (b"moving", ValvePosition.MOVING),
        (b"closing", ValvePosition.MOVING),
        (b"opening", ValvePosition.MOVING),
        (b"stopped", ValvePosition.MOVING),
        (b"unknown", ValvePosition.UNKNOWN),
        ('{"state": "closed"}', ValvePosition.CLOSED),
        (b"", None),
    ],
)
def test_state_messages_are_parsed(payload: bytes | str, expected: ValvePosition | None) -> None:
    assert parse_valve_state(payload) is expected


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"half-open", "unknown valve state 'half-open'"),
        (b"\xff\xfe", "not UTF-8"),
        (b'{"state": 1}', '"state" string'),
        (b"{broken", "not valid JSON"),
        (b"x" * 300, "too long"),
    ],
)
def test_bad_state_messages_are_refused(payload: bytes, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_valve_state(payload)


def test_default_topics_follow_the_architecture_and_split_shared_zones() -> None:
    assert valve_base_topic("gasguard", "plant", "boiler", "v1") == "gasguard/plant/boiler/valve"
    assert valve_base_topic("gasguard", "plant", "boiler", "v1", valves_in_zone=3) == "gasguard/plant/boiler/valve/v1"


def test_a_command_without_a_broker_fails_in_time() -> None:
    async def scenario() -> str:
        valve = MqttValve(
            "v1",
            BrokerAddress("127.0.0.1", free_port()),
            command_topic="x/set",
            state_topic="x/state",
            publish_timeout_s=0.2,
        )
        with pytest.raises(ValveDriverError) as err:
            await valve.drive(ValveAction.CLOSE)
        return str(err.value)

    message = asyncio.run(scenario())
    assert message.startswith("v1: CLOSE on x/set: broker not connected within 0.2 s (127.0.0.1:")


def test_an_unreachable_broker_reports_the_position_unknown_once() -> None:
    async def scenario() -> list[Event]:
        events: list[Event] = []
        valve = MqttValve(
            "v1",
            BrokerAddress("127.0.0.1", free_port()),
            command_topic="x/set",
            state_topic="x/state",
            feedback_lost_s=0.2,
            backoff_initial_s=0.05,
            backoff_max_s=0.1,
        )
        valve.attach(events.append)
        task = asyncio.create_task(valve.run())
        try:
            await wait_for(lambda: len(events) >= 1)
            failures = valve.stats.connect_failures
            await wait_for(lambda: valve.stats.connect_failures >= failures + 3)  # still down: nothing more reported
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        return events

    assert asyncio.run(scenario()) == [
        SystemFault("valve:v1", True, "no connection to the MQTT broker for 0.2 s"),  # drops the fault relay
        ValveFeedback("v1", ValvePosition.UNKNOWN),
    ]


# --------------------------------------------------------------------------- against Mosquitto


@pytest.mark.server
def test_commands_are_published_as_open_and_close_never_retained(broker: BrokerAddress, base: str) -> None:
    async def scenario() -> list[tuple[str, str, bool]]:
        got: list[tuple[str, str, bool]] = []
        valve = MqttValve("v1", broker, command_topic=f"{base}/set", state_topic=f"{base}/state")
        async with device(broker) as watcher:
            await watcher.subscribe(f"{base}/set", qos=1)
            async with running(valve):
                await valve.drive(ValveAction.CLOSE)
                await valve.drive(ValveAction.OPEN)
                async with asyncio.timeout(10):
                    async for message in watcher.messages:
                        got.append((message.topic.value, bytes(message.payload).decode(), message.retain))
                        if len(got) == 2:
                            break
        return got

    assert asyncio.run(scenario()) == [(f"{base}/set", "CLOSE", False), (f"{base}/set", "OPEN", False)]


@pytest.mark.server
def test_the_retained_state_is_reported_on_connect_then_every_change(broker: BrokerAddress, base: str) -> None:
    async def scenario() -> tuple[list[Event], MqttValve]:
        events: list[Event] = []
        valve = MqttValve("v1", broker, command_topic=f"{base}/set", state_topic=f"{base}/state")
        valve.attach(events.append)
        try:
            async with device(broker) as controller:
                await controller.publish(f"{base}/state", "open", qos=1, retain=True)
                async with running(valve):
                    await wait_for(lambda: len(events) == 1)
                    await controller.publish(f"{base}/state", "open", qos=1)  # no change: not reported again
                    await controller.publish(f"{base}/state", "sideways", qos=1)  # invalid: counted, ignored
                    await controller.publish(f"{base}/state", "moving", qos=1)
                    await controller.publish(f"{base}/state", "closed", qos=1)
                    await wait_for(lambda: len(events) == 3)
        finally:
            await clear_retained(broker, f"{base}/state")
        return events, valve

    events, valve = asyncio.run(scenario())
    assert events == [
        ValveFeedback("v1", ValvePosition.OPEN),
        ValveFeedback("v1", ValvePosition.MOVING),
        ValveFeedback("v1", ValvePosition.CLOSED),
    ]
    assert valve.stats.invalid == 1
    assert "unknown valve state 'sideways'" in (valve.stats.last_error or "")


@pytest.mark.server
def test_a_controller_that_obeys_closes_the_valve_through_the_retrying_wrapper(
    broker: BrokerAddress, base: str
) -> None:
    """End to end: GasGuard sends CLOSE, the controller moves and reports; the core would see closed."""

    async def scenario() -> tuple[bool, list[Event]]:
        events: list[Event] = []
        valve = MqttValve("v1", broker, command_topic=f"{base}/set", state_topic=f"{base}/state")
        valve.attach(events.append)

        async def controller() -> None:
            async with device(broker) as client:
                await client.subscribe(f"{base}/set", qos=1)
                await client.publish(f"{base}/state", "open", qos=1, retain=True)
                async for message in client.messages:
                    if bytes(message.payload) == b"CLOSE":
                        await client.publish(f"{base}/state", "moving", qos=1, retain=True)
                        await client.publish(f"{base}/state", "closed", qos=1, retain=True)

        relay = asyncio.create_task(controller())
        try:
            async with running(valve):
                await wait_for(lambda: positions(events) == [ValvePosition.OPEN])
                sent = await RetryingValve(valve, events.append).send(ValveAction.CLOSE)
                await wait_for(lambda: positions(events)[-1] is ValvePosition.CLOSED)
        finally:
            relay.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await relay
            await clear_retained(broker, f"{base}/state")
        return sent, events

    sent, events = asyncio.run(scenario())
    assert sent is True
    assert positions(events) == [ValvePosition.OPEN, ValvePosition.MOVING, ValvePosition.CLOSED]
    assert not any(isinstance(e, ValveDriverFailed) for e in events)


@pytest.mark.server
def test_two_valves_in_a_zone_only_hear_their_own_controller(broker: BrokerAddress) -> None:
    prefix = f"ggtest-{uuid.uuid4().hex[:10]}"
    first = valve_base_topic(prefix, "plant", "boiler", "v1", valves_in_zone=2)
    second = valve_base_topic(prefix, "plant", "boiler", "v2", valves_in_zone=2)

    async def scenario() -> list[Any]:
        events: list[Event] = []
        one = MqttValve("v1", broker, command_topic=f"{first}/set", state_topic=f"{first}/state")
        two = MqttValve("v2", broker, command_topic=f"{second}/set", state_topic=f"{second}/state")
        one.attach(events.append)
        two.attach(events.append)
        async with running(one), running(two), device(broker) as controller:
            await controller.publish(f"{second}/state", "closed", qos=1)
            await controller.publish(f"{first}/state", "open", qos=1)
            await wait_for(lambda: len(events) == 2)
        return sorted(events, key=lambda e: e.valve)

    assert asyncio.run(scenario()) == [
        ValveFeedback("v1", ValvePosition.OPEN),
        ValveFeedback("v2", ValvePosition.CLOSED),
    ]
