"""The ``maintenance:`` block of a site in the site file: intervals, tolerances and drift settings.

Intervals (bump test, calibration, proof test) have common-practice defaults (30, 180 and 365 days)
and may be set for the whole site, and overridden per zone and per channel; the most specific one
wins. Every model forbids unknown keys like the rest of the site file, and ``check_ids`` names an
override for a zone or channel the site does not have.

>>> cfg = MaintenanceConfig(bump_days=14, channels={"kitchen-ch1": Intervals(bump_days=7)})
>>> cfg.interval("bump", zone="kitchen", channel="kitchen-ch1"), cfg.interval("bump", zone="kitchen")
(7.0, 14.0)
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

Ident = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]

DEFAULT_BUMP_DAYS = 30.0
DEFAULT_CALIBRATION_DAYS = 180.0
DEFAULT_PROOF_TEST_DAYS = 365.0

DueKind = Literal["bump", "calibration", "proof_test"]

Days = Annotated[float, Field(gt=0, le=3650, allow_inf_nan=False)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Intervals(_Strict):
    """Intervals for one zone or channel; a field left out falls back to the zone, then the site."""

    bump_days: Days | None = Field(None, description="Days between bump tests of a channel.")
    calibration_days: Days | None = Field(None, description="Days between calibrations of a channel.")
    proof_test_days: Days | None = Field(None, description="Days between proof tests of a zone.")


class Tolerances(_Strict):
    """When a test passes. Percentages are of the applied test gas; zero tolerances in %LEL."""

    bump_pct: float = Field(
        20.0, gt=0, le=100, description="A bump test passes when the peak reading is within this % of the applied gas."
    )
    bump_t90_max_s: float = Field(
        60.0, gt=0, le=600, description="A bump test fails when the reading takes longer than this to reach 90 %."
    )
    calibration_span_pct: float = Field(
        10.0, gt=0, le=100, description="As-found/as-left span within this % of the test gas counts as in tolerance."
    )
    zero_lel_pct: float = Field(
        3.0, gt=0, le=20, description="A zero within +/- this %LEL is in tolerance (calibration and drift)."
    )
    valve_margin_s: float = Field(
        0.0, ge=0, le=60, description="A stroke may take travel_time_s plus this before it fails."
    )


class DriftConfig(_Strict):
    """How clean-air periods are found and how far ahead drift is projected."""

    window_days: float = Field(90.0, gt=1, le=730, description="Days of stored readings the zero trend is fitted on.")
    bucket_s: float = Field(3600.0, ge=60, le=86400, description="Readings are judged in buckets this long.")
    max_std_lel_pct: float = Field(
        0.5, gt=0, le=10, description="A bucket is clean air only when its readings vary less than this (%LEL)."
    )
    max_mean_lel_pct: float = Field(
        5.0, gt=0, le=50, description="A bucket whose mean is above this (%LEL) is not clean air."
    )
    min_days: int = Field(7, ge=2, le=365, description="Days with clean air needed before a trend is fitted.")
    horizon_days: float = Field(
        90.0, gt=0, le=3650, description="Warn when the zero is projected out of tolerance within this many days."
    )


class MaintenanceConfig(_Strict):
    """A site's maintenance plan (``sites[].maintenance``); every key is optional."""

    bump_days: Days = Field(DEFAULT_BUMP_DAYS, description="Days between bump tests (site default).")
    calibration_days: Days = Field(DEFAULT_CALIBRATION_DAYS, description="Days between calibrations (site default).")
    proof_test_days: Days = Field(DEFAULT_PROOF_TEST_DAYS, description="Days between proof tests (site default).")
    due_soon_days: float = Field(7.0, ge=0, le=365, description="Shown (and notified) as due this many days ahead.")
    zones: dict[Ident, Intervals] = Field(default_factory=dict, description="Per-zone intervals.")
    channels: dict[Ident, Intervals] = Field(default_factory=dict, description="Per-channel intervals.")
    tolerances: Tolerances = Tolerances()
    drift: DriftConfig = DriftConfig()
    operator_positions: int = Field(
        1, ge=1, le=100, description="Operator consoles sharing the site's alarms (for alarms per operator)."
    )

    def interval(self, kind: DueKind, *, zone: str, channel: str | None = None) -> float:
        """Days between tests of ``kind`` for a channel (or, without one, for the zone)."""
        key = f"{kind}_days"
        for scope in (self.channels.get(channel) if channel else None, self.zones.get(zone)):
            value = getattr(scope, key) if scope is not None else None
            if value is not None:
                return float(value)
        return float(getattr(self, key))

    def check_ids(self, zones: Iterable[str], channels: Iterable[str]) -> None:
        """Raise ``ValueError`` naming an override for a zone or channel the site does not have."""
        known_zones, known_channels = set(zones), set(channels)
        for zid in self.zones:
            if zid not in known_zones:
                raise ValueError(f"maintenance.zones names no zone {zid!r} of this site")
        for cid in self.channels:
            if cid not in known_channels:
                raise ValueError(f"maintenance.channels names no channel {cid!r} of this site")
