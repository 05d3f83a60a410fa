"""Site-wide rules of the API: who may call what, the live view, 503 without a runtime, docs, dashboard."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

import gasguard.web.app as web_app
from gasguard.web import create_app
from gasguard.web.testing import NOW, ApiHarness
from live_harness import LiveHarness

STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}
PUBLIC = {
    ("POST", "/api/v1/auth/login"),
    ("GET", "/api/v1/health"),
    ("GET", "/api/v1/health/live"),
    # The signed one-time acknowledge link in a notification: the token in the path is the credential
    # (HMAC-signed, expiring, single use), and it can only acknowledge, never reset or open.
    ("GET", "/api/v1/notifications/ack/{token}"),
    ("POST", "/api/v1/notifications/ack/{token}"),
}
ANY_SIGNED_IN = {("POST", "/api/v1/auth/logout"), ("GET", "/api/v1/auth/me")}
"""Routes any signed-in caller may use, viewers included (ending or reading one's own session)."""


def _concrete(path: str) -> str:
    """A callable URL for a route template: every path parameter becomes ``x1``."""
    return re.sub(r"\{[^}/]+\}", "x1", path)


def _api_routes(api: ApiHarness) -> list[tuple[str, str]]:
    """Every (method, path) of the API, from the app's own OpenAPI document (every API route is documented)."""
    spec = api.client.get("/openapi.json").json()
    return [
        (method.upper(), path)
        for path, operations in spec["paths"].items()
        if path.startswith("/api/")
        for method in operations
        if method in ("get", "post", "put", "patch", "delete")
    ]


def _second_app(api: ApiHarness) -> FastAPI:
    """Another app on the same database (with its own metrics registry), built after a monkeypatch."""
    services = dataclasses.replace(api.services, registry=CollectorRegistry())
    return create_app(services.settings, services)


@pytest.mark.parametrize("caller", ["anonymous", "viewer"])
def test_every_state_changing_route_refuses_anonymous_and_viewers(api: ApiHarness, caller: str) -> None:
    """Walks the app's routes, so a route added later is covered without touching this test."""
    headers = api.headers("vera") if caller == "viewer" else {}
    expected = 403 if caller == "viewer" else 401
    checked, wrong = [], []
    for method, path in _api_routes(api):
        if method not in STATE_CHANGING or (method, path) in PUBLIC:
            continue
        if caller == "viewer" and (method, path) in ANY_SIGNED_IN:
            continue
        response = api.client.request(method, _concrete(path), json={}, headers=headers)
        checked.append(path)
        if response.status_code != expected:
            wrong.append(f"{method} {path}: {response.status_code} {response.text[:120]}")
    assert wrong == []
    for path in (
        "/api/v1/zones/{zone_id}/reset",
        "/api/v1/alarms/{alarm_id}/ack",
        "/api/v1/alarms/{alarm_id}/shelve",
        "/api/v1/alarms/{alarm_id}/unshelve",
        "/api/v1/alarms/{alarm_id}/inhibit",
        "/api/v1/alarms/{alarm_id}/uninhibit",
        "/api/v1/valves/{valve_id}/close",
        "/api/v1/valves/{valve_id}/open",
        "/api/v1/ingest/readings",
        "/api/v1/users",
        "/api/v1/tokens",
    ):
        assert path in checked


def test_every_other_api_route_needs_a_token(api: ApiHarness) -> None:
    wrong = []
    for method, path in _api_routes(api):
        if (method, path) in PUBLIC:
            continue
        response = api.client.request(method, _concrete(path))
        if response.status_code != 401:
            wrong.append(f"{method} {path}: {response.status_code}")
    assert wrong == []


def test_live_routes_answer_503_without_a_runtime(api: ApiHarness) -> None:
    vera, otto = api.headers("vera"), api.headers("otto")
    for path in (
        "/api/v1/site",
        "/api/v1/zones",
        "/api/v1/zones/kitchen",
        "/api/v1/alarms",
        "/api/v1/valves",
        "/api/v1/readings/latest",
        "/api/v1/models",
        "/api/v1/cameras",
    ):
        response = api.client.get(path, headers=vera)
        assert (path, response.status_code, response.json()) == (
            path,
            503,
            {"detail": "the live runtime is not running in this service"},
        )
    assert api.client.post("/api/v1/zones/kitchen/reset", json={}, headers=otto).status_code == 503
    # the stored history needs no runtime
    assert api.client.get("/api/v1/alarms", params={"include": "history"}, headers=vera).json() == []


def test_site_view_after_a_cold_start(live: LiveHarness) -> None:
    body = live.client.get("/api/v1/site", headers=live.headers("vera")).json()
    assert body["ts"] == NOW
    [site] = body["sites"]
    assert (site["id"], site["name"]) == ("plant", "Test plant")
    kitchen, boiler = site["zones"]
    # no stored snapshot: valve positions unknown, so every zone starts tripped with its valves closing
    assert [(z["id"], z["status"], z["tripped"]) for z in (kitchen, boiler)] == [
        ("kitchen", "tripped", True),
        ("boiler", "tripped", True),
    ]
    assert kitchen["trip_cause"] == "cold start: valve positions unknown"
    assert [c["id"] for c in kitchen["channels"]] == ["kitchen-ch1", "kitchen-ch2"]
    first = kitchen["channels"][0]
    assert (first["name"], first["gas"], first["unit"], first["setpoints"]) == (
        "Above the range",
        "methane",
        "lel_pct",
        {"a1": 10.0, "a2": 20.0, "a3": 40.0},
    )
    assert [(v["id"], v["name"], v["travel_time_s"]) for v in kitchen["valves"]] == [
        ("kitchen-valve", "Kitchen gas main", 3.0)
    ]
    assert (kitchen["vote_k"], kitchen["identification"], kitchen["cameras"]) == (1, None, [])


def test_openapi_and_docs_are_served(api: ApiHarness) -> None:
    spec = api.client.get("/openapi.json").json()
    assert spec["openapi"].startswith("3.")
    assert "/api/v1/alarms/{alarm_id}/shelve" in spec["paths"]
    shelve = spec["paths"]["/api/v1/alarms/{alarm_id}/shelve"]["post"]
    assert set(shelve["responses"]) >= {"200", "404", "409", "422", "503"}
    docs = api.client.get("/docs")
    assert docs.status_code == 200
    assert "swagger" in docs.text.lower()


def test_dashboard_is_served_at_the_root(api: ApiHarness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    static = tmp_path / "static"
    static.mkdir()
    (static / "index.html").write_text("<!doctype html><title>GasGuard</title>", encoding="utf-8")
    (static / "app.js").write_text("console.log('live')", encoding="utf-8")
    monkeypatch.setattr(web_app, "STATIC_DIR", static)
    client = TestClient(_second_app(api))
    index = client.get("/")
    assert (index.status_code, index.headers["content-type"]) == (200, "text/html; charset=utf-8")
    assert "<title>GasGuard</title>" in index.text
    script = client.get("/static/app.js")
    assert (script.status_code, script.text) == (200, "console.log('live')")
    assert client.get("/static/missing.js").status_code == 404


def test_without_a_dashboard_only_the_api_is_served(
    api: ApiHarness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(web_app, "STATIC_DIR", tmp_path / "absent")
    client = TestClient(_second_app(api))
    assert client.get("/").status_code == 404
    assert client.get("/api/v1/health/live").json() == {"status": "ok"}


def test_the_example_site_is_served_whole(live_example: LiveHarness) -> None:
    """The shipped example: raw, ppm and %LEL channels, rate of rise, three zones; sensors still warming up."""
    vera = live_example.headers("vera")
    zones = live_example.client.get("/api/v1/zones", headers=vera).json()
    assert [(z["id"], z["site"], z["status"]) for z in zones] == [
        ("kitchen", "demo", "tripped"),
        ("boiler", "demo", "tripped"),
        ("lab", "demo", "tripped"),
    ]
    assert {c["health"] for z in zones for c in z["channels"]} == {"warming_up"}
    lab = next(z for z in zones if z["id"] == "lab")
    assert [(c["id"], c["unit"]) for c in lab["channels"]] == [("lab-ch1", "raw"), ("lab-ch2", "lel_pct")]
    assert {a["level"] for a in lab["alarms"]} == {"FAULT"}
    valves = live_example.client.get("/api/v1/valves", headers=vera).json()
    assert [v["id"] for v in valves] == ["kitchen-valve", "boiler-valve", "lab-valve"]
