"""The database goes away under a running GasGuard, then comes back.

The outage is made at the database layer: every SQL statement through the service's engine fails
while the switch is down (as with a stopped server or a full disk), whoever sends it. The outages
here last about a second, not 30: what must survive an outage is decided by how many readings arrive
during it, not by how long it lasts (the writer keeps ``reading_buffer_max`` readings, however long it
takes), so 600 and 1,500 readings in one second prove what 30 seconds at 20 and 50 readings/s would.
The writer's retry backoff (0.5 s doubling to 30 s) only changes how soon after a long outage the
buffer is written.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import Engine, event, select
from sqlalchemy.exc import OperationalError

from faults.helpers import channel, commission, eventually, running, site, submit, valve_state, zone
from gasguard.actuators.simulated import SimulatedValve
from gasguard.auth import Role, create_user
from gasguard.domain import Reading
from gasguard.storage.engine import create_engine_for
from gasguard.storage.models import EventRow, ReadingRow
from gasguard.web import create_app
from gasguard.web.testing import PASSWORD

BUFFER = 1_000  # the smallest reading_buffer_max the settings allow
STORAGE = {"reading_buffer_max": BUFFER, "reading_batch_size": 100, "reading_flush_interval_s": 0.05}


class DatabaseSwitch:
    """Makes every statement through ``engine`` fail while ``down``."""

    def __init__(self, engine: Engine) -> None:
        self.down = False
        event.listen(engine, "before_cursor_execute", self._check)

    def _check(self, *_args: Any, **_kwargs: Any) -> None:
        if self.down:
            raise OperationalError("SELECT", {}, ConnectionRefusedError("database server unavailable"))


@pytest.fixture
def plant() -> Iterator[tuple[Any, dict[str, SimulatedValve]]]:
    config = site({"kitchen": {"channels": [channel("k1"), channel("k2")], "valves": [{"id": "kv"}]}})
    yield config, {"kv": SimulatedValve("kv", travel_time_s=0.0)}


async def _get(app: FastAPI, path: str, headers: dict[str, str] | None = None) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gasguard") as client:
        return await client.get(path, headers=headers)


async def _sign_in(app: FastAPI, runtime: Any) -> dict[str, str]:
    """An operator's token, taken before the outage: health details are for signed-in people, and stay
    visible to a token checked shortly before the database went away."""
    with runtime.services.session_factory() as session, session.begin():
        create_user(session, username="otto", password=PASSWORD, role=Role.OPERATOR, now=time.time())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gasguard") as client:
        response = await client.post("/api/v1/auth/login", json={"username": "otto", "password": PASSWORD})
    headers = {"Authorization": f"Bearer {response.json()['access_token']}"}
    await _get(app, "/api/v1/health", headers)  # the token checked once while the database answers
    return headers


async def _health(app: FastAPI, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    """What the operator's health screen shows: ``GET /api/v1/health`` with details (the app's background
    tasks run beside it)."""
    response = await _get(app, "/api/v1/health", headers)
    return response.status_code, response.json()


def _stored(url: str) -> tuple[list[float], list[tuple[str, str | None, float]]]:
    engine = create_engine_for(url)
    try:
        with engine.connect() as connection:
            values = [float(v) for v in connection.execute(select(ReadingRow.value).order_by(ReadingRow.id)).scalars()]
            events = [(r.kind, r.source, r.ts) for r in connection.execute(select(EventRow))]
    finally:
        engine.dispose()
    return values, events


def test_an_outage_within_the_buffer_loses_nothing_and_the_valve_still_closes(
    plant: tuple[Any, dict[str, SimulatedValve]], database_url: str, tmp_path: Path
) -> None:
    config, valves = plant
    published: list[dict[str, Any]] = []

    async def scenario() -> None:
        async with running(config, database_url, tmp_path, valves=valves, **STORAGE) as runtime:
            switch = DatabaseSwitch(runtime.services.engine)
            app = create_app(runtime.services.settings, runtime.services)
            otto = await _sign_in(app, runtime)
            await commission(runtime)
            feed = runtime.bus.subscribe(topics=("trip", "valve_command", "alarm", "valve"))
            outage_from = time.time()  # the runtime's clock: events from here on happen during the outage
            switch.down = True
            await submit(runtime, *(Reading("k1", 100.0 + i, 1.0 + i) for i in range(600)))
            await submit(runtime, Reading("k2", 15_000.0, 700.0))  # 30 % LEL: trip
            assert zone(runtime, "kitchen")["tripped"]
            await eventually(lambda: valve_state(runtime, "kv") == "closed", "the valve closed during the outage")
            await eventually(lambda: runtime.services.writer.health().failed_attempts > 0, "a failed write")
            status, health = await _health(app, otto)
            assert (status, health["status"]) == (503, "down")
            assert health["components"]["database"]["status"] == "down"
            writer = health["components"]["reading_writer"]
            assert (writer["status"], writer["detail"]["buffered"], writer["detail"]["dropped"]) == ("degraded", 601, 0)
            # operators still saw the trip live, marked as not yet stored
            while feed.pending():
                payload = feed.get_nowait().payload
                if payload["ts"] >= outage_from:  # not a commissioning event stored just before
                    published.append(payload)
            assert {"trip", "valve_command"} <= {p["kind"] for p in published}
            assert all(p["stored"] is False for p in published)

            switch.down = False
            await eventually(lambda: runtime.services.writer.health().buffered == 0, "the buffer written", 15)
            await eventually(lambda: runtime.services.recorder.pending == 0, "the kept events written", 15)
            status, health = await _health(app, otto)
            assert (status, health["status"]) == (200, "ok")

    asyncio.run(scenario())
    values, events = _stored(database_url)
    assert values == [100.0 + i for i in range(600)] + [15_000.0]
    assert {(p["kind"], p["source"], p["ts"]) for p in published} <= set(events)


def test_beyond_the_buffer_the_oldest_readings_go_and_health_says_so(
    plant: tuple[Any, dict[str, SimulatedValve]], database_url: str, tmp_path: Path
) -> None:
    config, valves = plant

    async def scenario() -> None:
        async with running(config, database_url, tmp_path, valves=valves, **STORAGE) as runtime:
            switch = DatabaseSwitch(runtime.services.engine)
            app = create_app(runtime.services.settings, runtime.services)
            otto = await _sign_in(app, runtime)
            await commission(runtime)
            health_feed = runtime.bus.subscribe(topics=("health",))
            switch.down = True
            await submit(runtime, *(Reading("k1", 100.0 + i, 1.0 + i) for i in range(BUFFER + 500)))
            status, health = await _health(app, otto)
            writer = health["components"]["reading_writer"]
            assert (status, writer["status"]) == (503, "down")
            assert (writer["detail"]["buffered"], writer["detail"]["dropped"]) == (BUFFER, 500)
            metrics = (await _get(app, "/metrics")).text.splitlines()
            assert "gasguard_readings_dropped 500.0" in metrics  # what a Prometheus alert rule would fire on
            # operators are told live (and in the event log once it can be written), not only monitoring
            async with asyncio.timeout(10):
                while True:
                    message = await health_feed.get()
                    if message.payload.get("source") == "reading_writer":
                        break
            assert message.payload["payload"] == {"component": "reading_writer", "status": "down", "dropped": 500}
            assert message.payload["reason"].startswith("readings lost")
            # the safety core does not care: gas still trips the zone and closes the valve
            await submit(runtime, Reading("k2", 15_000.0, 5_000.0))
            assert zone(runtime, "kitchen")["tripped"]
            await eventually(lambda: valve_state(runtime, "kv") == "closed", "the valve closed")

            switch.down = False
            await eventually(lambda: runtime.services.writer.health().buffered == 0, "the buffer written", 15)
            status, health = await _health(app, otto)
            writer = health["components"]["reading_writer"]
            assert (writer["status"], writer["detail"]["dropped"]) == ("ok", 501)

    asyncio.run(scenario())
    values, _ = _stored(database_url)
    # the newest BUFFER readings survive (the trip reading pushed out one more of the oldest)
    assert values == [100.0 + i for i in range(501, BUFFER + 500)] + [15_000.0]
