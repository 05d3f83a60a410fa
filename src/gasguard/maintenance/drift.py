"""Zero drift and span response of each channel, before they fail a test.

**Zero.** From the stored readings, each ``bucket_s`` (an hour by default) of a channel is judged in
the database (count, mean, mean of squares): it is clean air when nothing was going on (no alarm of the
channel active, no TEST, no test or calibration record in it) and the readings were steady (standard
deviation below ``max_std_lel_pct``) and low (mean below ``max_mean_lel_pct``). A day's zero is the median
of its clean buckets' means; a least-squares line through the days gives the drift per month and when
the zero leaves ``+/- zero_lel_pct``: "kitchen-ch1 zero drifting +0.8 %LEL/month; out of tolerance in
about 40 days".

**Span.** Each bump test with an applied concentration gives the response as a percentage of the gas
applied (peak / applied); a line through them says when it falls out of the bump tolerance.

Nothing here touches the safety path: it reads the database, and its warnings go to health and the
Maintenance view.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Integer, cast, func, select
from sqlalchemy.orm import Session

from gasguard.maintenance.config import MaintenanceConfig
from gasguard.maintenance.plant import ChannelInfo, PlantDirectory
from gasguard.maintenance.records import RecordKind, list_records
from gasguard.storage.events import EventKind
from gasguard.storage.models import EventRow, ReadingRow

DAY_S = 86400.0
MONTH_DAYS = 30.4375
MIN_SLOPE_LEL_PER_MONTH = 0.1
"""A zero moving less than this is not called drift, however the line is drawn."""
CALIBRATION_BUSY_S = 3600.0
"""Around a calibration record the channel saw test gas and zero gas: an hour either side is not clean air."""


@dataclass(frozen=True, slots=True)
class LineFit:
    """y = intercept + slope * x, x in days from ``origin`` (epoch seconds)."""

    origin: float
    slope_per_day: float
    intercept: float
    points: int

    def at(self, ts: float) -> float:
        return self.intercept + self.slope_per_day * (ts - self.origin) / DAY_S

    @property
    def per_month(self) -> float:
        return self.slope_per_day * MONTH_DAYS


def fit_line(points: Sequence[tuple[float, float]]) -> LineFit | None:
    """Least-squares line through ``(ts, value)`` points; ``None`` for fewer than two distinct times."""
    if len(points) < 2:
        return None
    origin = points[0][0]
    xs = [(ts - origin) / DAY_S for ts, _ in points]
    ys = [value for _, value in points]
    mean_x, mean_y = statistics.fmean(xs), statistics.fmean(ys)
    sxx = sum((x - mean_x) ** 2 for x in xs)
    if sxx == 0:
        return None
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / sxx
    return LineFit(origin, slope, mean_y - slope * mean_x, len(points))


def days_until(fit: LineFit, now: float, low: float, high: float) -> float | None:
    """Days from ``now`` until the fitted line leaves ``[low, high]`` (0 if already out; ``None``: never)."""
    value = fit.at(now)
    if not low <= value <= high:
        return 0.0
    slope = fit.slope_per_day
    if slope > 0:
        return (high - value) / slope
    if slope < 0:
        return (low - value) / slope
    return None


@dataclass
class DriftReport:
    """One channel's zero and span trend, with the series to chart them."""

    channel: str
    zone: str
    start: float
    end: float
    zero_tolerance_lel_pct: float
    zero_points: list[tuple[float, float, int]] = field(default_factory=list)  # (day start, zero %LEL, buckets)
    buckets_total: int = 0
    buckets_clean: int = 0
    zero_fit: LineFit | None = None
    zero_days_to_tolerance: float | None = None
    span_points: list[tuple[float, float]] = field(default_factory=list)  # (ts, response % of applied)
    span_tolerance_pct: float = 20.0
    span_fit: LineFit | None = None
    span_days_to_tolerance: float | None = None
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        def fit_json(fit: LineFit | None, days: float | None) -> dict[str, Any] | None:
            if fit is None:
                return None
            return {
                "per_month": round(fit.per_month, 4),
                "at_start": round(fit.at(self.start), 4),
                "at_end": round(fit.at(self.end), 4),
                "points": fit.points,
                "days_to_tolerance": None if days is None else round(days, 1),
            }

        return {
            "channel": self.channel,
            "zone": self.zone,
            "from": self.start,
            "to": self.end,
            "zero": {
                "tolerance_lel_pct": self.zero_tolerance_lel_pct,
                "buckets_total": self.buckets_total,
                "buckets_clean": self.buckets_clean,
                "points": [{"ts": ts, "zero_lel_pct": round(z, 4), "buckets": n} for ts, z, n in self.zero_points],
                "fit": fit_json(self.zero_fit, self.zero_days_to_tolerance),
            },
            "span": {
                "tolerance_pct": self.span_tolerance_pct,
                "points": [{"ts": ts, "response_pct": round(r, 2)} for ts, r in self.span_points],
                "fit": fit_json(self.span_fit, self.span_days_to_tolerance),
            },
            "warnings": list(self.warnings),
        }


def _bucket_index(session: Session, offset: Any) -> Any:
    if session.get_bind().dialect.name == "sqlite":
        return cast(offset, Integer)
    return cast(func.floor(offset), Integer)


def _busy_intervals(session: Session, ch: ChannelInfo, start: float, end: float) -> list[tuple[float, float]]:
    """Times the channel was not in clean air by anyone's account: alarms, TEST, tests and calibrations."""
    prefix = f"{ch.zone}/{ch.id}/"
    busy: list[tuple[float, float]] = []
    statement = (
        select(EventRow.ts, EventRow.kind, EventRow.source, EventRow.payload)
        .where(EventRow.ts >= start - DAY_S, EventRow.ts < end, EventRow.zone == ch.zone)
        .where(EventRow.kind.in_([EventKind.ALARM.value, EventKind.OPERATOR.value]))
        .order_by(EventRow.ts, EventRow.id)
    )
    alarm_since: dict[str, float] = {}
    test_since: float | None = None
    for ts, kind, source, payload in session.execute(statement):
        if kind == EventKind.ALARM.value and isinstance(source, str) and source.startswith(prefix):
            if payload.get("state") == "normal":
                began = alarm_since.pop(source, None)
                if began is not None:
                    busy.append((began, ts))
            else:
                alarm_since.setdefault(source, ts)
        elif kind == EventKind.OPERATOR.value and source == ch.id and payload.get("accepted"):
            if payload.get("action") == "test_channel":
                test_since = ts
            elif payload.get("action") == "end_test" and test_since is not None:
                busy.append((test_since, ts))
                test_since = None
    busy.extend((began, end) for began in alarm_since.values())
    if test_since is not None:
        busy.append((test_since, min(end, test_since + 1800.0)))
    for rec in list_records(session, kind=RecordKind.BUMP, start=start - DAY_S, end=end, target=ch.id, limit=1000):
        busy.append((rec["ts"], rec["ended_at"] or rec["ts"] + 1800.0))
    for rec in list_records(
        session, kind=RecordKind.CALIBRATION, start=start - DAY_S, end=end, target=ch.id, limit=1000
    ):
        busy.append((rec["ts"] - CALIBRATION_BUSY_S, rec["ts"] + CALIBRATION_BUSY_S))
    return sorted(busy)


def _overlaps(intervals: Sequence[tuple[float, float]], a: float, b: float) -> bool:
    return any(lo < b and hi > a for lo, hi in intervals)


def channel_drift(
    session: Session, *, plant: PlantDirectory, channel: str, end: float, start: float | None = None
) -> DriftReport:
    """The zero and span trend of one channel over the plan's window (or ``[start, end)``)."""
    ch = plant.channels[channel]
    plan: MaintenanceConfig = plant.plan_for_zone(ch.zone)
    cfg, tol = plan.drift, plan.tolerances
    start = end - cfg.window_days * DAY_S if start is None else start
    report = DriftReport(
        channel, ch.zone, start, end, zero_tolerance_lel_pct=tol.zero_lel_pct, span_tolerance_pct=tol.bump_pct
    )
    width = cfg.bucket_s
    index = _bucket_index(session, (ReadingRow.ts - start) / width).label("bucket")
    statement = (
        select(
            index,
            func.count(ReadingRow.value),
            func.count(),
            func.avg(ReadingRow.value),
            func.avg(ReadingRow.value * ReadingRow.value),
        )
        .where(ReadingRow.channel == channel, ReadingRow.ts >= start, ReadingRow.ts < end)
        .group_by(index)
        .order_by(index)
    )
    busy = _busy_intervals(session, ch, start, end)
    days: dict[int, list[float]] = {}
    scale = abs(ch.scale)
    for bucket, valid, total, mean, mean_sq in session.execute(statement):
        report.buckets_total += 1
        if not valid or valid != total or mean is None or mean_sq is None:
            continue  # an invalid reading (a fault) in the bucket: not clean air
        b0 = start + int(bucket) * width
        if _overlaps(busy, b0, b0 + width):
            continue
        variance = max(0.0, float(mean_sq) - float(mean) ** 2)
        std_lel = variance**0.5 * scale
        mean_lel = ch.to_lel(float(mean))
        if std_lel > cfg.max_std_lel_pct or mean_lel > cfg.max_mean_lel_pct:
            continue
        report.buckets_clean += 1
        day = int((b0 - start) // DAY_S)
        days.setdefault(day, []).append(mean_lel)
    report.zero_points = [
        (start + day * DAY_S, statistics.median(values), len(values)) for day, values in sorted(days.items())
    ]
    if len(report.zero_points) >= cfg.min_days:
        fit = fit_line([(ts + DAY_S / 2, zero) for ts, zero, _ in report.zero_points])
        report.zero_fit = fit
        if fit is not None:
            report.zero_days_to_tolerance = days_until(fit, end, -tol.zero_lel_pct, tol.zero_lel_pct)
            _zero_warning(report, fit, cfg.horizon_days)
    _span(session, report, ch, tol.bump_pct, end, cfg.horizon_days)
    return report


def _zero_warning(report: DriftReport, fit: LineFit, horizon_days: float) -> None:
    days = report.zero_days_to_tolerance
    tol = report.zero_tolerance_lel_pct
    if days == 0.0:
        report.warnings.append(
            f"{report.channel} zero reads {fit.at(report.end):+.1f} %LEL, outside +/-{tol:g} %LEL: calibrate it"
        )
    elif abs(fit.per_month) >= MIN_SLOPE_LEL_PER_MONTH and days is not None and days <= horizon_days:
        report.warnings.append(
            f"{report.channel} zero drifting {fit.per_month:+.1f} %LEL/month; out of tolerance in about {days:.0f} days"
        )


def _span(session: Session, report: DriftReport, ch: ChannelInfo, tol_pct: float, end: float, horizon: float) -> None:
    bumps = list_records(session, kind=RecordKind.BUMP, target=ch.id, limit=1000, oldest_first=True)
    report.span_points = [
        (rec["ts"], 100.0 * rec["peak_lel_pct"] / rec["applied_lel_pct"])
        for rec in bumps
        if rec["ts"] <= end and rec["applied_lel_pct"] and rec["peak_lel_pct"] is not None
    ]
    if len(report.span_points) < 3:
        return
    fit = fit_line(report.span_points)
    report.span_fit = fit
    if fit is None:
        return
    days = days_until(fit, end, 100.0 - tol_pct, 100.0 + tol_pct)
    report.span_days_to_tolerance = days
    if days is not None and days <= horizon and abs(fit.per_month) >= 0.5:
        report.warnings.append(
            f"{report.channel} span response {fit.at(end):.0f} % of the test gas, changing {fit.per_month:+.1f} "
            f"%/month; out of tolerance in about {days:.0f} days"
        )


def plant_drift(session: Session, *, plant: PlantDirectory, end: float) -> list[DriftReport]:
    """Every channel's drift report (reads every channel's window of readings: run it in the background)."""
    return [channel_drift(session, plant=plant, channel=cid, end=end) for cid in plant.channels]
