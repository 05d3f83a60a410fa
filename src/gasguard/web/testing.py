"""Helpers for testing code built on the API: an app on a throw-away SQLite file, a settable clock.

Used by GasGuard's own tests and meant for tests of the live pipeline and of integrations.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fastapi.testclient import TestClient

from gasguard.services import Services
from gasguard.settings import ServiceSettings

PASSWORD = "correct horse battery"
NOW = 1_700_000_000.0


class FakeClock:
    """A clock the test moves by hand (``clock.now += 60``)."""

    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass
class ApiHarness:
    client: TestClient
    services: Services
    clock: FakeClock

    def login(self, username: str, password: str = PASSWORD) -> str:
        response = self.client.post("/api/v1/auth/login", json={"username": username, "password": password})
        if response.status_code != 200:
            raise AssertionError(f"login of {username} failed: {response.status_code} {response.text}")
        token: str = response.json()["access_token"]
        return token

    def headers(self, username: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.login(username)}"}


def make_settings(data_dir: Path, **overrides: object) -> ServiceSettings:
    """Settings for a test: SQLite in ``data_dir``, a fixed secret key, three login failures allowed."""
    values: dict[str, object] = {
        "data_dir": data_dir,
        "database_url": f"sqlite:///{data_dir / 'api.db'}",
        "secret_key": "k" * 40,
        "login_max_failures": 3,
    }
    values.update(overrides)
    return ServiceSettings(**values)  # type: ignore[arg-type]
