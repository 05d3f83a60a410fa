"""``gasguard demo`` as a user runs it: a subprocess that serves, closes the kitchen valve, and stops cleanly."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from queue import Empty, Queue

import httpx
import pytest

READY_TIMEOUT_S = 60.0
STORY_TIMEOUT_S = 120.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def pump(stream: object, lines: Queue[str]) -> None:
    for line in iter(stream.readline, ""):  # type: ignore[attr-defined]
        lines.put(line)


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
        "gasguard-demo.db",
        "gasguard-demo.db-wal",
        "gasguard-demo.db-shm",
        "secret_key",
        "cache",  # libraries' caches (onnxruntime's device id), kept inside the demo folder
    }
