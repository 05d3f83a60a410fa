"""``gasguard demo`` as a user runs it: a subprocess that serves, closes the kitchen valve, and stops cleanly;
a second one on the same data folder refused without touching the first; the storyline in its order."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from queue import Empty, Queue
from typing import Any

import httpx
import pytest

from demo_harness import READY_TIMEOUT_S, RunningDemo, clean_env, free_port, login, pump

STORY_TIMEOUT_S = 120.0


@pytest.mark.timeout(300)
def test_demo_serves_closes_the_kitchen_valve_by_itself_and_stops_cleanly(tmp_path: Path, shared_data: Path) -> None:
    replay = shared_data / "multimodalgasdata" / "Gas_Sensors_Measurements.csv"
    data, home, cwd = tmp_path / "data", tmp_path / "home", tmp_path / "cwd"
    home.mkdir()
    cwd.mkdir()
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("GASGUARD_")},
        "HOME": str(home),
        "XDG_DATA_HOME": str(home / "share"),
        "XDG_CACHE_HOME": str(home / "cache"),
        "PYTHONUNBUFFERED": "1",
    }
    started = time.monotonic()
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "gasguard", "demo", "--speed", "20", "--port", str(port)),
            *("--data-dir", str(data), "--replay", str(replay)),
        ],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines: Queue[str] = Queue()
    threading.Thread(target=pump, args=(process.stdout, lines), daemon=True).start()
    output: list[str] = []
    try:
        password = None
        while password is None and time.monotonic() - started < READY_TIMEOUT_S:
            try:
                line = lines.get(timeout=1.0)
            except Empty:
                assert process.poll() is None, "demo exited early:\n" + "".join(output)
                continue
            output.append(line)
            match = re.search(r"sign in as: admin / (\S+)", line)
            if match:
                password = match.group(1)
        assert password, "demo did not print the admin credentials:\n" + "".join(output)
        assert password not in ("admin", "password", "changeme")

        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base, timeout=10.0) as client:
            assert client.get("/api/v1/health").status_code == 200
            ready_s = time.monotonic() - started
            login = client.post("/api/v1/auth/login", json={"username": "admin", "password": password})
            assert login.status_code == 200
            auth = {"Authorization": f"Bearer {login.json()['access_token']}"}

            automatic_close = None
            deadline = time.monotonic() + STORY_TIMEOUT_S
            while automatic_close is None and time.monotonic() < deadline:
                page = client.get(
                    "/api/v1/events", params={"kind": "valve_command", "zone": "kitchen", "limit": 200}, headers=auth
                )
                assert page.status_code == 200
                for event in page.json()["events"]:
                    if event["payload"]["action"] == "close" and "A2" in event["reason"]:
                        automatic_close = event
                time.sleep(1.0)
            assert automatic_close is not None, "the storyline never closed the kitchen valve on gas"
            assert automatic_close["source"] == "kitchen-valve"
            assert automatic_close["actor"] is None  # the safety core acted, not a person

            # The replayed real sensor array is classified live by the shipped gas-type model.
            array = client.get("/api/v1/zones/array", headers=auth).json()
            assert array["identification"]["model"] == "gas_classifier_multimodal"
            assert array["identification"]["gas"] in {"NoGas", "Perfume", "Smoke", "Mixture"}
            assert 0.0 <= array["identification"]["confidence"] <= 1.0
            assert {c["id"] for c in array["channels"]} >= {"array-mq2", "array-mq135"}

            operator = client.get("/api/v1/events", params={"kind": "operator", "limit": 50}, headers=auth).json()
            assert any(
                e["actor"] == "demo-operator" and e["reason"].startswith("demo script:") for e in operator["events"]
            )
        print(f"demo answered /api/v1/health {ready_s:.1f} s after start")
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            raise
    assert process.returncode == 0, "".join(output)
    with pytest.raises(ProcessLookupError):
        os.killpg(process.pid, 0)  # nothing of the demo's process group is left running
    assert list(cwd.iterdir()) == []
    leftovers = sorted(p.name for p in home.rglob("*") if p.is_file())
    assert leftovers == [], leftovers
    assert {p.name for p in data.iterdir()} <= {
        "gasguard.db",  # the same name serve uses, so GASGUARD_DATA_DIR reaches the demo's accounts
        "gasguard.db-wal",
        "gasguard.db-shm",
        "gasguard.lock",  # the data-folder lock (free now: nobody holds it once the demo has stopped)
        "secret_key",
        "cache",  # libraries' caches (onnxruntime's device id), kept inside the demo folder
    }


# --------------------------------------------------------------------------- a demo per data folder


def admin_audit(client: httpx.Client, auth: dict[str, str]) -> list[dict[str, Any]]:
    page = client.get("/api/v1/events", params={"kind": "audit", "limit": 500}, headers=auth)
    assert page.status_code == 200, page.text
    return [e for e in page.json()["events"] if e["source"] == "user:admin"]


def folder_state(folder: Path) -> dict[str, tuple[int, int]]:
    """Size and modification time of every file in the folder but the lock (to prove nothing was written)."""
    return {
        p.name: (p.stat().st_size, p.stat().st_mtime_ns)
        for p in folder.iterdir()
        if p.is_file() and p.name != "gasguard.lock"
    }


@pytest.mark.timeout(180)
def test_a_second_gasguard_on_the_demos_folder_is_refused_and_the_first_demo_keeps_its_admin(tmp_path: Path) -> None:
    from gasguard.config import example_config_path

    data, home, cwd = tmp_path / "demo data", tmp_path / "home", tmp_path / "cwd"
    home.mkdir()
    cwd.mkdir()
    # The first demo finds its folder through GASGUARD_DATA_DIR, as the README documents for every command.
    first = RunningDemo([], clean_env(home, GASGUARD_DATA_DIR=str(data)), cwd)
    second_port = free_port()
    try:
        assert (data / "gasguard.db").is_file()
        with httpx.Client(base_url=first.base, timeout=10.0) as client:
            assert client.get("/api/v1/health").status_code == 200
            auth = login(client, first.password)
            audit_before = admin_audit(client, auth)
            assert [e["payload"]["action"] for e in audit_before] == ["user.create"]
            assert audit_before[0]["actor"] == "gasguard-demo"
            # The storyline writes the database all the time, so its contents are checked through the API
            # below; here: no new file (no second database) and the secret key untouched.
            before = folder_state(data)

            attempts = {
                "demo --data-dir": [
                    *("demo", "--data-dir", str(data), "--port", str(second_port)),
                ],
                "demo with GASGUARD_DATA_DIR": ["demo", "--port", str(second_port)],
                "serve": ["serve", "--config", str(example_config_path()), "--port", str(second_port)],
            }
            for name, args in attempts.items():
                started = time.monotonic()
                refused = subprocess.run(
                    [sys.executable, "-m", "gasguard", *args],
                    cwd=cwd,
                    env=clean_env(home, GASGUARD_DATA_DIR=str(data)),
                    capture_output=True,
                    text=True,
                    timeout=60,
                )
                assert refused.returncode != 0, f"{name}: {refused.stdout}{refused.stderr}"
                expected = f"data folder {data} is in use by gasguard demo (pid {first.process.pid}, port {first.port})"
                assert expected in refused.stderr, f"{name}: {refused.stderr}"
                assert "stop it first or" in refused.stderr
                assert "Traceback" not in refused.stderr
                assert time.monotonic() - started < 30
                with pytest.raises(httpx.ConnectError):  # it never listened
                    httpx.get(f"http://127.0.0.1:{second_port}/api/v1/health", timeout=2.0)

            # The first demo's admin: same password, same session, no new audit entry for the account.
            assert client.get("/api/v1/zones", headers=auth).status_code == 200
            login(client, first.password)
            assert [e["id"] for e in admin_audit(client, auth)] == [e["id"] for e in audit_before]
            assert folder_state(data).keys() == before.keys()
            assert (data / "secret_key").stat().st_mtime_ns == before["secret_key"][1]
    finally:
        # A crash (no orderly shutdown) must free the folder too: the operating system drops the lock.
        first.stop(signal.SIGKILL)

    again = RunningDemo(["--data-dir", str(data)], clean_env(home), cwd)
    try:
        with httpx.Client(base_url=again.base, timeout=10.0) as client:
            auth = login(client, again.password)
            resets = [e for e in admin_audit(client, auth) if e["payload"]["action"] == "user.password_reset"]
            assert len(resets) == 1, "the owner's password reset is one audit event"
            assert resets[0]["actor"] == "gasguard-demo"
            assert resets[0]["payload"]["pid"] == again.process.pid
            assert "sessions were ended" in str(resets[0]["reason"])
            assert (
                client.post("/api/v1/auth/login", json={"username": "admin", "password": first.password}).status_code
                == 401
            )
    finally:
        assert again.stop() == 0, "".join(again.output)


# --------------------------------------------------------------------------- the storyline


Event = dict[str, Any]
EventTest = Callable[[Event], bool]


def kitchen_events(client: httpx.Client, auth: dict[str, str]) -> list[Event]:
    page = client.get("/api/v1/events", params={"zone": "kitchen", "limit": 1000}, headers=auth)
    assert page.status_code == 200, page.text
    return sorted(page.json()["events"], key=lambda e: (e["ts"], e["id"]))


def first_index(events: list[Event], after: int, test: EventTest) -> int | None:
    """Index of the first event after ``after`` that passes ``test``."""
    return next((i for i in range(after + 1, len(events)) if test(events[i])), None)


def is_alarm(level: str) -> EventTest:
    """A new alarm of ``level`` (raised, not yet acknowledged)."""
    return lambda e: (
        e["kind"] == "alarm" and e["payload"]["level"] == level and e["payload"]["state"] == "unacknowledged"
    )


def is_operator(action: str, accepted: bool) -> EventTest:
    return lambda e: (
        e["kind"] == "operator" and e["payload"]["action"] == action and e["payload"]["accepted"] is accepted
    )


@pytest.mark.timeout(180)
def test_the_storyline_shows_a1_then_a2_and_the_valve_closing_before_the_operator_resets_and_reopens(
    tmp_path: Path,
) -> None:
    """The README's promise, in the audit log of a fast demo: the first leak is caught by the detectors
    (A1, A2, the valve closing by itself), not by the camera; the scripted operator acknowledges, resets
    once (accepted: it waits for the gas to clear) and reopens."""
    home, cwd = tmp_path / "home", tmp_path / "cwd"
    home.mkdir()
    cwd.mkdir()
    demo = RunningDemo(["--speed", "20", "--data-dir", str(tmp_path / "data")], clean_env(home), cwd)
    try:
        with httpx.Client(base_url=demo.base, timeout=10.0) as client:
            auth = login(client, demo.password)
            deadline = time.monotonic() + STORY_TIMEOUT_S
            while True:
                events = kitchen_events(client, auth)
                a1 = first_index(events, -1, is_alarm("A1"))
                reopened = None if a1 is None else first_index(events, a1, is_operator("open", True))
                if reopened is not None:
                    break
                assert time.monotonic() < deadline, "the first kitchen leak never ended in a reopen"
                time.sleep(1.0)
    finally:
        assert demo.stop() == 0, "".join(demo.output)

    assert a1 is not None
    a2 = first_index(events, a1, is_alarm("A2"))
    assert a2 is not None, "no A2 after the A1 warning"
    trip_changes = [i for i, e in enumerate(events) if e["kind"] == "trip"]
    before_a2 = [i for i in trip_changes if i < a2]
    assert not before_a2 or not events[before_a2[-1]]["payload"]["tripped"], (
        f"the kitchen was already tripped when A2 came: {events[before_a2[-1]]['reason']}"
    )
    tripped = first_index(events, a2, lambda e: e["kind"] == "trip")
    assert tripped is not None and events[tripped]["payload"]["tripped"]
    assert "A2" in str(events[tripped]["reason"])
    close = first_index(events, a1, lambda e: e["kind"] == "valve_command" and e["payload"]["action"] == "close")
    assert close is not None and close > a2
    assert "A2" in str(events[close]["reason"]) and events[close]["actor"] is None  # the core closed it, not a person
    reset = first_index(events, close, is_operator("reset", True))
    assert reset is not None and reset < reopened, "the valve was reopened before the zone was reset"
    camera = first_index(events, a1, is_alarm("ML"))
    assert camera is None or camera > close, "the camera signalled before the threshold path closed the valve"
    refused = [e for e in events[a1:reopened] if e["kind"] == "operator" and not e["payload"]["accepted"]]
    assert refused == [], f"the scripted operator was refused: {[e['payload'] for e in refused]}"
    acks = [e for e in events[a1:reset] if is_operator("ack", True)(e)]
    assert acks, "the operator resets without having acknowledged the alarms"
    for event in (events[reset], events[reopened]):
        assert event["actor"] == "demo-operator" and str(event["reason"]).startswith("demo script:")
