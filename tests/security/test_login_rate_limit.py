"""The login rate limit holds against the ways around it, and cannot be turned against real users.

The rule: failures are counted per username and client (three here, five by default) and per username
from any client (four times that), in the database. ``tests/web`` shows one user locked after three
failures, even with the right password, while another user may still sign in. Here: a client spraying
wrong passwords over many usernames never locks out a real user behind the same address; a username
guessed from many addresses is slowed; a username's case does not reset its count; a success clears
only its own count; a blocked attempt answers the same whether or not the password was right; and a
restart keeps the lock.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from gasguard.services import build_services
from gasguard.web import create_app
from gasguard.web.testing import PASSWORD, ApiHarness, make_settings

LOGIN = "/api/v1/auth/login"


def _login(client: TestClient, username: str, password: str) -> Any:
    return client.post(LOGIN, json={"username": username, "password": password})


def test_a_client_spraying_usernames_does_not_lock_out_a_real_user(api: ApiHarness) -> None:
    """Once, 15 failures over any usernames from one address locked everyone behind it out for 5 minutes."""
    statuses = [_login(api.client, f"guess{i}", "not the password").status_code for i in range(20)]
    assert statuses == [401] * 20
    assert _login(api.client, "vera", PASSWORD).status_code == 200  # same address, right password
    for _ in range(2):  # each sprayed username is still limited on its own: 3 failures per username here
        assert _login(api.client, "guess0", "not the password").status_code == 401
    assert _login(api.client, "guess0", "not the password").status_code == 429


def test_one_username_guessed_from_many_addresses_is_slowed(api: ApiHarness) -> None:
    """3 per address, 12 (3 x 4) per username: four addresses lock the account for everybody."""
    app = api.client.app  # more clients on the running app (not entered: its lifespan runs once, in ``api``)
    for i in range(4):
        elsewhere = TestClient(app, client=(f"10.0.0.{i}", 40000))
        assert [_login(elsewhere, "otto", "not the password").status_code for _ in range(4)] == [401] * 3 + [429]
    assert _login(TestClient(app, client=("10.0.9.9", 40000)), "otto", PASSWORD).status_code == 429
    assert _login(api.client, "vera", PASSWORD).status_code == 200  # other accounts are not affected


def test_changing_the_case_of_the_username_does_not_reset_the_count(api: ApiHarness) -> None:
    for name in ("otto", "OTTO", "Otto"):
        assert _login(api.client, name, "not the password").status_code == 401
    assert _login(api.client, "otto", PASSWORD).status_code == 429


def test_a_blocked_attempt_looks_the_same_with_the_right_or_a_wrong_password(api: ApiHarness) -> None:
    for _ in range(3):
        _login(api.client, "otto", "not the password")
    right, wrong = _login(api.client, "otto", PASSWORD), _login(api.client, "otto", "still not it")
    assert (right.status_code, right.json()) == (wrong.status_code, wrong.json())
    assert right.status_code == 429
    assert "access_token" not in right.text


def test_a_success_clears_only_its_own_count(api: ApiHarness) -> None:
    for _ in range(2):
        assert _login(api.client, "otto", "not the password").status_code == 401
    assert _login(api.client, "otto", PASSWORD).status_code == 200
    for _ in range(3):  # the count starts again from zero
        assert _login(api.client, "otto", "not the password").status_code == 401
    assert _login(api.client, "otto", PASSWORD).status_code == 429


def test_five_wrong_passwords_lock_the_account_and_a_restart_keeps_the_lock(api: ApiHarness, tmp_path: Path) -> None:
    """With the default five failures; the failures are in the database, not in the process."""
    settings = make_settings(tmp_path, login_max_failures=5)  # same database file as ``api``
    first = build_services(settings, clock=api.clock)
    with TestClient(create_app(settings, first)) as client:
        assert [_login(client, "otto", "not the password").status_code for _ in range(5)] == [401] * 5
        assert _login(client, "otto", PASSWORD).status_code == 429
    first.dispose()

    restarted = build_services(settings, clock=api.clock)
    with TestClient(create_app(settings, restarted)) as client:
        blocked = _login(client, "otto", PASSWORD)
        assert blocked.status_code == 429
        assert blocked.headers["Retry-After"] == "300"
        api.clock.now += 301  # the window has passed
        assert _login(client, "otto", PASSWORD).status_code == 200
    restarted.dispose()
