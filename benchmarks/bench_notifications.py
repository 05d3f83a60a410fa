"""Time from a zone trip on the live bus to its first message accepted by a real SMTP server.

The issue's target is 5 s. The SMTP server is aiosmtpd on a free local port (with the AUTH the route's
{env:...} credentials must pass), the notifier is the one ``gasguard serve`` runs, on SQLite, so the time
includes composing the message, expanding the secrets, Apprise's SMTP session and nothing of a real
network. Each trip is reset before the next, so every one opens a new incident.

    python benchmarks/bench_notifications.py [--trips 30] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from gasguard.config import parse_site_config
from gasguard.notifications.service import Notifier
from gasguard.notify import FanoutBus, Message
from gasguard.storage.engine import make_session_factory
from gasguard.storage.migrate import engine_at_head

log = logging.getLogger("bench_notifications")

USER, PASSWORD = "bench", "bench-password-not-real"


class Inbox:
    def __init__(self) -> None:
        self.times: list[float] = []
        self.arrived = threading.Event()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.times.append(time.perf_counter())
        self.arrived.set()
        return "250 OK"


def _auth(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
    return AuthResult(success=isinstance(data, LoginPassword) and data.password.decode() == PASSWORD)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def measure(trips: int, port: int, inbox: Inbox, folder: Path) -> list[float]:
    url = f"mailto://{{env:U}}:{{env:P}}@127.0.0.1:{port}?from=gasguard@example.com&to=ops@example.com&mode=insecure"
    site = parse_site_config(
        {
            "sites": [
                {
                    "id": "plant",
                    "name": "Bench plant",
                    "zones": [{"id": "kitchen", "name": "Kitchen", "channels": [{"id": "k1", "gas": "methane"}]}],
                }
            ],
            "notifications": {"routes": [{"name": "on-call-1", "urls": [url], "events": ["trip"]}]},
        }
    )
    engine = engine_at_head(f"sqlite:///{folder / 'bench.db'}")
    bus = FanoutBus()
    notifier = Notifier(
        site.notifications,  # type: ignore[arg-type]
        site,
        bus=bus,
        session_factory=make_session_factory(engine),
        clock=time.time,
        secret_key="b" * 40,
        public_url="https://gasguard.example.com",
        env={"U": USER, "P": PASSWORD},
    )
    task = asyncio.create_task(notifier.run())
    while not notifier.started:
        await asyncio.sleep(0.01)
    latencies: list[float] = []
    try:
        for _ in range(trips):
            inbox.arrived.clear()
            before = len(inbox.times)
            payload = {"zone": "kitchen", "tripped": True, "cause": "k1 at A2 (25.0 %LEL)"}
            started = time.perf_counter()
            bus.publish_nowait(Message("trip", {"kind": "trip", "zone": "kitchen", "payload": payload}, time.time()))
            while len(inbox.times) == before:
                await asyncio.to_thread(inbox.arrived.wait, 10.0)
            latencies.append(inbox.times[before] - started)
            reset = {"zone": "kitchen", "tripped": False, "cause": "reset by bench"}
            bus.publish_nowait(Message("trip", {"kind": "trip", "zone": "kitchen", "payload": reset}, time.time()))
            await notifier.wait_idle()
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        engine.dispose()
    return latencies


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trips", type=int, default=30)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("mail.log").setLevel(logging.ERROR)  # aiosmtpd warns about AUTH without TLS on loopback
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, authenticator=_auth, auth_require_tls=False)
    controller.start()
    try:
        with tempfile.TemporaryDirectory() as folder:
            latencies = asyncio.run(measure(args.trips, port, inbox, Path(folder)))
    finally:
        controller.stop()
    ms = sorted(x * 1000 for x in latencies)
    result = {
        "trips": len(ms),
        "p50_ms": round(statistics.median(ms), 1),
        "p95_ms": round(ms[max(0, int(len(ms) * 0.95) - 1)], 1),
        "max_ms": round(ms[-1], 1),
        "target_ms": 5000,
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(
            f"trip on the bus -> first e-mail accepted by SMTP: p50 {result['p50_ms']} ms, "
            f"p95 {result['p95_ms']} ms, max {result['max_ms']} ms over {result['trips']} trips (target 5000 ms)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
