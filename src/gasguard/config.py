"""Site configuration: sites -> zones -> channels and valves, validated strictly from YAML.

Every model forbids unknown fields, so a typo (``hysterisis``) is an error, not a silently ignored
setting. ``load_site_config`` names the file, the field path and what is wrong; nothing starts with an
invalid configuration. ``SiteConfig.plant_spec()`` turns a valid file into the safety core's
standard-library specs, folding units and calibration into one linear map per channel.
"""

from __future__ import annotations

import difflib
import math
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal, Self

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from gasguard.domain import Level, OutputKind
from gasguard.maintenance.config import MaintenanceConfig
from gasguard.notifications.config import NotificationsConfig
from gasguard.safety.lel import GASES, LEL_TABLES, lel_vol_pct, ppm_to_lel_pct
from gasguard.safety.spec import (
    ChannelSpec,
    FaultPolicy,
    OutputSpec,
    PlantSpec,
    RateOfRiseSpec,
    ValveSpec,
    VoteBy,
    ZoneSpec,
)

Ident = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]


class ConfigError(ValueError):
    """A site configuration file cannot be used. The message names the file and each bad field."""


class Unit(StrEnum):
    PPM = "ppm"
    LEL_PCT = "lel_pct"
    RAW = "raw"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Calibration(_Strict):
    """Linear calibration of a raw signal (e.g. ADC counts or mA) into ppm or %LEL."""

    gain: float = Field(description="Multiplier applied to the raw value.", allow_inf_nan=False)
    offset: float = Field(0.0, description="Added after the gain.", allow_inf_nan=False)
    to: Unit = Field(description="Unit the calibrated value is in: ppm or lel_pct.")

    @model_validator(mode="after")
    def _target_unit(self) -> Self:
        if self.to is Unit.RAW:
            raise ValueError("calibration must convert to ppm or lel_pct, not raw")
        if self.gain == 0:
            raise ValueError("gain must not be zero")
        return self


class Setpoints(_Strict):
    a1: float = Field(10.0, gt=0, le=100, description="Warning, %LEL (non-latching).")
    a2: float = Field(20.0, gt=0, le=100, description="Alarm and trip, %LEL (latching, closes the valves).")
    a3: float = Field(40.0, gt=0, le=100, description="High alarm, %LEL (latching).")

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if not self.a1 <= self.a2 <= self.a3:
            raise ValueError(f"setpoints must satisfy a1 <= a2 <= a3 (got {self.a1}, {self.a2}, {self.a3})")
        return self


class ValidRange(_Strict):
    min: float = Field(description="Lowest plausible value in the channel unit.", allow_inf_nan=False)
    max: float = Field(description="Highest plausible value in the channel unit.", allow_inf_nan=False)

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.min >= self.max:
            raise ValueError("min must be below max")
        return self


class WordOrder(StrEnum):
    """Order of the two 16-bit registers of a 32-bit value (bytes inside a register are always big-endian)."""

    BIG = "big"  # high word first (AB CD), the Modbus convention
    LITTLE = "little"  # low word first (CD AB), common on some PLCs and gas controllers


class ModbusChannelSource(_Strict):
    """Where a channel is read over Modbus TCP: one input register (or two for a float32).

    The value submitted is ``raw * scale + offset`` in the channel's ``unit`` (ppm, lel_pct or raw; a
    raw channel's calibration applies after this). ``count: 1`` reads an unsigned 16-bit integer (or
    signed with ``signed: true``); ``count: 2`` reads an IEEE-754 float32 from two registers in
    ``word_order``. Addresses are the 0-based protocol addresses (register 30001 in a 1-based manual is 0).
    """

    host: str = Field(min_length=1, max_length=253, description="Device or gateway host name or IP address.")
    port: int = Field(502, ge=1, le=65535, description="Modbus TCP port.")
    unit: int = Field(1, ge=0, le=255, description="Unit (device/slave) id behind the host.")
    # Written ``register`` in the file; named ``address`` in Python because ``register`` is a method of every class.
    address: int = Field(
        alias="register", ge=0, le=65535, description="Input register address (0-based protocol address)."
    )
    count: Literal[1, 2] = Field(1, description="1: 16-bit integer; 2: float32 over two registers.")
    word_order: WordOrder = Field(WordOrder.BIG, description="Register order of a float32 (count 2).")
    signed: bool = Field(False, description="Read a 16-bit register as signed (count 1 only).")
    scale: float = Field(1.0, allow_inf_nan=False, description="Multiplier applied to the raw register value.")
    offset: float = Field(0.0, allow_inf_nan=False, description="Added after the scale.")
    poll_s: float = Field(1.0, ge=0.05, le=3600, description="Seconds between reads of this channel.")
    timeout_s: float = Field(1.0, gt=0, le=60, description="How long one read may take before it counts as failed.")

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.scale == 0:
            raise ValueError("scale must not be zero")
        if self.address + self.count - 1 > 65535:
            raise ValueError(f"register {self.address} with count {self.count} runs past address 65535")
        if self.signed and self.count != 1:
            raise ValueError("signed applies to 16-bit registers (count 1); a float32 is always signed")
        return self


class ChannelConfig(_Strict):
    id: Ident = Field(description="Unique channel id.")
    name: str = Field("", description="Label shown to operators.")
    gas: str = Field(description=f"Target gas, one of: {', '.join(GASES)}.")
    unit: Unit = Field(Unit.PPM, description="Unit the device reports in.")
    calibration: Calibration | None = Field(None, description="Required when unit is raw.")
    lel_vol_pct: float | None = Field(None, gt=0, le=100, description="Override the table LEL (vol % in air).")
    setpoints: Setpoints = Setpoints()
    hysteresis: float = Field(2.0, ge=0, lt=50, description="%LEL below a setpoint before its alarm clears.")
    stale_timeout_s: float = Field(10.0, gt=0, le=3600, description="No reading for this long is a FAULT.")
    warmup_s: float = Field(60.0, ge=0, le=86400, description="Seconds after power-on the sensor is not trusted.")
    valid_range: ValidRange | None = Field(
        None,
        description=(
            "The sensor's span (channel unit): below it is a FAULT; above it is over range, gas above the span, "
            "a latched A3 that trips whatever the fault policy."
        ),
    )
    flatline_s: float | None = Field(None, gt=0, description="Same value for this long is a FAULT; null disables.")
    flatline_epsilon: float = Field(0.0, ge=0, description="Changes at or below this count as unchanged.")
    votes: bool = Field(True, description="Whether the channel takes part in the zone's trip vote.")
    modbus: ModbusChannelSource | None = Field(None, description="Poll this channel over Modbus TCP; null: pushed.")

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.gas not in GASES and self.lel_vol_pct is None:
            raise ValueError(f"unknown gas {self.gas!r}: use one of {', '.join(GASES)} or set lel_vol_pct")
        if self.unit is Unit.RAW and self.calibration is None:
            raise ValueError("unit raw needs a calibration {gain, offset, to}")
        if self.unit is not Unit.RAW and self.calibration is not None:
            raise ValueError("calibration is only used with unit raw")
        if self.hysteresis >= self.setpoints.a1:
            raise ValueError("hysteresis must be below the A1 setpoint")
        if self.modbus is not None and self.modbus.poll_s + self.modbus.timeout_s >= self.stale_timeout_s:
            raise ValueError(
                f"modbus poll_s + timeout_s ({self.modbus.poll_s:g} + {self.modbus.timeout_s:g} s) must be below "
                f"stale_timeout_s ({self.stale_timeout_s:g} s), or the channel goes stale between polls"
            )
        return self

    def linear_map(self, basis: str) -> tuple[float, float]:
        """(scale, offset) such that %LEL = value * scale + offset."""
        lel = self.lel_vol_pct if self.lel_vol_pct is not None else lel_vol_pct(self.gas, basis)
        gain, offset, unit = 1.0, 0.0, self.unit
        if self.calibration is not None:
            gain, offset, unit = self.calibration.gain, self.calibration.offset, self.calibration.to
        if unit is Unit.PPM:
            per_ppm = ppm_to_lel_pct(1.0, lel)
            return gain * per_ppm, offset * per_ppm
        return gain, offset


class SimulatedValveDriver(_Strict):
    """No hardware: an in-process valve that moves over half its travel time (demos and tests)."""

    kind: Literal["simulated"] = "simulated"


class ModbusValveDriver(_Strict):
    """A valve relay on a Modbus TCP coil, with optional limit switches on discrete inputs.

    The coil is written True to OPEN (energise the solenoid of a normally-closed valve) and False to
    CLOSE, so a relay, controller or power failure leaves the valve closed. That is why a modbus driver
    is refused on a valve with ``normally_closed: false``. Addresses are 0-based protocol addresses.
    """

    kind: Literal["modbus"]
    host: str = Field(min_length=1, max_length=253, description="Device or gateway host name or IP address.")
    port: int = Field(502, ge=1, le=65535, description="Modbus TCP port.")
    unit: int = Field(1, ge=0, le=255, description="Unit (device/slave) id behind the host.")
    coil: int = Field(ge=0, le=65535, description="Coil written True to open (energise), False to close.")
    feedback_open_input: int | None = Field(None, ge=0, le=65535, description="Discrete input on when fully open.")
    feedback_closed_input: int | None = Field(
        None, ge=0, le=65535, description="Discrete input on when fully closed (required with feedback: true)."
    )
    poll_s: float = Field(0.5, ge=0.05, le=60, description="Seconds between reads of the limit switches.")
    timeout_s: float = Field(2.0, gt=0, le=60, description="How long a write or read may take before it fails.")
    feedback_lost_s: float = Field(
        10.0, gt=0, le=3600, description="Limit switches unreadable this long: position reported unknown."
    )
    heartbeat_coil: int | None = Field(
        None,
        ge=0,
        le=65535,
        description="Coil toggled every heartbeat_s for the module's watchdog; null: the valve coil is "
        "re-written instead, after reading it back (docs/watchdog.md).",
    )
    heartbeat_s: float | None = Field(
        1.0,
        ge=0.1,
        le=60,
        description="Seconds between heartbeat writes; set the module's watchdog to 3 x this. null: no heartbeat "
        "(then the module's watchdog must be off).",
    )

    @model_validator(mode="after")
    def _distinct_inputs(self) -> Self:
        opened, closed = self.feedback_open_input, self.feedback_closed_input
        if opened is not None and opened == closed:
            raise ValueError("feedback_open_input and feedback_closed_input must be different inputs")
        if self.heartbeat_coil is not None and self.heartbeat_coil == self.coil:
            raise ValueError("heartbeat_coil must not be the valve's coil")
        if self.heartbeat_coil is not None and self.heartbeat_s is None:
            raise ValueError("heartbeat_coil needs heartbeat_s (seconds between heartbeat writes)")
        return self


class MqttValveDriver(_Strict):
    """A valve controller on the MQTT broker given to GasGuard (``--mqtt`` / settings).

    Commands ``OPEN`` / ``CLOSE`` (never retained) go to ``<topic>/set`` and the controller reports
    ``open`` / ``closed`` / ``moving`` on ``<topic>/state``. ``topic`` defaults to
    ``<prefix>/<site>/<zone>/valve`` when the zone has one valve, and ``<prefix>/<site>/<zone>/valve/<valve id>``
    when it has several.
    """

    kind: Literal["mqtt"]
    topic: str | None = Field(
        None,
        min_length=1,
        max_length=200,
        pattern=r"^[^#+\s]+$",
        description="Base topic; /set and /state are appended. Default derived from site, zone and valve.",
    )
    feedback_lost_s: float = Field(
        10.0, gt=0, le=3600, description="Broker unreachable this long: position reported unknown."
    )
    heartbeat_s: float = Field(
        1.0, ge=0.1, le=60, description="Seconds between heartbeat messages (the controller's watchdog: 3x this)."
    )


ValveDriverConfig = Annotated[SimulatedValveDriver | ModbusValveDriver | MqttValveDriver, Field(discriminator="kind")]


class ValveConfig(_Strict):
    id: Ident = Field(description="Unique valve id.")
    name: str = Field("", description="Label shown to operators.")
    travel_time_s: float = Field(5.0, gt=0, le=600, description="Time to travel fully open or closed.")
    normally_closed: bool = Field(True, description="Closes by itself on loss of power (fail-closed).")
    feedback: bool = Field(True, description="Has position switches; without, arrival is assumed after travel.")
    driver: ValveDriverConfig | None = Field(None, description="How the valve is driven; null: simulated.")

    @model_validator(mode="after")
    def _driver_fits(self) -> Self:
        driver = self.driver
        if isinstance(driver, ModbusValveDriver):
            if not self.normally_closed:
                raise ValueError(
                    "the modbus driver energises the coil to open, so it needs a normally-closed valve "
                    "(normally_closed: true); a normally-open valve would not close on loss of power"
                )
            has_inputs = driver.feedback_open_input is not None or driver.feedback_closed_input is not None
            if self.feedback and driver.feedback_closed_input is None:
                raise ValueError(
                    "feedback: true needs driver.feedback_closed_input (the switch that proves the valve closed)"
                )
            if not self.feedback and has_inputs:
                raise ValueError("driver feedback inputs are set but feedback is false; set feedback: true")
        return self


class Voting(_Strict):
    k: int = Field(1, ge=1, le=64, description="Votes (A2 or FAULT channels) needed to trip the zone.")


class RateOfRise(_Strict):
    lel_pct_per_min: float = Field(gt=0, le=100, description="Alarm when %LEL rises faster than this.")
    window_s: float = Field(60.0, ge=5, le=3600, description="Window the rate is measured over.")
    trips: bool = Field(False, description="Whether a rate-of-rise alarm also votes to trip.")


class MlPolicy(_Strict):
    may_trip: bool = Field(True, description="ML and camera signals may trip the zone early (never clear it).")
    hold_s: float = Field(60.0, ge=0, le=3600, description="How long an ML signal blocks a reset.")


class ZoneConfig(_Strict):
    id: Ident = Field(description="Unique zone id.")
    name: str = Field("", description="Label shown to operators.")
    voting: Voting = Voting()
    fault_policy: FaultPolicy = Field(FaultPolicy.TRIP, description="trip: a FAULT channel votes to trip.")
    warmup_policy: FaultPolicy = Field(FaultPolicy.TRIP, description="trip: a warming-up channel votes to trip.")
    rate_of_rise: RateOfRise | None = Field(None, description="Rate-of-rise alarm; null disables.")
    ml: MlPolicy = MlPolicy()
    close_reassert_s: float = Field(5.0, gt=0, le=300, description="Re-send close this often while tripped.")
    channels: list[ChannelConfig] = Field(min_length=1)
    valves: list[ValveConfig] = Field(default_factory=list)

    @model_validator(mode="after")
    def _voting_possible(self) -> Self:
        voters = sum(1 for c in self.channels if c.votes)
        if voters == 0:
            raise ValueError("at least one channel must vote")
        if self.voting.k > voters:
            raise ValueError(f"voting k={self.voting.k} exceeds the {voters} voting channel(s)")
        return self


class SimulatedOutputDriver(_Strict):
    """No hardware: an in-process output that follows its commands at once (demos and tests)."""

    kind: Literal["simulated"] = "simulated"


class ModbusOutputDriver(_Strict):
    """An output relay on a Modbus TCP coil (True = energised), with an optional feedback input.

    For the I/O module's communication watchdog, GasGuard writes ``heartbeat_coil`` at least every
    ``heartbeat_s``; set the module to drop every coil when nothing is written for three times that.
    """

    kind: Literal["modbus"]
    host: str = Field(min_length=1, max_length=253, description="Device or gateway host name or IP address.")
    port: int = Field(502, ge=1, le=65535, description="Modbus TCP port.")
    unit: int = Field(1, ge=0, le=255, description="Unit (device/slave) id behind the host.")
    coil: int = Field(ge=0, le=65535, description="Coil written True to energise the output.")
    feedback_input: int | None = Field(None, ge=0, le=65535, description="Discrete input on while energised.")
    heartbeat_coil: int | None = Field(
        None, ge=0, le=65535, description="Coil toggled every heartbeat_s for the module's watchdog; null: none."
    )
    heartbeat_s: float = Field(1.0, ge=0.1, le=60, description="Seconds between heartbeat writes.")
    timeout_s: float = Field(2.0, gt=0, le=60, description="How long a write or read may take before it fails.")


class MqttOutputDriver(_Strict):
    """An output on an MQTT relay node: ``ON`` / ``OFF`` / ``PULSE`` on ``<topic>/set``, state on ``<topic>/state``.

    ``topic`` defaults to ``<prefix>/<site>/output/<output id>``. GasGuard also publishes a heartbeat
    on ``<topic>/heartbeat``; a node that misses it (or sees GasGuard's last will) goes to its safe state.
    """

    kind: Literal["mqtt"]
    topic: str | None = Field(
        None, min_length=1, max_length=200, pattern=r"^[^#+\s]+$", description="Base topic; default derived."
    )
    heartbeat_s: float = Field(1.0, ge=0.1, le=60, description="Seconds between heartbeat messages.")


OutputDriverConfig = Annotated[
    SimulatedOutputDriver | ModbusOutputDriver | MqttOutputDriver, Field(discriminator="kind")
]


class OutputVote(_Strict):
    k: int = Field(1, ge=1, le=256, description="How many of the named zones (or channels) must have a cause.")
    of: VoteBy = Field(VoteBy.ZONES, description="zones: k zones; channels: k channels of the named zones.")


OUTPUT_LEVELS = ("A1", "A2", "A3", "ROR", "FAULT", "VALVE_FAULT", "ML")


class OutputConfig(_Strict):
    """One row of the cause-and-effect matrix: a sounder, beacon, fan, relay or the system-failure relay."""

    id: Ident = Field(description="Unique output id.")
    name: str = Field("", description="Label shown to operators.")
    kind: OutputKind = Field(description="sounder | beacon | fan | relay | fault_relay.")
    zones: list[Ident] | Literal["all"] = Field("all", description="Zones whose alarms drive it, or all.")
    levels: list[Literal["A1", "A2", "A3", "ROR", "FAULT", "VALVE_FAULT", "ML"]] = Field(
        default_factory=list, description="Alarm levels that drive it (ML: ML or camera signal)."
    )
    vote: OutputVote = OutputVote()
    latching: bool = Field(False, description="Stays on until the zone is reset, once on.")
    on_delay_s: float = Field(0.0, ge=0, le=300, description="A cause must last this long before it turns on.")
    min_on_s: float = Field(0.0, ge=0, le=3600, description="Once on, stays on at least this long.")
    pulse_until_silenced: bool = Field(False, description="Pulsed (sounding) until an operator silences it.")
    when_silenced: Literal["off", "steady"] = Field("off", description="After silence: off, or steady until off.")
    fault_zones: list[Ident] | Literal["all"] = Field(
        "all", description="fault_relay: zones whose channel FAULTs drop it (valve and system faults always do)."
    )
    normally_energised: bool = Field(
        False, description="fault_relay must be true: energised while healthy, so a dead controller drops it."
    )
    feedback: bool = Field(False, description="The device reports its state back.")
    driver: OutputDriverConfig | None = Field(None, description="How it is driven; null: simulated.")

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.kind is OutputKind.FAULT_RELAY:
            if not self.normally_energised:
                raise ValueError(
                    "a fault_relay must be normally_energised: true (energised while GasGuard is healthy), "
                    "or a dead controller would not drop it"
                )
            if self.levels:
                raise ValueError("a fault_relay is driven by faults, not by levels; remove levels")
        else:
            if not self.levels:
                raise ValueError(f"name the alarm levels that drive it: one or more of {', '.join(OUTPUT_LEVELS)}")
            if self.normally_energised:
                raise ValueError("only a fault_relay is normally energised")
        return self


class SiteEntry(_Strict):
    id: Ident = Field(description="Unique site id (used in MQTT topics).")
    name: str = Field("", description="Label shown to operators.")
    lel_basis: str = Field("niosh", description=f"LEL table: {', '.join(sorted(LEL_TABLES))}.")
    zones: list[ZoneConfig] = Field(min_length=1)
    outputs: list[OutputConfig] = Field(default_factory=list, description="Sounders, beacons, fans, relays.")
    maintenance: MaintenanceConfig | None = Field(
        None, description="Test intervals and tolerances (docs/maintenance.md); null: the defaults."
    )

    @model_validator(mode="after")
    def _basis(self) -> Self:
        if self.lel_basis not in LEL_TABLES:
            raise ValueError(f"lel_basis must be one of {sorted(LEL_TABLES)}")
        zone_ids = {z.id for z in self.zones}
        if self.maintenance is not None:
            self.maintenance.check_ids(zone_ids, (c.id for z in self.zones for c in z.channels))
        for output in self.outputs:
            for field_name in ("zones", "fault_zones"):
                named = getattr(output, field_name)
                missing = [] if named == "all" else [z for z in named if z not in zone_ids]
                if missing:
                    raise ValueError(f"output {output.id}: {field_name} names no zone {missing[0]!r} of site {self.id}")
        return self

    def output_zones(self, output: OutputConfig, field_name: str = "zones") -> tuple[str, ...]:
        named = getattr(output, field_name)
        return tuple(z.id for z in self.zones) if named == "all" else tuple(named)


class SiteConfig(_Strict):
    sites: list[SiteEntry] = Field(min_length=1)
    notifications: NotificationsConfig | None = Field(
        None, description="Messages to people: routes, repeat, escalation, acknowledge links (docs/notifications.md)."
    )

    @model_validator(mode="after")
    def _notification_zones(self) -> Self:
        if self.notifications is not None:
            self.notifications.check_zones({zone.id for site in self.sites for zone in site.zones})
        return self

    @model_validator(mode="after")
    def _unique_ids(self) -> Self:
        seen: set[str] = set()
        for site in self.sites:
            for zone in site.zones:
                for ident in (zone.id, *(c.id for c in zone.channels), *(v.id for v in zone.valves)):
                    if ident in seen:
                        raise ValueError(f"id {ident!r} is used twice; zone, channel and valve ids must be unique")
                    seen.add(ident)
            for output in site.outputs:
                if output.id in seen:
                    raise ValueError(f"id {output.id!r} is used twice; outputs need ids of their own")
                seen.add(output.id)
        return self

    def zones(self) -> list[tuple[SiteEntry, ZoneConfig]]:
        return [(site, zone) for site in self.sites for zone in site.zones]

    def plant_spec(self) -> PlantSpec:
        """The safety core's view of this configuration."""
        zones: list[ZoneSpec] = []
        for site, zone in self.zones():
            channels = []
            for ch in zone.channels:
                scale, offset = ch.linear_map(site.lel_basis)
                rng = ch.valid_range
                channels.append(
                    ChannelSpec(
                        id=ch.id,
                        zone=zone.id,
                        gas=ch.gas,
                        scale=scale,
                        offset=offset,
                        a1=ch.setpoints.a1,
                        a2=ch.setpoints.a2,
                        a3=ch.setpoints.a3,
                        hysteresis=ch.hysteresis,
                        stale_timeout_s=ch.stale_timeout_s,
                        warmup_s=ch.warmup_s,
                        valid_min=rng.min if rng else -math.inf,
                        valid_max=rng.max if rng else math.inf,
                        flatline_s=ch.flatline_s,
                        flatline_epsilon=ch.flatline_epsilon,
                        votes=ch.votes,
                    )
                )
            valves = tuple(
                ValveSpec(
                    id=v.id,
                    zone=zone.id,
                    travel_time_s=v.travel_time_s,
                    normally_closed=v.normally_closed,
                    feedback=v.feedback,
                )
                for v in zone.valves
            )
            ror = zone.rate_of_rise
            zones.append(
                ZoneSpec(
                    id=zone.id,
                    channels=tuple(channels),
                    valves=valves,
                    vote_k=zone.voting.k,
                    fault_policy=zone.fault_policy,
                    warmup_policy=zone.warmup_policy,
                    rate_of_rise=RateOfRiseSpec(ror.lel_pct_per_min, ror.window_s, ror.trips) if ror else None,
                    ml_may_trip=zone.ml.may_trip,
                    ml_hold_s=zone.ml.hold_s,
                    close_reassert_s=zone.close_reassert_s,
                )
            )
        outputs = tuple(
            OutputSpec(
                id=o.id,
                kind=o.kind,
                zones=site.output_zones(o),
                levels=frozenset(Level(level) for level in o.levels),
                vote_k=o.vote.k,
                vote_by=o.vote.of,
                latching=o.latching,
                on_delay_s=o.on_delay_s,
                min_on_s=o.min_on_s,
                pulse_until_silenced=o.pulse_until_silenced,
                steady_when_silenced=o.when_silenced == "steady",
                fault_zones=site.output_zones(o, "fault_zones") if o.kind is OutputKind.FAULT_RELAY else (),
            )
            for site in self.sites
            for o in site.outputs
        )
        return PlantSpec(zones=tuple(zones), outputs=outputs)

    def outputs(self) -> list[tuple[SiteEntry, OutputConfig]]:
        return [(site, output) for site in self.sites for output in site.outputs]


_SINGULAR = {
    "sites": "site",
    "zones": "zone",
    "channels": "channel",
    "valves": "valve",
    "cameras": "camera",
    "outputs": "output",
}


def _known_keys() -> list[str]:
    """Every key any part of a site file may use: the vocabulary for "did you mean" suggestions."""
    keys: set[str] = set()
    pending: list[type[BaseModel]] = [SiteConfig]
    seen: set[type[BaseModel]] = set()
    while pending:
        model = pending.pop()
        if model in seen:
            continue
        seen.add(model)
        for name, info in model.model_fields.items():
            keys.add(name)
            for arg in _model_types(info.annotation):
                pending.append(arg)
    return sorted(keys)


def _model_types(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    found: list[type[BaseModel]] = []
    for arg in getattr(annotation, "__args__", ()) or ():
        found.extend(_model_types(arg))
    return found


def _readable_location(data: Any, loc: tuple[Any, ...]) -> tuple[str, list[str]]:
    """``("sites", 0, "zones", 0, "channels", 0, "modbus", "count")`` -> ``"zone kitchen, channel
    kitchen-ch1"`` and ``["modbus", "count"]``, so an operator reads names from their own file instead
    of list indices."""
    labels: list[str] = []
    keys: list[str] = []
    node = data
    parent_key: str | None = None
    for key in loc:
        if isinstance(key, int) and isinstance(node, list) and 0 <= key < len(node) and isinstance(node[key], dict):
            node = node[key]
            ident = node.get("id") if isinstance(node, dict) else None
            kind = _SINGULAR.get(parent_key or "", parent_key or "item")
            if keys and keys[-1] == parent_key:
                keys.pop()  # the list's own key is said by the label
            if kind == "site" and len(data.get("sites", [])) == 1 and ident:
                continue  # one site: its zones name themselves
            labels.append(f"{kind} {ident}" if isinstance(ident, str) and ident else f"{kind} #{key + 1}")
            keys = []
            continue
        keys.append(str(key))
        parent_key = key if isinstance(key, str) else parent_key
        node = node.get(key) if isinstance(node, dict) else None
    return ", ".join(labels), keys


def _format_errors(source: str, exc: ValidationError, data: Any = None) -> str:
    lines = [f"{source}: invalid site configuration ({exc.error_count()} problem(s))"]
    known = _known_keys()
    for err in exc.errors():
        loc = tuple(err["loc"])
        where, keys = _readable_location(data, loc) if isinstance(data, dict) else ("", [str(k) for k in loc])
        if err["type"] == "extra_forbidden" and keys:
            unknown = keys.pop()
            guess = difflib.get_close_matches(unknown, known, n=1)
            hint = f" (did you mean {guess[0]!r}?)" if guess else ""
            if unknown in known:
                hint = " (not valid here)"
            place = ": ".join(part for part in (where, ".".join(keys)) if part) or "(top level)"
            lines.append(f"  {place}: unknown key {unknown!r}{hint}")
            continue
        place = ": ".join(part for part in (where, ".".join(keys)) if part) or "(top level)"
        lines.append(f"  {place}: {err['msg']}")
    return "\n".join(lines)


def parse_site_config(data: Any, source: str = "<config>") -> SiteConfig:
    """Validate already-parsed YAML/JSON data. ``source`` names it in error messages."""
    try:
        return SiteConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_format_errors(source, exc, data)) from None


def load_site_config(path: str | Path) -> SiteConfig:
    """Read and validate a site configuration file; raise ``ConfigError`` naming file and fields."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text: {exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{path}:{where}: not valid YAML: {problem}") from None
    except RecursionError:
        raise ConfigError(f"{path}: not a site configuration: nested too deeply to read") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping with a 'sites' list at the top level")
    return parse_site_config(data, str(path))


def example_config_path() -> Path:
    """The commented example configuration shipped with GasGuard."""
    return Path(str(resources.files("gasguard") / "examples" / "site.yaml"))
