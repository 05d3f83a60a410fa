"""The login rate limit holds against the ways around it (three failures per user and client here).

``tests/web`` shows one user locked after three failures, even with the right password, while
another user may still sign in. Here: a client guessing across many usernames is stopped too (at four
times the per-user limit), a username's case does not reset its count, a success clears only its own
count, and a blocked attempt answers the same whether or not the password was right.
"""

from __future__ import annotations

from typing import Any

from gasguard.web.testing import PASSWORD, ApiHarness

LOGIN = "/api/v1/auth/login"


def _login(api: ApiHarness, username: str, password: str) -> Any:
    return api.client.post(LOGIN, json={"username": username, "password": password})


def test_a_client_guessing_across_usernames_is_stopped(api: ApiHarness) -> None:
    statuses = [_login(api, f"guess{i}", "not the password").status_code for i in range(12)]
    assert statuses == [401] * 12
    blocked = _login(api, "vera", PASSWORD)  # a real user with the right password, from the same client
    assert blocked.status_code == 429
    assert int(blocked.headers["Retry-After"]) > 0


def test_changing_the_case_of_the_username_does_not_reset_the_count(api: ApiHarness) -> None:
    for name in ("otto", "OTTO", "Otto"):
        assert _login(api, name, "not the password").status_code == 401
    assert _login(api, "otto", PASSWORD).status_code == 429


def test_a_blocked_attempt_looks_the_same_with_the_right_or_a_wrong_password(api: ApiHarness) -> None:
    for _ in range(3):
        _login(api, "otto", "not the password")
    right, wrong = _login(api, "otto", PASSWORD), _login(api, "otto", "still not it")
    assert (right.status_code, right.json()) == (wrong.status_code, wrong.json())
    assert right.status_code == 429
    assert "access_token" not in right.text


def test_a_success_clears_only_its_own_count(api: ApiHarness) -> None:
    for _ in range(2):
        assert _login(api, "otto", "not the password").status_code == 401
    assert _login(api, "otto", PASSWORD).status_code == 200
    for _ in range(3):  # the count starts again from zero
        assert _login(api, "otto", "not the password").status_code == 401
    assert _login(api, "otto", PASSWORD).status_code == 429
