"""Physics of a simulated plant: gas in rooms, sensors that lag and fail, valves that take time to move.

Nothing here decides anything about safety. The plant produces what field devices would produce
(readings in ppm, valve limit-switch positions) and obeys valve commands; the safety core, driven by
the scenario runner, does the rest. Everything is deterministic given the scenario's seed: each sensor
draws its noise from its own generator seeded by ``(seed, channel id)``, so adding a channel does not
change the noise of the others.

Models, chosen to be simple and physically honest:

* Room: a well-mixed zone, ``dC/dt = q/V - (ACH/3600) * C`` with ``C`` the gas volume fraction, ``q`` the
  leak in m3/s and ``V`` the room volume. Integrated exactly over each step (piecewise-constant ``q``).
* Sensor: first-order lag with ``tau = T90 / ln 10`` (so a step reaches 90% after exactly T90), Gaussian
  noise, linear zero drift, an unstable warm-up after power-on, and injectable faults.
* Valve: moves linearly between open and closed over its travel time; the leak it feeds is scaled by
  its open fraction; a stuck valve does not move; normally-closed valves spring shut on power loss.
"""

from __future__ import annotations

import logging
import math
import random

from gasguard.domain import Reading, ValveAction, ValveCommand, ValveFeedback, ValvePosition
from gasguard.sim.scenario import FaultSpec, LeakSpec, Scenario

log = logging.getLogger(__name__)

LN10 = math.log(10.0)
DEFAULT_SPIKE_PPM = 60_000.0
_LPM_TO_M3S = 1.0 / 1000.0 / 60.0


def _leaking(leak: LeakSpec, t: float) -> bool:
    return leak.start_s <= t and (leak.stop_s is None or t < leak.stop_s)


class Room:
    """A well-mixed zone. Concentration is a volume fraction internally, reported in ppm."""

    def __init__(self, zone: str, *, volume_m3: float, air_changes_per_h: float, initial_ppm: float = 0.0) -> None:
        if volume_m3 <= 0:
            raise ValueError("volume_m3 must be positive")
        if air_changes_per_h < 0:
            raise ValueError("air_changes_per_h must not be negative")
        self.zone = zone
        self.volume_m3 = volume_m3
        self.air_changes_per_h = air_changes_per_h
        self.fraction = initial_ppm / 1e6

    @property
    def ppm(self) -> float:
        return self.fraction * 1e6

    def advance(self, leak_lpm: float, dt: float) -> None:
        """Integrate ``dt`` seconds with a constant leak (exact solution of the linear ODE)."""
        if dt <= 0:
            return
        source = leak_lpm * _LPM_TO_M3S / self.volume_m3  # fraction per second
        k = self.air_changes_per_h / 3600.0
        if k == 0.0:
            self.fraction += source * dt
        else:
            steady = source / k
            self.fraction = steady + (self.fraction - steady) * math.exp(-k * dt)
        self.fraction = min(max(self.fraction, 0.0), 1.0)


class SimSensor:
    """A gas channel: lag, noise, drift, warm-up and injectable faults. Reads ppm.

    ``update`` feeds the gas the sensing element is exposed to; ``read`` produces what the transmitter
    reports at that moment: a number, NaN (``nan`` fault), or ``None`` (disconnected or unpowered: no
    reading at all).
    """

    def __init__(
        self,
        channel: str,
        *,
        t90_s: float = 25.0,
        noise_ppm: float = 0.0,
        drift_ppm_per_h: float = 0.0,
        warmup_s: float = 60.0,
        warmup_offset_ppm: float = 2000.0,
        rng: random.Random | None = None,
        initial_ppm: float = 0.0,
        warm: bool = True,
    ) -> None:
        self.channel = channel
        self.tau_s = t90_s / LN10 if t90_s > 0 else 0.0
        self.noise_ppm = noise_ppm
        self.drift_ppm_per_h = drift_ppm_per_h
        self.warmup_s = warmup_s
        self.warmup_offset_ppm = warmup_offset_ppm
        self._rng = rng or random.Random(channel)
        self._lagged = initial_ppm
        self._age_s = 0.0
        self._powered = True
        self._warm_since: float | None = None if warm else 0.0
        self._fault: str | None = None
        self._spike: float | None = None
        self._frozen: float | None = None
        self._last: float | None = None

    @property
    def lagged_ppm(self) -> float:
        """The sensing element's (noise-free) response."""
        return self._lagged

    @property
    def fault(self) -> str | None:
        return self._fault

    def update(self, exposed_ppm: float, dt: float) -> None:
        """Advance the element's first-order response by ``dt`` seconds (exact for a constant input)."""
        if dt <= 0:
            return
        self._age_s += dt
        if self.tau_s == 0.0:
            self._lagged = exposed_ppm
        else:
            self._lagged = exposed_ppm + (self._lagged - exposed_ppm) * math.exp(-dt / self.tau_s)

    def inject(self, kind: str, *, value_ppm: float | None = None) -> None:
        """Break the channel: ``stuck``, ``disconnect``, ``spike``, ``nan``; ``recover`` mends it."""
        if kind == "recover":
            self._fault, self._frozen, self._spike = None, None, None
        elif kind == "spike":
            self._spike = DEFAULT_SPIKE_PPM if value_ppm is None else value_ppm
        elif kind == "stuck":
            self._fault = "stuck"
            self._frozen = self._last if self._last is not None else round(max(self._lagged, 0.0), 1)
        elif kind in ("disconnect", "nan"):
            self._fault = kind
        else:
            raise ValueError(f"unknown sensor fault {kind!r}")
        log.debug("sensor %s: %s", self.channel, kind)

    def power_off(self) -> None:
        self._powered = False

    def power_on(self, t: float) -> None:
        """Power returns: the element restarts its warm-up at ``t``."""
        self._powered = True
        self._warm_since = t

    def warming_up(self, t: float) -> bool:
        return self._warm_since is not None and t - self._warm_since < self.warmup_s

    def read(self, t: float) -> float | None:
        """What the transmitter reports at ``t``: ppm, NaN, or None when nothing is reported."""
        if not self._powered or self._fault == "disconnect":
            return None
        if self._fault == "nan":
            return math.nan
        if self._fault == "stuck" and self._frozen is not None:
            return self._frozen
        if self._spike is not None:
            value, self._spike = self._spike, None
            return value
        value = self._lagged + self.drift_ppm_per_h * self._age_s / 3600.0
        noise = self._rng.gauss(0.0, 1.0)
        if self.warming_up(t):
            assert self._warm_since is not None
            left = 1.0 - (t - self._warm_since) / self.warmup_s if self.warmup_s > 0 else 0.0
            # An element heating up reads high and jumps around, settling as it reaches temperature.
            value += self.warmup_offset_ppm * left * left
            noise *= 1.0 + 4.0 * left
        value = round(max(value + self.noise_ppm * noise, 0.0), 1)
        self._last = value
        return value


class SimValve:
    """A shut-off valve with a linear stroke, limit-switch feedback and a stuck failure mode."""

    def __init__(
        self,
        valve: str,
        *,
        travel_time_s: float = 5.0,
        normally_closed: bool = True,
        feedback: bool = True,
        open_fraction: float = 1.0,
    ) -> None:
        self.valve = valve
        self.travel_time_s = travel_time_s
        self.normally_closed = normally_closed
        self.feedback = feedback
        self.open_fraction = min(max(open_fraction, 0.0), 1.0)
        self.target = self.open_fraction
        self.stuck = False

    @property
    def position(self) -> ValvePosition:
        if self.open_fraction >= 1.0:
            return ValvePosition.OPEN
        if self.open_fraction <= 0.0:
            return ValvePosition.CLOSED
        return ValvePosition.MOVING

    def command(self, action: ValveAction) -> None:
        self.target = 0.0 if action == ValveAction.CLOSE else 1.0

    def inject(self, kind: str) -> None:
        """``stuck_open``: the actuator no longer moves the valve; ``recover``: it does again and
        carries on towards the last commanded position."""
        if kind == "stuck_open":
            self.stuck = True
        elif kind == "recover":
            self.stuck = False
        else:
            raise ValueError(f"unknown valve fault {kind!r}")
        log.debug("valve %s: %s", self.valve, kind)

    def power_loss(self) -> None:
        """A normally-closed valve springs shut without power; others stay where they are."""
        if self.normally_closed:
            self.target = 0.0
        else:
            self.target = self.open_fraction

    def advance(self, dt: float) -> None:
        if dt <= 0 or self.stuck or self.open_fraction == self.target:
            return
        if self.travel_time_s <= 0:
            self.open_fraction = self.target
            return
        stroke = dt / self.travel_time_s
        if self.target > self.open_fraction:
            self.open_fraction = min(self.target, self.open_fraction + stroke)
        else:
            self.open_fraction = max(self.target, self.open_fraction - stroke)


class Plant:
    """The whole simulated site of a scenario, stepped on simulated time.

    The runner calls ``step(t, dt)`` at every period: physics advances from the previous step's time to
    ``t`` in increments of at most ``dt``, scheduled faults whose time has come are injected, and the
    plant returns the readings of every powered, connected sensor (stamped ``t``) and the feedback of
    every valve whose position changed (all valves on the first step and after power returns). Power
    cycles are driven by the runner through :meth:`power_loss` and :meth:`power_restore`, so it can stop
    and restart the safety core at the same moments.
    """

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        layout = scenario.layout
        cold = scenario.start == "cold"
        self.rooms: dict[str, Room] = {
            zone: Room(zone, volume_m3=r.volume_m3, air_changes_per_h=r.air_changes_per_h, initial_ppm=r.initial_ppm)
            for zone, r in scenario.rooms.items()
        }
        self._exposure: dict[str, float] = {}
        self._zone_of: dict[str, str] = {}
        self.sensors: dict[str, SimSensor] = {}
        for ch_id, info in layout.channels.items():
            spec = scenario.sensors.get(ch_id)
            exposure = spec.exposure if spec else 1.0
            self._exposure[ch_id] = exposure
            self._zone_of[ch_id] = info.zone
            self.sensors[ch_id] = SimSensor(
                ch_id,
                t90_s=spec.t90_s if spec else 25.0,
                noise_ppm=spec.noise_ppm if spec else 20.0,
                drift_ppm_per_h=spec.drift_ppm_per_h if spec else 0.0,
                warmup_s=info.warmup_s,
                warmup_offset_ppm=spec.warmup_offset_ppm if spec else 2000.0,
                rng=random.Random(f"{scenario.seed}:{ch_id}"),
                initial_ppm=exposure * self.rooms[info.zone].ppm,
                warm=not cold,
            )
        self.valves: dict[str, SimValve] = {}
        for va_id, vinfo in layout.valves.items():
            override = scenario.valves.get(va_id)
            travel = override.travel_time_s if override and override.travel_time_s is not None else vinfo.travel_time_s
            self.valves[va_id] = SimValve(
                va_id,
                travel_time_s=travel,
                normally_closed=vinfo.normally_closed,
                feedback=vinfo.feedback,
                open_fraction=0.0 if cold and vinfo.normally_closed else 1.0,
            )
        self._faults: list[FaultSpec] = sorted(scenario.faults, key=lambda f: f.at_s)
        self._next_fault = 0
        self._t = 0.0
        self._powered = True
        self._reported: dict[str, ValvePosition | None] = dict.fromkeys(self.valves)

    # ----------------------------------------------------------------------- queries

    @property
    def now(self) -> float:
        """Simulated time the physics has reached."""
        return self._t

    @property
    def powered(self) -> bool:
        return self._powered

    def true_ppm(self, zone: str) -> float:
        """The room's mean gas concentration, ppm (what no sensor sees exactly)."""
        return self.rooms[zone].ppm

    def exposed_ppm(self, channel: str) -> float:
        """What a channel's sensing element is exposed to: room ppm times its near-source factor."""
        return self.rooms[self._zone_of[channel]].ppm * self._exposure[channel]

    def leak_lpm(self, zone: str, t: float | None = None) -> float:
        """Gas flowing into a zone now (leaks active at ``t``, scaled by their valves' open fraction)."""
        at = self._t if t is None else t
        total = 0.0
        for leak in self.scenario.leaks:
            if leak.zone == zone and _leaking(leak, at):
                fraction = self.valves[leak.valve].open_fraction if leak.valve is not None else 1.0
                total += leak.rate_lpm * fraction
        return total

    # ----------------------------------------------------------------------- inputs

    def apply(self, cmd: ValveCommand, t: float) -> None:
        """Drive a valve. Without power the actuator cannot act, so the command is lost."""
        valve = self.valves.get(cmd.valve)
        if valve is None:
            raise KeyError(f"no valve {cmd.valve!r} in this plant")
        if not self._powered:
            log.warning("t=%.1f: %s %s ignored: no power", t, cmd.action.value, cmd.valve)
            return
        valve.command(cmd.action)

    def power_loss(self, t: float) -> None:
        """Everything loses power: sensors stop reporting, normally-closed valves spring shut."""
        self._powered = False
        for sensor in self.sensors.values():
            sensor.power_off()
        for valve in self.valves.values():
            valve.power_loss()
        log.info("t=%.1f: power lost", t)

    def power_restore(self, t: float) -> None:
        """Power returns: sensors warm up again, every valve reports its position on the next step."""
        self._powered = True
        for sensor in self.sensors.values():
            sensor.power_on(t)
        self._reported = dict.fromkeys(self.valves)
        log.info("t=%.1f: power restored", t)

    # ----------------------------------------------------------------------- time

    def _inject_due(self, t: float) -> None:
        while self._next_fault < len(self._faults) and self._faults[self._next_fault].at_s <= t + 1e-9:
            fault = self._faults[self._next_fault]
            self._next_fault += 1
            if fault.channel is not None:
                self.sensors[fault.channel].inject(fault.kind, value_ppm=fault.value_ppm)
            elif fault.valve is not None:
                self.valves[fault.valve].inject(fault.kind)

    def _advance(self, h: float) -> None:
        start = self._t
        before = {v: valve.open_fraction for v, valve in self.valves.items()}
        for valve in self.valves.values():
            valve.advance(h)
        for zone, room in self.rooms.items():
            leak = 0.0
            for spec in self.scenario.leaks:
                if spec.zone != zone or not _leaking(spec, start):
                    continue
                if spec.valve is None:
                    fraction = 1.0
                else:  # mean opening over the increment: the valve moves linearly
                    fraction = 0.5 * (before[spec.valve] + self.valves[spec.valve].open_fraction)
                leak += spec.rate_lpm * fraction
            room.advance(leak, h)
        for ch_id, sensor in self.sensors.items():
            sensor.update(self.exposed_ppm(ch_id), h)
        self._t = start + h

    def step(self, t: float, dt: float) -> tuple[list[Reading], list[ValveFeedback]]:
        """Advance to ``t`` (in increments of at most ``dt`` seconds) and report what devices say."""
        if t < self._t - 1e-9:
            raise ValueError(f"time went backwards: {t} < {self._t}")
        h_max = dt if dt > 0 else t - self._t
        while t - self._t > 1e-9:
            self._inject_due(self._t)
            # Split increments at leak start/stop times so a leak begins exactly when scheduled.
            h = min(h_max, t - self._t)
            h = min(h, self._next_edge(self._t) - self._t)
            self._advance(h)
        self._t = max(self._t, t)
        self._inject_due(t)
        if not self._powered:
            return [], []
        readings: list[Reading] = []
        for ch_id, sensor in self.sensors.items():
            value = sensor.read(t)
            if value is not None:
                readings.append(Reading(channel=ch_id, value=value, ts=t))
        feedback: list[ValveFeedback] = []
        for va_id, valve in self.valves.items():
            if not valve.feedback:
                continue
            position = valve.position
            if self._reported[va_id] != position:
                self._reported[va_id] = position
                feedback.append(ValveFeedback(valve=va_id, position=position))
        return readings, feedback

    def _next_edge(self, now: float) -> float:
        edges = [s.start_s for s in self.scenario.leaks if s.start_s > now + 1e-9]
        edges += [s.stop_s for s in self.scenario.leaks if s.stop_s is not None and s.stop_s > now + 1e-9]
        edges += [f.at_s for f in self._faults[self._next_fault :] if f.at_s > now + 1e-9]
        return min(edges, default=math.inf)
