from __future__ import annotations

from gasguard.storage.events import EventFilter, EventKind, list_events
from gasguard.web.testing import NOW, PASSWORD, ApiHarness

NEW_USER = {"username": "nina", "password": "a long enough secret", "role": "operator", "reason": "new shift lead"}


def test_admin_lists_users(api: ApiHarness) -> None:
    response = api.client.get("/api/v1/users", headers=api.headers("ada"))
    assert response.status_code == 200
    assert [(u["username"], u["role"], u["active"]) for u in response.json()] == [
        ("ada", "admin", True),
        ("otto", "operator", True),
        ("vera", "viewer", True),
    ]


def test_user_routes_need_admin(api: ApiHarness) -> None:
    assert api.client.get("/api/v1/users").status_code == 401
    assert api.client.post("/api/v1/users", json=NEW_USER).status_code == 401
    assert api.client.get("/api/v1/users", headers=api.headers("vera")).status_code == 403
    assert api.client.post("/api/v1/users", json=NEW_USER, headers=api.headers("vera")).status_code == 403
    assert api.client.post("/api/v1/users", json=NEW_USER, headers=api.headers("otto")).status_code == 403


def test_admin_creates_a_user_who_can_then_sign_in_and_it_is_audited(api: ApiHarness) -> None:
    response = api.client.post("/api/v1/users", json=NEW_USER, headers=api.headers("ada"))
    assert response.status_code == 201
    assert response.json() == {"username": "nina", "role": "operator", "active": True, "created_at": NOW}
    assert api.login("nina", "a long enough secret").startswith("ggs_")
    with api.services.session_factory() as session:
        [event] = [e for e in list_events(session, flt=EventFilter(kinds=[EventKind.AUDIT])) if e.source == "user:nina"]
    assert (event.actor, event.reason, event.payload["action"]) == ("ada", "new shift lead", "user.create")


def test_duplicate_user_is_409_and_weak_password_422(api: ApiHarness) -> None:
    headers = api.headers("ada")
    assert api.client.post("/api/v1/users", json={**NEW_USER, "username": "otto"}, headers=headers).status_code == 409
    weak = api.client.post("/api/v1/users", json={**NEW_USER, "password": "short"}, headers=headers)
    assert weak.status_code == 422
    assert weak.json()["detail"] == "password must be at least 10 characters"
    bad_name = api.client.post("/api/v1/users", json={**NEW_USER, "username": "Bad Name"}, headers=headers)
    assert bad_name.status_code == 422
    no_reason = {k: v for k, v in NEW_USER.items() if k != "reason"}
    assert api.client.post("/api/v1/users", json=no_reason, headers=headers).status_code == 422


def test_deactivating_a_user_ends_their_sessions(api: ApiHarness) -> None:
    vera = api.headers("vera")
    response = api.client.patch(
        "/api/v1/users/vera", json={"active": False, "reason": "left the company"}, headers=api.headers("ada")
    )
    assert response.status_code == 200
    assert response.json()["active"] is False
    assert api.client.get("/api/v1/auth/me", headers=vera).status_code == 401
    assert api.client.post("/api/v1/auth/login", json={"username": "vera", "password": PASSWORD}).status_code == 401


def test_last_admin_cannot_be_demoted_and_unknown_user_is_404(api: ApiHarness) -> None:
    headers = api.headers("ada")
    demote = api.client.patch("/api/v1/users/ada", json={"role": "viewer", "reason": "oops"}, headers=headers)
    assert demote.status_code == 409
    assert demote.json()["detail"] == "refused: this would leave no active admin"
    assert api.client.get("/api/v1/users", headers=headers).json()[0]["role"] == "admin"
    assert (
        api.client.patch("/api/v1/users/ghost", json={"active": False, "reason": "gone"}, headers=headers).status_code
        == 404
    )


def test_role_change_applies_to_existing_sessions(api: ApiHarness) -> None:
    otto = api.headers("otto")
    api.client.patch("/api/v1/users/otto", json={"role": "admin", "reason": "promotion"}, headers=api.headers("ada"))
    assert api.client.get("/api/v1/users", headers=otto).status_code == 200
