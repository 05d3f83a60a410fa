"""The interlock: ``step(state, event, now) -> (state, outputs)``.

Readings become %LEL, %LEL becomes alarm conditions, conditions and channel health become votes,
``k`` votes trip the zone, and a tripped zone closes its valves and stays latched until an operator
resets it. Nothing here does I/O or reads a clock: ``now`` is passed in (seconds, monotonic or epoch
as long as the caller is consistent), so the same trace always gives the same outputs.

``step`` updates ``state`` in place and returns it, for speed: one process owns each zone's state (the
zone is the unit of ownership), and a reading that changes nothing allocates nothing. Use
``gasguard.safety.snapshot`` to copy or persist a state.

Safety rules enforced here (see ARCHITECTURE.md):

- a trip never depends on ML: ML signals can trip a zone earlier, never clear or delay it;
- a FAULT channel votes to trip unless the zone's fault policy says ``alarm``;
- gas is physical, not bookkeeping: a channel at or above A2 votes whether it is in service or not,
  and a reading above the sensor's span is an over-range gas condition (A3, latched until an operator
  reset after the sensor is checked), never only a FAULT, whatever the fault policy;
- A2 and A3 latch; reset and reopen are refused while any channel of the zone, in service or not,
  reads at or above its A2; reset also while a voting channel in service is in FAULT, an over-range is
  unacknowledged, or an ML signal is still held; acknowledge is not reset;
- close is always allowed, issued in the very step a zone's vote reaches ``k``, and re-asserted every
  ``close_reassert_s`` while the zone is tripped; a valve is never opened by the core on its own, only
  by an operator, with a reason, after an accepted reset, once it reports closed and any valve fault
  is acknowledged;
- a channel at or above A2 (or with A2/A3 latched) cannot be taken out of service; shelving and
  out-of-service always carry an expiry and are bounded in length (out of service no longer than a
  shelve unless an admin asks).
"""

from __future__ import annotations

import math
from collections.abc import Callable

from gasguard.domain import (
    ChannelHealth,
    ChannelHealthChanged,
    Event,
    Level,
    MlSignal,
    MlSignalKind,
    OperatorAction,
    OperatorCommand,
    OperatorResult,
    Output,
    Reading,
    SystemFault,
    Tick,
    ValveAction,
    ValveChanged,
    ValveCommand,
    ValveDriverFailed,
    ValveFeedback,
    ValveState,
    ZoneTripChanged,
)
from gasguard.safety.alarms import Alarm
from gasguard.safety.failsafe import classify_value, describe
from gasguard.safety.levels import RiseTracker, level_active
from gasguard.safety.outputs import (
    OutputState,
    evaluate_outputs,
    release_latches,
    resound_on_new_alarms,
    silence,
    start_output_test,
)
from gasguard.safety.spec import ChannelSpec, FaultPolicy, PlantSpec, ZoneSpec
from gasguard.safety.valves import ValveRecord

MAX_SHELVE_S = 8 * 3600.0
"""Longest an operator may shelve an alarm (one shift)."""
MAX_OUT_OF_SERVICE_S = 7 * 24 * 3600.0
"""Longest an admin may take a channel out of service (maintenance week)."""
MAX_CHANNEL_TEST_S = 30 * 60.0
"""Longest a channel may be in TEST (bump test or calibration with test gas)."""
MAX_OPERATOR_OUT_OF_SERVICE_S = MAX_SHELVE_S
"""Longest an operator who is not an admin may take a channel out of service: no longer than a shelve."""
OVER_RANGE_DETAIL = "over range (gas above the sensor's span)"
"""How an over-range reading is shown: it is gas, not a sensor fault."""

_OK = ChannelHealth.OK
_WARMING = ChannelHealth.WARMING_UP


class ChannelState:
    """Mutable state of one channel: last value, health, level conditions and its alarms."""

    __slots__ = (
        "a1",
        "a2",
        "a3",
        "alarms",
        "fault_votes",
        "flat_since",
        "health",
        "last_raw",
        "last_seen",
        "lel",
        "out_of_service_until",
        "over_range",
        "rise",
        "ror",
        "spec",
        "test_until",
        "vote",
        "warm_until",
        "zone",
    )

    def __init__(self, spec: ChannelSpec, zone: ZoneState, now: float, *, warm: bool) -> None:
        self.spec = spec
        self.zone = zone
        self.lel: float | None = None
        self.last_raw: float | None = None
        self.last_seen = now
        self.flat_since = now
        self.warm_until = now if warm else now + spec.warmup_s
        self.health = _OK if warm or spec.warmup_s <= 0 else _WARMING
        self.a1 = self.a2 = self.a3 = self.ror = False
        # Latched by a reading above the sensor's span; only an accepted operator reset clears it.
        self.over_range = False
        self.vote = False
        self.out_of_service_until: float | None = None
        # In TEST (test gas applied on purpose) until then: it does not vote and its alarms are test alarms.
        self.test_until: float | None = None
        zspec = zone.spec
        self.fault_votes = zspec.fault_policy is FaultPolicy.TRIP
        self.rise = RiseTracker(zspec.rate_of_rise.window_s) if zspec.rate_of_rise else None
        zid, cid = zspec.id, spec.id
        self.alarms = {
            Level.A1: Alarm(zid, cid, Level.A1, latching=False),
            Level.A2: Alarm(zid, cid, Level.A2, latching=True),
            Level.A3: Alarm(zid, cid, Level.A3, latching=True),
            Level.FAULT: Alarm(zid, cid, Level.FAULT, latching=False),
        }
        if zspec.rate_of_rise:
            self.alarms[Level.ROR] = Alarm(zid, cid, Level.ROR, latching=False)

    @property
    def in_service(self) -> bool:
        return self.out_of_service_until is None

    def last_over_range(self) -> bool:
        """Was the last trusted value above the sensor's span (a saturated head)?"""
        return self.last_raw is not None and self.last_raw > self.spec.valid_max

    def reads_gas(self) -> bool:
        """At or above A2 right now, or latched over range: gas that keeps the zone shut."""
        lel = self.lel
        return self.over_range or self.a2 or self.a3 or (lel is not None and lel >= self.spec.a2)

    def compute_vote(self) -> bool:
        """Does this channel vote to trip its zone right now?

        Gas at or above A2 (or over range) votes even when the channel is out of service: taking a
        channel out of service silences its faults and warnings, never gas it still sees.
        """
        if not self.spec.votes or self.test_until is not None:
            return False  # a channel in TEST sees test gas: the zone's other channels protect
        if self.a2 or self.a3 or self.over_range:
            return True
        if self.out_of_service_until is not None:
            return False
        if self.health is not _OK:
            zspec = self.zone.spec
            policy = zspec.warmup_policy if self.health is _WARMING else zspec.fault_policy
            if policy is FaultPolicy.TRIP:
                return True
        if self.ror:
            ror = self.zone.spec.rate_of_rise
            return ror is not None and ror.trips
        return False


class ZoneState:
    """Mutable state of one zone: its channels, valves, votes and latch."""

    __slots__ = (
        "channels",
        "ml_alarm",
        "ml_until",
        "spec",
        "trip_cause",
        "tripped",
        "valve_alarms",
        "valves",
        "votes",
    )

    def __init__(self, spec: ZoneSpec) -> None:
        self.spec = spec
        self.channels: dict[str, ChannelState] = {}
        self.valves: dict[str, ValveRecord] = {}
        self.valve_alarms: dict[str, Alarm] = {}
        self.tripped = False
        self.trip_cause = ""
        self.votes = 0
        self.ml_until: float | None = None
        self.ml_alarm = Alarm(spec.id, "ml", Level.ML, latching=True)

    def all_alarms(self) -> list[Alarm]:
        alarms = [a for ch in self.channels.values() for a in ch.alarms.values()]
        alarms.extend(self.valve_alarms.values())
        alarms.append(self.ml_alarm)
        return alarms

    def protecting_voters(self, *, besides: ChannelState | None = None) -> int:
        """Voting channels that can trip the zone now: in service and not in TEST."""
        return sum(
            1
            for c in self.channels.values()
            if c is not besides and c.spec.votes and c.in_service and c.test_until is None
        )

    def gas_blockers(self) -> list[str]:
        """Channels (voting or not, in service or not) whose gas keeps the zone shut: no reset, no reopen."""
        blockers: list[str] = []
        for ch in self.channels.values():
            spec = ch.spec
            lel = ch.lel
            if ch.over_range and ch.last_over_range():
                blockers.append(f"{spec.id} reads {OVER_RANGE_DETAIL}")
            elif lel is not None and lel >= spec.a2:
                blockers.append(f"{spec.id} reads {lel:.1f} %LEL, at or above its A2 {spec.a2:g} %LEL")
            elif (ch.a2 or ch.a3) and not ch.over_range:
                if lel is None:
                    blockers.append(f"{spec.id} is latched at or above A2 and has no reading since")
                else:
                    blockers.append(
                        f"{spec.id} reads {lel:.1f} %LEL: below {spec.a2:g} %LEL but not yet below the "
                        f"{spec.a2 - spec.hysteresis:g} %LEL clear level"
                    )
        return blockers

    def reset_blockers(self, now: float) -> list[str]:
        """Why a reset must be refused right now (empty when it may be accepted)."""
        blockers = self.gas_blockers()
        for ch in self.channels.values():
            if ch.over_range and not ch.last_over_range() and not ch.alarms[Level.A3].acked:
                blockers.append(
                    f"{ch.spec.id} went {OVER_RANGE_DETAIL}: acknowledge it and check the sensor before reset"
                )
            if ch.spec.votes and ch.in_service and ch.test_until is None and ch.health is not _OK:
                blockers.append(f"{ch.spec.id} is in FAULT ({ch.health.value})")
            if ch.test_until is not None and self.protecting_voters() < self.spec.vote_k:
                blockers.append(
                    f"{ch.spec.id} is in TEST and no other channel can trip {self.spec.id}: "
                    "its valves stay closed until the test ends"
                )
        if self.ml_until is not None and now < self.ml_until:
            blockers.append(f"an ML leak signal is held for {self.ml_until - now:.0f} s more")
        return blockers


class PlantState:
    """The safety state of every zone one process owns, with id lookups for routing events."""

    __slots__ = ("alarm_index", "channel_index", "outputs", "spec", "system_faults", "valve_index", "zones")

    def __init__(self, spec: PlantSpec) -> None:
        self.spec = spec
        self.zones: dict[str, ZoneState] = {}
        self.outputs: dict[str, OutputState] = {o.id: OutputState(o) for o in spec.outputs}
        # component -> detail, for parts of GasGuard itself that are failing (they drop the fault relay)
        self.system_faults: dict[str, str] = {}
        self.channel_index: dict[str, ChannelState] = {}
        self.valve_index: dict[str, tuple[ZoneState, ValveRecord]] = {}
        self.alarm_index: dict[str, Alarm] = {}

    def index(self) -> None:
        """Rebuild id lookups after the zones were built."""
        self.channel_index = {cid: ch for z in self.zones.values() for cid, ch in z.channels.items()}
        self.valve_index = {vid: (z, v) for z in self.zones.values() for vid, v in z.valves.items()}
        self.alarm_index = {a.id: a for z in self.zones.values() for a in z.all_alarms()}


# --------------------------------------------------------------------------- construction


def _build(spec: PlantSpec, now: float, *, warm: bool, valve_state: ValveState) -> PlantState:
    state = PlantState(spec)
    for zspec in spec.zones:
        zone = ZoneState(zspec)
        for cspec in zspec.channels:
            zone.channels[cspec.id] = ChannelState(cspec, zone, now, warm=warm)
        for vspec in zspec.valves:
            zone.valves[vspec.id] = ValveRecord(vspec, valve_state)
            zone.valve_alarms[vspec.id] = Alarm(zspec.id, vspec.id, Level.VALVE_FAULT, latching=True)
        state.zones[zspec.id] = zone
    state.index()
    return state


def cold_start(spec: PlantSpec, now: float) -> tuple[PlantState, list[Output]]:
    """State for a first start with no snapshot: the safe state.

    Valve positions are unknown and sensors are warming up, so every zone starts tripped and every
    valve is commanded closed. An operator resets and reopens once the zone is healthy, as with a
    manual-reset gas safety valve after a power cut.
    """
    state = _build(spec, now, warm=False, valve_state=ValveState.UNKNOWN)
    out: list[Output] = []
    for zone in state.zones.values():
        for ch in zone.channels.values():
            if ch.health is not _OK:
                ch.alarms[Level.FAULT].set_condition(True, None, now, out, describe(ch.health, ch.spec))
                out.append(ChannelHealthChanged(zone.spec.id, ch.spec.id, ch.health, describe(ch.health, ch.spec)))
            ch.vote = ch.compute_vote()
        zone.votes = sum(1 for ch in zone.channels.values() if ch.vote)
        _trip(zone, "cold start: valve positions unknown", now, out)
    evaluate_outputs(state, now, out)
    return state, out


def running_start(spec: PlantSpec, now: float) -> PlantState:
    """State of a plant already running normally: sensors warm and valves confirmed open.

    For simulations and tests that begin mid-operation. A live service uses ``cold_start`` or a
    restored snapshot, never this.
    """
    return _build(spec, now, warm=True, valve_state=ValveState.OPEN)


# --------------------------------------------------------------------------- the step


def step(state: PlantState, event: Event, now: float) -> tuple[PlantState, list[Output]]:
    """Apply one event at time ``now``; return the state and what must happen as a result."""
    out: list[Output] = []
    handler = _HANDLERS.get(type(event))
    if handler is None:
        raise TypeError(f"the safety core does not handle {type(event).__name__}")
    handler(state, event, now, out)
    if state.outputs and (out or type(event) in _OUTPUT_TRIGGERS):
        resound_on_new_alarms(state, out)
        evaluate_outputs(state, now, out)
    return state, out


def _on_reading(state: PlantState, event: Event, now: float, out: list[Output]) -> None:
    assert isinstance(event, Reading)
    ch = state.channel_index.get(event.channel)
    if ch is None:
        return  # unknown channel: counted and logged by the caller, never a safety input
    spec = ch.spec
    value = event.value
    ch.last_seen = now
    health = classify_value(value, spec)
    if health is ChannelHealth.OUT_OF_RANGE and now >= ch.warm_until and _above_span(value, spec):
        assert isinstance(value, (int, float))
        _on_over_range(ch, float(value), now, out)
        health = _OK
    elif health is _OK:
        assert value is not None
        raw = float(value)
        if spec.flatline_s is not None:
            last = ch.last_raw
            if last is None or abs(raw - last) > spec.flatline_epsilon:
                ch.flat_since = now
            elif now - ch.flat_since >= spec.flatline_s:
                health = ChannelHealth.FLATLINE
        ch.last_raw = raw
        if now < ch.warm_until:
            health = _WARMING
        if health is _OK:
            lel = raw * spec.scale + spec.offset
            ch.lel = lel
            _evaluate_levels(ch, lel, now, out)
    if health is not ch.health:
        _set_health(ch, health, now, out)
    _revote(ch, now, out)


def _above_span(value: object, spec: ChannelSpec) -> bool:
    return isinstance(value, (int, float)) and value > spec.valid_max


def _on_over_range(ch: ChannelState, raw: float, now: float, out: list[Output]) -> None:
    """A reading above the sensor's span: the highest gas alarm, latched until a checked reset.

    A saturated head says "more gas than I can measure", not "I am broken", so it trips whatever the
    fault policy is. Catalytic sensors can read low after a very rich exposure, so the next low
    reading releases nothing: only an operator reset, after the sensor is checked, does.
    """
    spec = ch.spec
    ch.last_raw = raw
    ch.flat_since = now
    lel = max(raw * spec.scale + spec.offset, spec.a3)
    ch.lel = lel
    if ch.rise is not None:
        ch.rise.clear()
    ch.over_range = True
    for level, attr in ((Level.A1, "a1"), (Level.A2, "a2"), (Level.A3, "a3")):
        setattr(ch, attr, True)
        ch.alarms[level].set_condition(True, lel, now, out, OVER_RANGE_DETAIL)


def _evaluate_levels(ch: ChannelState, lel: float, now: float, out: list[Output]) -> None:
    if ch.over_range:
        return  # held until an operator reset after the sensor is checked
    spec = ch.spec
    hyst = spec.hysteresis
    a1 = level_active(ch.a1, lel, spec.a1, hyst)
    a2 = level_active(ch.a2, lel, spec.a2, hyst)
    a3 = level_active(ch.a3, lel, spec.a3, hyst)
    if a1 is not ch.a1:
        ch.a1 = a1
        ch.alarms[Level.A1].set_condition(a1, lel, now, out)
    if a2 is not ch.a2:
        ch.a2 = a2
        ch.alarms[Level.A2].set_condition(a2, lel, now, out)
    if a3 is not ch.a3:
        ch.a3 = a3
        ch.alarms[Level.A3].set_condition(a3, lel, now, out)
    rise = ch.rise
    if rise is not None:
        ror_spec = ch.zone.spec.rate_of_rise
        assert ror_spec is not None
        rate = rise.update(now, lel)
        limit = ror_spec.lel_pct_per_min
        ror = rate is not None and (rate >= limit or (ch.ror and rate >= 0.5 * limit))
        if ror is not ch.ror:
            ch.ror = ror
            detail = f"rising {rate:.1f}% LEL/min" if rate is not None else ""
            ch.alarms[Level.ROR].set_condition(ror, lel, now, out, detail)


def _set_health(ch: ChannelState, health: ChannelHealth, now: float, out: list[Output]) -> None:
    ch.health = health
    detail = describe(health, ch.spec)
    out.append(ChannelHealthChanged(ch.zone.spec.id, ch.spec.id, health, detail))
    ch.alarms[Level.FAULT].set_condition(health is not _OK, ch.lel, now, out, detail)
    if health is not _OK and ch.rise is not None:
        ch.rise.clear()


def _revote(ch: ChannelState, now: float, out: list[Output]) -> None:
    vote = ch.compute_vote()
    if vote is ch.vote:
        return
    ch.vote = vote
    zone = ch.zone
    before = zone.votes
    zone.votes = before + (1 if vote else -1)
    k = zone.spec.vote_k
    if before < k <= zone.votes:
        cause = _vote_cause(zone)
        _trip(zone, cause, now, out)


def _vote_cause(zone: ZoneState) -> str:
    parts = []
    for ch in zone.channels.values():
        if not ch.vote:
            continue
        if ch.over_range:
            parts.append(f"{ch.spec.id} {OVER_RANGE_DETAIL}")
        elif ch.a2 or ch.a3:
            lel = "?" if ch.lel is None else f"{ch.lel:.1f}"
            parts.append(f"{ch.spec.id} {lel}% LEL >= A2 {ch.spec.a2:g}%")
        elif ch.health is not _OK:
            parts.append(f"{ch.spec.id} FAULT ({ch.health.value})")
        else:
            parts.append(f"{ch.spec.id} rate of rise")
    return f"{zone.votes} of {zone.spec.vote_k} required votes: " + "; ".join(parts)


def _trip(zone: ZoneState, cause: str, now: float, out: list[Output]) -> None:
    """Latch the zone's trip and close every valve in the same step."""
    if not zone.tripped:
        zone.tripped = True
        zone.trip_cause = cause
        out.append(ZoneTripChanged(zone.spec.id, True, cause))
    for valve in zone.valves.values():
        _close(zone, valve, f"trip: {cause}", now, out)


def _close(zone: ZoneState, valve: ValveRecord, reason: str, now: float, out: list[Output]) -> None:
    out.append(ValveCommand(zone.spec.id, valve.spec.id, ValveAction.CLOSE, reason))
    if valve.command_close(now, zone.spec.valve_travel_margin_s):
        out.append(ValveChanged(zone.spec.id, valve.spec.id, valve.state, valve.detail))


def _valve_changed(zone: ZoneState, valve: ValveRecord, now: float, out: list[Output]) -> None:
    out.append(ValveChanged(zone.spec.id, valve.spec.id, valve.state, valve.detail))
    alarm = zone.valve_alarms[valve.spec.id]
    alarm.set_condition(valve.state is ValveState.FAULT, None, now, out, valve.detail)


# --------------------------------------------------------------------------- time


def _on_tick(state: PlantState, event: Event, now: float, out: list[Output]) -> None:
    for zone in state.zones.values():
        _tick_zone(zone, now, out)


def _tick_zone(zone: ZoneState, now: float, out: list[Output]) -> None:
    for ch in zone.channels.values():
        spec = ch.spec
        if now < ch.last_seen:
            # The clock stepped back: count staleness from now, or a channel that dies just after the
            # step would look fresh until the clock caught up with its last reading.
            ch.last_seen = now
        if ch.out_of_service_until is not None and now >= ch.out_of_service_until:
            ch.out_of_service_until = None
            _revote(ch, now, out)
        if ch.test_until is not None and now >= ch.test_until:
            _end_test(ch, "test time over", now, out)
        if now - ch.last_seen > spec.stale_timeout_s:
            if ch.health is not ChannelHealth.STALE:
                _set_health(ch, ChannelHealth.STALE, now, out)
                _revote(ch, now, out)
        elif ch.health is _WARMING and now >= ch.warm_until:
            # Warm-up over; the next valid reading confirms OK. Until then the channel reports the
            # last classification, which for a warmed sensor with fresh readings is OK.
            _set_health(ch, _OK, now, out)
            _revote(ch, now, out)
        for alarm in ch.alarms.values():
            if alarm.suppressed:
                alarm.expire_suppression(now, out)
    if zone.ml_until is not None and now >= zone.ml_until:
        zone.ml_until = None
        zone.ml_alarm.set_condition(False, None, now, out)
    if zone.ml_alarm.suppressed:
        zone.ml_alarm.expire_suppression(now, out)
    for vid, valve in zone.valves.items():
        if valve.on_deadline(now):
            _valve_changed(zone, valve, now, out)
        alarm = zone.valve_alarms[vid]
        if alarm.suppressed:
            alarm.expire_suppression(now, out)
        if zone.tripped:
            last = valve.last_close_at
            if last is None or now - last >= zone.spec.close_reassert_s or now < last:
                _close(zone, valve, f"re-assert while tripped: {zone.trip_cause}", now, out)


# --------------------------------------------------------------------------- valves and ML


def _on_feedback(state: PlantState, event: Event, now: float, out: list[Output]) -> None:
    assert isinstance(event, ValveFeedback)
    found = state.valve_index.get(event.valve)
    if found is None:
        return
    zone, valve = found
    was_open = valve.state in (ValveState.OPEN, ValveState.OPENING)
    changed, uncommanded = valve.on_feedback(event.position)
    if changed:
        _valve_changed(zone, valve, now, out)
    if was_open and valve.state is ValveState.CLOSED:
        # Closed without a command: by hand, or by its I/O module's watchdog when GasGuard stopped
        # answering. Either way the zone latches shut; only an operator reopens it, after a reset.
        how = event.detail or "closed without a command (by hand, or by its watchdog)"
        _trip(zone, f"{valve.spec.id} {how}", now, out)
    if uncommanded:
        _close(zone, valve, f"valve {valve.detail}", now, out)
    elif zone.tripped and valve.state not in (ValveState.CLOSED, ValveState.CLOSING):
        last = valve.last_close_at
        if last is None or now - last >= zone.spec.close_reassert_s or now < last:
            _close(zone, valve, f"re-assert while tripped: {zone.trip_cause}", now, out)


def _on_driver_failed(state: PlantState, event: Event, now: float, out: list[Output]) -> None:
    assert isinstance(event, ValveDriverFailed)
    found = state.valve_index.get(event.valve)
    if found is None:
        return
    zone, valve = found
    valve.deadline = None
    valve.detail = f"driver failed: {event.detail}"
    if valve.state is not ValveState.FAULT:
        valve.state = ValveState.FAULT
    _valve_changed(zone, valve, now, out)


def _on_system_fault(state: PlantState, event: Event, now: float, out: list[Output]) -> None:
    """A part of GasGuard failed or recovered. It only drops the fault relay (via the outputs)."""
    assert isinstance(event, SystemFault)
    if event.active:
        state.system_faults[event.component] = event.detail
    else:
        state.system_faults.pop(event.component, None)


def _on_ml(state: PlantState, event: Event, now: float, out: list[Output]) -> None:
    assert isinstance(event, MlSignal)
    zone = state.zones.get(event.zone)
    if zone is None or not zone.spec.ml_may_trip or not math.isfinite(event.score):
        return
    until = now + zone.spec.ml_hold_s
    zone.ml_until = until if zone.ml_until is None else max(zone.ml_until, until)
    detail = _describe_ml(event)
    zone.ml_alarm.set_condition(True, None, now, out, detail)
    _trip(zone, f"early trip: {detail}", now, out)


def _describe_ml(event: MlSignal) -> str:
    """Words for a person on shift: who saw what, then the evidence."""
    if event.kind is MlSignalKind.VISUAL_LEAK:
        what = f"camera {event.source} sees a gas plume"
    else:
        what = f"{event.source} expects the trip level soon"
    evidence = event.detail.strip() or f"score {event.score:.2f}"
    return f"{what} ({evidence})"


# --------------------------------------------------------------------------- operators


def _on_operator(state: PlantState, event: Event, now: float, out: list[Output]) -> None:
    assert isinstance(event, OperatorCommand)
    action = event.action
    zone_id, accepted, message = _OPERATOR_HANDLERS[action](state, event, now, out)
    out.append(OperatorResult(zone_id, action, event.target, event.user, event.reason, accepted, message))


_OpResult = tuple[str, bool, str]


def _needs_reason(cmd: OperatorCommand) -> str | None:
    if not cmd.user.strip():
        return "refused: the operator must be named"
    if not cmd.reason.strip():
        return f"refused: {cmd.action.value} needs a reason"
    return None


def _op_ack(state: PlantState, cmd: OperatorCommand, now: float, out: list[Output]) -> _OpResult:
    alarm = state.alarm_index.get(cmd.target)
    if alarm is None:
        zone = state.zones.get(cmd.target)
        if zone is None:
            return "", False, f"refused: no alarm or zone {cmd.target!r}"
        if not cmd.user.strip():
            return zone.spec.id, False, "refused: the operator must be named"
        for a in zone.all_alarms():
            if not a.acked:
                a.acknowledge(now, out)
        return zone.spec.id, True, "acknowledged every alarm of the zone (acknowledge is not reset)"
    if not cmd.user.strip():
        return alarm.zone, False, "refused: the operator must be named"
    if alarm.acked:
        return alarm.zone, True, "already acknowledged"
    alarm.acknowledge(now, out)
    return alarm.zone, True, "acknowledged (acknowledge is not reset)"


def _op_reset(state: PlantState, cmd: OperatorCommand, now: float, out: list[Output]) -> _OpResult:
    zone = state.zones.get(cmd.target)
    if zone is None:
        return "", False, f"refused: no zone {cmd.target!r}"
    zid = zone.spec.id
    problem = _needs_reason(cmd)
    if problem:
        return zid, False, problem
    blockers = zone.reset_blockers(now)
    if blockers:
        return zid, False, "refused: condition still present: " + "; ".join(blockers)
    for ch in zone.channels.values():
        if ch.over_range:
            _release_over_range(ch, now, out)
    for alarm in zone.all_alarms():
        alarm.reset(now, out)
    if zone.tripped:
        zone.tripped = False
        out.append(ZoneTripChanged(zid, False, f"reset by {cmd.user}: {cmd.reason}"))
    zone.trip_cause = ""
    for valve in zone.valves.values():
        valve.open_permitted = True
    release_latches(state, zid)
    return zid, True, "reset accepted; valves may be reopened by an operator"


def _release_over_range(ch: ChannelState, now: float, out: list[Output]) -> None:
    """An accepted reset after an over-range: the levels follow the last reading again."""
    ch.over_range = False
    lel = ch.lel
    for level, attr, setpoint in (
        (Level.A1, "a1", ch.spec.a1),
        (Level.A2, "a2", ch.spec.a2),
        (Level.A3, "a3", ch.spec.a3),
    ):
        active = lel is not None and lel >= setpoint
        setattr(ch, attr, active)
        ch.alarms[level].set_condition(active, lel, now, out)
    _revote(ch, now, out)


def _op_open(state: PlantState, cmd: OperatorCommand, now: float, out: list[Output]) -> _OpResult:
    found = state.valve_index.get(cmd.target)
    if found is None:
        return "", False, f"refused: no valve {cmd.target!r}"
    zone, valve = found
    zid = zone.spec.id
    problem = _needs_reason(cmd)
    if problem:
        return zid, False, problem
    if zone.tripped:
        return zid, False, f"refused: zone {zid} is tripped ({zone.trip_cause}); reset it first"
    gas = zone.gas_blockers()
    if gas:
        return zid, False, "refused: gas still present: " + "; ".join(gas)
    if not valve.open_permitted:
        return zid, False, f"refused: zone {zid} must be reset before {valve.spec.id} is reopened"
    if valve.state in (ValveState.OPEN, ValveState.OPENING):
        return zid, False, f"refused: {valve.spec.id} is already {valve.state.value}"
    vid = valve.spec.id
    fault = zone.valve_alarms[vid]
    if valve.state is ValveState.FAULT:
        return (
            zid,
            False,
            (
                f"refused: {vid} is in VALVE_FAULT ({valve.detail or 'fault'}); it must report closed "
                "and the fault be acknowledged before it is reopened"
            ),
        )
    if not fault.acked:
        return zid, False, f"refused: acknowledge the valve fault of {vid} ({fault.detail or 'fault'}) before reopening"
    if valve.state is not ValveState.CLOSED:
        return zid, False, f"refused: {vid} is {valve.state.value}; it must report closed before it is reopened"
    out.append(ValveCommand(zid, valve.spec.id, ValveAction.OPEN, f"operator {cmd.user}: {cmd.reason}"))
    valve.command_open(now, zone.spec.valve_travel_margin_s)
    _valve_changed(zone, valve, now, out)
    return zid, True, f"opening {valve.spec.id}"


def _op_close(state: PlantState, cmd: OperatorCommand, now: float, out: list[Output]) -> _OpResult:
    found = state.valve_index.get(cmd.target)
    if found is None:
        return "", False, f"refused: no valve {cmd.target!r}"
    zone, valve = found
    reason = cmd.reason.strip() or "no reason given"
    _close(zone, valve, f"operator {cmd.user or 'unnamed'}: {reason}", now, out)
    return zone.spec.id, True, f"closing {valve.spec.id} (close is always allowed)"


def _op_shelve(state: PlantState, cmd: OperatorCommand, now: float, out: list[Output]) -> _OpResult:
    alarm = state.alarm_index.get(cmd.target)
    if alarm is None:
        return "", False, f"refused: no alarm {cmd.target!r}"
    problem = _needs_reason(cmd) or _bad_expiry(cmd.until, now, MAX_SHELVE_S)
    if problem:
        return alarm.zone, False, problem
    assert cmd.until is not None
    alarm.shelved_until = cmd.until
    alarm.publish(now, out)
    return alarm.zone, True, f"shelved for {cmd.until - now:.0f} s (the interlock still acts on it)"


def _op_unshelve(state: PlantState, cmd: OperatorCommand, now: float, out: list[Output]) -> _OpResult:
    alarm = state.alarm_index.get(cmd.target)
    if alarm is None:
        return "", False, f"refused: no alarm {cmd.target!r}"
    alarm.shelved_until = None
    alarm.publish(now, out)
    return alarm.zone, True, "unshelved"


def _op_inhibit(state: PlantState, cmd: OperatorCommand, now: float, out: list[Output]) -> _OpResult:
    ch = state.channel_index.get(cmd.target)
    if ch is None:
        return "", False, f"refused: no channel {cmd.target!r}"
    zone = ch.zone
    zid = zone.spec.id
    problem = _needs_reason(cmd) or _bad_expiry(cmd.until, now, MAX_OUT_OF_SERVICE_S)
    if problem:
        return zid, False, problem
    assert cmd.until is not None
    if not cmd.admin and cmd.until - now > MAX_OPERATOR_OUT_OF_SERVICE_S:
        return (
            zid,
            False,
            (
                f"refused: out of service for more than {MAX_OPERATOR_OUT_OF_SERVICE_S / 3600:g} h "
                "(the longest shelve) needs an admin"
            ),
        )
    gas = _gas_refusal(ch)
    if gas:
        return zid, False, gas
    if ch.spec.votes and ch.in_service:
        remaining = sum(1 for c in zone.channels.values() if c.spec.votes and c.in_service) - 1
        if remaining < zone.spec.vote_k:
            return (
                zid,
                False,
                (
                    f"refused: taking {ch.spec.id} out of service leaves {remaining} voting channel(s), "
                    f"fewer than the {zone.spec.vote_k} needed to trip {zid}"
                ),
            )
    assert cmd.until is not None
    ch.out_of_service_until = cmd.until
    for alarm in ch.alarms.values():
        alarm.out_of_service_until = cmd.until
        alarm.publish(now, out)
    _revote(ch, now, out)
    return zid, True, f"{ch.spec.id} out of service for {cmd.until - now:.0f} s"


def _gas_refusal(ch: ChannelState) -> str | None:
    """Why a channel that sees gas (or has it latched) may not be taken out of service."""
    cid = ch.spec.id
    lel = ch.lel
    if ch.over_range:
        return f"refused: {cid} went {OVER_RANGE_DETAIL}; reset the zone once the sensor is checked"
    if lel is not None and lel >= ch.spec.a2:
        return f"refused: {cid} reads {lel:.0f} %LEL; take it out of service once it is below A2"
    if ch.a2 or ch.a3 or ch.alarms[Level.A2].latched or ch.alarms[Level.A3].latched:
        return f"refused: {cid} has a latched A2/A3 alarm; reset the zone before taking it out of service"
    return None


def _op_test_channel(state: PlantState, cmd: OperatorCommand, now: float, out: list[Output]) -> _OpResult:
    """Put a channel in TEST: test gas may be applied; the zone's other channels keep protecting.

    A zone with no other channel able to trip it is tripped for the test, so its valves stay closed
    (rather than refusing the test: a detector that cannot be bump-tested is worse). A channel that
    already sees gas cannot be put in TEST, as it cannot be taken out of service.
    """
    ch = state.channel_index.get(cmd.target)
    if ch is None:
        return "", False, f"refused: no channel {cmd.target!r}"
    zone = ch.zone
    zid = zone.spec.id
    problem = _needs_reason(cmd) or _bad_expiry(cmd.until, now, MAX_CHANNEL_TEST_S)
    if problem:
        return zid, False, problem.replace("at most 0.5 h", "at most 30 minutes")
    gas = _gas_refusal(ch)
    if gas:
        return (
            zid,
            False,
            gas.replace("take it out of service", "test it").replace(
                "before taking it out of service", "before testing it"
            ),
        )
    assert cmd.until is not None
    ch.test_until = cmd.until
    for alarm in ch.alarms.values():
        alarm.test = True
    _revote(ch, now, out)
    cid = ch.spec.id
    if zone.protecting_voters() < zone.spec.vote_k:
        _trip(zone, f"{cid} in TEST and no other channel can trip {zid}: valves kept closed for the test", now, out)
        return (
            zid,
            True,
            f"{cid} in TEST for {cmd.until - now:.0f} s; {zid} has no other channel, so its valves stay closed",
        )
    return zid, True, f"{cid} in TEST for {cmd.until - now:.0f} s; the zone's other channels keep protecting"


def _op_end_test(state: PlantState, cmd: OperatorCommand, now: float, out: list[Output]) -> _OpResult:
    ch = state.channel_index.get(cmd.target)
    if ch is None:
        return "", False, f"refused: no channel {cmd.target!r}"
    if ch.test_until is None:
        return ch.zone.spec.id, True, f"{ch.spec.id} is not in TEST"
    _end_test(ch, f"ended by {cmd.user or 'an operator'}", now, out)
    return ch.zone.spec.id, True, f"{ch.spec.id} back from TEST"


def _end_test(ch: ChannelState, why: str, now: float, out: list[Output]) -> None:
    """Leave TEST: test alarms are cleared and the channel judged afresh from its last reading, so gas
    still there (test gas not yet gone, or a real leak) votes at once."""
    ch.test_until = None
    for alarm in ch.alarms.values():
        if alarm.level in (Level.A1, Level.A2, Level.A3, Level.ROR):
            alarm.set_condition(False, ch.lel, now, out)
            alarm.acked = True
            alarm.latched = False
        alarm.test = False
        alarm.publish(now, out)
    ch.a1 = ch.a2 = ch.a3 = ch.ror = False
    lel = ch.lel
    if ch.over_range:
        # The test gas saturated the head: over range stays latched until a checked reset.
        for level, attr in ((Level.A1, "a1"), (Level.A2, "a2"), (Level.A3, "a3")):
            setattr(ch, attr, True)
            ch.alarms[level].set_condition(True, lel, now, out, OVER_RANGE_DETAIL)
    elif lel is not None and ch.health is _OK:
        _evaluate_levels(ch, lel, now, out)
    _revote(ch, now, out)


def _op_uninhibit(state: PlantState, cmd: OperatorCommand, now: float, out: list[Output]) -> _OpResult:
    ch = state.channel_index.get(cmd.target)
    if ch is None:
        return "", False, f"refused: no channel {cmd.target!r}"
    ch.out_of_service_until = None
    for alarm in ch.alarms.values():
        alarm.out_of_service_until = None
        alarm.publish(now, out)
    _revote(ch, now, out)
    return ch.zone.spec.id, True, f"{ch.spec.id} back in service"


def _bad_expiry(until: float | None, now: float, longest: float) -> str | None:
    if until is None or not math.isfinite(until):
        return "refused: an expiry time is required"
    if until <= now:
        return "refused: the expiry time is already past"
    if until - now > longest:
        return f"refused: at most {longest / 3600:g} h is allowed"
    return None


_OperatorHandler = Callable[[PlantState, OperatorCommand, float, list[Output]], _OpResult]
_OPERATOR_HANDLERS: dict[OperatorAction, _OperatorHandler] = {
    OperatorAction.ACK: _op_ack,
    OperatorAction.RESET: _op_reset,
    OperatorAction.OPEN: _op_open,
    OperatorAction.CLOSE: _op_close,
    OperatorAction.SHELVE: _op_shelve,
    OperatorAction.UNSHELVE: _op_unshelve,
    OperatorAction.INHIBIT: _op_inhibit,
    OperatorAction.UNINHIBIT: _op_uninhibit,
    OperatorAction.TEST_CHANNEL: _op_test_channel,
    OperatorAction.END_TEST: _op_end_test,
    OperatorAction.SILENCE: lambda state, cmd, now, out: silence(state, cmd, now),
    OperatorAction.TEST_OUTPUT: lambda state, cmd, now, out: start_output_test(state, cmd, now),
}

_OUTPUT_TRIGGERS = frozenset({Tick, SystemFault, OperatorCommand})
"""Events that can change an output without changing an alarm (timers, system faults, silence, tests)."""

_Handler = Callable[[PlantState, Event, float, list[Output]], None]
_HANDLERS: dict[type, _Handler] = {
    Reading: _on_reading,
    Tick: _on_tick,
    ValveFeedback: _on_feedback,
    ValveDriverFailed: _on_driver_failed,
    MlSignal: _on_ml,
    OperatorCommand: _on_operator,
    SystemFault: _on_system_fault,
}
