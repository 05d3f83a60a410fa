"""``gasguard maintenance``, ``gasguard report maintenance`` and ``gasguard replay``.

- ``maintenance record calibration|bump|stroke|proof``: store a record (judged, audited) as the web
  API does; bad input exits 1 naming the field;
- ``maintenance list`` and ``maintenance due``: the records and the due list;
- ``report maintenance --from --to --out report.pdf [--csv DIR]``: the auditor's report;
- ``replay --config proposed.yaml --from --to``: the stored readings of the period through the safety
  core with the proposed settings, and what would have changed.

Every command that reports prints JSON with ``--json``. Times are ISO-8601 (``2026-11-30``,
``2026-11-30T08:00:00Z``; without a zone they are UTC) or epoch seconds.
"""

from __future__ import annotations

import getpass
import json
import logging
import math
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from gasguard.commands.apps import CliApps

if TYPE_CHECKING:
    from gasguard.config import SiteConfig
    from gasguard.maintenance.records import RecordInput

log = logging.getLogger(__name__)

ConfigOption = typer.Option(None, "--config", help="Site YAML. Default: GASGUARD_SITE_CONFIG.")
DatabaseOption = typer.Option(None, "--database-url", help="Overrides GASGUARD_DATABASE_URL.")
JsonOption = typer.Option(False, "--json", help="Print JSON.")
ByOption = typer.Option(None, "--by", help="Who did it (default: the user running this command).")
AtOption = typer.Option(None, "--at", help="When it was done (ISO-8601 or epoch seconds; default now).")
NoteOption = typer.Option("", "--note", help="Free text kept with the record.")


def parse_time(text: str, *, name: str) -> float:
    """``2026-11-30``, ``2026-11-30T08:00:00+01:00`` or epoch seconds -> epoch seconds (no zone: UTC)."""
    try:
        value = float(text)
    except ValueError:
        pass
    else:
        if math.isfinite(value):
            return value
        raise typer.BadParameter(f"{text!r} is not a time", param_hint=name)
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not ISO-8601 or epoch seconds", param_hint=name) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def _fail(message: object, code: int = 1) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def _site(config: Path | None) -> SiteConfig:
    from gasguard.config import ConfigError, load_site_config
    from gasguard.settings import ServiceSettings

    try:
        path = config or ServiceSettings().site_config
        if path is None:
            raise ConfigError("no site file: pass --config FILE or set GASGUARD_SITE_CONFIG")
        return load_site_config(path)
    except (ConfigError, ValueError) as exc:
        raise _fail(exc, 2) from None


def _url(database_url: str | None) -> str:
    from gasguard.commands.failures import require_existing_database
    from gasguard.settings import ServiceSettings

    settings = ServiceSettings() if database_url is None else ServiceSettings(database_url=database_url)
    url = settings.resolved_database_url()
    require_existing_database(url)
    return url


def _store(config: Path | None, database_url: str | None, record: RecordInput, as_json: bool) -> None:
    from gasguard.commands.failures import database_or_exit
    from gasguard.maintenance.plant import PlantDirectory
    from gasguard.maintenance.records import RecordError, store_record
    from gasguard.storage.engine import create_engine_for, make_session_factory

    plant = PlantDirectory(_site(config))
    url = _url(database_url)
    with database_or_exit(url):
        engine = create_engine_for(url)
        try:
            with make_session_factory(engine)() as session:
                try:
                    data, _event = store_record(
                        session, plant=plant, record=record, recorded_by=f"{getpass.getuser()} (cli)", now=time.time()
                    )
                except RecordError as exc:
                    raise _fail(exc) from None
                session.commit()
        finally:
            engine.dispose()
    if as_json:
        typer.echo(json.dumps(data))
    else:
        verdict = "pass" if data["passed"] else "FAIL"
        typer.echo(f"{data['kind']} {data['id']} of {data['target']}: {verdict}")


def _when(at: str | None) -> float | None:
    return None if at is None else parse_time(at, name="--at")


def _register_records(maintenance_app: typer.Typer) -> None:
    record = typer.Typer(help="Store a maintenance record.", no_args_is_help=True, add_completion=False)

    @record.command("calibration")
    def calibration(
        channel: str = typer.Option(..., "--channel"),
        gas: str = typer.Option(..., "--gas", help="Test gas, e.g. methane."),
        concentration: float = typer.Option(..., "--concentration", help="Span gas, in the channel's unit."),
        as_left_zero: float = typer.Option(..., "--as-left-zero"),
        as_left_span: float = typer.Option(..., "--as-left-span"),
        as_found_zero: float | None = typer.Option(None, "--as-found-zero"),
        as_found_span: float | None = typer.Option(None, "--as-found-span"),
        instrument: str = typer.Option("", "--instrument", help="Calibration kit or cylinder lot."),
        by: str | None = ByOption,
        at: str | None = AtOption,
        note: str = NoteOption,
        config: Path | None = ConfigOption,
        database_url: str | None = DatabaseOption,
        as_json: bool = JsonOption,
    ) -> None:
        """A calibration: zero and span as found and as left (channel unit); judged against the tolerances."""
        from gasguard.maintenance.records import CalibrationInput

        rec = CalibrationInput(
            channel=channel,
            gas=gas,
            concentration=concentration,
            as_left_zero=as_left_zero,
            as_left_span=as_left_span,
            as_found_zero=as_found_zero,
            as_found_span=as_found_span,
            instrument=instrument,
            note=note,
            performed_by=by,
            ts=_when(at),
        )
        _store(config, database_url, rec, as_json)

    @record.command("bump")
    def bump(
        channel: str = typer.Option(..., "--channel"),
        gas: str = typer.Option(..., "--gas"),
        applied: float = typer.Option(..., "--applied", help="Test gas applied, %LEL."),
        peak: float = typer.Option(..., "--peak", help="Highest reading, %LEL."),
        t50: float | None = typer.Option(None, "--t50", help="Seconds to 50 % of the applied gas."),
        t90: float | None = typer.Option(None, "--t90", help="Seconds to 90 % of the applied gas."),
        by: str | None = ByOption,
        at: str | None = AtOption,
        note: str = NoteOption,
        config: Path | None = ConfigOption,
        database_url: str | None = DatabaseOption,
        as_json: bool = JsonOption,
    ) -> None:
        """A bump test measured elsewhere (a guided test in the dashboard measures its own)."""
        from gasguard.maintenance.records import BumpInput

        rec = BumpInput(
            channel=channel,
            gas=gas,
            applied_lel_pct=applied,
            peak_lel_pct=peak,
            t50_s=t50,
            t90_s=t90,
            note=note,
            performed_by=by,
            ts=_when(at),
        )
        _store(config, database_url, rec, as_json)

    @record.command("stroke")
    def stroke(
        valve: str = typer.Option(..., "--valve"),
        close_s: float = typer.Option(..., "--close-s", help="Seconds from the close command to closed."),
        open_s: float | None = typer.Option(None, "--open-s", help="Seconds from the open command to open."),
        by: str | None = ByOption,
        at: str | None = AtOption,
        note: str = NoteOption,
        config: Path | None = ConfigOption,
        database_url: str | None = DatabaseOption,
        as_json: bool = JsonOption,
    ) -> None:
        """A valve stroke test: close and open times against the valve's travel_time_s."""
        from gasguard.maintenance.records import StrokeInput

        rec = StrokeInput(valve=valve, close_s=close_s, open_s=open_s, note=note, performed_by=by, ts=_when(at))
        _store(config, database_url, rec, as_json)

    @record.command("proof")
    def proof(
        zone: str = typer.Option(..., "--zone"),
        channel: str | None = typer.Option(None, "--channel", help="The detector the gas was applied to."),
        gas: str = typer.Option("", "--gas"),
        alarm_s: float | None = typer.Option(None, "--alarm-s", help="Seconds from gas applied to the first alarm."),
        trip_s: float | None = typer.Option(None, "--trip-s", help="Seconds from gas applied to the trip."),
        closed_s: float | None = typer.Option(None, "--closed-s", help="Seconds from gas applied to valves closed."),
        by: str | None = ByOption,
        at: str | None = AtOption,
        note: str = NoteOption,
        config: Path | None = ConfigOption,
        database_url: str | None = DatabaseOption,
        as_json: bool = JsonOption,
    ) -> None:
        """A proof test of a zone's whole safety function: gas applied -> alarm -> trip -> valves closed."""
        from gasguard.maintenance.records import ProofInput

        rec = ProofInput(
            zone=zone,
            channel=channel,
            gas=gas,
            alarm_s=alarm_s,
            trip_s=trip_s,
            closed_s=closed_s,
            note=note,
            performed_by=by,
            ts=_when(at),
        )
        _store(config, database_url, rec, as_json)

    maintenance_app.add_typer(record, name="record")


def _session(database_url: str | None) -> Any:
    from gasguard.storage.engine import create_engine_for, make_session_factory

    url = _url(database_url)
    engine = create_engine_for(url)
    return url, engine, make_session_factory(engine)


def register(apps: CliApps) -> None:
    maintenance_app = typer.Typer(
        help="Maintenance records, due dates and tests.", no_args_is_help=True, add_completion=False
    )
    _register_records(maintenance_app)

    @maintenance_app.command("list")
    def list_cmd(
        kind: str | None = typer.Option(None, "--kind", help="calibration, bump, stroke or proof_test (all)."),
        start: str | None = typer.Option(None, "--from"),
        end: str | None = typer.Option(None, "--to"),
        target: str | None = typer.Option(None, "--target", help="A channel, valve or zone."),
        zone: str | None = typer.Option(None, "--zone"),
        limit: int = typer.Option(100, "--limit", min=1, max=1000),
        database_url: str | None = DatabaseOption,
        as_json: bool = JsonOption,
    ) -> None:
        """Records, newest first."""
        from gasguard.commands.failures import database_or_exit
        from gasguard.maintenance.records import RecordKind, list_records

        try:
            kinds = [RecordKind(kind)] if kind else list(RecordKind)
        except ValueError:
            raise _fail(f"--kind: one of {', '.join(k.value for k in RecordKind)}") from None
        a = None if start is None else parse_time(start, name="--from")
        b = None if end is None else parse_time(end, name="--to")
        url, engine, factory = _session(database_url)
        with database_or_exit(url):
            try:
                with factory() as session:
                    rows = [
                        r
                        for k in kinds
                        for r in list_records(session, kind=k, start=a, end=b, target=target, zone=zone, limit=limit)
                    ]
            finally:
                engine.dispose()
        rows.sort(key=lambda r: (r["ts"], r["id"]), reverse=True)
        rows = rows[:limit]
        if as_json:
            typer.echo(json.dumps(rows))
            return
        from gasguard.maintenance.report import utc

        for r in rows:
            verdict = "pass" if r["passed"] else "FAIL"
            typer.echo(f"{utc(r['ts'])}  {r['kind']:<11} {r['target']:<20} {verdict:<4}  by {r['performed_by']}")

    @maintenance_app.command("due")
    def due(
        zone: str | None = typer.Option(None, "--zone"),
        config: Path | None = ConfigOption,
        database_url: str | None = DatabaseOption,
        as_json: bool = JsonOption,
    ) -> None:
        """What is due: bump tests and calibrations per channel, proof tests per zone (exit 1 if overdue)."""
        from gasguard.commands.failures import database_or_exit
        from gasguard.maintenance.due import load_due
        from gasguard.maintenance.plant import PlantDirectory

        plant = PlantDirectory(_site(config))
        url, engine, factory = _session(database_url)
        with database_or_exit(url):
            try:
                with factory() as session:
                    items = load_due(session, plant=plant, now=time.time())
            finally:
                engine.dispose()
        items = [i for i in items if zone is None or i.zone == zone]
        if as_json:
            typer.echo(json.dumps([i.to_json() for i in items]))
        else:
            for item in items:
                typer.echo(f"{item.status:<9} {item.describe()}")
        if any(i.status in ("overdue", "failed") for i in items):
            raise typer.Exit(1)

    apps.root.add_typer(maintenance_app, name="maintenance")

    report_app = typer.Typer(help="Reports for auditors.", no_args_is_help=True, add_completion=False)

    @report_app.command("maintenance")
    def report_maintenance(
        start: str = typer.Option(..., "--from", help="Start of the period."),
        end: str = typer.Option(..., "--to", help="End of the period (cut at now)."),
        out: Path | None = typer.Option(None, "--out", help="Write the PDF here, e.g. report.pdf."),
        csv_dir: Path | None = typer.Option(None, "--csv", help="Write the CSV files into this folder."),
        config: Path | None = ConfigOption,
        database_url: str | None = DatabaseOption,
        as_json: bool = JsonOption,
    ) -> None:
        """Records, due list, proof tests, trips with their timelines and alarm KPIs, as PDF and/or CSV."""
        from gasguard.commands.failures import database_or_exit
        from gasguard.maintenance.plant import PlantDirectory
        from gasguard.maintenance.records import RecordError, RecordKind
        from gasguard.maintenance.report import gather, write_csv, write_pdf

        if out is None and csv_dir is None:
            raise _fail("give --out report.pdf, --csv FOLDER, or both")
        a, b = parse_time(start, name="--from"), parse_time(end, name="--to")
        plant = PlantDirectory(_site(config))
        url, engine, factory = _session(database_url)
        with database_or_exit(url):
            try:
                with factory() as session:
                    data = gather(session, plant=plant, start=a, end=b, now=time.time())
            except RecordError as exc:
                raise _fail(exc) from None
            finally:
                engine.dispose()
        written: list[str] = []
        if out is not None:
            write_pdf(data, out)
            written.append(str(out))
        if csv_dir is not None:
            written.extend(str(p) for p in write_csv(data, csv_dir))
        summary = {
            "from": data.start,
            "to": data.end,
            "cut": data.cut,
            "records": {k.value: len(data.records[k]) for k in RecordKind},
            "trips": len(data.trips),
            "due": sum(1 for i in data.due if i.status != "ok"),
            "files": written,
        }
        if as_json:
            typer.echo(json.dumps(summary))
        else:
            typer.echo(
                f"{summary['records']} records, {summary['trips']} trip(s), {summary['due']} item(s) due: "
                + ", ".join(written)
            )

    apps.root.add_typer(report_app, name="report")

    @apps.root.command("replay")
    def replay(
        config: Path = typer.Option(..., "--config", help="The proposed site file (setpoints, voting, policies)."),
        start: str = typer.Option(..., "--from", help="Start of the period."),
        end: str = typer.Option(..., "--to", help="End of the period."),
        tick_s: float = typer.Option(1.0, "--tick-s", min=0.1, max=60, help="Seconds of data time between ticks."),
        database_url: str | None = DatabaseOption,
        as_json: bool = JsonOption,
    ) -> None:
        """What if: the stored readings of the period through the safety core with the proposed settings;
        prints the alarms and trips added, removed and moved against what really happened."""
        from gasguard.commands.failures import database_or_exit
        from gasguard.maintenance.replay import run_replay

        spec = _site(config).plant_spec()
        a, b = parse_time(start, name="--from"), parse_time(end, name="--to")
        if b <= a:
            raise _fail("--to must be after --from")
        url, engine, _factory = _session(database_url)
        with database_or_exit(url):
            try:
                result = run_replay(engine, spec, start=a, end=b, tick_s=tick_s)
            finally:
                engine.dispose()
        data = result.to_json()
        if as_json:
            typer.echo(json.dumps(data))
            return
        _print_replay(data)


def _print_replay(data: dict[str, Any]) -> None:
    from gasguard.maintenance.report import utc

    typer.echo(
        f"replayed {data['readings']:,} readings of {utc(data['from'])} to {utc(data['to'])} UTC "
        f"in {data['seconds']:.1f} s ({data['readings_per_s']:,} readings/s)"
    )
    for kind, counts in data["summary"].items():
        typer.echo(
            f"  {kind}s: {counts['real']} real, {counts['replayed']} replayed: {counts['same']} same, "
            f"{counts['moved']} moved, {counts['added']} added, {counts['removed']} removed"
            + (f", {counts['skipped']} not from readings" if counts["skipped"] else "")
        )
    for label, items in (("added", data["added"]), ("removed", data["removed"])):
        for o in items:
            typer.echo(f"  {label:<7} {o['kind']:<5} {o['key']:<28} {utc(o['ts'])}  {o['detail']}")
    for m in data["moved"]:
        typer.echo(f"  moved   {m['kind']:<5} {m['key']:<28} {utc(m['real_ts'])}  {m['shift_s']:+.1f} s")
    typer.echo("  assuming " + "; ".join(data["assumptions"]))
