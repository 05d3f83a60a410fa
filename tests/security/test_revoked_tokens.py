"""A token that was revoked, or whose key changed, stops working everywhere at once.

``tests/web`` shows sign-out ending ``/auth/me`` and the live feed, a revoked device token failing
``/auth/me`` and a deactivated user's sessions ending. Here the same tokens against the routes that
change things, and the two ways a whole class of tokens ends: a new secret key, a new password.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from gasguard.auth import set_password
from gasguard.auth.tokens import TokenHasher
from gasguard.web import create_app
from gasguard.web.testing import ApiHarness

NEW_PASSWORD = "a brand new passphrase"


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_signed_out_session_cannot_change_anything(api: ApiHarness) -> None:
    otto, ada = api.headers("otto"), api.headers("ada")
    for headers in (otto, ada):
        assert api.client.post("/api/v1/auth/logout", headers=headers).status_code == 204
    for method, path, headers, body in (
        ("POST", "/api/v1/valves/kitchen-valve/close", otto, {"reason": ""}),
        ("POST", "/api/v1/zones/kitchen/reset", otto, {"reason": "after sign-out"}),
        ("POST", "/api/v1/users", ada, {"username": "mallory", "password": "x" * 12, "role": "admin", "reason": "r-r"}),
        ("POST", "/api/v1/tokens", ada, {"name": "gw", "reason": "after sign-out"}),
        ("POST", "/api/v1/ingest/readings", ada, {"channel": "kitchen-ch1", "value": 1.0}),
    ):
        response = api.client.request(method, path, json=body, headers=headers)
        assert (path, response.status_code) == (path, 401)


def test_a_revoked_device_token_can_no_longer_send_readings(api: ApiHarness) -> None:
    ada = api.headers("ada")
    issued = api.client.post("/api/v1/tokens", json={"name": "boiler-gw", "reason": "new gateway"}, headers=ada).json()
    device = _bearer(issued["token"])
    reading = {"channel": "kitchen-ch1", "value": 1.0}
    assert api.client.post("/api/v1/ingest/readings", json=reading, headers=device).status_code == 503  # no runtime
    deleted = api.client.delete(f"/api/v1/tokens/{issued['id']}", params={"reason": "gateway stolen"}, headers=ada)
    assert deleted.status_code == 204
    assert api.client.post("/api/v1/ingest/readings", json=reading, headers=device).status_code == 401


def test_a_new_secret_key_signs_everybody_out(api: ApiHarness, tmp_path: Path) -> None:
    """Tokens are stored as keyed hashes: the same database under another key knows none of them."""
    otto = api.headers("otto")
    rekeyed = dataclasses.replace(
        api.services, hasher=TokenHasher("another-secret-key-" + "x" * 30), registry=CollectorRegistry()
    )
    with TestClient(create_app(rekeyed.settings, rekeyed)) as other:
        assert other.get("/api/v1/auth/me", headers=otto).status_code == 401
    assert api.client.get("/api/v1/auth/me", headers=otto).status_code == 200


def test_a_password_reset_ends_the_users_open_sessions(api: ApiHarness) -> None:
    stolen = api.headers("otto")
    with api.services.session_factory() as session, session.begin():
        set_password(session, username="otto", password=NEW_PASSWORD)
    assert api.client.get("/api/v1/auth/me", headers=stolen).status_code == 401


def test_after_a_password_reset_only_the_new_password_signs_in(api: ApiHarness) -> None:
    with api.services.session_factory() as session, session.begin():
        set_password(session, username="otto", password=NEW_PASSWORD)
    old = api.client.post("/api/v1/auth/login", json={"username": "otto", "password": "correct horse battery"})
    assert old.status_code == 401
    assert api.client.post("/api/v1/auth/login", json={"username": "otto", "password": NEW_PASSWORD}).status_code == 200
