"""MQTT output and valve drivers against the real Mosquitto: commands, feedback, and the watchdog heartbeat
and last will a relay node (ESPHome, Tasmota) goes to its safe state on.

The broker is ``GASGUARD_TEST_MQTT_URL`` (default mqtt://127.0.0.1:1883). Unreachable: skipped, or a
failure under ``CI=true``. Every test uses its own topic prefix.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Callable

import pytest

from gasguard.actuators.mqtt import MqttValve
from gasguard.actuators.mqtt_output import MqttOutput, output_base_topic, parse_output_state
from gasguard.domain import OutputMode
from gasguard.mqtt_client import BrokerAddress, make_client

Received = list[tuple[str, str, bool, float]]


@pytest.fixture
def base() -> str:
    return output_base_topic(f"ggtest-{uuid.uuid4().hex[:10]}", "plant", "boiler-sounder")


async def wait_for(condition: Callable[[], bool], timeout_s: float = 10) -> None:
    async with asyncio.timeout(timeout_s):
        while not condition():
            await asyncio.sleep(0.01)


@contextlib.asynccontextmanager
async def running(driver: MqttOutput | MqttValve, connected: Callable[[], bool]) -> AsyncIterator[None]:
    task = asyncio.create_task(driver.run())
    try:
        await wait_for(lambda: connected() or task.done())
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@contextlib.asynccontextmanager
async def node(broker: BrokerAddress, topic: str) -> AsyncIterator[Received]:
    """A relay node listening below ``topic``: every message as (topic, payload, retained, arrival)."""
    got: Received = []
    async with make_client(broker, client_id=f"ggtest-node-{uuid.uuid4().hex[:8]}", availability_topic=None) as client:
        await client.subscribe(f"{topic}/#", qos=1)

        async def listen() -> None:
            async for message in client.messages:
                payload = bytes(message.payload).decode() if isinstance(message.payload, bytes | str) else ""
                got.append((message.topic.value, payload, message.retain, time.monotonic()))

        task = asyncio.create_task(listen())
        try:
            await asyncio.sleep(0.1)
            yield got
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def clear_retained(broker: BrokerAddress, *topics: str) -> None:
    async with make_client(broker, client_id=f"ggtest-clear-{uuid.uuid4().hex[:8]}", availability_topic=None) as c:
        for topic in topics:
            await c.publish(topic, b"", qos=1, retain=True)


def on(got: Received, topic: str) -> list[str]:
    return [payload for t, payload, _retained, _at in got if t == topic]


@pytest.mark.parametrize(
    ("payload", "expected"),
    [(b"ON", True), (b"off", False), (b"pulse", True), ('{"state": "OFF"}', False), (b"", None)],
)
def test_output_state_messages_are_parsed(payload: bytes | str, expected: bool | None) -> None:
    assert parse_output_state(payload) is expected


def test_output_state_messages_that_say_nothing_known_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown output state 'loud'"):
        parse_output_state(b"loud")


@pytest.mark.server
def test_output_commands_are_on_pulse_off_never_retained_and_feedback_is_read(broker: BrokerAddress, base: str) -> None:
    async def scenario() -> tuple[list[tuple[str, bool]], bool | None]:
        sounder = MqttOutput("boiler-sounder", broker, base_topic=base, feedback=True, heartbeat_s=60)
        try:
            async with node(broker, base) as got, running(sounder, lambda: sounder.connected):
                for mode in (OutputMode.PULSED, OutputMode.ON, OutputMode.OFF):
                    await sounder.set(mode)
                async with make_client(
                    broker, client_id=f"ggtest-{uuid.uuid4().hex[:6]}", availability_topic=None
                ) as n:
                    await n.publish(f"{base}/state", "on", qos=1)
                    await wait_for(lambda: sounder.feedback is True)
                await wait_for(lambda: len(on(got, f"{base}/set")) == 3)
                commands = [(p, r) for t, p, r, _ in got if t == f"{base}/set"]
            return commands, sounder.feedback
        finally:
            await clear_retained(broker, f"{base}/availability")

    commands, fed_back = asyncio.run(scenario())
    assert commands == [("PULSE", False), ("ON", False), ("OFF", False)]
    assert fed_back is True


@pytest.mark.server
def test_output_watchdog_heartbeat_while_the_loop_ticks_availability_online_then_offline(
    broker: BrokerAddress, base: str
) -> None:
    async def scenario() -> tuple[Received, float, float]:
        ticking = {"yes": True}
        relay = MqttOutput("system-fault", broker, base_topic=base, heartbeat_s=0.1)
        relay.set_alive(lambda: ticking["yes"])
        try:
            async with node(broker, base) as got:
                async with running(relay, lambda: relay.connected):
                    await relay.set(OutputMode.ON)
                    await wait_for(lambda: len(on(got, f"{base}/heartbeat")) >= 3)
                    ticking["yes"] = False
                    withheld_at = time.monotonic()
                    await asyncio.sleep(0.5)
                    ticking["yes"] = True
                    resumed_at = time.monotonic()
                    await wait_for(lambda: any(t == f"{base}/heartbeat" and at > resumed_at for t, _, _, at in got))
                await wait_for(lambda: on(got, f"{base}/availability")[-1:] == ["offline"])
                return got, withheld_at, resumed_at
        finally:
            await clear_retained(broker, f"{base}/availability")

    got, withheld_at, resumed_at = asyncio.run(scenario())
    beats = [(p, r, at) for t, p, r, at in got if t == f"{base}/heartbeat"]
    assert all(not retained for _, retained, _ in beats)
    assert not any(withheld_at + 0.15 < at < resumed_at for _, _, at in beats), "heartbeat sent while not ticking"
    assert on(got, f"{base}/availability") == ["online", "offline"]
    assert on(got, f"{base}/set") == ["ON"]


@pytest.mark.server
def test_output_resends_its_current_command_when_it_reconnects(broker: BrokerAddress, base: str) -> None:
    async def scenario() -> list[str]:
        relay = MqttOutput("system-fault", broker, base_topic=base, heartbeat_s=60)
        try:
            async with node(broker, base) as got:
                async with running(relay, lambda: relay.connected):
                    await relay.set(OutputMode.ON)
                async with running(relay, lambda: relay.connected):  # a new connection (a node that restarted)
                    await wait_for(lambda: len(on(got, f"{base}/set")) == 2)
                return on(got, f"{base}/set")
        finally:
            await clear_retained(broker, f"{base}/availability")

    assert asyncio.run(scenario()) == ["ON", "ON"]


@pytest.mark.server
def test_valve_watchdog_heartbeat_and_last_will_topics_for_mqtt_valve_controllers(broker: BrokerAddress) -> None:
    base = f"ggtest-{uuid.uuid4().hex[:10]}/plant/boiler/valve"

    async def scenario() -> Received:
        valve = MqttValve(
            "boiler-valve",
            broker,
            command_topic=f"{base}/set",
            state_topic=f"{base}/state",
            heartbeat_topic=f"{base}/heartbeat",
            availability_topic=f"{base}/availability",
            heartbeat_s=0.1,
        )
        try:
            async with node(broker, base) as got:
                async with running(valve, lambda: valve.stats.connected):
                    await wait_for(lambda: len(on(got, f"{base}/heartbeat")) >= 3)
                await wait_for(lambda: on(got, f"{base}/availability")[-1:] == ["offline"])
                return got
        finally:
            await clear_retained(broker, f"{base}/availability")

    got = asyncio.run(scenario())
    assert on(got, f"{base}/availability") == ["online", "offline"]
    assert all(not retained for t, _, retained, _ in got if t == f"{base}/heartbeat")
    assert on(got, f"{base}/set") == []  # a heartbeat never sends a command
