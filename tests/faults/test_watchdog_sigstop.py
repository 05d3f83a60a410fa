"""A frozen ``gasguard serve`` is caught outside the process: the I/O module's watchdog closes the valve.

A real service process runs a site whose gas valve and system-failure relay sit on a Modbus TCP I/O
module: the pymodbus simulator device of ``modbus_fake``, run in a thread of this test, with a
communication watchdog of ``WATCHDOG_S`` (no write for that long: every coil drops, the valve closes).
The service is commissioned through its API (reset, open), then frozen with ``SIGSTOP``:

- within the watchdog time the module drops the valve coil (the valve closes) and the fault relay;
- systemd's watchdog pings (``NOTIFY_SOCKET``, read here) stop while it is frozen;
- after ``SIGCONT`` the zone is tripped with the cause "kv closed by its watchdog: GasGuard stopped
  answering for N s", N the measured gap, and the valve coil is never energised again by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from faults.helpers import channel
from gasguard.benchmarks.service import ServiceProcess
from modbus_fake import FakeModbusDevice, FakeUnit, FakeValve

log = logging.getLogger(__name__)

pytestmark = pytest.mark.slow  # about 20 s: a real service start-up, a freeze past the watchdog, a thaw

ADMIN, PASSWORD = "ada", "watchdog-proof-test-password"
HEARTBEAT_S = 0.8
WATCHDOG_S = 3 * HEARTBEAT_S  # the module's watchdog, set to three heartbeats as docs/watchdog.md says
VALVE_COIL, RELAY_COIL, RELAY_HEARTBEAT_COIL = 0, 1, 5
OPEN_INPUT, CLOSED_INPUT = 10, 11


def site(port: int) -> dict[str, Any]:
    module = {"kind": "modbus", "host": "127.0.0.1", "port": port, "timeout_s": 0.5}
    return {
        "sites": [
            {
                "id": "plant",
                "zones": [
                    {
                        "id": "kitchen",
                        "channels": [channel("k1"), channel("k2")],
                        "valves": [
                            {
                                "id": "kv",
                                "travel_time_s": 2,
                                "driver": {
                                    **module,
                                    "coil": VALVE_COIL,
                                    "feedback_open_input": OPEN_INPUT,
                                    "feedback_closed_input": CLOSED_INPUT,
                                    "poll_s": 0.2,
                                    "heartbeat_s": HEARTBEAT_S,  # no heartbeat coil: the valve coil is re-written
                                },
                            }
                        ],
                    }
                ],
                "outputs": [
                    {
                        "id": "system-fault",
                        "kind": "fault_relay",
                        "normally_energised": True,
                        "driver": {
                            **module,
                            "coil": RELAY_COIL,
                            "heartbeat_coil": RELAY_HEARTBEAT_COIL,
                            "heartbeat_s": HEARTBEAT_S,
                        },
                    }
                ],
            }
        ]
    }


class ModuleThread:
    """The simulated I/O module, served from its own thread and event loop for the whole test."""

    def __init__(self) -> None:
        self.device = FakeModbusDevice(units=(1,))
        self.unit: FakeUnit = self.device.unit(1)
        self.unit.watchdog_s = WATCHDOG_S
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fake-io-module", daemon=True)

    def __enter__(self) -> ModuleThread:
        self._thread.start()
        self.call(self.device.start)
        self.valve = FakeValve(self.unit, VALVE_COIL, OPEN_INPUT, CLOSED_INPUT, travel_s=0.3)
        return self

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(Exception):
            self.call(self.device.stop)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)

    def call(self, coroutine: Callable[[], Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine(), self._loop).result(timeout=10)

    def coil(self, address: int) -> bool:
        return bool(self.unit.coils.get(address, False))


class Systemd:
    """Stands in for systemd's notify socket: collects what the service says, with arrival times."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.05)
        self.messages: list[tuple[float, str]] = []

    def poll(self) -> list[tuple[float, str]]:
        while True:
            try:
                data = self.sock.recv(4096)
            except (TimeoutError, BlockingIOError):
                return self.messages
            self.messages.append((time.monotonic(), data.decode()))

    def said(self, what: str, after: float = 0.0) -> list[float]:
        return [t for t, message in self.poll() if message == what and t >= after]

    def close(self) -> None:
        self.sock.close()


def wait(what: str, condition: Callable[[], bool], timeout_s: float = 20.0, every_s: float = 0.02) -> float:
    """Wait for ``condition``; returns when it held (``time.monotonic``)."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {timeout_s:g} s waiting for {what}")
        time.sleep(every_s)
    return time.monotonic()


def create_admin(database_url: str, tmp_path: Path) -> None:
    """``gasguard users create``, as an installer makes the first admin."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GASGUARD_")}
    env["GASGUARD_DATA_DIR"] = str(tmp_path / "data")
    done = subprocess.run(
        [
            *(sys.executable, "-m", "gasguard", "users", "create", "--username", ADMIN, "--role", "admin"),
            *("--password-stdin", "--database-url", database_url),
        ],
        input=f"{PASSWORD}\n",
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.fixture
def module() -> Iterator[ModuleThread]:
    with ModuleThread() as running:
        yield running


@pytest.fixture
def systemd() -> Iterator[Systemd]:
    with tempfile.TemporaryDirectory(prefix="gg-notify-") as folder:  # short: a socket path has 107 bytes
        notify = Systemd(Path(folder) / "notify.sock")
        try:
            yield notify
        finally:
            notify.close()


def test_watchdog_sigstop_drops_the_valve_and_fault_relay_and_sigcont_trips_the_zone_with_the_cause(
    tmp_path: Path, database_url: str, module: ModuleThread, systemd: Systemd
) -> None:
    create_admin(database_url, tmp_path)
    env = {"NOTIFY_SOCKET": str(systemd.path), "WATCHDOG_USEC": "1000000"}  # systemd's WatchdogSec=1
    service = ServiceProcess(tmp_path / "service", site(module.device.port), database_url, extra_env=env)
    try:
        service.start()
        wait("READY=1 to systemd", lambda: bool(systemd.said("READY=1")))
        api = httpx.Client(base_url=service.url, timeout=10.0)
        api.headers["Authorization"] = f"Bearer {service.login(ADMIN, PASSWORD)}"

        def zone() -> dict[str, Any]:
            response = api.get("/api/v1/zones/kitchen")
            assert response.status_code == 200, response.text
            body: dict[str, Any] = response.json()
            return body

        def operate(path: str, expected: int = 200) -> None:
            response = api.post(path, json={"reason": "commissioning"})
            assert response.status_code == expected, response.text

        # commissioning: the cold start closed the valve; reset and reopen it
        wait("the cold-start close", lambda: zone()["valves"][0]["state"] == "closed")
        operate("/api/v1/zones/kitchen/reset")
        operate("/api/v1/valves/kv/open")
        wait("the valve open", lambda: zone()["valves"][0]["state"] == "open" and module.valve.is_open)
        wait("the fault relay energised (healthy)", lambda: module.coil(RELAY_COIL))
        before = len(module.unit.coil_writes)
        wait("heartbeats reaching the module", lambda: len(module.unit.coil_writes) >= before + 4)
        assert module.unit.watchdog_fired == []
        pings_before = systemd.said("WATCHDOG=1")
        assert pings_before, "systemd was not pinged while the safety loop ticked"

        # freeze the whole process: nothing it runs can write to the module any more
        os.kill(service.pid, signal.SIGSTOP)
        stopped_at = time.monotonic()
        try:
            valve_dropped = wait("the valve coil dropped", lambda: not module.coil(VALVE_COIL), 10) - stopped_at
            relay_dropped = wait("the fault relay dropped", lambda: not module.coil(RELAY_COIL), 10) - stopped_at
            closed = wait("the valve closed", lambda: module.valve.is_closed, 10) - stopped_at
            time.sleep(1.0)  # frozen a while longer, as a stuck process would be
            frozen_pings = systemd.said("WATCHDOG=1", after=stopped_at + 0.1)
        finally:
            os.kill(service.pid, signal.SIGCONT)
        resumed_at = time.monotonic()
        writes_at_resume = len(module.unit.coil_writes)

        log.info(
            "watchdog T=%.1f s: valve coil dropped %.2f s after SIGSTOP, fault relay %.2f s, valve closed %.2f s; "
            "frozen %.2f s",
            WATCHDOG_S,
            valve_dropped,
            relay_dropped,
            closed,
            resumed_at - stopped_at,
        )
        assert valve_dropped <= WATCHDOG_S + 0.2
        assert relay_dropped <= WATCHDOG_S + 0.2
        assert len(module.unit.watchdog_fired) == 1
        assert frozen_pings == [], "a frozen process must not ping systemd's watchdog"

        tripped = wait("the zone tripped with the watchdog cause", lambda: zone()["tripped"], 10) - resumed_at
        cause = zone()["trip_cause"]
        log.info("zone tripped %.2f s after SIGCONT: %r", tripped, cause)
        assert "kv closed by its watchdog: GasGuard stopped answering for" in cause
        found = re.search(r"stopped answering for (\d+) s", cause)
        assert found is not None
        assert WATCHDOG_S <= int(found.group(1)) + 0.5 <= resumed_at - stopped_at + HEARTBEAT_S + 1.5

        # nothing reopens by itself: the coil stays off through heartbeats and re-asserted closes
        wait("systemd pinged again", lambda: bool(systemd.said("WATCHDOG=1", after=resumed_at)), 10)
        time.sleep(3 * HEARTBEAT_S)
        assert module.coil(VALVE_COIL) is False and module.valve.is_closed
        after_resume = module.unit.coil_writes[writes_at_resume:]
        assert (VALVE_COIL, True) not in after_resume
        assert zone()["valves"][0]["state"] == "closed"
        operate("/api/v1/valves/kv/open", expected=409)  # latched: an operator must reset first
        assert zone()["tripped"] is True
    finally:
        service.stop()
