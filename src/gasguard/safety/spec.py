"""What the safety core needs to know about a plant, as frozen standard-library dataclasses.

The site configuration (``gasguard.config``, pydantic) is validated at the edge and turned into these
specs, so the core never imports pydantic or YAML. Units are folded into one linear map per channel:
``lel_pct = value * scale + offset``, computed once when the config is loaded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from gasguard.domain import Level, OutputKind


class FaultPolicy(StrEnum):
    """What a channel FAULT (or warm-up) does to the zone's vote."""

    TRIP = "trip"  # fail-safe default: a channel that cannot be trusted votes to trip
    ALARM = "alarm"  # only raise the fault alarm


@dataclass(frozen=True, slots=True)
class ChannelSpec:
    id: str
    zone: str
    gas: str
    scale: float  # lel_pct = value * scale + offset
    offset: float
    a1: float = 10.0
    a2: float = 20.0
    a3: float = 40.0
    hysteresis: float = 2.0
    stale_timeout_s: float = 10.0
    warmup_s: float = 60.0
    valid_min: float = float("-inf")
    valid_max: float = float("inf")
    flatline_s: float | None = None
    flatline_epsilon: float = 0.0
    votes: bool = True

    def __post_init__(self) -> None:
        if not self.a1 <= self.a2 <= self.a3:
            raise ValueError(f"channel {self.id}: setpoints must satisfy A1 <= A2 <= A3")
        if self.hysteresis < 0 or self.hysteresis >= self.a1:
            raise ValueError(f"channel {self.id}: hysteresis must be >= 0 and below A1")
        if self.stale_timeout_s <= 0:
            raise ValueError(f"channel {self.id}: stale timeout must be positive")


@dataclass(frozen=True, slots=True)
class ValveSpec:
    id: str
    zone: str
    travel_time_s: float = 5.0
    normally_closed: bool = True
    feedback: bool = True


@dataclass(frozen=True, slots=True)
class RateOfRiseSpec:
    lel_pct_per_min: float
    window_s: float = 60.0
    trips: bool = False


@dataclass(frozen=True, slots=True)
class ZoneSpec:
    id: str
    channels: tuple[ChannelSpec, ...]
    valves: tuple[ValveSpec, ...]
    vote_k: int = 1
    fault_policy: FaultPolicy = FaultPolicy.TRIP
    warmup_policy: FaultPolicy = FaultPolicy.TRIP
    rate_of_rise: RateOfRiseSpec | None = None
    ml_may_trip: bool = True
    ml_hold_s: float = 60.0
    close_reassert_s: float = 5.0
    valve_travel_margin_s: float = 2.0

    def __post_init__(self) -> None:
        voters = sum(1 for c in self.channels if c.votes)
        if voters and not 1 <= self.vote_k <= voters:
            raise ValueError(f"zone {self.id}: k={self.vote_k} must be between 1 and {voters} voting channels")


class VoteBy(StrEnum):
    ZONES = "zones"  # k of the named zones have a driving cause
    CHANNELS = "channels"  # k channels of the named zones have a driving cause


@dataclass(frozen=True, slots=True)
class OutputSpec:
    """One row of the cause-and-effect matrix: which alarms in which zones drive this output, and how.

    ``levels`` are the causes (A1, A2, A3, ROR, FAULT, VALVE_FAULT, ML). A ``fault_relay`` ignores them:
    it is energised while nothing is wrong and drops on a channel FAULT in ``fault_zones``, any valve
    fault or any system fault.
    """

    id: str
    kind: OutputKind
    zones: tuple[str, ...]
    levels: frozenset[Level] = field(default_factory=frozenset)
    vote_k: int = 1
    vote_by: VoteBy = VoteBy.ZONES
    latching: bool = False
    on_delay_s: float = 0.0
    min_on_s: float = 0.0
    pulse_until_silenced: bool = False
    steady_when_silenced: bool = False
    fault_zones: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.zones:
            raise ValueError(f"output {self.id}: names no zone")
        if self.kind is not OutputKind.FAULT_RELAY and not self.levels:
            raise ValueError(f"output {self.id}: names no alarm level that drives it")
        if self.vote_k < 1:
            raise ValueError(f"output {self.id}: k must be at least 1")
        if not 0 <= self.on_delay_s <= 300:
            raise ValueError(f"output {self.id}: on-delay must be between 0 and 300 s")
        if self.min_on_s < 0:
            raise ValueError(f"output {self.id}: minimum on-time must not be negative")


@dataclass(frozen=True, slots=True)
class PlantSpec:
    zones: tuple[ZoneSpec, ...]
    outputs: tuple[OutputSpec, ...] = ()

    def __post_init__(self) -> None:
        seen: set[str] = set()
        for zone in self.zones:
            for ident in (zone.id, *(c.id for c in zone.channels), *(v.id for v in zone.valves)):
                if ident in seen:
                    raise ValueError(f"id {ident!r} is used twice; zone, channel and valve ids must be unique")
                seen.add(ident)
        zone_ids = {z.id for z in self.zones}
        for output in self.outputs:
            if output.id in seen:
                raise ValueError(f"id {output.id!r} is used twice; outputs need ids of their own")
            seen.add(output.id)
            for zid in (*output.zones, *output.fault_zones):
                if zid not in zone_ids:
                    raise ValueError(f"output {output.id}: no zone {zid!r}")
