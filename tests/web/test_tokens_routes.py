from __future__ import annotations

from gasguard.web.testing import NOW, ApiHarness


def test_admin_creates_lists_and_revokes_device_tokens(api: ApiHarness) -> None:
    headers = api.headers("ada")
    created = api.client.post("/api/v1/tokens", json={"name": "boiler-gw", "reason": "new gateway"}, headers=headers)
    assert created.status_code == 201
    body = created.json()
    assert body["name"] == "boiler-gw"
    assert body["token"].startswith("ggd_")
    device = {"Authorization": f"Bearer {body['token']}"}
    assert api.client.get("/api/v1/auth/me", headers=device).json() == {
        "name": "device:boiler-gw",
        "role": None,
        "device": True,
    }
    listed = api.client.get("/api/v1/tokens", headers=headers).json()
    assert listed == [
        {
            "id": body["id"],
            "name": "boiler-gw",
            "created_at": NOW,
            "revoked_at": None,
            "last_used_at": NOW,
            "scope": None,  # not bound: it may post any channel
        }
    ]
    assert (
        api.client.post("/api/v1/tokens", json={"name": "boiler-gw", "reason": "again"}, headers=headers).status_code
        == 409
    )

    revoked = api.client.delete(f"/api/v1/tokens/{body['id']}", params={"reason": "gateway stolen"}, headers=headers)
    assert revoked.status_code == 204
    assert api.client.get("/api/v1/auth/me", headers=device).status_code == 401
    assert api.client.get("/api/v1/tokens", headers=headers).json() == []
    assert (
        api.client.delete(f"/api/v1/tokens/{body['id']}", params={"reason": "again"}, headers=headers).status_code
        == 404
    )


def test_device_tokens_cannot_use_people_routes(api: ApiHarness) -> None:
    token = api.client.post("/api/v1/tokens", json={"name": "gw", "reason": "test"}, headers=api.headers("ada")).json()[
        "token"
    ]
    device = {"Authorization": f"Bearer {token}"}
    assert api.client.get("/api/v1/events", headers=device).status_code == 403
    assert api.client.get("/api/v1/users", headers=device).status_code == 403


def test_token_routes_need_admin(api: ApiHarness) -> None:
    body = {"name": "gw", "reason": "test"}
    assert api.client.post("/api/v1/tokens", json=body).status_code == 401
    assert api.client.post("/api/v1/tokens", json=body, headers=api.headers("otto")).status_code == 403
    assert api.client.delete("/api/v1/tokens/1", params={"reason": "x-y-z"}).status_code == 401
    assert (
        api.client.delete("/api/v1/tokens/1", params={"reason": "x-y-z"}, headers=api.headers("vera")).status_code
        == 403
    )
