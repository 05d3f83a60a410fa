"""Drive a simulated plant through the real safety core on simulated time.

The runner plays the part of the live pipeline: every period it steps the plant's physics, feeds valve
feedback and readings to ``safety.interlock.step``, replays the scripted operator's requests, sends a
``Tick``, and hands every valve command back to the simulated valves. A power cycle stops the core
(its state survives only as a snapshot, as on a real controller) and restores it when power returns.

The result is a list of timeline records, one dict per thing that happened, in the JSON-lines shape of
``gasguard simulate --json``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from gasguard.config import load_site_config
from gasguard.domain import (
    AlarmChanged,
    ChannelHealthChanged,
    Event,
    OperatorCommand,
    OperatorResult,
    Output,
    OutputCommand,
    Reading,
    Tick,
    ValveChanged,
    ValveCommand,
    ZoneTripChanged,
)
from gasguard.safety.interlock import PlantState, cold_start, running_start, step
from gasguard.safety.snapshot import restore, to_snapshot
from gasguard.safety.spec import PlantSpec
from gasguard.sim.plant import Plant
from gasguard.sim.scenario import Scenario

log = logging.getLogger(__name__)

Record = dict[str, Any]


@dataclass
class SimulationResult:
    """Everything a run produced, plus a few facts a test or a person asks first."""

    scenario: str
    records: list[Record] = field(default_factory=list)

    def of_kind(self, kind: str) -> list[Record]:
        return [r for r in self.records if r["kind"] == kind]


def output_record(t: float, out: Output) -> Record:
    """The timeline record of one safety-core output."""
    if isinstance(out, ValveCommand):
        return {
            "t": t,
            "zone": out.zone,
            "kind": "command",
            "action": out.action.value,
            "valve": out.valve,
            "reason": out.reason,
        }
    if isinstance(out, AlarmChanged):
        return {
            "t": t,
            "zone": out.zone,
            "kind": "alarm",
            "channel": out.source,
            "level": out.level.value,
            "state": out.state.value,
            "alarm_id": out.alarm_id,
            "lel_pct": _round(out.value),
            "detail": out.detail,
        }
    if isinstance(out, ValveChanged):
        return {
            "t": t,
            "zone": out.zone,
            "kind": "valve",
            "valve": out.valve,
            "state": out.state.value,
            "detail": out.detail,
        }
    if isinstance(out, ChannelHealthChanged):
        return {
            "t": t,
            "zone": out.zone,
            "kind": "fault",
            "channel": out.channel,
            "health": out.health.value,
            "detail": out.detail,
        }
    if isinstance(out, OperatorResult):
        return {
            "t": t,
            "zone": out.zone,
            "kind": "operator",
            "action": out.action.value,
            "target": out.target,
            "user": out.user,
            "reason": out.reason,
            "accepted": out.accepted,
            "message": out.message,
        }
    if isinstance(out, OutputCommand):
        return {
            "t": t,
            "zone": "",
            "kind": "output",
            "output": out.output,
            "mode": out.mode.value,
            "reason": out.reason,
            "silenced": out.silenced,
            "latched": out.latched,
            "forced": out.forced,
        }
    assert isinstance(out, ZoneTripChanged)
    return {"t": t, "zone": out.zone, "kind": "trip", "tripped": out.tripped, "cause": out.cause}


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


class ScenarioRunner:
    """One run of one scenario. Iterate ``run()`` to stream records as they happen."""

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self.spec: PlantSpec = load_site_config(scenario.site_path).plant_spec()
        self.plant = Plant(scenario)
        self.core: PlantState | None = None
        self._snapshot: dict[str, Any] | None = None
        self._zone_of = {c.id: z.id for z in self.spec.zones for c in z.channels}
        self._channel_specs = {c.id: c for z in self.spec.zones for c in z.channels}

    def run(self) -> Iterator[Record]:
        scenario = self.scenario
        pending_ops = sorted(scenario.operator, key=lambda o: o.at_s)
        losses = {round(p.at_s, 9): p.down_s for p in scenario.power_cycles}
        restores: dict[float, bool] = {}
        if scenario.start == "cold":
            self.core, outs = cold_start(self.spec, 0.0)
        else:
            self.core, outs = running_start(self.spec, 0.0), []
        yield from self._apply(0.0, outs)
        for t in scenario.step_times():
            if t in losses:
                yield from self._power_loss(t)
                restores[round(t + losses[t], 9)] = True
            if restores.pop(t, False):
                yield from self._power_restore(t)
            readings, feedback = self.plant.step(t, scenario.step_s)
            if self.core is None:
                continue
            for fb in feedback:
                yield from self._feed(t, fb)
            for reading in readings:
                yield self._reading_record(t, reading)
                yield from self._feed(t, reading)
            while pending_ops and pending_ops[0].at_s <= t + 1e-9:
                op = pending_ops.pop(0)
                until = op.until_s if op.until_s is not None else None
                yield from self._feed(t, OperatorCommand(op.action, op.target, op.user, op.reason, until))
            yield from self._feed(t, Tick())

    def _feed(self, t: float, event: Event) -> Iterator[Record]:
        assert self.core is not None
        _, outs = step(self.core, event, t)
        yield from self._apply(t, outs)

    def _apply(self, t: float, outs: list[Output]) -> Iterator[Record]:
        for out in outs:
            if isinstance(out, ValveCommand):
                self.plant.apply(out, t)
            yield output_record(t, out)

    def _reading_record(self, t: float, reading: Reading) -> Record:
        spec = self._channel_specs.get(reading.channel)
        lel = None
        if spec is not None and reading.value is not None and reading.value == reading.value:
            lel = reading.value * spec.scale + spec.offset
        return {
            "t": t,
            "zone": self._zone_of.get(reading.channel, ""),
            "kind": "reading",
            "channel": reading.channel,
            "value": _round(reading.value),
            "lel_pct": _round(lel),
        }

    def _power_loss(self, t: float) -> Iterator[Record]:
        assert self.core is not None
        self._snapshot = to_snapshot(self.core)
        self.core = None
        self.plant.power_loss(t)
        for zone in self.spec.zones:
            yield {
                "t": t,
                "zone": zone.id,
                "kind": "fault",
                "channel": None,
                "health": "power_lost",
                "detail": "controller and field devices lost power; safety state kept as a snapshot",
            }

    def _power_restore(self, t: float) -> Iterator[Record]:
        self.plant.power_restore(t)
        assert self._snapshot is not None
        self.core, outs = restore(self.spec, self._snapshot, t, sensors_repowered=True)
        for zone in self.spec.zones:
            yield {
                "t": t,
                "zone": zone.id,
                "kind": "fault",
                "channel": None,
                "health": "power_restored",
                "detail": "controller restarted from its snapshot",
            }
        yield from self._apply(t, outs)


def run_scenario(scenario: Scenario) -> SimulationResult:
    """Run a scenario to the end and collect its timeline."""
    result = SimulationResult(scenario.name)
    result.records.extend(ScenarioRunner(scenario).run())
    return result
