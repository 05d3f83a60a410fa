"""Each test gets its own app on its own SQLite file, with users of every role already made."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient

import gasguard.auth.passwords as passwords
from gasguard.auth import Role, create_user
from gasguard.storage.migrate import upgrade_to_head
from gasguard.web import build_services, create_app
from gasguard.web.testing import NOW, PASSWORD, ApiHarness, FakeClock, make_settings


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


@pytest.fixture
def api(tmp_path: Path, migrated_template: Path) -> Iterator[ApiHarness]:
    clock = FakeClock()
    shutil.copyfile(migrated_template, tmp_path / "api.db")
    settings = make_settings(tmp_path)
    services = build_services(settings, clock=clock)
    with services.session_factory() as session, session.begin():
        for name, role in (("ada", Role.ADMIN), ("otto", Role.OPERATOR), ("vera", Role.VIEWER)):
            create_user(session, username=name, password=PASSWORD, role=role, now=NOW - 100)
    app = create_app(settings, services)
    with TestClient(app) as client:
        yield ApiHarness(client=client, services=services, clock=clock)
    services.dispose()
