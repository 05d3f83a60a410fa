"""Fixtures for notification tests: a real SMTP server (aiosmtpd) and an HTTP server for ``json://``
webhooks on free ports of this machine, and a live app whose site file has notification routes, on a
fake clock (repeats, escalations and retries happen when a test moves the clock)."""

from __future__ import annotations

import http.server
import json
import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from argon2 import PasswordHasher
from fastapi.testclient import TestClient

import gasguard.auth.passwords as passwords
from gasguard.actuators.simulated import SimulatedValve
from gasguard.auth import Role, create_user
from gasguard.config import parse_site_config
from gasguard.notifications.service import attach_notifications
from gasguard.runtime import build_runtime
from gasguard.services import build_services
from gasguard.storage.migrate import upgrade_to_head
from gasguard.web import create_app
from gasguard.web.testing import NOW, PASSWORD, FakeClock, make_settings
from live_harness import TEST_SITE
from notify_helpers import ENV, PUBLIC_URL, NotifyHarness, SmtpServer, Webhooks, free_port


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    """A real SMTP server that wants SMTP_USER / SMTP_PASS (the values the routes read from the environment)."""
    server = SmtpServer(port=free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture
def smtp_down() -> Iterator[SmtpServer]:
    """A port with no SMTP server on it yet; ``start()`` brings one up there."""
    server = SmtpServer(port=free_port())
    yield server
    server.stop()


@pytest.fixture
def webhooks() -> Iterator[tuple[int, Webhooks]]:
    received = Webhooks()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            data = json.loads(self.rfile.read(length) or b"{}")
            with received._lock:
                received.bodies.append((self.path, data))
            self.send_response(200)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:  # keep the test output quiet
            return

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], received
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def migrated_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("notify-template") / "template.db"
    upgrade_to_head(f"sqlite:///{path}")
    return path


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(passwords, "_hasher", PasswordHasher(time_cost=1, memory_cost=256, parallelism=1))


MakeHarness = Callable[..., NotifyHarness]


@pytest.fixture
def make_harness(tmp_path: Path, migrated_db: Path) -> Iterator[MakeHarness]:
    """``make_harness(notifications={...})``: the test site with that notifications block, running."""
    stack: list[tuple[TestClient, Any]] = []

    def make(
        notifications: dict[str, Any], *, env: dict[str, str] | None = None, public_url: str = PUBLIC_URL
    ) -> NotifyHarness:
        data = yaml.safe_load(TEST_SITE)
        data["notifications"] = notifications
        site = parse_site_config(data, "test site")
        folder = tmp_path / f"app{len(stack)}"
        folder.mkdir()
        shutil.copyfile(migrated_db, folder / "api.db")
        clock = FakeClock()
        services = build_services(make_settings(folder, public_url=public_url), clock=clock)
        with services.session_factory() as session, session.begin():
            for name, role in (("ada", Role.ADMIN), ("otto", Role.OPERATOR), ("vera", Role.VIEWER)):
                create_user(session, username=name, password=PASSWORD, role=role, now=NOW - 100)
        valves = {v.id: SimulatedValve(v.id, travel_time_s=0.0) for _, zone in site.zones() for v in zone.valves}
        runtime = build_runtime(site, services, valves=dict(valves), clock=clock)
        notifier = attach_notifications(runtime, env=ENV if env is None else env, poll_s=3600.0)
        assert notifier is not None
        app = create_app(services.settings, services)
        client = TestClient(app)
        client.__enter__()
        stack.append((client, services))
        harness = NotifyHarness(
            client=client, services=services, clock=clock, runtime=runtime, valves=valves, notifier=notifier
        )
        return harness

    yield make
    for client, services in reversed(stack):
        client.__exit__(None, None, None)
        services.dispose()
