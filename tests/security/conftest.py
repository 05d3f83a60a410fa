"""Each test gets its own API (no live runtime) on its own SQLite file, with users of every role.

The same set-up as ``tests/web``'s ``api`` fixture (fixtures do not cross test folders): a fixed
secret key, three failed logins allowed per user and client, and cheap password hashing.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient

import gasguard.auth.passwords as passwords
from gasguard.auth import Role, create_user
from gasguard.services import build_services
from gasguard.storage.migrate import upgrade_to_head
from gasguard.web import create_app
from gasguard.web.testing import NOW, PASSWORD, ApiHarness, FakeClock, make_settings


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(passwords, "_hasher", PasswordHasher(time_cost=1, memory_cost=256, parallelism=1))


@pytest.fixture(scope="session")
def security_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("security-template") / "api.db"
    upgrade_to_head(f"sqlite:///{path}")
    return path


@pytest.fixture
def api(tmp_path: Path, security_template: Path) -> Iterator[ApiHarness]:
    shutil.copyfile(security_template, tmp_path / "api.db")
    clock = FakeClock()
    services = build_services(make_settings(tmp_path), clock=clock)
    with services.session_factory() as session, session.begin():
        for name, role in (("ada", Role.ADMIN), ("otto", Role.OPERATOR), ("vera", Role.VIEWER)):
            create_user(session, username=name, password=PASSWORD, role=role, now=NOW - 100)
    app = create_app(services.settings, services)
    with TestClient(app) as client:
        yield ApiHarness(client=client, services=services, clock=clock)
    services.dispose()
