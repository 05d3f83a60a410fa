"""A ``gasguard demo`` run as a user runs it: a subprocess with a fresh home, read until it prints its
admin password. Shared by the command-line tests (demo, users, db)."""

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

READY_TIMEOUT_S = 60.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def pump(stream: object, lines: Queue[str]) -> None:
    for line in iter(stream.readline, ""):  # type: ignore[attr-defined]
        lines.put(line)


def clean_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment of a user with a fresh home and no GASGUARD_* settings (plus ``extra``)."""
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("GASGUARD_")},
        "HOME": str(home),
        "XDG_DATA_HOME": str(home / "share"),
        "XDG_CACHE_HOME": str(home / "cache"),
        "PYTHONUNBUFFERED": "1",
        **extra,
    }


class RunningDemo:
    """``gasguard demo`` in a subprocess, read until it prints its admin password."""

    def __init__(self, args: list[str], env: dict[str, str], cwd: Path) -> None:
        self.port = free_port()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gasguard", "demo", "--port", str(self.port), *args],
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.lines: Queue[str] = Queue()
        self.output: list[str] = []
        threading.Thread(target=pump, args=(self.process.stdout, self.lines), daemon=True).start()
        self.password = self._read_password()
        self.base = f"http://127.0.0.1:{self.port}"

    def _read_password(self) -> str:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=1.0)
            except Empty:
                assert self.process.poll() is None, "demo exited early:\n" + "".join(self.output)
                continue
            self.output.append(line)
            match = re.search(r"sign in as: admin / (\S+)", line)
            if match:
                return match.group(1)
        raise AssertionError("demo did not print the admin credentials:\n" + "".join(self.output))

    def stop(self, sig: int = signal.SIGINT) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            return self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            raise


def login(client: httpx.Client, password: str) -> dict[str, str]:
    response = client.post("/api/v1/auth/login", json={"username": "admin", "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}
