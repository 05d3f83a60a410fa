"""Load across zone workers: N ``gasguard serve --role worker`` processes, zones pinned evenly, fed by the
MQTT load generator at 1 reading/s per channel; readings acknowledged by the broker vs stored, CPU and
memory per worker.

    python benchmarks/bench_workers.py --workers 2 --zones 10 --per-zone 100 --seconds 30 [--json]

Needs the PostgreSQL (a fresh database is made and dropped) and Mosquitto of the test set-up. Outside
the test run; the figures are in docs/workers.md. Reading -> decision latency is not measured here.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from tempfile import TemporaryDirectory

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from gasguard.benchmarks.procstat import cpu_seconds, peak_rss_mib
from gasguard.storage.migrate import upgrade_to_head

log = logging.getLogger("bench_workers")
ADMIN_URL = os.environ.get("GASGUARD_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def site_yaml(site: str, zones: int, per_zone: int) -> str:
    lines = ["sites:", f"  - id: {site}", "    zones:"]
    for z in range(zones):
        lines += [
            f"      - id: z{z:03d}",
            "        fault_policy: alarm",
            "        warmup_policy: alarm",
            "        channels:",
        ]
        lines += [
            f"          - {{id: z{z:03d}-c{c:02d}, gas: methane, unit: ppm, valid_range: {{min: 0, max: 50000}}}}"
            for c in range(per_zone)
        ]
        lines += ["        valves:", f"          - {{id: z{z:03d}-valve, feedback: false}}"]
    return "\n".join(lines) + "\n"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def run(args: argparse.Namespace) -> dict[str, object]:
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"gasguard_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    processes: list[subprocess.Popen[bytes]] = []
    try:
        upgrade_to_head(url)
        engine = create_engine(url)
        site, prefix = "bench", f"ggw{uuid.uuid4().hex[:6]}"
        zones = [f"z{z:03d}" for z in range(args.zones)]
        with TemporaryDirectory() as tmp:
            site_file = Path(tmp) / "site.yaml"
            site_file.write_text(site_yaml(site, args.zones, args.per_zone))
            env = {
                **os.environ,
                "GASGUARD_DATABASE_URL": url,
                "GASGUARD_MQTT_URL": "mqtt://127.0.0.1:1883",
                "GASGUARD_MQTT_TOPIC_PREFIX": prefix,
                "GASGUARD_DATA_DIR": tmp,
                "GASGUARD_SECRET_KEY": uuid.uuid4().hex * 2,
            }
            for w in range(args.workers):
                mine = ",".join(zones[w :: args.workers])
                command = [sys.executable, "-m", "gasguard", "serve", "--role", "worker", "--config", str(site_file)]
                command += ["--zones", mine, "--port", str(_free_port()), "--no-migrate", "--log-level", "warning"]
                log_file = (Path(tmp) / f"worker-{w}.log").open("wb")
                processes.append(subprocess.Popen(command, env=env, stdout=log_file, stderr=subprocess.STDOUT))
            started = time.monotonic()
            while time.monotonic() - started < 120:
                with engine.connect() as connection:
                    owned = connection.execute(
                        text("SELECT count(*) FROM zone_leases WHERE expires_at > extract(epoch from now())")
                    ).scalar()
                if owned == len(zones):
                    break
                time.sleep(0.5)
            commissioning_s = time.monotonic() - started
            time.sleep(2)  # zone sessions subscribed
            cpu_before = [cpu_seconds(p.pid) or 0.0 for p in processes]
            t0 = time.time()
            loadgen = [sys.executable, "-m", "gasguard.benchmarks.loadgen", "--prefix", prefix, "--site", site]
            loadgen += ["--zones", str(args.zones), "--per-zone", str(args.per_zone), "--seconds", str(args.seconds)]
            gen = subprocess.run(
                loadgen,
                capture_output=True,
                text=True,
                check=True,
            )
            load = json.loads(gen.stdout.strip().splitlines()[-1])
            wall = time.time() - t0
            cpu_after = [cpu_seconds(p.pid) or 0.0 for p in processes]
            stored = 0
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                with engine.connect() as connection:
                    stored = int(
                        connection.execute(text("SELECT count(*) FROM readings WHERE ts >= :t"), {"t": t0 - 1}).scalar()
                        or 0
                    )
                if stored >= load["acknowledged"]:
                    break
                time.sleep(1)
            per_worker = [
                {
                    "zones": len(zones[w :: args.workers]),
                    "cpu_pct": round(100 * (cpu_after[w] - cpu_before[w]) / wall, 1),
                    "peak_rss_mib": peak_rss_mib(p.pid),
                }
                for w, p in enumerate(processes)
            ]
            engine.dispose()
    finally:
        for p in processes:
            p.terminate()
        for p in processes:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    channels = args.zones * args.per_zone
    return {
        "workers": args.workers,
        "channels": channels,
        "target_per_s": channels,
        "seconds": args.seconds,
        "commissioning_s": round(commissioning_s, 1),
        "published": load["published"],
        "acknowledged": load["acknowledged"],
        "achieved_per_s": round(load["acknowledged"] / wall, 0),
        "stored": stored,
        "lost": max(0, load["acknowledged"] - stored),
        "per_worker": per_worker,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--zones", type=int, default=10)
    parser.add_argument("--per-zone", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    result = run(args)
    if args.json:
        sys.stdout.write(json.dumps(result) + "\n")
    else:
        for key, value in result.items():
            log.info("%s: %s", key, value)
    return 0


if __name__ == "__main__":
    sys.exit(main())
