"""Guessable passwords are refused wherever a password is set, with zxcvbn's advice and never an echo.

Length alone let ten spaces or "aaaaaaaaaa" through. Now the API (``POST /api/v1/users``) answers 422
with the reason and the advice, ``gasguard users create`` and ``set-password`` print them and exit
non-zero, a password built on the username is refused, the demo's generated admin password always
passes, and an old weak password still signs in (the rule applies to new passwords only).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from argon2 import PasswordHasher
from sqlalchemy import update
from typer.testing import CliRunner

import gasguard.auth.passwords as passwords
from gasguard.auth import PasswordPolicyError
from gasguard.cli import build_app
from gasguard.demo import ensure_admin
from gasguard.storage.migrate import upgrade_to_head
from gasguard.storage.models import UserRow
from gasguard.web.testing import PASSWORD, ApiHarness

WEAK = ("          ", "aaaaaaaaaa", "password123", "qwertyuiop")
STRONG = "Zebra-Quartz-Nebula-4711"


@pytest.mark.parametrize("weak", WEAK)
def test_weak_passwords_are_refused_with_advice(weak: str) -> None:
    with pytest.raises(PasswordPolicyError, match="too easy to guess") as refused:
        passwords.hash_password(weak)
    message = str(refused.value)
    assert len(message) > len("password is too easy to guess.")  # zxcvbn's warning or suggestions follow
    assert weak.strip() == "" or weak not in message


def test_a_password_built_on_the_username_is_refused() -> None:
    passwords.check_password_policy("grzegorzewski", username="ada")  # strong enough for someone else
    with pytest.raises(PasswordPolicyError, match="too easy to guess"):
        passwords.check_password_policy("grzegorzewski", username="grzegorzewski")


def test_the_api_refuses_a_weak_password_with_422_and_advice(api: ApiHarness) -> None:
    body = {"username": "nina", "password": "aaaaaaaaaa", "role": "operator", "reason": "new hire"}
    ada = api.headers("ada")
    refused = api.client.post("/api/v1/users", json=body, headers=ada)
    assert refused.status_code == 422
    detail = refused.json()["detail"]
    assert detail.startswith("password is too easy to guess")
    assert "Repeats" in detail or "repeated" in detail
    assert "aaaaaaaaaa" not in refused.text
    assert api.client.post("/api/v1/users", json={**body, "password": STRONG}, headers=ada).status_code == 201


@pytest.fixture
def cli_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("GASGUARD_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("GASGUARD_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("GASGUARD_SECRET_KEY", "s" * 40)
    upgrade_to_head(f"sqlite:///{tmp_path / 'cli.db'}")
    return tmp_path / "cli.db"


def test_the_cli_refuses_weak_passwords_without_echoing_them(cli_database: Path) -> None:
    runner, app = CliRunner(), build_app()
    create = ["users", "create", "--username", "nina", "--role", "operator", "--password-stdin"]
    refused = runner.invoke(app, create, input="aaaaaaaaaa\n")
    assert refused.exit_code != 0
    assert "too easy to guess" in refused.output
    assert "aaaaaaaaaa" not in refused.output
    assert runner.invoke(app, create, input=STRONG + "\n").exit_code == 0

    set_password = ["users", "set-password", "--username", "nina", "--password-stdin"]
    refused = runner.invoke(app, set_password, input="nina-nina-nina\n")
    assert refused.exit_code != 0
    assert "too easy to guess" in refused.output
    assert "nina-nina-nina" not in refused.output


def test_the_demos_generated_admin_password_always_passes(api: ApiHarness) -> None:
    for _ in range(20):  # a new random password each start; every one must be accepted and work
        password = ensure_admin(api.services)
        passwords.check_password_policy(password, username="admin")
        assert api.login("admin", password).startswith("ggs_")


def test_an_old_weak_password_still_signs_in(api: ApiHarness) -> None:
    """Stored before the rule (and with older hash parameters, so the sign-in re-hashes it)."""
    old_hash = PasswordHasher(time_cost=1, memory_cost=128, parallelism=1).hash("aaaaaaaaaa")
    with api.services.session_factory() as session, session.begin():
        session.execute(update(UserRow).where(UserRow.username == "vera").values(password_hash=old_hash))
    assert api.login("vera", "aaaaaaaaaa").startswith("ggs_")
    assert api.client.post("/api/v1/auth/login", json={"username": "vera", "password": PASSWORD}).status_code == 401
