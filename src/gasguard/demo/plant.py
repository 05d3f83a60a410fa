"""The demo's simulated plant: rooms filling with gas and venting, sensors with lag and noise, a storyline.

Physics runs on *story time*, ``speed`` times faster than the wall clock; the safety core, the valves
and the stale-channel timers run on the real clock as in production, so a fast demo is a fast plant,
not a shortcut through the safety logic. A kitchen leak is fed by the kitchen gas supply: it stops
when the valve GasGuard commands is actually closed, and the room then clears by ventilation.

Storyline, looping, two kinds of kitchen leak in turn:

1. First (and every odd loop) the threshold path, the one every installation relies on: a union
   *behind the ovens* weeps gas. The thermal camera watches the hob and cannot see it, so nothing but
   the gas detectors can catch it: A1 (10 %LEL, a warning) about half a minute after the leak starts,
   A2 (20 %LEL) about half a minute later, the zone trips and the valve closes by itself.
2. Then (every even loop) the camera as what it is, an early warning: a hose bursts *at the hob*, in
   the camera's view. The camera sees the plume within seconds and trips the kitchen while the
   detectors still read almost nothing: ML may trip earlier than the thresholds, never later, and its
   signal holds the reset for the zone's ``ml.hold_s`` after the plume is gone.

Why this order and not one leak the camera sees late: a thermal camera sees a plume in its view at
once, so a story in which it only notices the gas near A2 would show it as something it is not, and
a leak it sees would always trip before A1, hiding the path the README promises. Two leaks show each
path truthfully, the threshold path first. After each trip the extraction runs on boost, the room
clears, and the scripted operator acknowledges, waits for the gas to clear (and the camera's hold to
expire), resets with a reason and reopens (``gasguard.demo.operator``). Every other loop a small
solvent spill in the lab raises an A1 warning that clears by itself (A1 does not latch).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from gasguard.domain import Reading, ValvePosition
from gasguard.runtime import Runtime
from gasguard.sim.plant import Room, SimSensor

log = logging.getLogger(__name__)

KITCHEN_SEEP_LPM = 800.0
"""A weeping union behind the ovens: 80 %LEL steady state if nothing closed the supply; A1 after about
30 s, A2 after about 60 s (story time, with the detectors' lag)."""
KITCHEN_BURST_LPM = 3000.0
"""A burst hose at the hob: it would fill the kitchen far past the LEL if nothing closed the supply."""
CAMERA_PLUME_G_S = 2.0
"""The burst hose as the camera's scene sees it (gas leaving the hose, g/s)."""
NEAR_SHARE = 1.0
FAR_SHARE = 0.8
"""Share of the room's concentration a detector sees: the one nearest the leak reads the most."""
LAB_SPILL_LPM = 60.0
BASE_ACH = 20.0
EXTRACT_ACH = 60.0
"""After a trip the kitchen extraction runs on boost (interlocked fans are common in commercial kitchens)."""


class Phase(StrEnum):
    NORMAL = "normal"
    LEAK = "leak"
    CLEARING = "clearing"


@dataclass(frozen=True)
class KitchenLeak:
    """One of the storyline's kitchen leaks: where it is, how strong, and whether the camera sees it."""

    name: str
    near_channel: str
    rate_lpm: float
    in_camera_view: bool


BEHIND_THE_OVENS = KitchenLeak("weeping union behind the ovens", "kitchen-oven", KITCHEN_SEEP_LPM, False)
AT_THE_HOB = KitchenLeak("burst hose at the hob", "kitchen-hob", KITCHEN_BURST_LPM, True)


def kitchen_leak_of_loop(loop: int) -> KitchenLeak:
    """Odd loops (the first one included) show the threshold path, even loops the camera's early trip."""
    return BEHIND_THE_OVENS if loop % 2 == 1 else AT_THE_HOB


@dataclass
class ZoneModel:
    room: Room
    sensors: dict[str, tuple[SimSensor, float]]  # channel -> (sensor, share of the room concentration)
    valve: str | None
    ach: float = BASE_ACH


@dataclass
class Story:
    phase: Phase = Phase.NORMAL
    phase_started: float = 0.0
    loops: int = 0
    leak: KitchenLeak | None = None
    leak_flowing: bool = False
    lab_spill_until: float = 0.0
    history: list[tuple[float, str]] = field(default_factory=list)


class DemoPlant:
    """Steps the rooms on story time and reports every channel twice a second (real time)."""

    NORMAL_S = 30.0
    """Story seconds of normal operation before the next kitchen leak."""

    def __init__(
        self,
        runtime: Runtime,
        *,
        speed: float = 1.0,
        period_s: float = 0.5,
        seed: int = 7,
        on_leak: Callable[[float], None] | None = None,
    ) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.runtime = runtime
        self.speed = speed
        self.period_s = period_s
        self.on_leak = on_leak
        self.story = Story()
        self.t = 0.0  # story seconds since start
        rng = random.Random(seed)
        self.zones: dict[str, ZoneModel] = {}
        volumes = {"kitchen": 60.0, "boiler": 40.0, "lab": 80.0}
        for _, zone in runtime.site.zones():
            if zone.id not in volumes:
                continue  # not part of the simulated plant (e.g. the replayed sensor array)
            room = Room(zone.id, volume_m3=volumes.get(zone.id, 50.0), air_changes_per_h=BASE_ACH)
            sensors = {}
            for i, ch in enumerate(zone.channels):
                sensor = SimSensor(ch.id, t90_s=12.0, noise_ppm=15.0, rng=random.Random(rng.random()), warm=True)
                sensors[ch.id] = (sensor, NEAR_SHARE if i == 0 else FAR_SHARE)
            self.zones[zone.id] = ZoneModel(room, sensors, zone.valves[0].id if zone.valves else None)

    # ------------------------------------------------------------------ story

    def _valve_is(self, valve: str | None, position: ValvePosition) -> bool:
        """Where the valve physically is: the simulated driver's position, else the core's belief."""
        if valve is None:
            return False
        actual = getattr(self.runtime.valves.get(valve), "position", None)
        if actual is not None:
            return bool(actual is position)
        plant = self.runtime.services.plant
        return plant is not None and any(v["id"] == valve and v["state"] == position.value for v in plant.valves_view())

    def _valve_closed(self, valve: str | None) -> bool:
        return self._valve_is(valve, ValvePosition.CLOSED)

    def _valve_open(self, valve: str | None) -> bool:
        return self._valve_is(valve, ValvePosition.OPEN)

    def _enter(self, phase: Phase) -> None:
        self.story.phase = phase
        self.story.phase_started = self.t
        self.story.history.append((self.t, phase.value))
        log.info("demo storyline: %s (story t=%.0f s)", phase.value, self.t)

    def _advance_story(self) -> None:
        story = self.story
        kitchen = self.zones.get("kitchen")
        if kitchen is None:
            return
        if story.phase is Phase.NORMAL and not self._valve_open(kitchen.valve):
            story.phase_started = self.t  # normal operation is counted from when the gas supply is open
        in_phase = self.t - story.phase_started
        if story.phase is Phase.NORMAL and in_phase >= self.NORMAL_S and self._valve_open(kitchen.valve):
            story.loops += 1
            story.leak = kitchen_leak_of_loop(story.loops)
            kitchen.ach = BASE_ACH
            self._enter(Phase.LEAK)
            log.info("demo storyline: kitchen leak: %s", story.leak.name)
            if story.loops % 2 == 0 and "lab" in self.zones:
                story.lab_spill_until = self.t + 40.0
        elif story.phase is Phase.LEAK and self._valve_closed(kitchen.valve):
            kitchen.ach = EXTRACT_ACH
            self._enter(Phase.CLEARING)
        elif story.phase is Phase.CLEARING and self._valve_open(kitchen.valve):
            kitchen.ach = BASE_ACH
            self._enter(Phase.NORMAL)
        flowing = story.phase is Phase.LEAK and not self._valve_closed(kitchen.valve)
        if flowing != story.leak_flowing:
            story.leak_flowing = flowing
            seen = story.leak is not None and story.leak.in_camera_view
            if self.on_leak is not None and (seen or not flowing):
                self.on_leak(CAMERA_PLUME_G_S if flowing else 0.0)

    def _share(self, zone_id: str, channel: str, share: float) -> float:
        """The kitchen detector nearest the current leak reads the most, the other one less."""
        leak = self.story.leak
        if zone_id != "kitchen" or leak is None:
            return share
        return NEAR_SHARE if channel == leak.near_channel else FAR_SHARE

    def _leak_lpm(self, zone_id: str) -> float:
        if zone_id == "kitchen" and self.story.leak_flowing and self.story.leak is not None:
            return self.story.leak.rate_lpm
        if zone_id == "lab" and self.t < self.story.lab_spill_until:
            return LAB_SPILL_LPM
        return 0.0

    # ------------------------------------------------------------------ physics

    def advance(self, story_dt: float) -> None:
        """Advance the plant by ``story_dt`` story seconds (in steps of at most one second)."""
        remaining = story_dt
        while remaining > 1e-9:
            h = min(1.0, remaining)
            self._advance_story()
            for zone_id, model in self.zones.items():
                model.room.air_changes_per_h = model.ach
                model.room.advance(self._leak_lpm(zone_id), h)
                for channel, (sensor, share) in model.sensors.items():
                    sensor.update(model.room.ppm * self._share(zone_id, channel, share), h)
            self.t += h
            remaining -= h

    def readings(self, ts: float) -> list[Reading]:
        return [
            Reading(cid, sensor.read(self.t), ts)
            for model in self.zones.values()
            for cid, (sensor, _) in model.sensors.items()
        ]

    async def run(self, runtime: Runtime) -> None:
        """The demo's reading source (registered with ``runtime.add_source``)."""
        last = time.monotonic()
        while True:
            now = time.monotonic()
            self.advance((now - last) * self.speed)
            last = now
            for reading in self.readings(time.time()):
                if reading.value is not None:
                    runtime.submit_reading(reading)
            await asyncio.sleep(self.period_s)

    def status(self) -> dict[str, object]:
        return {
            "phase": self.story.phase.value,
            "story_s": round(self.t, 1),
            "loops": self.story.loops,
            "kitchen_leak": None if self.story.leak is None else self.story.leak.name,
            "speed": self.speed,
            "kitchen_ppm": round(self.zones["kitchen"].room.ppm, 1) if "kitchen" in self.zones else None,
        }
