"""The maintenance REST API: records with named 422s, due list, drift, KPIs, report, replay, health."""

from __future__ import annotations

import io
import time
import zipfile

from maintenance.conftest import LAB_SITE, MaintenanceHarness

CALIBRATION = {
    "channel": "kitchen-ch1",
    "gas": "methane",
    "concentration": 25000,
    "as_found_zero": 300,
    "as_found_span": 24000,
    "as_left_zero": 0,
    "as_left_span": 25100,
    "instrument": "cylinder 4471",
    "note": "half-yearly calibration",
}


def test_calibration_record_through_the_api(lab: MaintenanceHarness) -> None:
    otto = lab.headers("otto")
    created = lab.client.post("/api/v1/maintenance/calibrations", json=CALIBRATION, headers=otto)
    assert created.status_code == 201, created.text
    record = created.json()
    assert record["kind"] == "calibration" and record["passed"] is True and record["recorded_by"] == "otto"
    listed = lab.client.get("/api/v1/maintenance/records?target=kitchen-ch1", headers=lab.headers("vera")).json()
    assert [r["id"] for r in listed] == [record["id"]]
    viewer = lab.client.post("/api/v1/maintenance/calibrations", json=CALIBRATION, headers=lab.headers("vera"))
    assert viewer.status_code == 403


def test_calibration_with_as_left_outside_the_sensor_range_is_a_named_422(lab: MaintenanceHarness) -> None:
    body = {**CALIBRATION, "as_left_span": 60000}
    response = lab.client.post("/api/v1/maintenance/calibrations", json=body, headers=lab.headers("otto"))
    assert response.status_code == 422
    assert response.json()["detail"] == (
        "as_left_span: 60000 ppm is outside the range of kitchen-ch1 (0 to 50000 ppm): the sensor cannot read it"
    )


def test_bump_test_on_an_unknown_channel_is_a_named_422(lab: MaintenanceHarness) -> None:
    otto = lab.headers("otto")
    guided = lab.client.post(
        "/api/v1/maintenance/tests/bump",
        json={"channel": "ghost-ch9", "applied_lel_pct": 50, "reason": "monthly bump"},
        headers=otto,
    )
    assert guided.status_code == 422
    assert guided.json()["detail"] == "channel: no channel 'ghost-ch9' in the site configuration"
    typed = lab.client.post(
        "/api/v1/maintenance/bump-tests",
        json={"channel": "ghost-ch9", "gas": "methane", "applied_lel_pct": 50, "peak_lel_pct": 48},
        headers=otto,
    )
    assert typed.status_code == 422 and typed.json()["detail"].startswith("channel: no channel 'ghost-ch9'")
    stroke = lab.client.post(
        "/api/v1/maintenance/tests/stroke", json={"valve": "ghost-valve", "reason": "stroke"}, headers=otto
    )
    assert stroke.status_code == 422 and stroke.json()["detail"].startswith("valve: no valve 'ghost-valve'")


def test_proof_test_report_for_a_period_in_the_future_is_a_named_422(lab: MaintenanceHarness) -> None:
    later = lab.clock.now + 86400
    response = lab.client.get(
        f"/api/v1/maintenance/report?from={later}&to={later + 86400}", headers=lab.headers("vera")
    )
    assert response.status_code == 422
    assert response.json()["detail"].startswith("from: the report period starts in the future (")


def test_proof_test_and_the_rest_in_the_report_pdf_and_csv(lab: MaintenanceHarness) -> None:
    otto = lab.headers("otto")
    lab.client.post("/api/v1/maintenance/calibrations", json=CALIBRATION, headers=otto)
    proof = {"zone": "lab", "channel": "lab-ch2", "gas": "methane", "alarm_s": 6, "trip_s": 9, "closed_s": 11}
    assert lab.client.post("/api/v1/maintenance/proof-tests", json=proof, headers=otto).status_code == 201
    lab.clock.now += 60
    start, end = lab.clock.now - 86400, lab.clock.now + 3600  # ends in the future: cut at now
    pdf = lab.client.get(f"/api/v1/maintenance/report?from={start}&to={end}", headers=otto)
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF-") and len(pdf.content) > 2000
    zipped = lab.client.get(f"/api/v1/maintenance/report?from={start}&to={end}&format=csv", headers=otto)
    assert zipped.status_code == 200 and zipped.headers["content-type"] == "application/zip"
    files = zipfile.ZipFile(io.BytesIO(zipped.content))
    assert sorted(files.namelist()) == [
        "bump_tests.csv",
        "calibrations.csv",
        "due.csv",
        "kpis.csv",
        "proof_tests.csv",
        "stroke_tests.csv",
        "trips.csv",
    ]
    proofs = files.read("proof_tests.csv").decode().splitlines()
    assert len(proofs) == 2 and ",lab,lab-ch2," in proofs[1] and proofs[1].endswith(",True,False,")
    trips = files.read("trips.csv").decode()
    assert "cold start: valve positions unknown" in trips  # the cold start's trip and its timeline


def test_due_drift_kpis_and_health_endpoints(lab: MaintenanceHarness) -> None:
    vera = lab.headers("vera")
    due = lab.client.get("/api/v1/maintenance/due?zone=kitchen", headers=vera).json()
    assert {(d["kind"], d["target"], d["status"]) for d in due} == {
        ("bump", "kitchen-ch1", "never"),
        ("calibration", "kitchen-ch1", "never"),
        ("proof_test", "kitchen", "never"),
    }
    assert next(d for d in due if d["kind"] == "bump")["interval_days"] == 14
    drift = lab.client.get("/api/v1/maintenance/drift/lab-ch2?days=30", headers=vera)
    assert drift.status_code == 200 and drift.json()["zero"]["fit"] is None
    assert lab.client.get("/api/v1/maintenance/drift/nowhere", headers=vera).status_code == 404
    assert lab.client.get("/api/v1/maintenance/drift", headers=vera).json()["warnings"] == []
    kpis = lab.client.get("/api/v1/maintenance/kpis", headers=vera).json()
    assert [s["site"] for s in kpis["sites"]] == ["plant"]
    assert {z["zone"] for z in kpis["sites"][0]["zones"]} == {"lab", "kitchen"}
    weekly = lab.client.get("/api/v1/maintenance/kpis/weekly?weeks=2", headers=vera).json()
    assert len(weekly) == 2
    assert [[z["zone"] for z in week["zones"]] for week in weekly] == [["lab", "kitchen"], ["lab", "kitchen"]]
    health = lab.client.get("/api/v1/health", headers=vera).json()
    assert health["components"]["maintenance"]["status"] == "ok"
    paths = lab.client.get("/openapi.json").json()["paths"]
    assert "/api/v1/maintenance/calibrations" in paths and "/api/v1/maintenance/tests/bump" in paths


def test_replay_through_the_api_for_admins(lab: MaintenanceHarness) -> None:
    ada = lab.headers("ada")
    lab.clock.now += 1  # the period ends after the cold start's events
    body = {"config": LAB_SITE, "from": lab.clock.now - 3600, "to": lab.clock.now}
    assert lab.client.post("/api/v1/maintenance/replay", json=body, headers=lab.headers("otto")).status_code == 403
    bad = lab.client.post("/api/v1/maintenance/replay", json={**body, "config": "sites: []"}, headers=ada)
    assert bad.status_code == 422 and bad.json()["detail"].startswith("config: ")
    started = lab.client.post("/api/v1/maintenance/replay", json=body, headers=ada)
    assert started.status_code == 202, started.text
    job = started.json()
    for _ in range(200):
        job = lab.client.get(f"/api/v1/maintenance/replay/{job['id']}", headers=ada).json()
        if job["status"] != "running":
            break
        time.sleep(0.02)
    assert job["status"] == "done", job
    assert job["result"]["summary"]["trip"]["skipped"] >= 1  # the cold start's trips are not from readings
