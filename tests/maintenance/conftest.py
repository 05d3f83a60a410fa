"""Fixtures for the maintenance tests: the three databases, a small lab site, and a live app with the
test recorder running (a real safety pipeline, instant simulated valves, a clock the test moves)."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml
from argon2 import PasswordHasher
from fastapi.testclient import TestClient

import gasguard.auth.passwords as passwords
from gasguard.actuators.simulated import SimulatedValve
from gasguard.auth import Role, create_user
from gasguard.config import SiteConfig, parse_site_config
from gasguard.domain import ValvePosition
from gasguard.maintenance.plant import PlantDirectory
from gasguard.maintenance.registry import maintenance_for
from gasguard.maintenance.service import Maintenance
from gasguard.runtime import build_runtime
from gasguard.services import build_services
from gasguard.storage.migrate import upgrade_to_head
from gasguard.web import create_app
from gasguard.web.testing import NOW, PASSWORD, FakeClock, make_settings
from live_harness import LiveHarness
from storage.conftest import any_database_url, mysql_url, postgres_url, sqlite_url

__all__ = ["any_database_url", "mysql_url", "postgres_url", "sqlite_url"]

LAB_SITE = """
sites:
  - id: plant
    zones:
      - id: lab
        name: Gas lab
        channels:
          # An MQ5 head of the MultimodalGasData array: raw counts, 0.25 %LEL per count, zero at 430 counts.
          - {id: lab-mq5, gas: methane, unit: raw, calibration: {gain: 0.25, offset: -107.5, to: lel_pct},
             warmup_s: 0, stale_timeout_s: 3600}
          - {id: lab-ch2, gas: methane, unit: lel_pct, warmup_s: 0, stale_timeout_s: 3600,
             valid_range: {min: -5, max: 100}}
        valves:
          - {id: lab-valve, travel_time_s: 3}
      - id: kitchen
        channels:
          - {id: kitchen-ch1, gas: methane, unit: ppm, warmup_s: 0, stale_timeout_s: 3600,
             valid_range: {min: 0, max: 50000}}
        valves:
          - {id: kitchen-valve, travel_time_s: 5}
    maintenance:
      bump_days: 30
      channels: {kitchen-ch1: {bump_days: 14}}
"""
"""Two zones: the lab (two voting channels, so a channel in TEST leaves the other protecting) and a
one-channel kitchen reading ppm with a 0..50000 ppm span."""


def lab_site() -> SiteConfig:
    return parse_site_config(yaml.safe_load(LAB_SITE), "lab site")


@pytest.fixture
def plant() -> PlantDirectory:
    return PlantDirectory(lab_site())


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(passwords, "_hasher", PasswordHasher(time_cost=1, memory_cost=256, parallelism=1))


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("maintenance-template") / "template.db"
    upgrade_to_head(f"sqlite:///{path}")
    return path


class MaintenanceHarness(LiveHarness):
    """The live harness with the maintenance service attached."""

    maintenance: Maintenance

    def wait(self, condition: Callable[[], bool], what: str, attempts: int = 300) -> None:
        """Wait for the recorder (a bus consumer on the app's loop) to catch up."""
        for _ in range(attempts):
            self.settle()
            if self.on_loop(condition):
                return
            time.sleep(0.01)
        raise AssertionError(f"gave up waiting for {what}")


@pytest.fixture
def lab(tmp_path: Path, migrated_template: Path) -> Iterator[MaintenanceHarness]:
    shutil.copyfile(migrated_template, tmp_path / "api.db")
    with open_lab(tmp_path, FakeClock(), first_start=True) as harness:
        yield harness


@contextmanager
def open_lab(
    data_dir: Path, clock: FakeClock, *, first_start: bool, valves_at: Mapping[str, ValvePosition] | None = None
) -> Iterator[MaintenanceHarness]:
    """The lab service on the database in ``data_dir`` until the ``with`` block ends, as ``gasguard serve``
    runs it (lifespan start and orderly stop). Opened again on the same folder, it is a restart; the
    valves are where ``valves_at`` says (where the last run left them: a real valve does not move while
    the service is down), else open."""
    site = lab_site()
    services = build_services(make_settings(data_dir), clock=clock)
    if first_start:
        with services.session_factory() as session, session.begin():
            for name, role in (("ada", Role.ADMIN), ("otto", Role.OPERATOR), ("vera", Role.VIEWER)):
                create_user(session, username=name, password=PASSWORD, role=role, now=NOW - 100)
    at = valves_at or {}
    valves = {
        v.id: SimulatedValve(v.id, travel_time_s=0.0, position=at.get(v.id, ValvePosition.OPEN))
        for _, zone in site.zones()
        for v in zone.valves
    }
    runtime = build_runtime(site, services, valves=dict(valves), clock=clock)
    maintenance = maintenance_for(services)  # build_runtime attaches it
    assert maintenance is not None
    app = create_app(services.settings, services)
    with TestClient(app) as client:
        harness = MaintenanceHarness(client=client, services=services, clock=clock, runtime=runtime, valves=valves)
        harness.maintenance = maintenance
        yield harness
    services.dispose()
