"""The auditor's report: records, due list, proof tests, trips with their timelines and alarm KPIs.

``gather`` reads one period from the database into a ``ReportData``; ``write_pdf`` lays it out with
reportlab (BSD licence, pure Python with its own PDF writer, so a controller needs no browser or
system library to print a report) and ``csv_files`` gives the same content as CSV files for a
spreadsheet. Times are printed in UTC, and every cell that a spreadsheet could take for a formula is
quoted.

A period must start in the past (``RecordError`` on ``from``); one that ends in the future is cut at
the time the report is made, and the report says so.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO
from xml.sax.saxutils import escape

from sqlalchemy import select
from sqlalchemy.orm import Session

from gasguard import __version__
from gasguard.maintenance.due import DueItem, load_due
from gasguard.maintenance.kpis import alarm_kpis
from gasguard.maintenance.plant import PlantDirectory
from gasguard.maintenance.records import RecordError, RecordKind, list_records
from gasguard.storage.events import EventKind
from gasguard.storage.models import EventRow

TIMELINE_BEFORE_S = 300.0
TIMELINE_AFTER_S = 3600.0
TIMELINE_MAX = 60
MAX_RECORDS = 1000
TIMELINE_KINDS = (EventKind.ALARM, EventKind.TRIP, EventKind.VALVE, EventKind.VALVE_COMMAND, EventKind.OPERATOR)


def utc(ts: float | None) -> str:
    if ts is None:
        return "-"
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S")


def check_period(start: float, end: float, now: float) -> tuple[float, float, bool]:
    """A report period as given: ``(start, end, cut)``; ``end`` cut to ``now`` when it lies ahead."""
    if start > now:
        raise RecordError("from", f"the report period starts in the future ({utc(start)} UTC)")
    if end <= start:
        raise RecordError("to", "the report period must end after it starts")
    return start, min(end, now), end > now


@dataclass
class Trip:
    zone: str
    ts: float
    cause: str
    reset_at: float | None
    timeline: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class ReportData:
    start: float
    end: float
    generated_at: float
    cut: bool
    sites: list[str]
    due: list[DueItem]
    records: dict[RecordKind, list[dict[str, Any]]]
    trips: list[Trip]
    kpis: dict[str, Any]


def _describe(kind: str, source: str | None, reason: str, payload: Mapping[str, Any]) -> str:
    if kind == EventKind.ALARM.value:
        test = " (test)" if payload.get("test") else ""
        value = payload.get("value")
        at = f" at {float(value):.1f} %LEL" if isinstance(value, int | float) else ""
        return f"alarm {payload.get('alarm_id', source)} {payload.get('state')}{at}{test}"
    if kind == EventKind.VALVE.value:
        return f"valve {payload.get('valve', source)} {payload.get('state')}"
    if kind == EventKind.VALVE_COMMAND.value:
        return f"command {payload.get('action')} {payload.get('valve', source)}: {reason}"
    if kind == EventKind.TRIP.value:
        return ("tripped: " if payload.get("tripped") else "reset: ") + reason
    verdict = "accepted" if payload.get("accepted") else "refused"
    return f"{payload.get('user')}: {payload.get('action')} {payload.get('target')} ({verdict}): {reason}"


def _trips(session: Session, start: float, end: float) -> list[Trip]:
    rows = session.execute(
        select(EventRow.ts, EventRow.zone, EventRow.reason, EventRow.payload)
        .where(EventRow.kind == EventKind.TRIP.value, EventRow.ts >= start, EventRow.ts < end + TIMELINE_AFTER_S)
        .order_by(EventRow.ts, EventRow.id)
    ).all()
    trips: list[Trip] = []
    open_trip: dict[str, Trip] = {}
    for ts, zone, reason, payload in rows:
        zone = str(zone)
        if payload.get("tripped"):
            if ts < end and zone not in open_trip:
                trip = Trip(zone, ts, reason, None)
                trips.append(trip)
                open_trip[zone] = trip
        elif zone in open_trip:
            open_trip.pop(zone).reset_at = ts
    for trip in trips:
        until = trip.reset_at if trip.reset_at is not None else trip.ts + TIMELINE_AFTER_S
        events = session.execute(
            select(EventRow.ts, EventRow.kind, EventRow.source, EventRow.reason, EventRow.payload)
            .where(EventRow.zone == trip.zone, EventRow.ts >= trip.ts - TIMELINE_BEFORE_S, EventRow.ts <= until)
            .where(EventRow.kind.in_([k.value for k in TIMELINE_KINDS]))
            .order_by(EventRow.ts, EventRow.id)
            .limit(TIMELINE_MAX)
        ).all()
        trip.timeline = [
            {"ts": ts, "offset_s": round(ts - trip.ts, 1), "kind": kind, "what": _describe(kind, src, reason, payload)}
            for ts, kind, src, reason, payload in events
        ]
    return trips


def gather(session: Session, *, plant: PlantDirectory, start: float, end: float, now: float) -> ReportData:
    """Everything the report shows for ``[start, end)`` (raises ``RecordError`` for a future period)."""
    start, end, cut = check_period(start, end, now)
    records = {
        kind: list_records(session, kind=kind, start=start, end=end, limit=MAX_RECORDS, oldest_first=True)
        for kind in RecordKind
    }
    zones_by_site: dict[str, list[str]] = {}
    for zone in plant.zones.values():
        zones_by_site.setdefault(zone.site, []).append(zone.id)
    positions = {site: plan.operator_positions for site, plan in plant.plans.items()}
    kpis = alarm_kpis(session, start=start, end=end, zones_by_site=zones_by_site, operator_positions=positions)
    return ReportData(
        start=start,
        end=end,
        generated_at=now,
        cut=cut,
        sites=sorted(zones_by_site),
        due=load_due(session, plant=plant, now=now),
        records=records,
        trips=_trips(session, start, end),
        kpis=kpis,
    )


# --------------------------------------------------------------------------- CSV


def _cell(value: Any) -> Any:
    if isinstance(value, str) and value and value[0] in "=+-@\t\r":
        return "'" + value  # never a formula in a spreadsheet (CSV injection)
    if isinstance(value, float):
        return round(value, 4)
    return value


def _csv(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([_cell(v) for v in row])
    return buffer.getvalue()


RECORD_COLUMNS: dict[RecordKind, tuple[str, ...]] = {
    RecordKind.CALIBRATION: (
        "id", "ts", "zone", "channel", "performed_by", "recorded_by", "gas", "concentration", "unit", "as_found_zero",
        "as_found_span", "as_left_zero", "as_left_span", "instrument", "as_found_passed", "passed", "note",
    ),
    RecordKind.BUMP: (
        "id", "ts", "ended_at", "zone", "channel", "performed_by", "gas", "applied_lel_pct", "peak_lel_pct", "t50_s",
        "t90_s", "passed", "measured", "note",
    ),
    RecordKind.STROKE: (
        "id", "ts", "zone", "valve", "performed_by", "travel_time_s", "close_s", "open_s", "passed", "measured", "note",
    ),
    RecordKind.PROOF_TEST: (
        "id", "ts", "zone", "channel", "performed_by", "gas", "alarm_s", "trip_s", "closed_s", "passed", "measured",
        "note",
    ),
}  # fmt: skip
RECORD_FILES = {
    RecordKind.CALIBRATION: "calibrations.csv",
    RecordKind.BUMP: "bump_tests.csv",
    RecordKind.STROKE: "stroke_tests.csv",
    RecordKind.PROOF_TEST: "proof_tests.csv",
}
KPI_COLUMNS = (
    "site", "zone", "annunciations", "avg_per_10min", "peak_per_10min", "flood_pct", "chattering", "standing",
    "shelved_s", "out_of_service_s", "ack_median_s", "ack_p90_s", "not_acknowledged",
)  # fmt: skip


def _kpi_row(site: str, zone: str, k: Mapping[str, Any]) -> list[Any]:
    rate, ack = k["per_operator_per_10min"], k["time_to_ack_s"]
    return [
        site,
        zone,
        k["annunciations"],
        rate["average"],
        rate["peak"],
        rate["flood_pct"],
        len(k["chattering"]),
        len(k["standing"]),
        k["shelved_s"],
        k["out_of_service_s"],
        ack["median"],
        ack["p90"],
        ack["not_acknowledged"],
    ]


def csv_files(data: ReportData) -> dict[str, str]:
    """The report as CSV files: one per record kind, the due list, trips with timelines, KPIs."""
    files = {}
    for kind, name in RECORD_FILES.items():
        columns = RECORD_COLUMNS[kind]
        rows = [[utc(r[c]) if c in ("ts", "ended_at") else r[c] for c in columns] for r in data.records[kind]]
        files[name] = _csv(columns, rows)
    files["due.csv"] = _csv(
        ("kind", "target", "zone", "site", "status", "due_at", "last_at", "last_passed", "interval_days"),
        [
            [i.kind, i.target, i.zone, i.site, i.status, utc(i.due_at), utc(i.last_at), i.last_passed, i.interval_days]
            for i in data.due
        ],
    )
    files["trips.csv"] = _csv(
        ("zone", "tripped_at", "reset_at", "cause", "event_at", "offset_s", "event"),
        [
            [t.zone, utc(t.ts), utc(t.reset_at), t.cause, utc(e["ts"]), e["offset_s"], e["what"]]
            for t in data.trips
            for e in (t.timeline or [{"ts": None, "offset_s": None, "what": ""}])
        ],
    )
    kpi_rows = []
    for site in data.kpis["sites"]:
        kpi_rows.append(_kpi_row(site["site"], "", site))
        kpi_rows.extend(_kpi_row(site["site"], z["zone"], z) for z in site["zones"])
    files["kpis.csv"] = _csv(KPI_COLUMNS, kpi_rows)
    return files


def write_csv(data: ReportData, folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in csv_files(data).items():
        path = folder / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


# --------------------------------------------------------------------------- PDF


def write_pdf(data: ReportData, out: BinaryIO | Path) -> None:
    """Lay the report out as an A4 PDF."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.lib.units import mm
    from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    styles = getSampleStyleSheet()
    small = styles["BodyText"].clone("small", fontSize=7.5, leading=9)
    h1, h2, body = styles["Title"], styles["Heading2"], styles["BodyText"]

    def p(text: Any, style: Any = small) -> Any:
        return Paragraph(escape("-" if text is None else str(text)), style)

    def table(header: Sequence[str], rows: Sequence[Sequence[Any]], widths: Sequence[float] | None = None) -> Any:
        if not rows:
            return p("None in this period.", body)
        t = Table([[p(h) for h in header], *[[p(c) for c in row] for row in rows]], colWidths=widths, repeatRows=1)
        t.setStyle(
            TableStyle(
                [
                    ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8ecef")),
                    ("GRID", (0, 0), (-1, -1), 0.25, colors.HexColor("#9aa5ad")),
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ]
            )
        )
        return t

    def verdict(passed: Any) -> str:
        return "pass" if passed else "FAIL"

    def num(value: Any, unit: str = "") -> str:
        return "-" if value is None else f"{value:.1f}{unit}"

    story: list[Any] = [
        Paragraph("GasGuard maintenance report", h1),
        p(
            f"Sites: {', '.join(data.sites)}. Period {utc(data.start)} to {utc(data.end)} UTC"
            + (" (cut at the time of the report)" if data.cut else "")
            + f". Made {utc(data.generated_at)} UTC by GasGuard {__version__}.",
            body,
        ),
        Spacer(1, 4 * mm),
        Paragraph("Due and overdue", h2),
        table(
            ("status", "kind", "what", "zone", "due", "last", "every (days)"),
            [
                [i.status, i.kind, i.target, i.zone, utc(i.due_at), utc(i.last_at), f"{i.interval_days:g}"]
                for i in data.due
                if i.status != "ok"
            ],
        ),
        Paragraph("Calibrations", h2),
        table(
            ("date (UTC)", "channel", "by", "test gas", "as found zero/span", "as left zero/span", "instrument", ""),
            [
                [
                    utc(r["ts"]),
                    r["channel"],
                    r["performed_by"],
                    f"{r['gas']} {r['concentration']:g} {r['unit']}",
                    "-" if r["as_found_zero"] is None else f"{r['as_found_zero']:g} / {r['as_found_span']:g}",
                    f"{r['as_left_zero']:g} / {r['as_left_span']:g}",
                    r["instrument"],
                    verdict(r["passed"]),
                ]
                for r in data.records[RecordKind.CALIBRATION]
            ],
        ),
        Paragraph("Bump tests", h2),
        table(
            ("date (UTC)", "channel", "by", "gas applied", "peak", "T50", "T90", "how", ""),
            [
                [
                    utc(r["ts"]),
                    r["channel"],
                    r["performed_by"],
                    f"{r['gas']} {num(r['applied_lel_pct'], ' %LEL')}",
                    num(r["peak_lel_pct"], " %LEL"),
                    num(r["t50_s"], " s"),
                    num(r["t90_s"], " s"),
                    "measured" if r["measured"] else "entered",
                    verdict(r["passed"]),
                ]
                for r in data.records[RecordKind.BUMP]
            ],
        ),
        Paragraph("Valve stroke tests", h2),
        table(
            ("date (UTC)", "valve", "by", "close", "open", "travel time", "how", ""),
            [
                [
                    utc(r["ts"]),
                    r["valve"],
                    r["performed_by"],
                    num(r["close_s"], " s"),
                    num(r["open_s"], " s"),
                    num(r["travel_time_s"], " s"),
                    "measured" if r["measured"] else "entered",
                    verdict(r["passed"]),
                ]
                for r in data.records[RecordKind.STROKE]
            ],
        ),
        Paragraph("Proof tests (gas applied -> alarm -> trip -> valves closed)", h2),
        table(
            ("date (UTC)", "zone", "by", "detector", "alarm", "trip", "valves closed", "how", ""),
            [
                [
                    utc(r["ts"]),
                    r["zone"],
                    r["performed_by"],
                    r["channel"],
                    num(r["alarm_s"], " s"),
                    num(r["trip_s"], " s"),
                    num(r["closed_s"], " s"),
                    "measured" if r["measured"] else "entered",
                    verdict(r["passed"]),
                ]
                for r in data.records[RecordKind.PROOF_TEST]
            ],
        ),
        Paragraph("Alarm performance (ISA-18.2 / EEMUA 191)", h2),
        table(KPI_COLUMNS, [row for site in data.kpis["sites"] for row in _kpi_rows(site)]),
        p(
            "Annunciations per operator per 10 minutes; EEMUA 191: an average about 1 is very likely acceptable, "
            "2 manageable; flood: more than 10 in 10 minutes. Chattering: more than 3 in 1 minute. Standing: "
            "active over 24 h. Test alarms are not counted.",
            small,
        ),
        PageBreak(),
        Paragraph("Trips and their timelines", h2),
    ]
    if not data.trips:
        story.append(p("No trips in this period.", body))
    for trip in data.trips:
        story.append(
            p(f"{trip.zone} tripped {utc(trip.ts)} UTC: {trip.cause}. Reset: {utc(trip.reset_at)}.", styles["Heading4"])
        )
        story.append(
            table(("time (UTC)", "+s", "event"), [[utc(e["ts"]), e["offset_s"], e["what"]] for e in trip.timeline])
        )
        story.append(Spacer(1, 3 * mm))
    doc = SimpleDocTemplate(
        str(out) if isinstance(out, Path) else out,
        pagesize=landscape(A4),
        leftMargin=12 * mm,
        rightMargin=12 * mm,
        topMargin=12 * mm,
        bottomMargin=12 * mm,
        title="GasGuard maintenance report",
        author=f"GasGuard {__version__}",
    )
    doc.build(story)


def _kpi_rows(site: Mapping[str, Any]) -> list[list[Any]]:
    return [_kpi_row(site["site"], "(site)", site), *(_kpi_row(site["site"], z["zone"], z) for z in site["zones"])]


def pdf_bytes(data: ReportData) -> bytes:
    buffer = io.BytesIO()
    write_pdf(data, buffer)
    return buffer.getvalue()
