"""Scenario files: what happens in a simulated plant, as data.

A scenario names a site file (the same YAML a real installation uses), describes the rooms, sensors,
valves and leaks of the simulated plant, and schedules faults, power cycles and the operator's actions.
It is validated strictly (``extra="forbid"``, bounds on every number) and then checked against the ids
in its site file, so a typo in a channel id fails loudly instead of silently simulating nothing.

The site file is read here as plain YAML, only for its ids and the few physical facts the plant needs
(which zone a channel is in, warm-up time, valve travel time, normally-closed valves). Validating the
site itself is the site configuration loader's job.
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, model_validator

from gasguard.domain import OperatorAction

log = logging.getLogger(__name__)

SCENARIO_DIR = Path(__file__).resolve().parent / "scenarios"
"""Where the scenarios shipped with the package live (``<name>.yaml``)."""

ALARM_LEVELS = ("A1", "A2", "A3", "ROR", "FAULT")
CHANNEL_FAULTS = ("stuck", "disconnect", "spike", "nan", "recover")
VALVE_FAULTS = ("stuck_open", "recover")

_ID = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
Id = Annotated[str, Field(pattern=_ID, min_length=1, max_length=64)]
Seconds = Annotated[float, Field(ge=0, le=7 * 24 * 3600, allow_inf_nan=False)]


class ScenarioError(ValueError):
    """A scenario file that cannot be used. The message names the file and the field path."""

    def __init__(self, file: Path | str, field_path: str, message: str) -> None:
        self.file = str(file)
        self.field_path = field_path
        self.message = message
        where = f"{self.file}: {field_path}: " if field_path else f"{self.file}: "
        super().__init__(where + message)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RoomSpec(_Strict):
    """A well-mixed zone: one gas concentration for the whole room."""

    volume_m3: float = Field(gt=0, le=1e6, description="Free air volume of the room in cubic metres.")
    air_changes_per_h: float = Field(
        ge=0, le=200, description="Ventilation: outdoor-air changes per hour (0 = sealed room)."
    )
    initial_ppm: float = Field(
        default=0.0, ge=0, le=1e6, description="Gas concentration at the start of the run, ppm by volume."
    )


class SensorSpec(_Strict):
    """The physical behaviour of one gas channel (the site file says what it measures)."""

    t90_s: float = Field(
        default=25.0, ge=0, le=600, description="Response time to 90% of a step (0 = no lag), seconds."
    )
    noise_ppm: float = Field(default=20.0, ge=0, le=1e5, description="Standard deviation of reading noise, ppm.")
    drift_ppm_per_h: float = Field(
        default=0.0, ge=-1e5, le=1e5, description="Linear zero drift since the start of the run, ppm per hour."
    )
    exposure: float = Field(
        default=1.0,
        gt=0,
        le=100,
        description="Near-source factor: the sensor sees this multiple of the room's mean concentration.",
    )
    warmup_offset_ppm: float = Field(
        default=2000.0,
        ge=0,
        le=1e6,
        description="Extra reading right after power-on, decaying to zero over the channel's warm-up time.",
    )


class ValveSpec(_Strict):
    """Overrides for a valve of the site file."""

    travel_time_s: float | None = Field(
        default=None, ge=0, le=600, description="Full stroke time in seconds; default: the site file's value."
    )


class LeakSpec(_Strict):
    """A gas release into a zone, optionally fed through a valve (it stops when the valve closes)."""

    zone: Id = Field(description="Zone (room) the gas escapes into.")
    start_s: Seconds = Field(description="Time the leak starts, seconds from the start of the run.")
    stop_s: Seconds | None = Field(default=None, description="Time the leak is repaired; null = never.")
    rate_lpm: float = Field(gt=0, le=1e5, description="Leak rate with the valve fully open, litres per minute.")
    valve: Id | None = Field(default=None, description="Valve upstream of the leak; null = not isolable.")

    @model_validator(mode="after")
    def _stop_after_start(self) -> LeakSpec:
        if self.stop_s is not None and self.stop_s <= self.start_s:
            raise ValueError("stop_s must be after start_s")
        return self


class FaultSpec(_Strict):
    """A fault injected into a channel or a valve at a given time."""

    at_s: Seconds = Field(description="When the fault happens, seconds from the start of the run.")
    channel: Id | None = Field(default=None, description="Channel to break (exactly one of channel, valve).")
    valve: Id | None = Field(default=None, description="Valve to break (exactly one of channel, valve).")
    kind: Literal["stuck", "disconnect", "spike", "nan", "recover", "stuck_open"] = Field(
        description="Channel: stuck, disconnect, spike, nan, recover. Valve: stuck_open, recover."
    )
    value_ppm: float | None = Field(
        default=None, ge=0, le=1e6, description="Value of a spike, ppm; default 60,000 ppm."
    )

    @model_validator(mode="after")
    def _one_target(self) -> FaultSpec:
        if (self.channel is None) == (self.valve is None):
            raise ValueError("give exactly one of channel or valve")
        if self.channel is not None and self.kind not in CHANNEL_FAULTS:
            raise ValueError(f"kind {self.kind!r} is not a channel fault (one of {', '.join(CHANNEL_FAULTS)})")
        if self.valve is not None and self.kind not in VALVE_FAULTS:
            raise ValueError(f"kind {self.kind!r} is not a valve fault (one of {', '.join(VALVE_FAULTS)})")
        if self.value_ppm is not None and self.kind != "spike":
            raise ValueError("value_ppm is only for kind: spike")
        return self


class OperatorStep(_Strict):
    """A scripted operator action, replayed through the safety core like a real operator's request."""

    at_s: Seconds = Field(description="When the operator acts, seconds from the start of the run.")
    action: OperatorAction = Field(description="ack reset open close shelve unshelve inhibit uninhibit.")
    target: str = Field(
        min_length=1,
        max_length=200,
        description="Alarm id (zone/channel/LEVEL) for ack and shelve; zone for reset; valve for "
        "open and close; channel for inhibit.",
    )
    user: str = Field(default="scripted-operator", min_length=1, max_length=64, description="Who acts.")
    reason: str = Field(default="", max_length=500, description="Why; required by the core to reopen a valve.")
    until_s: Seconds | None = Field(
        default=None, description="For shelve and inhibit: when it expires, seconds from the start of the run."
    )

    @model_validator(mode="after")
    def _until_for_timed(self) -> OperatorStep:
        timed = self.action in (OperatorAction.SHELVE, OperatorAction.INHIBIT)
        if timed and self.until_s is None:
            raise ValueError(f"{self.action.value} needs until_s (shelving and inhibit always expire)")
        if timed and self.until_s is not None and self.until_s <= self.at_s:
            raise ValueError("until_s must be after at_s")
        if not timed and self.until_s is not None:
            raise ValueError(f"until_s is only for shelve and inhibit, not {self.action.value}")
        return self


class PowerCycle(_Strict):
    """The controller and field devices lose power and come back."""

    at_s: Seconds = Field(description="When power is lost, seconds from the start of the run.")
    down_s: float = Field(gt=0, le=24 * 3600, description="How long the power stays off, seconds.")


class Scenario(_Strict):
    """One simulated run: the plant, its leaks and faults, and what the operator does."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$", max_length=64, description="Scenario name (file stem).")
    description: str = Field(default="", max_length=2000, description="What the scenario shows.")
    site: str = Field(min_length=1, description="Site configuration file, relative to the scenario file.")
    start: Literal["running", "cold"] = Field(
        default="running",
        description="running: sensors warm, valves open. cold: sensors warming up, normally-closed valves closed.",
    )
    duration_s: float = Field(gt=0, le=7 * 24 * 3600, description="Length of the run, seconds.")
    step_s: float = Field(default=1.0, gt=0, le=60, description="Physics and reading period, seconds.")
    seed: int = Field(default=0, ge=0, le=2**32 - 1, description="Random seed: same seed, same run.")
    rooms: dict[Id, RoomSpec] = Field(description="One room per zone of the site, keyed by zone id.")
    sensors: dict[Id, SensorSpec] = Field(
        default_factory=dict, description="Per-channel physics, keyed by channel id; defaults apply to the rest."
    )
    valves: dict[Id, ValveSpec] = Field(default_factory=dict, description="Per-valve overrides, keyed by valve id.")
    leaks: list[LeakSpec] = Field(default_factory=list, description="Gas releases.")
    faults: list[FaultSpec] = Field(default_factory=list, description="Faults injected into channels and valves.")
    operator: list[OperatorStep] = Field(default_factory=list, description="Scripted operator actions.")
    power_cycles: list[PowerCycle] = Field(default_factory=list, description="Power losses and restores.")

    _source: Path | None = PrivateAttr(default=None)
    _layout: SiteLayout | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _times_inside_run(self) -> Scenario:
        for i, p in enumerate(self.power_cycles):
            if p.at_s + p.down_s > self.duration_s:
                raise ValueError(f"power_cycles.{i}: power must be back before duration_s")
        return self

    @property
    def source(self) -> Path | None:
        """The file this scenario was loaded from (None when built in code)."""
        return self._source

    @property
    def site_path(self) -> Path:
        """The site file, resolved against the scenario file's folder."""
        p = Path(self.site)
        if not p.is_absolute() and self._source is not None:
            p = self._source.parent / p
        return p

    @property
    def layout(self) -> SiteLayout:
        """Ids and physical facts of the site file (loaded once)."""
        if self._layout is None:
            self._layout = read_site_layout(self.site_path, scenario_file=self._source or "<scenario>")
        return self._layout

    def step_times(self) -> list[float]:
        """Simulated times at which the plant is stepped: 0, step_s, ... up to duration_s."""
        n = math.floor(self.duration_s / self.step_s + 1e-9)
        return [round(i * self.step_s, 9) for i in range(n + 1)]


# --------------------------------------------------------------------------- the site file, as ids


@dataclass(frozen=True, slots=True)
class ChannelInfo:
    id: str
    zone: str
    gas: str
    unit: str
    warmup_s: float


@dataclass(frozen=True, slots=True)
class ValveInfo:
    id: str
    zone: str
    travel_time_s: float
    normally_closed: bool
    feedback: bool


@dataclass(frozen=True, slots=True)
class SiteLayout:
    """What the simulator needs to know about a site: its zones, channels and valves."""

    path: Path
    zones: tuple[str, ...]
    channels: dict[str, ChannelInfo] = field(default_factory=dict)
    valves: dict[str, ValveInfo] = field(default_factory=dict)
    outputs: tuple[str, ...] = ()


def _num(value: Any, default: float) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else default


def read_site_layout(path: Path, *, scenario_file: Path | str = "<scenario>") -> SiteLayout:
    """Read the ids of a site file as plain YAML; errors name the scenario's ``site`` field."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ScenarioError(scenario_file, "site", f"cannot read site file {path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise ScenarioError(scenario_file, "site", f"site file {path} is not valid YAML: {exc}") from exc
    if not isinstance(raw, dict) or not isinstance(raw.get("sites"), list):
        raise ScenarioError(scenario_file, "site", f"site file {path} has no 'sites' list")
    zones: list[str] = []
    channels: dict[str, ChannelInfo] = {}
    valves: dict[str, ValveInfo] = {}
    outputs: list[str] = []
    for site in raw["sites"]:
        outputs.extend(str(o["id"]) for o in (site or {}).get("outputs") or [] if isinstance(o, dict) and "id" in o)
        for zone in (site or {}).get("zones") or []:
            if not isinstance(zone, dict) or "id" not in zone:
                raise ScenarioError(scenario_file, "site", f"site file {path} has a zone without an id")
            zid = str(zone["id"])
            zones.append(zid)
            for ch in zone.get("channels") or []:
                if not isinstance(ch, dict) or "id" not in ch:
                    raise ScenarioError(scenario_file, "site", f"site file {path}: a channel of {zid} has no id")
                channels[str(ch["id"])] = ChannelInfo(
                    id=str(ch["id"]),
                    zone=zid,
                    gas=str(ch.get("gas", "")),
                    unit=str(ch.get("unit", "ppm")),
                    warmup_s=_num(ch.get("warmup_s"), 60.0),
                )
            for va in zone.get("valves") or []:
                if not isinstance(va, dict) or "id" not in va:
                    raise ScenarioError(scenario_file, "site", f"site file {path}: a valve of {zid} has no id")
                valves[str(va["id"])] = ValveInfo(
                    id=str(va["id"]),
                    zone=zid,
                    travel_time_s=_num(va.get("travel_time_s"), 5.0),
                    normally_closed=bool(va.get("normally_closed", True)),
                    feedback=bool(va.get("feedback", True)),
                )
    return SiteLayout(path=path, zones=tuple(zones), channels=channels, valves=valves, outputs=tuple(outputs))


# --------------------------------------------------------------------------- loading


def list_scenarios() -> list[str]:
    """Names of the scenarios shipped with GasGuard, sorted."""
    return sorted(p.stem for p in SCENARIO_DIR.glob("*.yaml"))


def _resolve(name_or_path: str | Path) -> Path:
    p = Path(name_or_path)
    if p.suffix in (".yaml", ".yml") or p.exists() or len(p.parts) > 1:
        return p
    candidate = SCENARIO_DIR / f"{p.name}.yaml"
    if not candidate.exists():
        known = ", ".join(list_scenarios())
        raise ScenarioError(name_or_path, "", f"no such scenario; shipped scenarios: {known}")
    return candidate


def _loc(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc) or "<root>"


def load_scenario(name_or_path: str | Path) -> Scenario:
    """Load a shipped scenario by name (``methane-kitchen``) or any scenario file by path.

    Raises :class:`ScenarioError` naming the file and the field path for anything wrong: bad YAML,
    unknown or missing fields, out-of-bounds numbers, or ids that the site file does not define.
    """
    path = _resolve(name_or_path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ScenarioError(path, "", f"cannot read scenario file: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise ScenarioError(path, "", f"not valid YAML: {exc}") from exc
    return parse_scenario(raw, source=path)


def parse_scenario(raw: Any, *, source: Path) -> Scenario:
    """Validate already-parsed scenario data; ``source`` is where relative paths start from."""
    if not isinstance(raw, dict):
        raise ScenarioError(source, "", "a scenario file must be a mapping of fields")
    try:
        scenario = Scenario.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        more = f" (and {exc.error_count() - 1} more problems)" if exc.error_count() > 1 else ""
        raise ScenarioError(source, _loc(first["loc"]), first["msg"] + more) from exc
    scenario._source = source.resolve()
    check_against_site(scenario)
    log.debug("loaded scenario %s from %s", scenario.name, source)
    return scenario


_ALARM_ID = re.compile(r"^(?P<zone>[^/]+)/(?P<source>[^/]+)/(?P<level>[A-Z0-9_]+)$")


def check_against_site(scenario: Scenario) -> None:
    """Every id a scenario mentions must exist in its site file, in the right zone."""
    file = scenario.source or "<scenario>"
    site = scenario.layout

    def bad(field_path: str, message: str) -> ScenarioError:
        return ScenarioError(file, field_path, f"{message} (site file {site.path.name})")

    missing_rooms = [z for z in site.zones if z not in scenario.rooms]
    if missing_rooms:
        raise bad("rooms", f"no room for zone(s) {', '.join(missing_rooms)}")
    for zone in scenario.rooms:
        if zone not in site.zones:
            raise bad(f"rooms.{zone}", f"unknown zone {zone!r}; zones: {', '.join(site.zones)}")
    for ch in scenario.sensors:
        if ch not in site.channels:
            raise bad(f"sensors.{ch}", f"unknown channel {ch!r}; channels: {', '.join(site.channels)}")
    for ch_id, info in site.channels.items():
        if info.unit != "ppm":
            raise bad("site", f"channel {ch_id} has unit {info.unit!r}; the simulator produces ppm only")
    for va in scenario.valves:
        if va not in site.valves:
            raise bad(f"valves.{va}", f"unknown valve {va!r}; valves: {', '.join(site.valves)}")
    for i, leak in enumerate(scenario.leaks):
        if leak.zone not in site.zones:
            raise bad(f"leaks.{i}.zone", f"unknown zone {leak.zone!r}")
        if leak.valve is not None and leak.valve not in site.valves:
            raise bad(f"leaks.{i}.valve", f"unknown valve {leak.valve!r}")
    for i, fault in enumerate(scenario.faults):
        if fault.channel is not None and fault.channel not in site.channels:
            raise bad(f"faults.{i}.channel", f"unknown channel {fault.channel!r}")
        if fault.valve is not None and fault.valve not in site.valves:
            raise bad(f"faults.{i}.valve", f"unknown valve {fault.valve!r}")
    for i, step in enumerate(scenario.operator):
        _check_operator_target(step, site, lambda msg, i=i: bad(f"operator.{i}.target", msg))


def _check_operator_target(step: OperatorStep, site: SiteLayout, bad: Any) -> None:
    target, action = step.target, step.action
    if action in (OperatorAction.ACK, OperatorAction.SHELVE, OperatorAction.UNSHELVE):
        m = _ALARM_ID.match(target)
        if m is None:
            raise bad(f"{target!r} is not an alarm id (zone/channel/LEVEL or zone/valve/VALVE_FAULT)")
        zone, source, level = m["zone"], m["source"], m["level"]
        if zone not in site.zones:
            raise bad(f"unknown zone {zone!r} in alarm id {target!r}")
        if level == "VALVE_FAULT":
            if site.valves.get(source) is None or site.valves[source].zone != zone:
                raise bad(f"no valve {source!r} in zone {zone!r}")
        elif level in ALARM_LEVELS:
            if site.channels.get(source) is None or site.channels[source].zone != zone:
                raise bad(f"no channel {source!r} in zone {zone!r}")
        else:
            raise bad(f"unknown alarm level {level!r}; one of {', '.join((*ALARM_LEVELS, 'VALVE_FAULT'))}")
    elif action == OperatorAction.RESET:
        if target not in site.zones:
            raise bad(f"reset needs a zone id, got {target!r}")
    elif action in (OperatorAction.OPEN, OperatorAction.CLOSE):
        if target not in site.valves:
            raise bad(f"{action.value} needs a valve id, got {target!r}")
    elif action in (OperatorAction.SILENCE, OperatorAction.TEST_OUTPUT):
        if target not in site.outputs:
            raise bad(f"{action.value} needs an output id, got {target!r}")
    elif target not in site.channels:
        raise bad(f"{action.value} needs a channel id, got {target!r}")
