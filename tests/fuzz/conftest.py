"""Bad input against a live app: the API with a running safety pipeline, on its own SQLite file.

``fuzz_live`` is built once per module (fuzzing many requests against one service is the point);
``live`` once per test. Users of every role are made, password hashing is made cheap, and the login
limit is raised so generated logins do not lock the fuzzer's own sign-in out.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient

import gasguard.auth.passwords as passwords
from gasguard.actuators.simulated import SimulatedValve
from gasguard.auth import Role, create_user
from gasguard.runtime import build_runtime
from gasguard.services import build_services
from gasguard.storage.migrate import upgrade_to_head
from gasguard.web import create_app
from gasguard.web.testing import NOW, PASSWORD, FakeClock, make_settings
from live_harness import LiveHarness, make_test_site


@pytest.fixture(scope="session")
def fuzz_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("fuzz-template") / "api.db"
    upgrade_to_head(f"sqlite:///{path}")
    return path


def _live(folder: Path, template: Path) -> Iterator[LiveHarness]:
    cheap = pytest.MonkeyPatch()
    cheap.setattr(passwords, "_hasher", PasswordHasher(time_cost=1, memory_cost=256, parallelism=1))
    shutil.copyfile(template, folder / "api.db")
    clock = FakeClock()
    services = build_services(make_settings(folder, login_max_failures=100), clock=clock)
    with services.session_factory() as session, session.begin():
        for name, role in (("ada", Role.ADMIN), ("otto", Role.OPERATOR), ("vera", Role.VIEWER)):
            create_user(session, username=name, password=PASSWORD, role=role, now=NOW - 100)
    site = make_test_site()
    valves = {v.id: SimulatedValve(v.id, travel_time_s=0.0) for _, zone in site.zones() for v in zone.valves}
    runtime = build_runtime(site, services, valves=dict(valves), clock=clock)
    app = create_app(services.settings, services)
    try:
        with TestClient(app) as client:
            yield LiveHarness(client=client, services=services, clock=clock, runtime=runtime, valves=valves)
    finally:
        services.dispose()
        cheap.undo()


@pytest.fixture(scope="module")
def fuzz_live(tmp_path_factory: pytest.TempPathFactory, fuzz_template: Path) -> Iterator[LiveHarness]:
    """The API with a live runtime on ``live_harness.TEST_SITE``, shared by one test module."""
    yield from _live(tmp_path_factory.mktemp("fuzz"), fuzz_template)


@pytest.fixture
def live(tmp_path: Path, fuzz_template: Path) -> Iterator[LiveHarness]:
    """The same, fresh for one test."""
    yield from _live(tmp_path, fuzz_template)
