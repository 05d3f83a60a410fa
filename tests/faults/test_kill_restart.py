"""``kill -9`` of ``gasguard serve`` in the middle of a trip, then a restart on the same database.

A real service process (the command an installation runs) on a SQLite file: commissioned through the
API, tripped by a device's reading, killed with SIGKILL (no shutdown step, nothing flushed) as soon as
the API shows the trip, and started again. The simulated valve of the new process starts open (it has
no memory), so "the valve stays closed" means: the restored core commands it closed at once and never
open, and the API shows it closed and the zone tripped, its alarm latched.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from faults.helpers import channel
from gasguard.auth import Role
from gasguard.benchmarks.service import ServiceProcess, prepare_database

pytestmark = pytest.mark.slow  # about 15 s: two real service start-ups (imports, migrations check, sign-ins)

ADMIN, OPERATOR, PASSWORD = "ada", "otto", "kill-nine-test-password"
SITE = {
    "sites": [
        {
            "id": "plant",
            "zones": [
                {
                    "id": "kitchen",
                    "channels": [channel("k1"), channel("k2")],
                    "valves": [{"id": "kv", "travel_time_s": 1}],
                }
            ],
        }
    ]
}


def _wait(what: str, condition: Callable[[], bool], timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {timeout_s:g} s waiting for {what}")
        time.sleep(0.05)


class Api:
    """The service's REST API as an operator and a device (the admin) use it."""

    def __init__(self, service: ServiceProcess) -> None:
        self.client = httpx.Client(base_url=service.url, timeout=10.0)
        self.operator = {"Authorization": f"Bearer {service.login(OPERATOR, PASSWORD)}"}
        self.device = {"Authorization": f"Bearer {service.login(ADMIN, PASSWORD)}"}

    def zone(self) -> dict[str, Any]:
        response = self.client.get("/api/v1/zones/kitchen", headers=self.operator)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def valve(self) -> str:
        return str(self.zone()["valves"][0]["state"])

    def post(self, path: str, body: dict[str, Any], expected: int = 200) -> None:
        response = self.client.post(path, json=body, headers=self.operator)
        assert response.status_code == expected, response.text

    def reading(self, channel_id: str, ppm: float) -> None:
        body = {"channel": channel_id, "ts": time.time(), "value": ppm}
        response = self.client.post("/api/v1/ingest/readings", json=body, headers=self.device)
        assert response.status_code == 202, response.text

    def events(self) -> list[dict[str, Any]]:
        response = self.client.get("/api/v1/events", params={"limit": 1000}, headers=self.operator)
        assert response.status_code == 200, response.text
        events: list[dict[str, Any]] = response.json()["events"]
        return events


@pytest.fixture
def service(tmp_path: Path, database_url: str) -> Iterator[ServiceProcess]:
    prepare_database(database_url, {ADMIN: (PASSWORD, Role.ADMIN), OPERATOR: (PASSWORD, Role.OPERATOR)})
    process = ServiceProcess(tmp_path, SITE, database_url)
    try:
        yield process
    finally:
        process.stop()


def test_kill_9_during_a_trip_keeps_the_valve_closed_the_alarm_latched_and_every_event(
    service: ServiceProcess,
) -> None:
    service.start()
    api = Api(service)
    _wait("the cold-start close", lambda: api.valve() == "closed")
    api.post("/api/v1/zones/kitchen/reset", {"reason": "commissioning"})
    api.post("/api/v1/valves/kv/open", {"reason": "commissioning"})
    _wait("the valve open", lambda: api.valve() == "open")

    api.reading("k1", 15_000.0)  # 30 % LEL: trip
    _wait("the trip", lambda: api.zone()["tripped"])
    _wait("the trip stored", lambda: {"trip", "valve_command"} <= {e["kind"] for e in api.events()})
    before = api.events()
    service.kill()

    service.start()
    api = Api(service)
    zone = api.zone()
    assert zone["tripped"] is True
    assert zone["trip_cause"].startswith("1 of 1 required votes: k1 30.0% LEL")
    a2 = next(a for a in zone["alarms"] if a["id"] == "kitchen/k1/A2")
    assert (a2["latched"], a2["acked"]) == (True, False)
    _wait("the valve closed", lambda: api.valve() == "closed")
    after = api.events()
    assert {e["id"] for e in before} <= {e["id"] for e in after}, "events stored before the kill are gone"
    restart_commands = [e for e in after if e["id"] > max(e["id"] for e in before) and e["kind"] == "valve_command"]
    assert restart_commands, "the restored trip re-asserts close"
    assert {e["payload"]["action"] for e in restart_commands} == {"close"}
    # the latch holds: reopening is refused until an operator resets the zone
    api.post("/api/v1/valves/kv/open", {"reason": "try to reopen"}, expected=409)
