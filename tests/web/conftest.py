"""Each test gets its own app on its own SQLite file, with users of every role already made.

``api`` is the plain API (no live runtime). ``live`` adds a runtime on a small two-zone site with
instant simulated valves and the test's clock, so routes can be driven through a real safety pipeline.
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
from gasguard.config import SiteConfig, example_config_path, load_site_config
from gasguard.runtime import build_runtime
from gasguard.services import Services, build_services
from gasguard.storage.migrate import upgrade_to_head
from gasguard.web import create_app
from gasguard.web.testing import NOW, PASSWORD, ApiHarness, FakeClock, make_settings
from live_harness import LiveHarness, make_test_site, make_test_site_with_outputs


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Argon2 with tiny costs: the production parameters take ~0.1 s per hash, too slow for many tests."""
    monkeypatch.setattr(passwords, "_hasher", PasswordHasher(time_cost=1, memory_cost=256, parallelism=1))


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file, copied for each test (running the migrations per test is slow)."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade_to_head(f"sqlite:///{path}")
    return path


def _services(tmp_path: Path, template: Path, clock: FakeClock) -> Services:
    shutil.copyfile(template, tmp_path / "api.db")
    services = build_services(make_settings(tmp_path), clock=clock)
    with services.session_factory() as session, session.begin():
        for name, role in (("ada", Role.ADMIN), ("otto", Role.OPERATOR), ("vera", Role.VIEWER)):
            create_user(session, username=name, password=PASSWORD, role=role, now=NOW - 100)
    return services


@pytest.fixture
def api(tmp_path: Path, migrated_template: Path) -> Iterator[ApiHarness]:
    clock = FakeClock()
    services = _services(tmp_path, migrated_template, clock)
    app = create_app(services.settings, services)
    with TestClient(app) as client:
        yield ApiHarness(client=client, services=services, clock=clock)
    services.dispose()


def _live(tmp_path: Path, template: Path, site: SiteConfig) -> Iterator[LiveHarness]:
    clock = FakeClock()
    services = _services(tmp_path, template, clock)
    valves = {v.id: SimulatedValve(v.id, travel_time_s=0.0) for _, zone in site.zones() for v in zone.valves}
    runtime = build_runtime(site, services, valves=dict(valves), clock=clock)
    app = create_app(services.settings, services)
    with TestClient(app) as client:
        yield LiveHarness(client=client, services=services, clock=clock, runtime=runtime, valves=valves)
    services.dispose()


@pytest.fixture
def live(tmp_path: Path, migrated_template: Path) -> Iterator[LiveHarness]:
    """The API with a running safety pipeline on ``live_harness.TEST_SITE``."""
    yield from _live(tmp_path, migrated_template, make_test_site())


@pytest.fixture
def live_outputs(tmp_path: Path, migrated_template: Path) -> Iterator[LiveHarness]:
    """The live test site with a kitchen sounder and the system-failure relay."""
    yield from _live(tmp_path, migrated_template, make_test_site_with_outputs())


@pytest.fixture
def live_example(tmp_path: Path, migrated_template: Path) -> Iterator[LiveHarness]:
    """The API with a running safety pipeline on the example site shipped with GasGuard."""
    yield from _live(tmp_path, migrated_template, load_site_config(example_config_path()))
