"""``gasguard bench all``: every benchmark, each figure beside its target and its outside reference.

Sections run one after another (never in parallel: on a small machine they would measure each
other). A section that cannot run here (no PostgreSQL, no broker) is reported as skipped with the
reason; one that fails is reported with its error. Neither stops the others.

``quick`` (the default) sizes every section so the whole run stays within a few minutes on two cores;
``quick=False`` runs the longer versions for steadier figures.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gasguard.benchmarks.databases import BenchUnavailable
from gasguard.benchmarks.defaults import DEFAULT_MQTT_URL, DEFAULT_POSTGRES_URL
from gasguard.benchmarks.figures import ALARM_CYCLE, CONTROLLER_CHANNELS, VIDEO_RATE, Figure, Reference
from gasguard.benchmarks.machine import describe_machine

log = logging.getLogger(__name__)

EDGE_CONTROLLER_RAM = Reference(
    value=1024.0,
    unit="MiB",
    what="memory of the smallest Raspberry Pi 4 Model B, a common edge controller (1, 2, 4 or 8 GB models)",
    source="Raspberry Pi 4 Model B product brief",
    kind="commercial",
)


@dataclass(frozen=True)
class Sizes:
    """How much work each section does."""

    safety_readings: int
    sensor_batch: int
    sensor_single: int
    vision_seconds: float
    e2e_trips: int
    e2e_mqtt_trips: int
    ingest_readings: int
    memory_load_s: float
    load_channels: int
    load_minutes: float


QUICK = Sizes(100_000, 5_000, 1_000, 1.0, 200, 30, 20_000, 10.0, 1_000, 0.5)
FULL = Sizes(300_000, 20_000, 2_000, 3.0, 1_000, 200, 100_000, 30.0, 1_000, 2.0)

SECTIONS = ("safety", "sensor", "vision", "e2e", "e2e_mqtt", "ingest_sqlite", "ingest_postgres", "memory", "load")


def _safety(sizes: Sizes, _opts: dict[str, str]) -> tuple[dict[str, Any], list[Figure]]:
    from gasguard.safety_bench import run_safety_bench

    r = run_safety_bench(readings=sizes.safety_readings, latency_samples=min(sizes.safety_readings, 100_000))
    return r, [
        Figure("safety.throughput", "safety core throughput (one core)", r["readings_per_s"], "readings/s",
               200_000, "higher", CONTROLLER_CHANNELS),
        Figure("safety.p99", "safety core step, p99 per reading", r["p99_us"] / 1000, "ms", 0.05, "lower",
               ALARM_CYCLE),
    ]  # fmt: skip


def _sensor(sizes: Sizes, _opts: dict[str, str]) -> tuple[dict[str, Any], list[Figure]]:
    from gasguard.ml.bench import bench_gas_classifier

    r = bench_gas_classifier(n_batch=sizes.sensor_batch, n_single=sizes.sensor_single)
    return r, [
        Figure("sensor.batched", "gas-type model, batched", round(r["readings_per_s"]), "readings/s", 20_000,
               "higher", CONTROLLER_CHANNELS),
        Figure("sensor.p99", "gas-type model, one reading p99", round(r["p99_ms"], 3), "ms", 1.0, "lower",
               ALARM_CYCLE),
    ]  # fmt: skip


def _vision(sizes: Sizes, _opts: dict[str, str]) -> tuple[dict[str, Any], list[Figure]]:
    from gasguard.vision.bench import bench_vision

    r = bench_vision(sizes.vision_seconds)
    return r, [
        Figure("vision.segmentation", "plume segmentation, 320x240, one core", r["segmentation_fps"], "frames/s",
               30, "higher", VIDEO_RATE),
        Figure("vision.classification", "GasNet classification, 224x224, one core", r["classification_fps"],
               "frames/s", 200, "higher", VIDEO_RATE),
    ]  # fmt: skip


def _e2e(sizes: Sizes, _opts: dict[str, str]) -> tuple[dict[str, Any], list[Figure]]:
    from gasguard.benchmarks.e2e import bench_e2e_inprocess

    r = bench_e2e_inprocess(trips=sizes.e2e_trips)
    return r, [
        Figure("e2e.inprocess.p99", "reading -> valve command, in process, p99", r["p99_ms"], "ms", 10, "lower",
               ALARM_CYCLE, note=f"p50 {r['p50_ms']} ms over {r['n']} trips"),
    ]  # fmt: skip


def _e2e_mqtt(sizes: Sizes, opts: dict[str, str]) -> tuple[dict[str, Any], list[Figure]]:
    from gasguard.benchmarks.e2e import bench_e2e_mqtt

    r = bench_e2e_mqtt(trips=sizes.e2e_mqtt_trips, mqtt_url=opts["mqtt_url"])
    return r, [
        Figure("e2e.mqtt.p99", "reading -> valve command over Mosquitto (2 hops), p99", r["p99_ms"], "ms", 100,
               "lower", ALARM_CYCLE, note=f"p50 {r['p50_ms']} ms over {r['n']} trips"),
    ]  # fmt: skip


def _ingest(db: str) -> Callable[[Sizes, dict[str, str]], tuple[dict[str, Any], list[Figure]]]:
    def run(sizes: Sizes, opts: dict[str, str]) -> tuple[dict[str, Any], list[Figure]]:
        from gasguard.benchmarks.ingest import bench_ingest

        r = bench_ingest(db, readings=sizes.ingest_readings, postgres_url=opts["postgres_url"])  # type: ignore[arg-type]
        return r, [
            Figure(f"ingest.{db}", f"readings stored per second ({db}), through the pipeline",
                   r["stored_readings_per_s"], "readings/s", 5_000, "higher", CONTROLLER_CHANNELS,
                   note=f"{r['lost']} of {r['readings']} lost"),
        ]  # fmt: skip

    return run


def _memory(sizes: Sizes, _opts: dict[str, str]) -> tuple[dict[str, Any], list[Figure]]:
    from gasguard.benchmarks.memory import bench_service_memory

    r = bench_service_memory(load_s=sizes.memory_load_s)
    return r, [
        Figure("memory.rss", "resident memory of gasguard serve under load", r["rss_under_load_mib"], "MiB", 300,
               "lower", EDGE_CONTROLLER_RAM, note=f"idle {r['rss_idle_mib']} MiB, peak {r['rss_peak_mib']} MiB"),
    ]  # fmt: skip


def _load(sizes: Sizes, opts: dict[str, str]) -> tuple[dict[str, Any], list[Figure]]:
    from gasguard.benchmarks.load import bench_load

    r = bench_load(channels=sizes.load_channels, rate=1.0, minutes=sizes.load_minutes, mqtt_url=opts["mqtt_url"])
    r.pop("samples", None)
    lat = r["latency_to_decision"]
    return r, [
        Figure("load.lost", f"readings lost, {r['channels']} channels at 1 Hz over MQTT", r["lost"], "readings", 0,
               "lower", note=f"{r['published']} published, {r['stored']} stored"),
        Figure("load.p99", "device -> safety decision under load, p99", lat["p99_ms"], "ms", 100, "lower",
               ALARM_CYCLE, note=f"p50 {lat['p50_ms']} ms"),
        Figure("load.cpu", "service CPU under load", r["service_cpu_pct_of_one_core"], "% of one core", 50,
               "lower"),
    ]  # fmt: skip


RUNNERS: dict[str, Callable[[Sizes, dict[str, str]], tuple[dict[str, Any], list[Figure]]]] = {
    "safety": _safety,
    "sensor": _sensor,
    "vision": _vision,
    "e2e": _e2e,
    "e2e_mqtt": _e2e_mqtt,
    "ingest_sqlite": _ingest("sqlite"),
    "ingest_postgres": _ingest("postgres"),
    "memory": _memory,
    "load": _load,
}


def run_all(
    *,
    quick: bool = True,
    only: Iterable[str] | None = None,
    skip: Iterable[str] = (),
    mqtt_url: str = DEFAULT_MQTT_URL,
    postgres_url: str = DEFAULT_POSTGRES_URL,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run the chosen sections; returns the whole results document (see the module docstring)."""
    chosen = [s for s in (only or SECTIONS) if s not in set(skip)]
    unknown = [s for s in chosen if s not in RUNNERS]
    if unknown:
        raise ValueError(f"unknown section(s): {', '.join(unknown)}; choose from {', '.join(SECTIONS)}")
    sizes = QUICK if quick else FULL
    opts = {"mqtt_url": mqtt_url, "postgres_url": postgres_url}
    started = time.perf_counter()
    sections: dict[str, Any] = {}
    figures: list[Figure] = []
    for name in chosen:
        if progress is not None:
            progress(name)
        t0 = time.perf_counter()
        try:
            raw, found = RUNNERS[name](sizes, opts)
        except BenchUnavailable as exc:
            sections[name] = {"status": "skipped", "reason": str(exc)}
            continue
        except Exception as exc:  # one broken section must not lose the others' figures
            log.exception("benchmark section %s failed", name)
            sections[name] = {"status": "failed", "error": f"{type(exc).__name__}: {exc}"[:500]}
            continue
        sections[name] = {"status": "ok", "seconds": round(time.perf_counter() - t0, 1), "result": raw}
        figures.extend(found)
    return {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "mode": "quick" if quick else "full",
        "seconds": round(time.perf_counter() - started, 1),
        "machine": describe_machine(),
        "figures": [f.to_json() for f in figures],
        "sections": sections,
    }


def default_results_path(root: Path = Path("benchmarks/results")) -> Path:
    return root / f"{dt.date.today().isoformat()}.json"


def _num(value: float) -> str:
    """Thousands separated for large numbers, three significant digits for small ones."""
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def format_table(results: dict[str, Any]) -> str:
    """The figures as a Markdown table (also what the command prints without ``--json``)."""
    lines = ["| figure | measured | target | held against | |", "|---|---|---|---|---|"]
    for f in results["figures"]:
        ref = f["reference"]
        against = "" if ref is None else f"{_num(ref['value'])} {ref['unit']}: {ref['what']}"
        mark = {True: "meets target", False: "MISSES target", None: ""}[f["meets_target"]]
        value = "n/a" if f["value"] is None else f"{_num(f['value'])} {f['unit']}"
        target = "" if f["target"] is None else f"{'<=' if f['better'] == 'lower' else '>='} {_num(f['target'])}"
        note = f" ({f['note']})" if f["note"] else ""
        lines.append(f"| {f['name']}{note} | {value} | {target} | {against} | {mark} |")
    for name, section in results["sections"].items():
        if section["status"] != "ok":
            lines.append(f"| {name} | {section['status']}: {section.get('reason') or section.get('error')} | | | |")
    return "\n".join(lines)
