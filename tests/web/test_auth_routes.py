from __future__ import annotations

from gasguard.storage.events import EventFilter, EventKind, list_events
from gasguard.web.testing import NOW, PASSWORD, ApiHarness


def test_login_returns_a_bearer_token_that_identifies_the_user(api: ApiHarness) -> None:
    response = api.client.post("/api/v1/auth/login", json={"username": "otto", "password": PASSWORD})
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["role"] == "operator"
    assert body["access_token"].startswith("ggs_")
    assert body["expires_at"] == NOW + 12 * 3600
    me = api.client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200
    assert me.json() == {"name": "otto", "role": "operator", "device": False}


def test_wrong_password_and_unknown_user_get_the_same_401(api: ApiHarness) -> None:
    wrong = api.client.post("/api/v1/auth/login", json={"username": "otto", "password": "not the password"})
    unknown = api.client.post("/api/v1/auth/login", json={"username": "nobody", "password": "not the password"})
    assert wrong.status_code == 401
    assert unknown.status_code == 401
    assert wrong.json() == unknown.json() == {"detail": "wrong username or password"}


def test_login_is_rate_limited_after_three_failures_even_with_the_right_password(api: ApiHarness) -> None:
    for _ in range(3):
        assert (
            api.client.post("/api/v1/auth/login", json={"username": "otto", "password": "bad-password"}).status_code
            == 401
        )
    blocked = api.client.post("/api/v1/auth/login", json={"username": "otto", "password": PASSWORD})
    assert blocked.status_code == 429
    assert blocked.headers["Retry-After"] == "300"
    # another user from the same client is not blocked yet
    assert api.client.post("/api/v1/auth/login", json={"username": "vera", "password": PASSWORD}).status_code == 200


def test_logins_are_audited_with_outcome(api: ApiHarness) -> None:
    api.client.post("/api/v1/auth/login", json={"username": "otto", "password": "bad-password"})
    api.login("otto")
    with api.services.session_factory() as session:
        events = list_events(session, flt=EventFilter(kinds=[EventKind.AUDIT]))
    assert [(e.actor, e.reason, e.payload["accepted"]) for e in events] == [
        ("otto", "signed in", True),
        ("otto", "sign-in failed", False),
    ]


def test_logout_revokes_the_session(api: ApiHarness) -> None:
    headers = api.headers("vera")
    assert api.client.post("/api/v1/auth/logout", headers=headers).status_code == 204
    response = api.client.get("/api/v1/auth/me", headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_expired_session_is_refused(api: ApiHarness) -> None:
    headers = api.headers("vera")
    api.clock.now = NOW + 12 * 3600 + 1
    assert api.client.get("/api/v1/auth/me", headers=headers).status_code == 401


def test_garbage_token_and_missing_header_get_401(api: ApiHarness) -> None:
    assert api.client.get("/api/v1/auth/me").status_code == 401
    assert api.client.get("/api/v1/auth/me", headers={"Authorization": "Bearer ggs_forged"}).status_code == 401
    assert api.client.get("/api/v1/auth/me", headers={"Authorization": "Basic b3R0bzpwdw=="}).status_code == 401


def test_login_body_is_validated(api: ApiHarness) -> None:
    assert api.client.post("/api/v1/auth/login", json={"username": "otto"}).status_code == 422
    extra = {"username": "otto", "password": PASSWORD, "role": "admin"}
    assert api.client.post("/api/v1/auth/login", json=extra).status_code == 422
