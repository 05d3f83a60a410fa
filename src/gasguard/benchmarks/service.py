"""``gasguard serve`` as a child process: started on a free port, watched, signalled, measured.

Used by the memory benchmark (resident memory of a real running service) and by the fault-injection
tests (``kill -9`` during a trip, then a restart on the same database). The database is prepared
first (migrated, users made) so the service starts with ``--no-migrate``, as an installed one would.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

from gasguard.auth import Role, create_user
from gasguard.benchmarks.live import BENCH_SECRET_KEY
from gasguard.storage.engine import create_engine_for, make_session_factory

STARTUP_TIMEOUT_S = 90.0
ADMIN = "bench-admin"
ADMIN_PASSWORD = "benchmark-admin-password-1"


class ServiceFailed(RuntimeError):
    """The service exited or did not answer; the message carries the end of its log."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def prepare_database(url: str, users: dict[str, tuple[str, Role]]) -> None:
    """Create users (name -> (password, role)) in an already migrated database."""
    engine = create_engine_for(url)
    try:
        factory = make_session_factory(engine)
        with factory() as session, session.begin():
            for name, (password, role) in users.items():
                create_user(session, username=name, password=password, role=role, now=time.time())
    finally:
        engine.dispose()


@dataclass
class ServiceProcess:
    """One ``gasguard serve`` child on ``database_url`` with ``site`` (a site file's content)."""

    root: Path
    site: dict[str, Any]
    database_url: str
    extra_env: dict[str, str] = field(default_factory=dict)
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.root / f"serve-{self.starts}.log"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GASGUARD_")}
        env.update(
            {
                "GASGUARD_DATA_DIR": str(self.root / "data"),
                "GASGUARD_DATABASE_URL": self.database_url,
                "GASGUARD_SECRET_KEY": BENCH_SECRET_KEY,
                **self.extra_env,
            }
        )
        return env

    def start(self, timeout_s: float = STARTUP_TIMEOUT_S) -> float:
        """Start and wait until it answers; returns the seconds it took."""
        self.root.mkdir(parents=True, exist_ok=True)
        site_file = self.root / "site.yaml"
        site_file.write_text(yaml.safe_dump(self.site, sort_keys=False), encoding="utf-8")
        self.port = free_port()
        self.starts += 1
        started = time.perf_counter()
        command = [sys.executable, "-m", "gasguard", "serve", "--config", str(site_file), "--no-migrate"]
        command += ["--host", "127.0.0.1", "--port", str(self.port), "--log-level", "warning"]
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                command,
                env=self._env(),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout_s
        with httpx.Client(base_url=self.url, timeout=5.0) as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise ServiceFailed(f"gasguard serve exited with {self.process.returncode}:\n{self.log_tail()}")
                try:
                    if client.get("/api/v1/health/live").status_code == 200:
                        return time.perf_counter() - started
                except httpx.TransportError:
                    pass
                time.sleep(0.1)
        self.stop()
        raise ServiceFailed(f"gasguard serve did not answer within {timeout_s:g} s:\n{self.log_tail()}")

    def kill(self) -> None:
        """``kill -9``: no shutdown step runs, nothing is flushed."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        """SIGTERM (orderly shutdown), SIGKILL if it does not end in 20 s."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.kill()

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")[-chars:]
        except OSError:
            return ""

    def login(self, username: str, password: str) -> str:
        response = httpx.post(f"{self.url}/api/v1/auth/login", json={"username": username, "password": password})
        if response.status_code != 200:
            raise ServiceFailed(f"login of {username} failed: {response.status_code} {response.text}")
        token: str = response.json()["access_token"]
        return token
