"""Users, passwords, tokens, roles and the login rate limiter, plus the ``gasguard users`` commands."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

import gasguard.auth.passwords as passwords
from gasguard.auth import (
    AuthError,
    LoginRateLimiter,
    PasswordPolicyError,
    Role,
    TokenHasher,
    authenticate_password,
    authenticate_token,
    create_device_token,
    create_session,
    create_user,
    list_users,
    revoke_token,
    update_user,
)
from gasguard.cli import build_app
from gasguard.storage.engine import make_session_factory
from gasguard.storage.events import EventKind, list_events
from gasguard.storage.migrate import engine_at_head
from gasguard.storage.models import ApiTokenRow, LoginFailureRow

T0 = 1_700_000_000.0
HASHER = TokenHasher("s" * 40)


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(passwords, "_hasher", PasswordHasher(time_cost=1, memory_cost=256, parallelism=1))


@pytest.fixture
def session(tmp_path: Path):  # type: ignore[no-untyped-def]
    engine = engine_at_head(f"sqlite:///{tmp_path / 'auth.db'}")
    with make_session_factory(engine)() as s:
        yield s
    engine.dispose()


def test_roles_are_ordered() -> None:
    assert Role.ADMIN.allows(Role.OPERATOR) and Role.OPERATOR.allows(Role.VIEWER)
    assert not Role.VIEWER.allows(Role.OPERATOR) and not Role.OPERATOR.allows(Role.ADMIN)


def test_passwords_are_argon2_hashed_and_checked() -> None:
    stored = passwords.hash_password("long enough password")
    assert stored.startswith("$argon2id$")
    assert "long enough password" not in stored
    assert passwords.verify_password(stored, "long enough password") is True
    assert passwords.verify_password(stored, "long enough passworD") is False
    assert passwords.verify_password(None, "long enough password") is False
    with pytest.raises(PasswordPolicyError, match="at least 10"):
        passwords.hash_password("short")


def test_password_login_only_for_active_users_with_the_right_password(session: Session) -> None:
    create_user(session, username="otto", password="operator password", role=Role.OPERATOR, now=T0)
    create_user(session, username="ada", password="admin password", role=Role.ADMIN, now=T0)
    assert authenticate_password(session, username="otto", password="operator password") is not None
    assert authenticate_password(session, username="otto", password="wrong password") is None
    assert authenticate_password(session, username="nobody", password="operator password") is None
    update_user(session, username="otto", now=T0, active=False)
    assert authenticate_password(session, username="otto", password="operator password") is None
    with pytest.raises(AuthError, match="already exists"):
        create_user(session, username="ada", password="another password", role=Role.VIEWER, now=T0)
    with pytest.raises(AuthError, match="username must be"):
        create_user(session, username="Ada Lovelace", password="another password", role=Role.VIEWER, now=T0)


def test_tokens_are_stored_hashed_and_expire(session: Session) -> None:
    user = create_user(session, username="vera", password="viewer password", role=Role.VIEWER, now=T0)
    issued = create_session(session, user=user, hasher=HASHER, now=T0, ttl_s=3600)
    [row] = session.query(ApiTokenRow).all()
    assert row.token_hash == HASHER.hash(issued.token) != issued.token
    principal = authenticate_token(session, token=issued.token, hasher=HASHER, now=T0 + 10)
    assert principal is not None and (principal.name, principal.role, principal.device) == ("vera", Role.VIEWER, False)
    assert authenticate_token(session, token=issued.token, hasher=HASHER, now=T0 + 3600) is None
    assert authenticate_token(session, token=issued.token, hasher=TokenHasher("t" * 40), now=T0 + 10) is None


def test_device_tokens_are_revocable(session: Session) -> None:
    issued = create_device_token(session, name="boiler-gw", hasher=HASHER, now=T0)
    principal = authenticate_token(session, token=issued.token, hasher=HASHER, now=T0)
    assert principal is not None and (principal.name, principal.role, principal.device) == (
        "device:boiler-gw",
        None,
        True,
    )
    assert not principal.allows(Role.VIEWER)
    revoke_token(session, now=T0 + 1, name="boiler-gw")
    assert authenticate_token(session, token=issued.token, hasher=HASHER, now=T0 + 2) is None
    with pytest.raises(AuthError, match="no such active device token"):
        revoke_token(session, now=T0 + 3, name="boiler-gw")


def test_rate_limiter_blocks_after_max_failures_until_the_window_passes(session: Session) -> None:
    limiter = LoginRateLimiter(max_failures=3, window_s=60)
    for t in (0.0, 10.0, 20.0):
        assert limiter.retry_after(session, username="otto", client="10.0.0.1", now=T0 + t) == 0.0
        limiter.record_failure(session, username="otto", client="10.0.0.1", now=T0 + t)
    now = T0 + 20.0
    assert limiter.retry_after(session, username="otto", client="10.0.0.1", now=now) == 40.0  # t=0 leaves at t=60
    assert limiter.retry_after(session, username="otto", client="10.0.0.2", now=now) == 0.0  # another client
    assert limiter.retry_after(session, username="vera", client="10.0.0.1", now=now) == 0.0
    assert limiter.retry_after(session, username="otto", client="10.0.0.1", now=T0 + 60.0) == 0.0


def test_rate_limiter_never_blocks_other_usernames_for_a_client_spraying_usernames(session: Session) -> None:
    limiter = LoginRateLimiter(max_failures=2, window_s=60)
    for i in range(50):
        limiter.record_failure(session, username=f"guess{i}", client="10.0.0.9", now=T0)
    assert limiter.retry_after(session, username="vera", client="10.0.0.9", now=T0) == 0.0


def test_rate_limiter_slows_one_username_guessed_from_many_clients(session: Session) -> None:
    limiter = LoginRateLimiter(max_failures=2, window_s=60, username_factor=4)
    for i in range(7):
        limiter.record_failure(session, username="otto", client=f"10.0.1.{i}", now=T0 + i)
    assert limiter.retry_after(session, username="otto", client="10.0.2.1", now=T0 + 7) == 0.0
    limiter.record_failure(session, username="otto", client="10.0.1.7", now=T0 + 7)  # the 8th: 2 x 4
    assert limiter.retry_after(session, username="otto", client="10.0.2.1", now=T0 + 7) == 53.0  # t=0 leaves at 60
    limiter.record_success(session, username="otto", client="10.0.1.0")  # clears only its own failure
    assert limiter.retry_after(session, username="otto", client="10.0.2.1", now=T0 + 7) == 0.0


def test_rate_limiter_prunes_failures_older_than_the_window(session: Session) -> None:
    limiter = LoginRateLimiter(max_failures=2, window_s=60, prune_every_s=0)
    limiter.record_failure(session, username="a", client="c", now=T0)
    limiter.record_failure(session, username="b", client="c", now=T0 + 61)
    assert session.scalars(select(LoginFailureRow.username)).all() == ["b"]


# ----------------------------------------------------------------------------- command line


def _run(args: list[str], tmp_path: Path, stdin: str | None = None) -> tuple[int, str]:
    env = {"GASGUARD_DATA_DIR": str(tmp_path), "GASGUARD_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}"}
    result = CliRunner().invoke(build_app(), args, input=stdin, env=env)
    return result.exit_code, result.output


def test_cli_refuses_an_unmigrated_database(tmp_path: Path) -> None:
    code, output = _run(["users", "list", "--json"], tmp_path)
    assert code == 2
    assert "run `gasguard db upgrade`" in output


def test_cli_creates_the_first_admin_and_device_tokens(tmp_path: Path) -> None:
    code, output = _run(["db", "upgrade", "--json"], tmp_path)
    assert code == 0 and json.loads(output)["revision"] == "0007"
    code, output = _run(
        ["users", "create", "--role", "admin", "--username", "ada", "--password-stdin", "--json"],
        tmp_path,
        stdin="a proper admin password\n",
    )
    assert code == 0, output
    assert json.loads(output) == {"username": "ada", "role": "admin"}
    code, output = _run(["users", "create", "--role", "boss", "--username", "bob", "--password-stdin"], tmp_path, "x\n")
    assert code == 2
    code, output = _run(
        ["users", "create", "--role", "viewer", "--username", "bob", "--password-stdin"], tmp_path, "short\n"
    )
    assert (code, output.strip()) == (1, "error: password must be at least 10 characters")
    code, output = _run(["users", "list", "--json"], tmp_path)
    assert [(u["username"], u["role"], u["active"]) for u in json.loads(output)] == [("ada", "admin", True)]

    code, output = _run(["users", "token", "create", "--name", "boiler-gw", "--json"], tmp_path)
    token = json.loads(output)["token"]
    assert code == 0 and token.startswith("ggd_")
    # the generated secret key was stored in the data folder, owner-only
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600
    code, output = _run(["users", "token", "revoke", "--name", "boiler-gw", "--json"], tmp_path)
    assert code == 0 and json.loads(output)["revoked"] is True
    code, output = _run(["users", "token", "list", "--all", "--json"], tmp_path)
    [listed] = json.loads(output)
    assert listed["name"] == "boiler-gw" and listed["revoked_at"] is not None

    engine = engine_at_head(f"sqlite:///{tmp_path / 'cli.db'}")
    with make_session_factory(engine)() as s:
        assert [u.username for u in list_users(s)] == ["ada"]
        audit = [e.source for e in list_events(s) if e.kind is EventKind.AUDIT]
    engine.dispose()
    assert sorted(audit) == ["token:boiler-gw", "token:boiler-gw", "user:ada"]
