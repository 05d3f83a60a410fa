"""``gasguard bench``: safety core, end-to-end trip latency, ingest into storage, load, and all of them.

``bench sensor`` and ``bench vision`` live with their packages; ``bench all`` runs them too. Every
command prints JSON with ``--json`` so scripts and CI can read the figures.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import typer

from gasguard.benchmarks.defaults import DEFAULT_MQTT_URL, DEFAULT_POSTGRES_URL
from gasguard.commands.apps import CliApps

DB_HELP = "sqlite, postgres or both."
MQTT_HELP = "Broker for the MQTT figures."
POSTGRES_HELP = "PostgreSQL server for the postgres figures (the benchmark uses a schema of its own there)."


def _emit(result: dict[str, Any], as_json: bool, lines: list[str]) -> None:
    if as_json:
        typer.echo(json.dumps(result))
        return
    for line in lines:
        typer.echo(line)


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def _bench_load_workers(*, out: Path | None, as_json: bool, **options: Any) -> None:
    """``bench load --workers N``: run it, write ``--out``, print one line per worker and the totals."""
    from gasguard.benchmarks.databases import BenchUnavailable
    from gasguard.benchmarks.load_workers import bench_load_workers

    try:
        result = bench_load_workers(**options)
    except BenchUnavailable as exc:
        raise _fail(str(exc), 1) from None
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    lat = result["latency_window"]
    lines = [
        f"{result['channels']:,} channels at {result['rate_hz']:g} Hz on {result['workers']} workers "
        f"({result['zones']} zones) for {result['minutes']:g} min; broker {result['broker']}",
        f"acknowledged by the broker {result['acknowledged']:,} of {result['published']:,} published "
        f"({result['acknowledged_per_s']:,.0f}/s); decided {result['decided']:,}; "
        + (
            f"lost {result['lost']:,}; "
            if result["drained"]
            else f"{result['backlog_at_end']:,} still queued at the drain limit (a backlog, not counted as lost); "
        )
        + f"stored {result['stored']:,}",
        f"reading -> decision (window): p50 {lat['p50_ms']} ms, p99 {lat['p99_ms']} ms over {lat['n']:,}",
        f"commissioning: {result['commissioning']['commands']} operator commands in "
        f"{result['commissioning']['seconds']} s ({result['commissioning']['failed_count']} failed)",
    ]
    for w in result["per_worker"]:
        wl = w["latency_window"]
        lines.append(
            f"  worker {w['worker']}: {w['zones']} zones, decided {w['decided']:,} "
            f"({w['decided_per_s_in_window']:,.0f}/s), "
            f"lost {w['lost']}, p50 {wl['p50_ms']} ms, p99 {wl['p99_ms']} ms, CPU {w['cpu_pct_of_one_core']} %, "
            f"RSS {w['rss_mib']} MiB (peak {w['rss_peak_mib']})"
        )
    lines.append(
        f"broker CPU {result['broker_cpu_pct_of_one_core']} %, generator CPU {result['generator']['cpu_pct']} %; "
        f"{result['load_during']}"
    )
    _emit(result, as_json, lines)


def register(apps: CliApps) -> None:
    @apps.bench.command("safety")
    def bench_safety(
        as_json: bool = typer.Option(False, "--json", help="Print the figures as JSON."),
        readings: int = typer.Option(300_000, min=1000, help="Readings pushed through step()."),
    ) -> None:
        """Readings per second and per-reading p99 latency through the safety core (one core)."""
        from gasguard.safety_bench import run_safety_bench

        result = run_safety_bench(readings=readings, latency_samples=min(readings, 100_000))
        if as_json:
            typer.echo(json.dumps(result))
            return
        typer.echo(
            f"safety core: {result['readings_per_s']:,} readings/s (target >= 200,000); "
            f"p50 {result['p50_us']} us, p99 {result['p99_us']} us (target <= 50 us), max {result['max_us']} us"
        )

    @apps.bench.command("e2e")
    def bench_e2e(
        trips: int = typer.Option(200, min=1, max=100_000, help="Trips timed in process."),
        mqtt_trips: int = typer.Option(50, min=0, max=10_000, help="Trips timed over MQTT (0: skip)."),
        mqtt_url: str = typer.Option(DEFAULT_MQTT_URL, "--mqtt-url", help=MQTT_HELP),
        as_json: bool = typer.Option(False, "--json", help="Print the figures as JSON."),
    ) -> None:
        """Latency from a reading to the valve command: in process, and over the local Mosquitto."""
        from gasguard.benchmarks.databases import BenchUnavailable
        from gasguard.benchmarks.e2e import bench_e2e_inprocess, bench_e2e_mqtt

        result: dict[str, Any] = {"in_process": bench_e2e_inprocess(trips)}
        if mqtt_trips:
            try:
                result["mqtt"] = bench_e2e_mqtt(mqtt_trips, mqtt_url=mqtt_url)
            except BenchUnavailable as exc:
                result["mqtt"] = {"status": "skipped", "reason": str(exc)}
        lines = [
            f"{name}: p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms, max {r['max_ms']} ms over {r['n']} trips"
            if "p50_ms" in r
            else f"{name}: skipped ({r['reason']})"
            for name, r in result.items()
        ]
        _emit(result, as_json, lines)

    @apps.bench.command("ingest")
    def bench_ingest_cmd(
        db: str = typer.Option("both", "--db", help=DB_HELP),
        readings: int = typer.Option(50_000, min=1000, max=10_000_000, help="Readings per database."),
        channels: int = typer.Option(100, min=1, max=10_000, help="Channels the readings are spread over."),
        postgres_url: str = typer.Option(DEFAULT_POSTGRES_URL, "--postgres-url", help=POSTGRES_HELP),
        as_json: bool = typer.Option(False, "--json", help="Print the figures as JSON."),
    ) -> None:
        """Readings per second through the safety pipeline and into SQLite and/or PostgreSQL."""
        from gasguard.benchmarks.databases import BenchUnavailable
        from gasguard.benchmarks.ingest import bench_ingest

        kinds = {"both": ["sqlite", "postgres"], "sqlite": ["sqlite"], "postgres": ["postgres"]}.get(db)
        if kinds is None:
            raise _fail(f"--db must be sqlite, postgres or both, not {db!r}")
        result: dict[str, Any] = {}
        for kind in kinds:
            try:
                result[kind] = bench_ingest(kind, readings=readings, channels=channels, postgres_url=postgres_url)  # type: ignore[arg-type]
            except BenchUnavailable as exc:
                result[kind] = {"status": "skipped", "reason": str(exc)}
        lines = [
            f"{kind}: {r['stored_readings_per_s']:,} readings/s stored ({r['pipeline_readings_per_s']:,}/s through "
            f"the pipeline), {r['lost']} of {r['readings']} lost"
            if "lost" in r
            else f"{kind}: skipped ({r['reason']})"
            for kind, r in result.items()
        ]
        _emit(result, as_json, lines)

    @apps.bench.command("load")
    def bench_load_cmd(
        channels: int = typer.Option(1000, min=1, max=100_000, help="MQTT channels."),
        rate: float = typer.Option(1.0, min=0.01, max=100.0, help="Readings per second per channel."),
        minutes: float = typer.Option(10.0, min=0.05, max=1440.0, help="How long the load runs."),
        db: str = typer.Option("sqlite", "--db", help="sqlite or postgres."),
        mqtt_url: str = typer.Option(DEFAULT_MQTT_URL, "--mqtt-url", help=MQTT_HELP),
        postgres_url: str = typer.Option(DEFAULT_POSTGRES_URL, "--postgres-url", help=POSTGRES_HELP),
        out: Path | None = typer.Option(None, "--out", help="Also write the full result (with samples) here."),
        as_json: bool = typer.Option(False, "--json", help="Print the figures as JSON."),
        workers: int = typer.Option(
            0,
            "--workers",
            min=0,
            max=64,
            help="Run N `gasguard serve --role worker` processes on PostgreSQL instead of one service "
            "in this process (0): per-worker figures. Implies --db postgres.",
        ),
        per_zone: int = typer.Option(100, "--per-zone", min=1, max=10_000, help="With --workers: channels per zone."),
        pin: bool = typer.Option(False, "--pin", help="With --workers: pin zones evenly instead of balancing."),
        mosquitto_conf: Path | None = typer.Option(
            None,
            "--mosquitto-conf",
            exists=True,
            dir_okay=False,
            help="With --workers: start a Mosquitto of its own from this file on a free port (instead of "
            "--mqtt-url), e.g. docs/mosquitto/mosquitto-large-site.conf.",
        ),
        keep_logs: Path | None = typer.Option(
            None, "--keep-logs", file_okay=False, help="With --workers: copy the workers' and broker's logs here."
        ),
    ) -> None:
        """Many channels through MQTT into a full service: readings lost, latency to decision, CPU, memory."""
        from gasguard.benchmarks.databases import BenchUnavailable
        from gasguard.benchmarks.load import bench_load

        if db not in ("sqlite", "postgres"):
            raise _fail(f"--db must be sqlite or postgres, not {db!r}")
        logging.getLogger().setLevel(logging.WARNING)
        if workers:
            _bench_load_workers(
                channels=channels,
                rate=rate,
                minutes=minutes,
                workers=workers,
                per_zone=per_zone,
                pin=pin,
                mqtt_url=mqtt_url,
                postgres_url=postgres_url,
                mosquitto_conf=mosquitto_conf,
                keep_logs=keep_logs,
                out=out,
                as_json=as_json,
            )
            return
        try:
            result = bench_load(
                channels=channels,
                rate=rate,
                minutes=minutes,
                db=db,  # type: ignore[arg-type]
                mqtt_url=mqtt_url,
                postgres_url=postgres_url,
            )
        except BenchUnavailable as exc:
            raise _fail(str(exc), 1) from None
        if out is not None:
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        summary = {k: v for k, v in result.items() if k != "samples"}
        lat = result["latency_to_decision"]
        _emit(
            summary,
            as_json,
            [
                f"{channels} channels at {rate:g} Hz for {minutes:g} min into {db}: {result['published']:,} published, "
                f"{result['lost']} lost before the safety core, {result['lost_in_storage']} lost in storage",
                f"latency to the safety decision: p50 {lat['p50_ms']} ms, p99 {lat['p99_ms']} ms, "
                f"max {lat['max_ms']} ms",
                f"service CPU {result['service_cpu_pct_of_one_core']} % of one core; RSS {result['rss_end_mib']} MiB "
                f"(peak {result['rss_peak_mib']} MiB)",
            ],
        )

    @apps.bench.command("service")
    def bench_service_cmd(
        minutes: float = typer.Option(1.0, min=0.1, max=60.0, help="How long the 1,000-channel MQTT load runs."),
        as_json: bool = typer.Option(False, "--json", help="Print the figures as JSON."),
    ) -> None:
        """The service targets: MQTT-to-valve-command p99 at 1,000 readings/s, SQLite ingest, memory with models."""
        from gasguard.benchmarks.databases import BenchUnavailable
        from gasguard.benchmarks.service_targets import bench_service

        logging.getLogger().setLevel(logging.WARNING)
        try:
            result = bench_service(load_minutes=minutes)
        except BenchUnavailable as exc:
            raise _fail(str(exc), 1) from None
        lines = [
            f"{f['name']}: {f['value']} {f['unit']} (target {f['target']:g}; "
            f"{'met' if f['meets_target'] else 'NOT met'})" + (f"; {f['lost']} lost" if "lost" in f else "")
            for f in result["figures"]
        ]
        _emit(result, as_json, lines)

    @apps.bench.command("all")
    def bench_all(
        as_json: bool = typer.Option(False, "--json", help="Print the results document as JSON."),
        out: Path | None = typer.Option(
            None, "--out", help="Results file. Default: benchmarks/results/<date>.json under the current folder."
        ),
        quick: bool = typer.Option(True, "--quick/--full", help="Quick sizes (a few minutes on 2 cores) or longer."),
        only: list[str] = typer.Option([], "--only", help="Run only these sections (repeat the option)."),
        skip: list[str] = typer.Option([], "--skip", help="Leave out these sections (repeat the option)."),
        mqtt_url: str = typer.Option(DEFAULT_MQTT_URL, "--mqtt-url", help=MQTT_HELP),
        postgres_url: str = typer.Option(DEFAULT_POSTGRES_URL, "--postgres-url", help=POSTGRES_HELP),
    ) -> None:
        """Every benchmark, each figure beside its target and the published or commercial figure it is held against."""
        from gasguard.benchmarks.suite import SECTIONS, default_results_path, format_table, run_all

        logging.getLogger().setLevel(logging.WARNING)
        try:
            results = run_all(
                quick=quick,
                only=only or None,
                skip=skip,
                mqtt_url=mqtt_url,
                postgres_url=postgres_url,
                progress=None if as_json else lambda name: typer.echo(f"running {name} ...", err=True),
            )
        except ValueError as exc:
            raise _fail(f"{exc} (sections: {', '.join(SECTIONS)})") from None
        path = out or default_results_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
        if as_json:
            typer.echo(json.dumps(results))
            return
        typer.echo(format_table(results))
        typer.echo(f"\nresults written to {path} ({results['seconds']} s)")
