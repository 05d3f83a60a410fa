"""Topic and payload parsing: every accepted format, every refusal, and nothing but ParseError."""

from __future__ import annotations

import contextlib
import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gasguard.domain import Reading
from gasguard.ingest.payloads import (
    MAX_PAYLOAD_BYTES,
    ParseError,
    SensorArraySample,
    TopicAddress,
    parse_payload,
    parse_timestamp,
    parse_topic,
)

NOW = 1_714_564_800.0  # 2024-05-01T12:00:00Z


def test_topic_gives_site_zone_channel() -> None:
    assert parse_topic("gasguard/demo/kitchen/kitchen-ch1/reading") == TopicAddress("demo", "kitchen", "kitchen-ch1")
    assert parse_topic("plant7/a/b/c/reading", prefix="plant7") == TopicAddress("a", "b", "c")


@pytest.mark.parametrize(
    "topic",
    [
        "gasguard/demo/kitchen/reading",
        "gasguard/demo/kitchen/ch1/state",
        "other/demo/kitchen/ch1/reading",
        "gasguard/demo/kitchen/ch 1/reading",
        "gasguard/demo//ch1/reading",
        "gasguard/demo/kitchen/ch1/reading/extra",
    ],
)
def test_bad_topics_are_refused(topic: str) -> None:
    with pytest.raises(ParseError):
        parse_topic(topic)


def test_single_value_payloads() -> None:
    ppm = parse_payload(b'{"ts": 1714564800.5, "ppm": 120}', channel="ch1", now=NOW)
    assert (ppm.readings, ppm.unit, ppm.array, ppm.clock_suspect) == (
        (Reading("ch1", 120.0, NOW + 0.5),),
        "ppm",
        None,
        False,
    )
    lel = parse_payload('{"lel_pct": 4.25}', channel="ch1", now=NOW)
    assert (lel.readings, lel.unit) == ((Reading("ch1", 4.25, NOW),), "lel_pct")
    raw = parse_payload('{"value": 812, "unit": "raw", "ts": "2024-05-01T12:00:01Z"}', channel="ch1", now=NOW)
    assert (raw.readings, raw.unit) == ((Reading("ch1", 812.0, NOW + 1),), "raw")
    bare = parse_payload(b"555", channel="ch1", now=NOW)
    assert (bare.readings, bare.unit) == ((Reading("ch1", 555.0, NOW),), None)


def test_sensor_array_payload_keeps_the_array_and_gives_sub_channel_readings() -> None:
    parsed = parse_payload(
        b'{"ts": "2024-05-01T14:00:00+02:00", "values": {"MQ2": 555, "MQ3": 515.5}}', channel="multi", now=NOW
    )
    assert parsed.array == SensorArraySample("multi", NOW, {"MQ2": 555.0, "MQ3": 515.5})
    assert parsed.readings == (Reading("multi/MQ2", 555.0, NOW), Reading("multi/MQ3", 515.5, NOW))


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "null", "1e400"])
def test_nan_infinity_and_null_become_invalid_readings_not_errors(literal: str) -> None:
    parsed = parse_payload(f'{{"ppm": {literal}}}', channel="ch1", now=NOW)
    assert parsed.readings == (Reading("ch1", None, NOW),)
    array = parse_payload(f'{{"values": {{"MQ2": {literal}, "MQ3": 1}}}}', channel="ch1", now=NOW)
    assert array.readings == (Reading("ch1/MQ2", None, NOW), Reading("ch1/MQ3", 1.0, NOW))


def test_timestamps_in_milliseconds_and_naive_iso_are_understood() -> None:
    assert parse_timestamp(1_714_564_800_250) == NOW + 0.25
    assert parse_timestamp("2024-05-01T12:00:00") == NOW
    assert parse_timestamp("2024-05-01T12:00:00.5Z") == NOW + 0.5


def test_far_off_timestamps_are_flagged_not_refused() -> None:
    old = parse_payload('{"ts": 1000, "ppm": 3}', channel="ch1", now=NOW)
    assert old.clock_suspect is True and old.readings == (Reading("ch1", 3.0, 1000.0),)
    future = parse_payload(json.dumps({"ts": NOW + 301, "ppm": 3}), channel="ch1", now=NOW)
    assert future.clock_suspect is True
    close = parse_payload(json.dumps({"ts": NOW + 299, "ppm": 3}), channel="ch1", now=NOW)
    assert close.clock_suspect is False


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"\xff\xfe", "not valid UTF-8 JSON"),
        (b"{not json", "not valid UTF-8 JSON"),
        (b"[1, 2]", "must be a JSON object or a number"),
        (b'"555"', "must be a JSON object or a number"),
        (b"{}", "has no value"),
        (b'{"ppm": "12"}', "ppm must be a number, got str"),
        (b'{"ppm": true}', "ppm must be a number, got bool"),
        (b'{"ppm": 1, "value": 2}', "more than one of"),
        (b'{"value": 1, "unit": "mg/m3"}', "unit must be one of"),
        (b'{"ppm": 1, "unit": "raw"}', "already names the unit"),
        (b'{"ppm": 1, "ts": "yesterday"}', "not ISO-8601"),
        (b'{"ppm": 1, "ts": -5}', "non-negative"),
        (b'{"ppm": 1, "ts": true}', "ts must be epoch seconds"),
        (b'{"values": []}', "values must be an object"),
        (b'{"values": {}}', "values is empty"),
        (b'{"values": {"MQ 2": 1}}', "sensor name"),
        (b'{"values": {"MQ2": [1]}}', "values.MQ2 must be a number"),
        (b"1" * 5000, "not valid UTF-8 JSON"),  # over Python's integer-digit limit
        (b'{"ppm": 1, "pad": "' + b"x" * MAX_PAYLOAD_BYTES + b'"}', "over the 16384-byte limit"),
    ],
)
def test_invalid_payloads_raise_one_clear_parse_error(payload: bytes, message: str) -> None:
    with pytest.raises(ParseError, match=message.replace("(", r"\(")):
        parse_payload(payload, channel="ch1", now=NOW)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
payload_objects = st.fixed_dictionaries(
    {},
    optional={
        "ts": json_values,
        "ppm": json_values,
        "lel_pct": json_values,
        "value": json_values,
        "unit": json_values,
        "values": json_values | st.dictionaries(st.text(max_size=70), json_values, max_size=5),
    },
)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_only_ever_raise_parse_error(data: bytes) -> None:
    with contextlib.suppress(ParseError):
        parse_payload(data, channel="ch1", now=NOW)


@settings(max_examples=400, deadline=None)
@given(payload_objects)
def test_arbitrary_json_objects_give_readings_or_parse_error(document: dict[str, object]) -> None:
    try:
        parsed = parse_payload(json.dumps(document), channel="ch1", now=NOW)
    except ParseError:
        return
    assert parsed.readings
    for reading in parsed.readings:
        assert reading.value is None or math.isfinite(reading.value)
        assert math.isfinite(reading.ts)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=120))
def test_arbitrary_topics_only_ever_raise_parse_error(topic: str) -> None:
    with contextlib.suppress(ParseError):
        parse_topic(topic)
