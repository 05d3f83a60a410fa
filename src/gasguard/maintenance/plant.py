"""What maintenance needs to know about the plant, looked up by id from the site configuration.

Records name channels, valves and zones; due dates need each one's maintenance plan; measurements
need a channel's %LEL map and setpoints and a valve's travel time. ``PlantDirectory`` answers those
questions from one ``SiteConfig`` so nothing else in the package walks the YAML models.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from gasguard.config import SiteConfig
from gasguard.maintenance.config import MaintenanceConfig

NO_RANGE_MIN_LEL_PCT = -5.0
NO_RANGE_MAX_LEL_PCT = 100.0
"""A channel without a ``valid_range``: readings are plausible between these %LEL (a zero a little below
0 is still a reading; above 100 %LEL a flammable-gas detector reads nothing meaningful)."""


@dataclass(frozen=True, slots=True)
class ChannelInfo:
    id: str
    name: str
    zone: str
    site: str
    gas: str
    unit: str
    scale: float  # %LEL = value * scale + offset
    offset: float
    a1: float
    a2: float
    a3: float
    valid_min: float  # channel unit
    valid_max: float
    votes: bool

    def to_lel(self, value: float) -> float:
        return value * self.scale + self.offset

    def from_lel(self, lel: float) -> float:
        return (lel - self.offset) / self.scale

    def in_range(self, value: float) -> bool:
        """Whether ``value`` (channel unit) is a reading the sensor can give."""
        if math.isfinite(self.valid_min) or math.isfinite(self.valid_max):
            return self.valid_min <= value <= self.valid_max
        return NO_RANGE_MIN_LEL_PCT <= self.to_lel(value) <= NO_RANGE_MAX_LEL_PCT

    def range_text(self) -> str:
        if math.isfinite(self.valid_min) or math.isfinite(self.valid_max):
            return f"{self.valid_min:g} to {self.valid_max:g} {self.unit}"
        low, high = self.from_lel(NO_RANGE_MIN_LEL_PCT), self.from_lel(NO_RANGE_MAX_LEL_PCT)
        return f"{min(low, high):g} to {max(low, high):g} {self.unit} ({NO_RANGE_MIN_LEL_PCT:g} to 100 %LEL)"


@dataclass(frozen=True, slots=True)
class ValveInfo:
    id: str
    name: str
    zone: str
    site: str
    travel_time_s: float
    feedback: bool


@dataclass(frozen=True, slots=True)
class ZoneInfo:
    id: str
    name: str
    site: str
    channels: tuple[str, ...]
    valves: tuple[str, ...]


class PlantDirectory:
    """Channels, valves and zones of a site configuration, and each site's maintenance plan."""

    def __init__(self, site: SiteConfig) -> None:
        self.site = site
        self.channels: dict[str, ChannelInfo] = {}
        self.valves: dict[str, ValveInfo] = {}
        self.zones: dict[str, ZoneInfo] = {}
        self.plans: dict[str, MaintenanceConfig] = {}
        spec_channels = {c.id: c for z in site.plant_spec().zones for c in z.channels}
        for entry in site.sites:
            self.plans[entry.id] = entry.maintenance or MaintenanceConfig()
            for zone in entry.zones:
                self.zones[zone.id] = ZoneInfo(
                    zone.id,
                    zone.name or zone.id,
                    entry.id,
                    tuple(c.id for c in zone.channels),
                    tuple(v.id for v in zone.valves),
                )
                for ch in zone.channels:
                    spec = spec_channels[ch.id]
                    self.channels[ch.id] = ChannelInfo(
                        id=ch.id,
                        name=ch.name or ch.id,
                        zone=zone.id,
                        site=entry.id,
                        gas=ch.gas,
                        unit=ch.unit.value,
                        scale=spec.scale,
                        offset=spec.offset,
                        a1=spec.a1,
                        a2=spec.a2,
                        a3=spec.a3,
                        valid_min=spec.valid_min,
                        valid_max=spec.valid_max,
                        votes=spec.votes,
                    )
                for valve in zone.valves:
                    self.valves[valve.id] = ValveInfo(
                        valve.id, valve.name or valve.id, zone.id, entry.id, valve.travel_time_s, valve.feedback
                    )

    def plan_for_zone(self, zone: str) -> MaintenanceConfig:
        info = self.zones.get(zone)
        return self.plans[info.site] if info is not None else MaintenanceConfig()

    def site_of_zone(self, zone: str) -> str | None:
        info = self.zones.get(zone)
        return info.site if info is not None else None
