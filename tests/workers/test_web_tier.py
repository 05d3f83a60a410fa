"""A stateless web tier with real processes: ``gasguard serve --role worker`` owns the kitchen,
``gasguard serve --role web`` serves its live views from the plant read model it follows over the real
Mosquitto, on the real PostgreSQL. When the worker trips the kitchen, the web tier's zone, alarm and
valve views show it and its WebSocket pushes the trip; when the worker stops, the kitchen is shown
stale with the reason instead of as old data.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from gasguard.auth import Role, create_user
from gasguard.web.testing import PASSWORD
from workers.test_failover import Detector, Valve, Workers, _free_port, _lease, _wait, plant  # noqa: F401 (fixture)

pytestmark = [pytest.mark.server, pytest.mark.timeout(180)]


def _start_web(workers: Workers, port: int) -> subprocess.Popen[bytes]:
    log = (workers.folder / "web.log").open("wb")
    command = [sys.executable, "-m", "gasguard", "serve", "--role", "web", "--config", str(workers.site_file)]
    command += ["--port", str(port), "--no-migrate"]
    process = subprocess.Popen(command, env=workers.env, stdout=log, stderr=subprocess.STDOUT)
    workers.processes["web"] = process
    return process


def _get(base: str, path: str, token: str) -> Any:
    try:
        response = httpx.get(f"{base}{path}", headers={"Authorization": f"Bearer {token}"}, timeout=5)
    except httpx.HTTPError:
        return None
    return response.json() if response.status_code == 200 else None


async def _first_trip(url: str, token: str, trip: Any, within_s: float) -> dict[str, Any]:
    """Sign in on the live feed, take the snapshot, run ``trip`` and return the first ``trip`` message."""
    async with websockets.connect(url) as ws:
        await ws.send(json.dumps({"type": "auth", "token": token}))
        snapshot = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert snapshot["type"] == "snapshot"
        kitchen = snapshot["data"]["sites"][0]["zones"][0]
        assert (kitchen["id"], kitchen["tripped"]) == ("kitchen", False)
        await asyncio.to_thread(trip)
        deadline = time.monotonic() + within_s
        while time.monotonic() < deadline:
            message = json.loads(await asyncio.wait_for(ws.recv(), deadline - time.monotonic()))
            if message["type"] == "trip":
                return dict(message["data"])
    raise AssertionError("no trip pushed on the web tier's live feed")


def test_the_web_tier_shows_a_workers_trip_live_and_a_zone_without_owner_as_stale(
    plant: dict[str, Any],  # noqa: F811 (the fixture imported above)
    tmp_path: Path,
) -> None:
    engine: Engine = plant["engine"]
    workers: Workers = plant["workers"]
    detector: Detector = plant["detector"]
    valve: Valve = plant["valve"]
    with Session(engine) as session, session.begin():
        create_user(session, username="otto", password=PASSWORD, role=Role.OPERATOR, now=time.time())
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    try:
        worker = workers.start("worker-a")
        _wait(lambda: _lease(engine, "kitchen"), 30, "the worker to own the kitchen")
        _start_web(workers, port)
        login = _wait(lambda: _login(base), 30, "the web tier to answer a sign-in")
        token = str(login)

        # Live from the worker's heartbeat: healthy, valve open, nothing stale.
        def live_kitchen() -> dict[str, Any] | None:
            zone = _get(base, "/api/v1/zones/kitchen", token)
            return zone if zone and "stale" not in zone else None

        kitchen = _wait(live_kitchen, 20, "the kitchen live on the web tier")
        assert (kitchen["tripped"], kitchen["valves"][0]["state"]) == (False, "open")

        # 60 %LEL on kitchen-ch1: the worker trips the kitchen; the web tier pushes it and shows it.
        def gas() -> None:
            detector.publish("kitchen-ch1", 30_000, time.time())

        pushed = asyncio.run(_first_trip(f"ws://127.0.0.1:{port}/api/v1/ws", token, gas, 15))
        assert (pushed["zone"], pushed["kind"], pushed["payload"].get("tripped")) == ("kitchen", "trip", True)
        _wait(lambda: "CLOSE" in valve.since(0), 10, "CLOSE on the valve topic")
        tripped = _wait(
            lambda: (z := live_kitchen()) is not None and z["tripped"] and z, 10, "the tripped kitchen on the web tier"
        )
        assert tripped["status"] == "tripped"
        assert tripped["valves"][0]["state"] in ("closing", "closed")
        alarms = _get(base, "/api/v1/alarms?zone=kitchen", token)
        assert ("kitchen/kitchen-ch1/A2", "unacknowledged") in {(a["id"], a["state"]) for a in alarms}
        valves = _get(base, "/api/v1/valves", token)
        assert [(v["id"], v["zone"]) for v in valves] == [("kitchen-valve", "kitchen")]
        reading = _wait(
            lambda: next(
                (r for r in _get(base, "/api/v1/readings/latest", token) or [] if r["value"] == 30_000.0), None
            ),
            10,
            "the reading on the web tier",
        )
        assert reading["channel"] == "kitchen-ch1"

        # The worker stops: nobody publishes the kitchen any more, and the view says so.
        worker.terminate()
        worker.wait(timeout=20)
        stale = _wait(
            lambda: (z := _get(base, "/api/v1/zones/kitchen", token)) and z.get("stale"), 15, "the kitchen stale"
        )
        assert "nothing heard from the owner of zone kitchen" in stale["reason"]
        health = httpx.get(f"{base}/api/v1/health", headers={"Authorization": f"Bearer {token}"}, timeout=5).json()
        assert health["components"]["live_view"]["status"] == "degraded"
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{workers.logs()}") from None


def _login(base: str) -> str | None:
    try:
        response = httpx.post(f"{base}/api/v1/auth/login", json={"username": "otto", "password": PASSWORD}, timeout=5)
    except httpx.HTTPError:
        return None
    return str(response.json()["access_token"]) if response.status_code == 200 else None
