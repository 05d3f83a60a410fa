"""Readings: latest per channel from the live core, history from storage in chart-sized buckets."""

from __future__ import annotations

from gasguard.domain import Reading
from gasguard.storage.readings import add_readings
from gasguard.web.testing import NOW, ApiHarness
from live_harness import LiveHarness


def _seed(api: ApiHarness) -> None:
    with api.services.session_factory() as session, session.begin():
        add_readings(
            session,
            readings=[
                Reading("kitchen-ch1", 1.0, NOW - 90),
                Reading("kitchen-ch1", 3.0, NOW - 80),
                Reading("kitchen-ch1", None, NOW - 30),  # the device reported garbage
                Reading("kitchen-ch1", 10.0, NOW - 20),
                Reading("kitchen-ch2", 99.0, NOW - 20),
                Reading("kitchen-ch1", 50.0, NOW + 5),  # after the window
            ],
        )


def test_history_is_downsampled_into_buckets(api: ApiHarness) -> None:
    _seed(api)
    params = {"channel": "kitchen-ch1", "start": NOW - 100, "end": NOW, "max_points": 2}
    body = api.client.get("/api/v1/readings", params=params, headers=api.headers("vera")).json()
    assert body == {
        "channel": "kitchen-ch1",
        "start": NOW - 100,
        "end": NOW,
        "bucket_s": 50.0,
        "points": [
            {"ts": NOW - 100, "value": 2.0, "min": 1.0, "max": 3.0},
            {"ts": NOW - 50, "value": 10.0, "min": 10.0, "max": 10.0},
        ],
    }


def test_history_keeps_gaps_and_invalid_buckets_visible(api: ApiHarness) -> None:
    _seed(api)
    params = {"channel": "kitchen-ch1", "start": NOW - 100, "end": NOW, "max_points": 10}
    points = api.client.get("/api/v1/readings", params=params, headers=api.headers("vera")).json()["points"]
    assert points == [
        {"ts": NOW - 90, "value": 1.0, "min": 1.0, "max": 1.0},
        {"ts": NOW - 80, "value": 3.0, "min": 3.0, "max": 3.0},
        {"ts": NOW - 30, "value": None, "min": None, "max": None},
        {"ts": NOW - 20, "value": 10.0, "min": 10.0, "max": 10.0},
    ]


def test_history_defaults_to_the_last_hour(api: ApiHarness) -> None:
    _seed(api)
    body = api.client.get("/api/v1/readings", params={"channel": "kitchen-ch2"}, headers=api.headers("vera")).json()
    assert (body["start"], body["end"], body["bucket_s"]) == (NOW - 3600, NOW, 7.2)
    assert [(p["value"], p["max"]) for p in body["points"]] == [(99.0, 99.0)]
    unknown = api.client.get("/api/v1/readings", params={"channel": "nowhere"}, headers=api.headers("vera")).json()
    assert unknown["points"] == []


def test_bad_history_queries_are_422(api: ApiHarness) -> None:
    vera = api.headers("vera")
    for params, detail in (
        ({}, "query.channel: Field required"),
        ({"channel": "kitchen-ch1", "start": NOW, "end": NOW - 1}, "end must be after start"),
        ({"channel": "kitchen-ch1", "max_points": 0}, "query.max_points: Input should be greater than or equal to 1"),
        (
            {"channel": "kitchen-ch1", "max_points": 10_001},
            "query.max_points: Input should be less than or equal to 10000",
        ),
        ({"channel": "kitchen-ch1", "start": "-inf"}, "query.start: Input should be a finite number"),
        ({"channel": "kitchen-ch1", "start": -1e308, "end": 1e308}, "the time range is too long"),
        (
            {"channel": "kitchen-ch1", "start": "yesterday"},
            "query.start: Input should be a valid number, unable to parse string as a number",
        ),
    ):
        response = api.client.get("/api/v1/readings", params=params, headers=vera)
        assert (response.status_code, response.json()["detail"]) == (422, detail)
    assert api.client.get("/api/v1/readings", params={"channel": "kitchen-ch1"}).status_code == 401


def test_latest_readings_per_zone(live: LiveHarness) -> None:
    ada, vera = live.headers("ada"), live.headers("vera")
    live.ingest("kitchen-ch1", 12.5, ada)
    live.ingest("boiler-ch1", 1050.0, ada)  # propane, ppm: 1050 / 21000 ppm (2.1 vol %) = 5 %LEL
    assert live.client.get("/api/v1/readings/latest", params={"zone": "boiler"}, headers=vera).json() == [
        {"channel": "boiler-ch1", "zone": "boiler", "ts": NOW, "value": 1050.0, "lel_pct": 5.0, "unit": "ppm"}
    ]
    everything = live.client.get("/api/v1/readings/latest", headers=vera).json()
    assert [(r["channel"], r["value"], r["lel_pct"]) for r in everything] == [
        ("kitchen-ch1", 12.5, 12.5),
        ("kitchen-ch2", None, None),
        ("boiler-ch1", 1050.0, 5.0),
    ]
    missing = live.client.get("/api/v1/readings/latest", params={"zone": "attic"}, headers=vera)
    assert (missing.status_code, missing.json()) == (404, {"detail": "no zone 'attic'"})


def test_ingested_readings_reach_the_history(live: LiveHarness) -> None:
    ada = live.headers("ada")
    live.ingest("kitchen-ch1", 4.0, ada)
    live.clock.now += 1
    live.ingest("kitchen-ch1", 6.0, ada)
    portal = live.client.portal
    assert portal is not None
    portal.call(live.services.writer.flush)
    params = {"channel": "kitchen-ch1", "start": NOW, "end": NOW + 10, "max_points": 1}
    points = live.client.get("/api/v1/readings", params=params, headers=live.headers("vera")).json()["points"]
    assert points == [{"ts": NOW, "value": 5.0, "min": 4.0, "max": 6.0}]
