from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from gasguard.services import build_services
from gasguard.services.health import ComponentHealth
from gasguard.storage.writer import ComponentStatus
from gasguard.web import create_app
from gasguard.web.testing import ApiHarness, make_settings


def test_health_gives_anonymous_callers_each_components_status_only(api: ApiHarness) -> None:
    response = api.client.get("/api/v1/health")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "components": {name: {"status": "ok"} for name in ("database", "reading_writer", "event_log", "notify")},
    }


def test_health_gives_signed_in_people_the_details(api: ApiHarness) -> None:
    body = api.client.get("/api/v1/health", headers=api.headers("vera")).json()
    assert body["status"] == "ok"
    assert body["components"]["database"]["detail"]["backend"] == "sqlite"
    assert body["components"]["reading_writer"]["detail"]["capacity"] == 250_000
    forged = api.client.get("/api/v1/health", headers={"Authorization": "Bearer ggs_forged"}).json()
    assert "detail" not in forged["components"]["database"]


def test_a_down_component_makes_readiness_503_and_degraded_stays_200(api: ApiHarness) -> None:
    vera = api.headers("vera")
    api.services.health_checks["broker"] = lambda: ComponentHealth(ComponentStatus.DEGRADED, {"reconnects": 3})
    degraded = api.client.get("/api/v1/health")
    assert (degraded.status_code, degraded.json()["status"]) == (200, "degraded")

    def broken() -> ComponentHealth:
        raise RuntimeError("model file missing")

    api.services.health_checks["models"] = broken
    down = api.client.get("/api/v1/health", headers=vera)
    assert down.status_code == 503
    assert down.json()["components"]["models"] == {
        "status": "down",
        "detail": {"error": "RuntimeError: model file missing"},
    }
    assert api.client.get("/api/v1/health").json()["components"]["models"] == {"status": "down"}
    assert api.client.get("/api/v1/health/live").status_code == 200


def test_metrics_exposes_service_and_http_counters(api: ApiHarness) -> None:
    api.client.get("/api/v1/health")
    text = api.client.get("/metrics").text
    assert "gasguard_reading_buffer_capacity 250000.0" in text
    assert 'gasguard_http_requests_total{method="GET",route="/api/v1/health",status="200"} 1.0' in text


def test_openapi_docs_are_served(api: ApiHarness) -> None:
    assert api.client.get("/docs").status_code == 200
    paths = api.client.get("/openapi.json").json()["paths"]
    assert {"/api/v1/auth/login", "/api/v1/users", "/api/v1/events", "/api/v1/health"} <= set(paths)


def test_security_headers_and_no_cors_by_default(api: ApiHarness) -> None:
    response = api.client.get("/api/v1/health", headers={"Origin": "https://evil.example"})
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"
    assert "access-control-allow-origin" not in response.headers


def test_listed_cors_origin_is_allowed_and_others_are_not(api: ApiHarness, tmp_path: Path) -> None:
    settings = make_settings(tmp_path, cors_origins="https://ops.example.com")
    app = create_app(settings, build_services(settings))  # same database file as `api`
    with TestClient(app) as client:
        allowed = client.get("/api/v1/health/live", headers={"Origin": "https://ops.example.com"})
        other = client.get("/api/v1/health/live", headers={"Origin": "https://evil.example"})
    assert allowed.headers["access-control-allow-origin"] == "https://ops.example.com"
    assert "access-control-allow-origin" not in other.headers
