"""Load across zone workers: ``gasguard bench load --workers N``.

N real ``gasguard serve --role worker`` processes (zones balanced among them, or pinned half and half
with ``pin=True``) on a fresh PostgreSQL schema, the MQTT load generator (``loadgen``) publishing every
channel at ``rate`` Hz at QoS 1, and operator commands while the load runs: the plant cold-starts
tripped, so every zone is reset and every valve reopened through the workers' command channel (MQTT
request/reply, as a web tier sends them), the same 200 commands a 1,000-channel site needs.

How reading -> decision latency is measured across processes: every reading carries its send time
(``ts``, the generator's ``time.time()`` just before the publish); each worker notes
``time.time() - ts`` when its safety step has decided on the reading, in a fixed-bucket histogram
(``gasguard.workers.decisions``) that its ``/api/v1/health`` shows. All processes run on this machine,
so they read one system clock. The benchmark reads every worker's counters when the measured window
opens and when it closes; the difference is the window's histogram (percentiles are bucket upper
edges: at most 12 % high).

Lost = acknowledged by the broker (PUBACK to the generator) and never decided by any worker, per zone,
from the first reading on: commissioning included. Also reported: readings stored in PostgreSQL, each
worker's CPU (percent of one core over the window) and memory (RSS now and peak), the broker's and the
generator's CPU, and the machine's load average, since everything shares the machine.

``mosquitto_conf``: start a Mosquitto of the benchmark's own from that file on a free port (its
``listener``, ``persistence_location`` and log lines are replaced) instead of using ``mqtt_url``;
``docs/mosquitto/mosquitto-large-site.conf`` is the configuration the docs recommend.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import text

from gasguard.benchmarks.databases import BenchUnavailable, bench_database, count_readings
from gasguard.benchmarks.defaults import DEFAULT_MQTT_URL, DEFAULT_POSTGRES_URL
from gasguard.benchmarks.live import BENCH_SECRET_KEY, BENCH_USER, bench_site, bench_site_data
from gasguard.benchmarks.machine import describe_machine
from gasguard.benchmarks.mqtt_util import bench_prefix, reachable_broker
from gasguard.benchmarks.procstat import cpu_seconds, peak_rss_mib, rss_mib
from gasguard.benchmarks.service import free_port
from gasguard.domain import OperatorAction, OperatorCommand, OperatorResult
from gasguard.storage.engine import create_engine_for
from gasguard.workers.commands import CommandClient, command_key
from gasguard.workers.decisions import combine, histogram, summarise
from gasguard.workers.lease import LeaseTable

log = logging.getLogger(__name__)

SITE_ID = "bench"
SETTLE_S = 5.0
COMMISSION_LIMIT_S = 120.0
"""Commissioning gives up after this long (an overloaded worker answers commands only after its backlog
of readings): the commands not carried out are reported as failed."""
DRAIN_LIMIT_S = 120.0
"""After the load stops, wait at most this long for the workers to decide their backlog; what is still
undecided then is reported as undecided (``backlog_at_end``), apart from loss."""
COMMAND_CONCURRENCY = 20
"""Operator commands in flight at once while commissioning (an operator team, not one click at a time)."""


def _uptime() -> str:
    load = os.getloadavg()
    return f"load average {load[0]:.2f}, {load[1]:.2f}, {load[2]:.2f} on {os.cpu_count()} cores"


@contextlib.contextmanager
def own_mosquitto(config: Path, folder: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A Mosquitto of our own from ``config`` on a free port of 127.0.0.1; its URL and process."""
    binary = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None)
    if binary is None:
        raise BenchUnavailable("mosquitto is not installed (apt-get install mosquitto)")
    port = free_port()
    replaced = ("listener", "port", "persistence_location", "log_dest", "pid_file", "include_dir", "bind_address")
    lines = [line for line in config.read_text(encoding="utf-8").splitlines() if not line.strip().startswith(replaced)]
    wrapper = folder / "mosquitto.conf"
    (folder / "mosquitto").mkdir(exist_ok=True)
    wrapper.write_text(
        "\n".join(
            [
                f"listener {port} 127.0.0.1",
                f"persistence_location {folder / 'mosquitto'}/",
                f"log_dest file {folder / 'mosquitto.log'}",
                *lines,
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    process = subprocess.Popen([binary, "-c", str(wrapper)], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise BenchUnavailable(
                        f"mosquitto -c {config} did not start (see {folder}/mosquitto.log)"
                    ) from None
                time.sleep(0.1)
        yield f"mqtt://127.0.0.1:{port}", process
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class WorkerProcess:
    """One ``gasguard serve --role worker`` and its health endpoint."""

    def __init__(self, index: int, command: list[str], env: dict[str, str], folder: Path) -> None:
        self.index = index
        self.port = free_port()
        self.log_path = folder / f"worker-{index}.log"
        with self.log_path.open("wb") as log_file:
            self.process = subprocess.Popen(
                [*command, "--port", str(self.port)], env=env, stdout=log_file, stderr=subprocess.STDOUT
            )

    @property
    def pid(self) -> int:
        return self.process.pid

    def health(self) -> dict[str, Any] | None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/api/v1/health", timeout=10) as answer:
                return dict(json.loads(answer.read()))
        except Exception as exc:  # 503 while starting, or not listening yet
            log.debug("worker %d health: %s", self.index, exc)
            return None

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)


def _owners(url: str) -> dict[str, str]:
    engine = create_engine_for(url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text("SELECT zone, owner FROM zone_leases WHERE expires_at > extract(epoch from clock_timestamp())")
            ).all()
    finally:
        engine.dispose()
    return {str(zone): str(owner) for zone, owner in rows}


async def _commission(client: CommandClient, zones: list[str], *, retries: int = 20) -> dict[str, Any]:
    """Reset every zone, then reopen every valve, as operators do after a cold start; refused commands
    (a valve still closing) are retried once a second. Returns counts and how long it took."""
    started = time.perf_counter()
    sent = refused = 0
    limit = asyncio.Semaphore(COMMAND_CONCURRENCY)

    async def run(command: OperatorCommand) -> OperatorResult:
        nonlocal sent, refused
        result = OperatorResult("", command.action, command.target, command.user, command.reason, False, "not sent")
        for _attempt in range(retries):
            if time.perf_counter() - started > COMMISSION_LIMIT_S:
                return dataclasses.replace(result, message=f"gave up after {COMMISSION_LIMIT_S:g} s: {result.message}")
            async with limit:
                sent += 1
                result = await client.operate(command)
            if result.accepted:
                return result
            if _attempt and "is already open" in result.message:
                # The first try's answer came after the web tier's 5 s, but the worker had run it in
                # time (it never runs a request past its expiry): carried out.
                return dataclasses.replace(result, accepted=True)
            refused += 1
            if "acknowledge the valve fault" in result.message:
                # A zone handed over while the workers balanced: its simulated valve (which exists only
                # in the old owner's memory) starts open in the new owner, disagrees with the stored
                # "closed" and faults, as a real valve reporting the wrong position would. An operator
                # acknowledges the fault once the valve reports closed, then reopens it.
                zone = command.target.removesuffix("-valve")
                ack = OperatorCommand(
                    OperatorAction.ACK, f"{zone}/{command.target}/VALVE_FAULT", BENCH_USER, "benchmark commissioning"
                )
                async with limit:
                    sent += 1
                    await client.operate(ack)
            await asyncio.sleep(1.0)
        return result

    def commands(action: OperatorAction, targets: list[str]) -> list[OperatorCommand]:
        return [OperatorCommand(action, t, BENCH_USER, reason="benchmark commissioning") for t in targets]

    resets = await asyncio.gather(*(run(c) for c in commands(OperatorAction.RESET, zones)))
    opens = await asyncio.gather(*(run(c) for c in commands(OperatorAction.OPEN, [f"{z}-valve" for z in zones])))
    failed = [f"{r.target}: {r.message}" for r in (*resets, *opens) if not r.accepted]
    return {
        "commands": 2 * len(zones),
        "sent": sent,
        "refused_then_retried": refused,
        "failed": failed[:10],
        "failed_count": len(failed),
        "seconds": round(time.perf_counter() - started, 1),
    }


def _counters(workers: list[WorkerProcess]) -> list[dict[str, Any]]:
    """Each worker's health (decisions, zones) with its CPU seconds and the time read."""
    out = []
    for worker in workers:
        health = worker.health() or {}
        out.append({"health": health, "cpu_s": cpu_seconds(worker.pid) or 0.0, "t": time.monotonic()})
    return out


def _decisions(reading: dict[str, Any]) -> dict[str, Any]:
    return dict(reading["health"].get("decisions") or {"decided": 0, "by_zone": {}, "buckets": {}})


async def _run(
    *,
    channels: int,
    per_zone: int,
    rate: float,
    seconds: float,
    workers: int,
    pin: bool,
    database_url: str,
    mqtt_url: str,
    folder: Path,
    broker_pid: int | None,
) -> dict[str, Any]:
    broker = reachable_broker(mqtt_url)
    prefix = bench_prefix()
    zones = max(1, channels // per_zone)
    zone_ids = [f"z{z:03d}" for z in range(zones)]
    site_data = bench_site_data(zones=zones, channels_per_zone=per_zone, site_id=SITE_ID, stale_timeout_s=60.0)
    site_file = folder / "site.yaml"
    site_file.write_text(json.dumps(site_data), encoding="utf-8")  # JSON is YAML
    site = bench_site(zones=zones, channels_per_zone=per_zone, site_id=SITE_ID, stale_timeout_s=60.0)
    env = {
        **os.environ,
        "GASGUARD_DATABASE_URL": database_url,
        "GASGUARD_MQTT_URL": mqtt_url,
        "GASGUARD_MQTT_TOPIC_PREFIX": prefix,
        "GASGUARD_DATA_DIR": str(folder),
        "GASGUARD_SECRET_KEY": BENCH_SECRET_KEY,
    }
    base = [sys.executable, "-m", "gasguard", "serve", "--role", "worker", "--config", str(site_file)]
    base += ["--no-migrate", "--log-level", "warning"]
    procs: list[WorkerProcess] = []
    phases: dict[str, float] = {}
    generator: subprocess.Popen[bytes] | None = None
    t0 = time.perf_counter()
    load_before = _uptime()
    try:
        for w in range(workers):
            extra = ["--zones", ",".join(zone_ids[w::workers])] if pin else []
            procs.append(WorkerProcess(w, [*base, *extra], env, folder))
        share = -(-zones // workers)

        def balanced() -> bool:
            owners = _owners(database_url)
            counts = [sum(1 for o in owners.values() if f":{p.pid}:" in o) for p in procs]
            return len(owners) == zones and max(counts) <= share

        deadline = time.monotonic() + 300
        while not await asyncio.to_thread(balanced):
            if time.monotonic() > deadline or any(p.process.poll() is not None for p in procs):
                raise RuntimeError(f"the workers did not come to own every zone evenly (logs in {folder})")
            await asyncio.sleep(0.5)
        phases["zones_owned_s"] = round(time.perf_counter() - t0, 1)
        await asyncio.sleep(2.0)  # every zone session subscribed

        command = [sys.executable, "-m", "gasguard.benchmarks.loadgen", "--host", broker.host]
        command += ["--port", str(broker.port), "--prefix", prefix, "--site", SITE_ID, "--zones", str(zones)]
        command += ["--per-zone", str(per_zone), "--rate", str(rate)]
        generator = subprocess.Popen(command, stdout=subprocess.PIPE)
        t_load = time.perf_counter()
        await asyncio.sleep(2.0)  # every channel has reported: the zones can be reset

        lease_engine = create_engine_for(database_url)
        client = CommandClient(broker, site, LeaseTable(lease_engine), prefix=prefix, key=command_key(BENCH_SECRET_KEY))
        pump = asyncio.create_task(client.run())
        try:
            await asyncio.wait_for(client._ready.wait(), 10)
            commissioning = await _commission(client, zone_ids)
        finally:
            pump.cancel()
            await asyncio.gather(pump, return_exceptions=True)
            lease_engine.dispose()
        await asyncio.sleep(SETTLE_S)

        start = await asyncio.to_thread(_counters, procs)
        broker_cpu0 = cpu_seconds(broker_pid) if broker_pid else None
        wall0 = time.monotonic()
        await asyncio.sleep(seconds)
        end = await asyncio.to_thread(_counters, procs)
        wall = time.monotonic() - wall0
        broker_cpu1 = cpu_seconds(broker_pid) if broker_pid else None
        load_during = _uptime()
        rss_end = [rss_mib(p.pid) for p in procs]
        rss_peak = [peak_rss_mib(p.pid) for p in procs]
        phases["load_s"] = round(time.perf_counter() - t_load, 1)

        generator.send_signal(signal.SIGTERM)
        out, _ = await asyncio.to_thread(generator.communicate, None, 120)
        generator_report = json.loads(out.decode().strip().splitlines()[-1])
        acked_by_zone: dict[str, int] = generator_report.pop("acknowledged_by_zone")

        # The tail: wait until every acknowledged reading is decided, or nothing more arrives for 10 s.
        t_drain = time.perf_counter()
        last, still_since = -1, time.monotonic()
        while True:
            final = await asyncio.to_thread(_counters, procs)
            decided = sum(_decisions(r)["decided"] for r in final)
            if (
                decided >= generator_report["acknowledged"]
                or time.monotonic() - still_since > 10
                or time.perf_counter() - t_drain > DRAIN_LIMIT_S
            ):
                break
            if decided != last:
                last, still_since = decided, time.monotonic()
            await asyncio.sleep(0.5)
        phases["drain_s"] = round(time.perf_counter() - t_drain, 1)
        drained = time.perf_counter() - t_drain <= DRAIN_LIMIT_S
    finally:
        if generator is not None and generator.poll() is None:
            generator.kill()
        for proc in procs:
            proc.stop()
        for proc in procs:
            try:
                proc.process.wait(30)
            except subprocess.TimeoutExpired:
                proc.process.kill()

    decided_by_zone: dict[str, int] = {}
    for reading in final:
        for zone, n in _decisions(reading)["by_zone"].items():
            decided_by_zone[zone] = decided_by_zone.get(zone, 0) + int(n)
    lost_by_zone = {z: max(0, acked_by_zone.get(z, 0) - decided_by_zone.get(z, 0)) for z in zone_ids}
    per_worker = []
    for i, proc in enumerate(procs):
        owns = sorted((end[i]["health"].get("owns") or {}).keys())
        d0, d1, df = _decisions(start[i]), _decisions(end[i]), _decisions(final[i])
        window = combine([histogram(d1["buckets"])], minus=[histogram(d0["buckets"])])
        cpu = end[i]["cpu_s"] - start[i]["cpu_s"]
        per_worker.append(
            {
                "worker": i,
                "pid": proc.pid,
                "zones": len(owns),
                "channels": len(owns) * per_zone,
                "received": final[i]["health"].get("received"),
                "decided": df["decided"],
                "acknowledged_for_its_zones": sum(acked_by_zone.get(z, 0) for z in owns),
                "lost": sum(lost_by_zone[z] for z in owns) if drained else None,
                "decided_per_s_in_window": round((d1["decided"] - d0["decided"]) / wall, 0),
                "latency_window": summarise(window),
                "latency_all": summarise(histogram(df["buckets"])),
                "max_latency_ms": df.get("max_ms"),
                "cpu_pct_of_one_core": round(100.0 * cpu / wall, 1),
                "rss_mib": rss_end[i],
                "rss_peak_mib": rss_peak[i],
                "handed_over": end[i]["health"].get("handed_over"),
            }
        )
    window_total = combine(
        [histogram(_decisions(r)["buckets"]) for r in end], minus=[histogram(_decisions(r)["buckets"]) for r in start]
    )
    all_total = combine([histogram(_decisions(r)["buckets"]) for r in final])
    acknowledged = int(generator_report["acknowledged"])
    return {
        "workers": workers,
        "zones": zones,
        "channels_per_zone": per_zone,
        "balanced": not pin,
        "window_s": round(wall, 1),
        "published": generator_report["published"],
        "acknowledged": acknowledged,
        "acknowledged_per_s": round(acknowledged / generator_report["seconds"], 0),
        "decided": sum(decided_by_zone.values()),
        # Undecided once the workers stopped making progress: lost. Undecided when the drain limit cut the
        # wait short: a backlog still queued (in the broker or a worker), reported apart, not as loss.
        "drained": drained,
        "lost": sum(lost_by_zone.values()) if drained else None,
        "backlog_at_end": 0 if drained else sum(lost_by_zone.values()),
        "zones_with_loss": sorted(z for z, n in lost_by_zone.items() if n)[:20],
        "latency_window": summarise(window_total),
        "latency_all": summarise(all_total),
        "commissioning": commissioning,
        "per_worker": per_worker,
        "broker_cpu_pct_of_one_core": None
        if broker_cpu0 is None or broker_cpu1 is None
        else round(100.0 * (broker_cpu1 - broker_cpu0) / wall, 1),
        "generator": generator_report,
        "phases": phases,
        "load_before": load_before,
        "load_during": load_during,
        "logs": str(folder),
    }


def bench_load_workers(
    *,
    channels: int = 1000,
    rate: float = 1.0,
    minutes: float = 1.0,
    workers: int = 2,
    per_zone: int = 100,
    pin: bool = False,
    mqtt_url: str = DEFAULT_MQTT_URL,
    postgres_url: str = DEFAULT_POSTGRES_URL,
    mosquitto_conf: Path | None = None,
    keep_logs: Path | None = None,
) -> dict[str, Any]:
    """``channels`` at ``rate`` Hz across ``workers`` worker processes for ``minutes`` (see the module
    docstring); readings stored are counted in PostgreSQL after the workers stopped."""
    machine = describe_machine()
    folder = Path(tempfile.mkdtemp(prefix="gasguard-bench-workers-"))
    try:
        with bench_database("postgres", postgres_url=postgres_url) as url, contextlib.ExitStack() as stack:
            broker_pid = None
            if mosquitto_conf is not None:
                mqtt_url, process = stack.enter_context(own_mosquitto(mosquitto_conf, folder))
                broker_pid = process.pid
            reachable_broker(mqtt_url)
            result = asyncio.run(
                _run(
                    channels=channels,
                    per_zone=per_zone,
                    rate=rate,
                    seconds=minutes * 60.0,
                    workers=workers,
                    pin=pin,
                    database_url=url,
                    mqtt_url=mqtt_url,
                    folder=folder,
                    broker_pid=broker_pid,
                )
            )
            stored = count_readings(url)
    finally:
        if keep_logs is not None:
            shutil.copytree(folder, keep_logs / folder.name, dirs_exist_ok=True)
        shutil.rmtree(folder, ignore_errors=True)
    return {
        "channels": channels,
        "rate_hz": rate,
        "minutes": minutes,
        "broker": str(mosquitto_conf) if mosquitto_conf else mqtt_url,
        **result,
        "stored": stored,
        "machine": machine,
        "run_id": uuid.uuid4().hex[:8],
    }
