"""The mutable safety state: channels, zones and the plant, with the facts the rules read.

``interlock.step`` is the only writer; ``snapshot`` copies the latched part. Constants that bound
operator actions live here so the rules, the operator handlers and the tests share one value.
"""

from __future__ import annotations

from gasguard.domain import (
    ChannelHealth,
    Level,
    ValveState,
)
from gasguard.safety.alarms import Alarm
from gasguard.safety.levels import RiseTracker
from gasguard.safety.outputs import (
    OutputState,
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
