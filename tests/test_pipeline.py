"""The live pipeline with simulated valves and outputs: the safety path acts even when everything around it
fails, output commands reach their drivers in order, and a driver that cannot be reached drops the fault relay."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest

from gasguard.actuators.simulated import SimulatedOutput, SimulatedValve
from gasguard.domain import (
    Level,
    MlSignal,
    OperatorAction,
    OperatorCommand,
    Output,
    OutputKind,
    OutputMode,
    Reading,
    ValveAction,
    ValvePosition,
    ValveState,
)
from gasguard.notify import FanoutBus
from gasguard.pipeline import SafetyPipeline
from gasguard.safety.interlock import running_start
from gasguard.safety.spec import OutputSpec, PlantSpec
from safety.plantspec import plant


class FailingSink:
    def submit_outputs(self, outputs: list[Output], *, ts: float) -> None:
        raise ConnectionError("database is down")

    def submit(self, reading: Reading) -> None:
        raise ConnectionError("database is down")


class ListSink:
    def __init__(self) -> None:
        self.outputs: list[Output] = []
        self.snapshots: list[dict[str, Any]] = []

    def submit_outputs(self, outputs: list[Output], *, ts: float) -> None:
        self.outputs.extend(outputs)

    def save(self, data: dict[str, Any], *, saved_at: float) -> None:
        self.snapshots.append(data)


async def settle(pipeline: SafetyPipeline, seconds: float = 0.1) -> None:
    await pipeline.drain()
    await asyncio.sleep(seconds)
    await pipeline.drain()


def make(valve: SimulatedValve, **kw: Any) -> SafetyPipeline:
    return SafetyPipeline(running_start(plant(), 0.0), valves={"z1-v1": valve}, clock=lambda: 1.0, **kw)


def test_trip_closes_the_real_driver_and_feedback_confirms() -> None:
    async def scenario() -> None:
        valve = SimulatedValve("z1-v1", travel_time_s=0.01)
        sink = ListSink()
        pipeline = make(valve, events=sink, snapshots=sink)
        pipeline.submit(Reading("z1-c1", 25.0, 1.0))
        await pipeline.drain()
        await settle(pipeline)
        assert valve.commands == [ValveAction.CLOSE]
        assert valve.position is ValvePosition.CLOSED
        assert pipeline.state.zones["z1"].valves["z1-v1"].state is ValveState.CLOSED
        assert sink.snapshots[-1]["zones"]["z1"]["tripped"] is True
        result = await asyncio.wait_for(_request_while_running(pipeline, "z1"), 2)
        assert result.accepted is False and "at or above its A2" in result.message
        await valve.aclose()

    asyncio.run(scenario())


async def _request_while_running(pipeline: SafetyPipeline, zone: str):
    runner = asyncio.get_running_loop().create_task(pipeline.run())
    try:
        return await pipeline.request(OperatorCommand(OperatorAction.RESET, zone, "alice", "try"))
    finally:
        runner.cancel()
        with pytest.raises(asyncio.CancelledError):
            await runner


def test_storage_failure_never_stops_the_valve_closing() -> None:
    async def scenario() -> None:
        valve = SimulatedValve("z1-v1", travel_time_s=0.01)
        pipeline = make(valve, events=FailingSink(), readings=FailingSink())
        pipeline.submit(Reading("z1-c1", 30.0, 1.0))
        await settle(pipeline)
        assert valve.commands == [ValveAction.CLOSE]
        # the reading and its outputs, then the valve's CLOSED feedback: three failed writes, all counted
        assert pipeline.counters["sink_errors"] == 3
        await valve.aclose()

    asyncio.run(scenario())


def test_failing_advisor_is_counted_and_the_threshold_path_goes_on() -> None:
    def broken(reading: Reading) -> list[MlSignal]:
        raise RuntimeError("model file corrupt")

    async def scenario() -> None:
        valve = SimulatedValve("z1-v1", travel_time_s=0.01)
        pipeline = make(valve, advisors=[broken])
        pipeline.submit(Reading("z1-c1", 1.0, 1.0))
        pipeline.submit(Reading("z1-c1", 21.0, 1.0))
        await settle(pipeline)
        assert pipeline.counters["advisor_errors"] == 2
        assert valve.commands == [ValveAction.CLOSE]
        await valve.aclose()

    asyncio.run(scenario())


def test_unreachable_valve_becomes_a_valve_fault_after_retries() -> None:
    async def scenario() -> None:
        valve = SimulatedValve("z1-v1", travel_time_s=0.01)
        valve.unreachable = True
        bus = FanoutBus()
        sub = bus.subscribe(topics=("valve",))
        pipeline = make(valve, publisher=bus)
        pipeline._valves["z1-v1"].backoff_s = 0.001
        pipeline.submit(Reading("z1-c1", 30.0, 1.0))
        await settle(pipeline, 0.2)
        zone_valve = pipeline.state.zones["z1"].valves["z1-v1"]
        assert zone_valve.state is ValveState.FAULT
        assert zone_valve.detail.startswith("driver failed: close failed after 3 tries")
        states = []
        with contextlib.suppress(asyncio.QueueEmpty):
            while True:
                states.append(sub.get_nowait().payload["state"])
        assert states == ["closing", "fault"]

    asyncio.run(scenario())


def test_view_lists_active_alarms() -> None:
    async def scenario() -> None:
        pipeline = make(SimulatedValve("z1-v1", travel_time_s=0.01))
        pipeline.submit(Reading("z1-c1", 12.0, 1.0))
        await pipeline.drain()
        view = pipeline.view()["zones"]["z1"]
        assert view["channels"]["z1-c1"]["lel_pct"] == 12.0
        assert [(a["id"], a["state"]) for a in view["alarms"]] == [("z1/z1-c1/A1", "unacknowledged")]

    asyncio.run(scenario())


# --------------------------------------------------------------------------- outputs and the fault relay

SOUNDER = OutputSpec(
    id="sounder",
    kind=OutputKind.SOUNDER,
    zones=("z1",),
    levels=frozenset({Level.A2, Level.A3}),
    latching=True,
    pulse_until_silenced=True,
    steady_when_silenced=True,
)
RELAY = OutputSpec(id="fault-relay", kind=OutputKind.FAULT_RELAY, zones=("z1",), fault_zones=("z1",))


def with_outputs(valve: SimulatedValve, *outputs: SimulatedOutput, tick_s: float = 0.5) -> SafetyPipeline:
    spec = PlantSpec(zones=plant().zones, outputs=(SOUNDER, RELAY))
    pipeline = SafetyPipeline(
        running_start(spec, 0.0),
        valves={"z1-v1": valve},
        outputs={o.output_id: o for o in outputs},
        clock=lambda: 1.0,
        tick_s=tick_s,
    )
    for wrapper in pipeline._outputs.values():
        wrapper.backoff_s, wrapper.retry_s = 0.001, 0.02
    pipeline._valves["z1-v1"].backoff_s = 0.001
    return pipeline


async def until(condition: Any, pipeline: SafetyPipeline, timeout_s: float = 5.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not condition():
            await pipeline.drain()
            await asyncio.sleep(0.005)


def test_output_sounder_commands_reach_its_driver_in_order() -> None:
    async def scenario() -> None:
        valve = SimulatedValve("z1-v1", travel_time_s=0.01)
        sounder, relay = SimulatedOutput("sounder"), SimulatedOutput("fault-relay")
        pipeline = with_outputs(valve, sounder, relay)
        pipeline.submit(Reading("z1-c1", 30.0, 1.0))  # A2: trip, sounder pulsed
        await until(lambda: sounder.modes == [OutputMode.PULSED], pipeline)
        result = await asyncio.wait_for(_request(pipeline, OperatorAction.SILENCE, "sounder"), 2)
        assert result.accepted, result.message
        await until(lambda: sounder.modes == [OutputMode.PULSED, OutputMode.ON], pipeline)  # steady until reset
        assert relay.modes == [OutputMode.ON]  # healthy: energised
        await valve.aclose()

    asyncio.run(scenario())


def test_output_that_cannot_be_reached_drops_the_fault_relay_until_it_answers() -> None:
    async def scenario() -> None:
        valve = SimulatedValve("z1-v1", travel_time_s=0.01)
        sounder, relay = SimulatedOutput("sounder"), SimulatedOutput("fault-relay")
        sounder.unreachable = True
        pipeline = with_outputs(valve, sounder, relay)
        pipeline.submit(Reading("z1-c1", 30.0, 1.0))
        await until(lambda: relay.modes == [OutputMode.ON, OutputMode.OFF], pipeline)
        assert pipeline.state.system_faults == {
            "output:sounder": "pulsed failed after 3 tries: sounder: no answer",
        }
        assert pipeline.view()["outputs"]["fault-relay"]["cause"] == (
            "output:sounder: pulsed failed after 3 tries: sounder: no answer"
        )
        sounder.unreachable = False
        await until(lambda: relay.modes[-1] is OutputMode.ON and sounder.modes == [OutputMode.PULSED], pipeline)
        assert pipeline.state.system_faults == {}
        await valve.aclose()

    asyncio.run(scenario())


def test_output_fault_relay_drops_when_a_valve_driver_cannot_be_reached() -> None:
    async def scenario() -> None:
        valve = SimulatedValve("z1-v1", travel_time_s=0.01)
        valve.unreachable = True
        relay = SimulatedOutput("fault-relay")
        pipeline = with_outputs(valve, SimulatedOutput("sounder"), relay)
        pipeline.submit(Reading("z1-c1", 30.0, 1.0))  # trip: the close fails three times
        await until(lambda: relay.modes[-1:] == [OutputMode.OFF], pipeline)
        assert set(pipeline.state.system_faults) == {"valve:z1-v1"}
        await valve.aclose()

    asyncio.run(scenario())


def test_watchdog_ticking_only_while_the_loop_runs_and_drivers_learn_it() -> None:
    class Watched(SimulatedOutput):
        def __init__(self) -> None:
            super().__init__("fault-relay")
            self.alive: Any = None

        def set_alive(self, alive: Any) -> None:
            self.alive = alive

    async def scenario() -> None:
        relay = Watched()
        pipeline = with_outputs(SimulatedValve("z1-v1"), SimulatedOutput("sounder"), relay, tick_s=0.01)
        pipeline.alive_within_s = 0.1
        assert relay.alive is not None and relay.alive() is False  # never ticked yet
        task = asyncio.create_task(pipeline.run())
        await until(lambda: relay.alive(), pipeline)
        assert pipeline.ticking()
        pipeline.stop()
        await task
        await asyncio.sleep(0.15)
        assert not pipeline.ticking() and not relay.alive()

    asyncio.run(scenario())


async def _request(pipeline: SafetyPipeline, action: OperatorAction, target: str) -> Any:
    future = asyncio.ensure_future(pipeline.request(OperatorCommand(action, target, "otto", reason="test")))
    while not future.done():
        await pipeline.drain()
        await asyncio.sleep(0.001)
    return future.result()
