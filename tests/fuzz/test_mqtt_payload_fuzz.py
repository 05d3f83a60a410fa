"""The MQTT reading parser and source under generated input (extends ``tests/ingest/test_payloads.py``).

That module fuzzes short byte strings, objects with the payload's own keys, and topics. Here: any
JSON document (any top-level type, nested, huge integers), payloads at and just over the size limit,
nesting deep enough to exhaust the JSON parser, any timestamp, and the source's ``handle`` as a whole
(topic and payload together), which must count every message as a reading or as invalid, never raise.
"""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gasguard.ingest.mqtt import BrokerAddress, MqttReadingSource
from gasguard.ingest.payloads import DEFAULT_MAX_SKEW_S, MAX_PAYLOAD_BYTES, ParseError, parse_payload

NOW = 1_700_000_000.0

any_json = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(10**30), max_value=10**30) | st.floats() | st.text(max_size=16),
    lambda children: (
        st.lists(children, max_size=5)
        | st.dictionaries(
            st.sampled_from(["ts", "ppm", "lel_pct", "value", "unit", "values"]) | st.text(max_size=6),
            children,
            max_size=6,
        )
    ),
    max_leaves=25,
)


def _check(parsed_readings: tuple[object, ...]) -> None:
    for reading in parsed_readings:
        assert reading.value is None or math.isfinite(reading.value)  # type: ignore[attr-defined]
        assert math.isfinite(reading.ts) and reading.ts >= 0  # type: ignore[attr-defined]


@settings(max_examples=400, deadline=None)
@given(any_json)
def test_any_json_document_gives_sane_readings_or_a_parse_error(document: object) -> None:
    try:
        parsed = parse_payload(json.dumps(document), channel="ch1", now=NOW)
    except ParseError:
        return
    assert parsed.readings
    _check(parsed.readings)


@settings(max_examples=300, deadline=None)
@given(st.floats() | st.integers(min_value=-(2**70), max_value=2**70) | st.text(max_size=40))
def test_any_timestamp_is_used_flagged_or_refused(ts: object) -> None:
    try:
        parsed = parse_payload(json.dumps({"ts": ts, "ppm": 1.0}), channel="ch1", now=NOW)
    except ParseError:
        return
    [reading] = parsed.readings
    _check(parsed.readings)
    assert parsed.clock_suspect is (abs(reading.ts - NOW) > DEFAULT_MAX_SKEW_S)


def test_payloads_at_the_size_limit_are_parsed_and_one_byte_over_refused() -> None:
    head = b'{"ppm": 12.5, "pad": "'
    at_limit = head + b"x" * (MAX_PAYLOAD_BYTES - len(head) - 2) + b'"}'
    assert len(at_limit) == MAX_PAYLOAD_BYTES
    assert parse_payload(at_limit, channel="ch1", now=NOW).readings[0].value == 12.5
    over = head + b"x" * (MAX_PAYLOAD_BYTES - len(head) - 1) + b'"}'
    with pytest.raises(ParseError, match="over the 16384-byte limit"):
        parse_payload(over, channel="ch1", now=NOW)


@pytest.mark.parametrize(("opener", "closer"), [(b"[", b"]"), (b'{"values": {"a": ', b"}}")])
def test_nesting_that_exhausts_the_json_parser_is_a_parse_error(opener: bytes, closer: bytes) -> None:
    depth = MAX_PAYLOAD_BYTES // (len(opener) + len(closer)) - 8
    payload = opener * depth + b"1" + closer * depth
    assert len(payload) <= MAX_PAYLOAD_BYTES
    with pytest.raises(ParseError):
        parse_payload(payload, channel="ch1", now=NOW)


topics = st.one_of(
    st.text(max_size=80),
    st.builds(
        lambda site, zone, ch: f"gasguard/{site}/{zone}/{ch}/reading",
        st.text(max_size=10),
        st.text(max_size=10),
        st.text(max_size=70),
    ),
)


@settings(max_examples=400, deadline=None)
@given(
    st.lists(st.tuples(topics, st.binary(max_size=200) | any_json.map(lambda d: json.dumps(d).encode())), max_size=8)
)
def test_the_source_counts_every_message_and_never_raises(messages: list[tuple[str, bytes]]) -> None:
    source = MqttReadingSource(BrokerAddress("127.0.0.1"), clock=lambda: NOW)
    good = 0
    for topic, payload in messages:
        incoming = source.handle(topic, payload)
        if incoming is not None:
            good += 1
            _check(incoming.parsed.readings)
    stats = source.stats
    assert (stats.received, stats.received - stats.invalid) == (len(messages), good)
