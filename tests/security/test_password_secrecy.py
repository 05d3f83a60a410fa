"""Passwords are never logged and never returned: not by the API, not in the audit trail, not by the CLI.

Every log record of every logger is captured at DEBUG (which also turns on SQLAlchemy's statement
logging, so what is sent to the database is searched too) over a sign-in, a failed sign-in, a user
being made, refused logins and refused user bodies.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gasguard.cli import build_app
from gasguard.storage.migrate import upgrade_to_head
from gasguard.web.testing import PASSWORD, ApiHarness

SECRET = "Zebra-Quartz-Nebula-4711"  # a password nobody else uses, so any sighting of it is a leak


def _logged(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(f"{r.getMessage()} {r.args!r} {r.exc_text or ''}" for r in caplog.records)


def test_passwords_are_never_logged(api: ApiHarness, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    ada = api.headers("ada")
    created = api.client.post(
        "/api/v1/users",
        json={"username": "nina", "password": SECRET, "role": "operator", "reason": "new hire"},
        headers=ada,
    )
    assert created.status_code == 201
    assert api.client.post("/api/v1/auth/login", json={"username": "nina", "password": SECRET}).status_code == 200
    assert api.client.post("/api/v1/auth/login", json={"username": "nina", "password": SECRET + "x"}).status_code == 401
    assert api.client.post("/api/v1/auth/login", json={"username": SECRET, "password": SECRET}).status_code == 401
    assert caplog.records, "nothing was captured: the check would prove nothing"
    assert SECRET not in _logged(caplog)


def test_passwords_are_never_returned(api: ApiHarness) -> None:
    ada = api.headers("ada")
    body = {"username": "nina", "password": SECRET, "role": "operator", "reason": "new hire"}
    responses = [api.client.post("/api/v1/users", json=body, headers=ada)]
    responses.append(api.client.post("/api/v1/auth/login", json={"username": "nina", "password": SECRET}))
    responses.append(api.client.get("/api/v1/users", headers=ada))
    responses.append(api.client.get("/api/v1/events", params={"limit": 1000}, headers=ada))
    responses.append(api.client.get("/api/v1/events", params={"format": "csv"}, headers=ada))
    # refused bodies must not echo what was sent either
    responses.append(
        api.client.post("/api/v1/users", json={**body, "username": "nina2", "password": "Qx7!k"}, headers=ada)
    )
    responses.append(api.client.post("/api/v1/users", json={**body, "username": "n", "role": "root"}, headers=ada))
    responses.append(api.client.post("/api/v1/auth/login", json={"username": "nina", "password": SECRET, "role": "x"}))
    responses.append(api.client.post("/api/v1/auth/login", json={"username": "nina", "password": [SECRET]}))
    assert [r.status_code for r in responses] == [201, 200, 200, 200, 200, 422, 422, 422, 422]
    for response in responses:
        assert SECRET not in response.text
        assert "argon2" not in response.text  # nor the hash
    assert "Qx7!k" not in responses[5].text


def test_password_hashes_are_not_returned_either(api: ApiHarness) -> None:
    users = api.client.get("/api/v1/users", headers=api.headers("ada")).json()
    assert {key for user in users for key in user} <= {"username", "role", "active", "created_at", "id"}
    assert PASSWORD not in str(users)


def test_the_cli_does_not_echo_the_password(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GASGUARD_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("GASGUARD_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("GASGUARD_SECRET_KEY", "s" * 40)
    upgrade_to_head(f"sqlite:///{tmp_path / 'cli.db'}")
    runner = CliRunner()
    app = build_app()
    for args in (
        ["users", "create", "--username", "nina", "--role", "operator", "--password-stdin"],
        ["users", "set-password", "--username", "nina", "--password-stdin"],
        ["users", "list"],
    ):
        result = runner.invoke(app, args, input=SECRET + "\n")
        assert result.exit_code == 0, result.output
        assert SECRET not in result.output
