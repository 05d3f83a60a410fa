"""HTTP ingest under bad input: oversized, wrong types, unknown channels, NaN and infinity, odd times.

``tests/web/test_ingest_routes.py`` covers the contract (all-or-nothing batches, the 422 messages for
a missing value, a string value, extra fields, empty and 1,001-reading batches, broken JSON). Here the
edges: what a broken or hostile device might send. Every answer is a 2xx or a 4xx with a ``detail``;
a value that is not a finite number puts its channel in FAULT rather than vanishing.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from live_harness import LiveHarness

URL = "/api/v1/ingest/readings"
NOW = 1_700_000_000.0


def _device(live: LiveHarness) -> dict[str, str]:
    token = live.client.post(
        "/api/v1/tokens", json={"name": "fuzz-gw", "reason": "fuzzing"}, headers=live.headers("ada")
    ).json()["token"]
    return {"Authorization": f"Bearer {token}"}


def _post_raw(live: LiveHarness, body: bytes, headers: dict[str, str]) -> Any:
    return live.client.post(URL, content=body, headers={**headers, "Content-Type": "application/json"})


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e400", "-1e400"])
def test_non_finite_values_are_accepted_as_a_fault_not_dropped(live: LiveHarness, literal: str) -> None:
    response = _post_raw(live, f'{{"channel": "kitchen-ch1", "value": {literal}}}'.encode(), _device(live))
    assert response.status_code == 202, response.text
    kitchen = live.zone("kitchen")
    assert (kitchen["channels"][0]["health"], kitchen["tripped"]) == ("invalid", True)


@pytest.mark.parametrize(
    ("ts", "detail"),
    [
        (-1, "body.ts: ts must be a finite, non-negative number"),
        (1e300, "body.ts: ts out of range"),
        ("NaN", None),
        ("9999-99-99T00:00:00Z", "body.ts: ts '9999-99-99T00:00:00Z' is not ISO-8601"),
        ("x" * 65, "body.ts: ts string too long"),
        ([NOW], None),
    ],
)
def test_impossible_timestamps_are_refused_with_a_clear_422(live: LiveHarness, ts: Any, detail: str | None) -> None:
    body = json.dumps({"channel": "kitchen-ch1", "ts": ts, "value": 1.0}).replace('"NaN"', "NaN")
    response = _post_raw(live, body.encode(), _device(live))
    assert response.status_code == 422, response.text
    assert response.json()["detail"]
    if detail is not None:
        assert response.json()["detail"] == detail


@pytest.mark.parametrize("ts", [0, 1.0, "1970-01-01T00:00:00Z", NOW + 10 * 365 * 86400, "2999-12-31T23:59:59Z"])
def test_far_past_and_future_timestamps_do_not_fool_the_freshness_check(live: LiveHarness, ts: Any) -> None:
    """The safety core times freshness by its own clock: a device clock in 1970 or 2999 changes nothing."""
    device = _device(live)
    response = live.client.post(URL, json={"channel": "kitchen-ch1", "ts": ts, "value": 1.0}, headers=device)
    assert response.status_code == 202, response.text
    channel = live.zone("kitchen")["channels"][0]
    assert (channel["health"], channel["ts"], channel["value"]) == ("ok", NOW, 1.0)


def test_wrong_types_are_422_and_nothing_is_accepted(live: LiveHarness) -> None:
    device = _device(live)
    for body in (
        {"channel": 7, "value": 1.0},
        {"channel": None, "value": 1.0},
        {"channel": "", "value": 1.0},
        {"channel": "x" * 65, "value": 1.0},
        {"channel": "kitchen-ch1", "value": [1.0]},
        {"channel": "kitchen-ch1", "value": {"ppm": 1}},
        {"readings": {"channel": "kitchen-ch1", "value": 1.0}},
        {"readings": [{"channel": "kitchen-ch1", "value": 1.0}, "kitchen-ch2"]},
        "kitchen-ch1",
        None,
    ):
        response = live.client.post(URL, json=body, headers=device)
        assert response.status_code == 422, (body, response.text)
        assert isinstance(response.json()["detail"], str)
    assert live.zone("kitchen")["channels"][0]["value"] is None  # no reading got through


@pytest.mark.parametrize("field", ["value", "ts"])
def test_a_boolean_is_not_a_number(live: LiveHarness, field: str) -> None:
    body = {"channel": "kitchen-ch1", "value": 1.0, field: True}
    response = live.client.post(URL, json=body, headers=_device(live))
    assert response.status_code == 422, response.text


def test_unknown_channels_are_named_and_nothing_is_accepted(live: LiveHarness) -> None:
    readings = [{"channel": "kitchen-ch1", "value": 1.0}, {"channel": "../etc/passwd", "value": 1.0}]
    readings += [{"channel": "kitchen-ch9", "value": 2.0}]
    response = live.client.post(URL, json={"readings": readings}, headers=_device(live))
    assert (response.status_code, response.json()["detail"]) == (
        422,
        "unknown channel(s): ../etc/passwd, kitchen-ch9; nothing was accepted",
    )
    assert live.zone("kitchen")["channels"][0]["value"] is None


def test_a_deeply_nested_body_is_refused_not_a_crash(live: LiveHarness) -> None:
    response = _post_raw(live, b"[" * 100_000 + b"]" * 100_000, _device(live))
    assert 400 <= response.status_code < 500
    assert response.json()["detail"]


def test_a_maximal_batch_is_taken_whole(live: LiveHarness) -> None:
    batch = [{"channel": "boiler-ch1", "ts": NOW - 1000 + i, "value": float(i)} for i in range(1000)]
    response = live.client.post(URL, json={"readings": batch}, headers=_device(live))
    assert (response.status_code, response.json()) == (202, {"accepted": 1000})
    assert live.zone("boiler")["channels"][0]["value"] == 999.0


readings = st.fixed_dictionaries(
    {"channel": st.sampled_from(["kitchen-ch1", "kitchen-ch2", "boiler-ch1"]) | st.text(max_size=70)},
    optional={
        "ts": st.none() | st.floats() | st.integers(min_value=-(2**80), max_value=2**80) | st.text(max_size=40),
        "value": st.none() | st.floats() | st.integers(min_value=-(2**80), max_value=2**80) | st.text(max_size=5),
        "extra": st.integers(),
    },
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(readings, st.fixed_dictionaries({"readings": st.lists(readings, max_size=5)})))
def test_generated_bodies_get_202_or_a_clear_4xx(fuzz_live: LiveHarness, body: dict[str, Any]) -> None:
    headers = fuzz_live.headers("ada")
    response = fuzz_live.client.post(
        URL, content=json.dumps(body).encode(), headers={**headers, "Content-Type": "application/json"}
    )
    assert response.status_code in (202, 422), response.text
    if response.status_code == 422:
        assert isinstance(response.json()["detail"], str) and response.json()["detail"]


def _huge_batch(megabytes: int) -> bytes:
    one = b'{"channel": "kitchen-ch1", "value": 1.0}'
    return b'{"readings": [' + b",".join([one] * (megabytes * 1_000_000 // len(one))) + b"]}"


def test_an_oversized_body_is_refused_with_413_even_without_a_token(live: LiveHarness) -> None:
    response = _post_raw(live, _huge_batch(8), {})
    assert response.status_code == 413


def test_an_oversized_body_is_a_4xx_not_a_crash(live: LiveHarness) -> None:
    for headers in ({}, _device(live)):
        response = _post_raw(live, _huge_batch(8), headers)
        assert 400 <= response.status_code < 500, response.text[:200]
