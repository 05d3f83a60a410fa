"""Parsing of device messages into domain readings.

Topic: ``<prefix>/<site>/<zone>/<channel>/reading`` (prefix ``gasguard`` by default).

Payload, a JSON object of at most ``MAX_PAYLOAD_BYTES`` bytes, one of:

- ``{"ts": 1700000000.5, "ppm": 120}``, ``{"lel_pct": 4.2}`` or ``{"value": 812, "unit": "raw"}``: one value;
- ``{"ts": "2024-05-01T12:00:00Z", "values": {"MQ2": 555, "MQ3": 515}}``: a multi-sensor array, kept
  as a ``SensorArraySample`` for the ML features and also given as one reading per sensor, on
  sub-channel ``<channel>/<sensor>``;
- a bare JSON number (``"555"``), as published by simple firmware: the value in the channel's unit.

``ts`` is epoch seconds (epoch milliseconds are recognised: anything above 1e11), or ISO-8601 (no
zone = UTC); without ``ts`` the receive time is used. A ``ts`` more than ``max_skew_s`` away from the
receive time is kept but flagged ``clock_suspect`` (the safety core times freshness by its own clock).

Decisions on bad data: ``null``, NaN and infinity as a value become ``Reading(value=None)``, so the
safety core puts the channel in FAULT instead of the reading silently vanishing. Anything else that
is wrong (not JSON, too large, wrong types, unknown unit, bad topic) raises ``ParseError`` and nothing
else.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from gasguard.domain import Reading

MAX_PAYLOAD_BYTES = 16_384
MAX_ARRAY_VALUES = 256
DEFAULT_MAX_SKEW_S = 300.0
MILLISECONDS_ABOVE = 1e11  # 1e11 seconds is the year 5138; larger numbers are epoch milliseconds
UNITS = frozenset({"ppm", "lel_pct", "raw"})
SINGLE_VALUE_KEYS = {"ppm": "ppm", "lel_pct": "lel_pct"}
ID_PATTERN = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


class ParseError(ValueError):
    """A topic or payload that cannot be turned into readings. The message says what is wrong."""


@dataclass(frozen=True, slots=True)
class TopicAddress:
    site: str
    zone: str
    channel: str


@dataclass(frozen=True, slots=True)
class SensorArraySample:
    """All values of a multi-sensor device at one instant (``None`` = invalid value)."""

    channel: str
    ts: float
    values: Mapping[str, float | None]

    def as_readings(self) -> tuple[Reading, ...]:
        return tuple(Reading(f"{self.channel}/{name}", value, self.ts) for name, value in self.values.items())


@dataclass(frozen=True, slots=True)
class ParsedPayload:
    """What one message said. ``unit`` is ``None`` when the device did not say (use the configured one)."""

    readings: tuple[Reading, ...]
    unit: str | None
    array: SensorArraySample | None
    clock_suspect: bool


def parse_topic(topic: str, *, prefix: str = "gasguard") -> TopicAddress:
    """Site, zone and channel from a reading topic."""
    parts = topic.split("/")
    if len(parts) != 5 or parts[0] != prefix or parts[4] != "reading":
        raise ParseError(f"topic must be {prefix}/<site>/<zone>/<channel>/reading, got {topic[:200]!r}")
    site, zone, channel = parts[1:4]
    for name, value in (("site", site), ("zone", zone), ("channel", channel)):
        if not ID_PATTERN.fullmatch(value):
            raise ParseError(f"{name} id {value[:80]!r} must be 1-64 of A-Z a-z 0-9 _ . -")
    return TopicAddress(site=site, zone=zone, channel=channel)


def _number(value: Any, what: str) -> float | None:
    """A finite float, ``None`` for null/NaN/infinity, ``ParseError`` for anything that is not a number."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ParseError(f"{what} must be a number, got {type(value).__name__}")
    try:
        number = float(value)
    except OverflowError:  # an integer too large for a float
        return None
    return number if math.isfinite(number) else None


def parse_timestamp(value: Any) -> float:
    """Epoch seconds from epoch seconds, epoch milliseconds or an ISO-8601 string."""
    if isinstance(value, str):
        if len(value) > 64:
            raise ParseError("ts string too long")
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00") if value.endswith("Z") else value)
        except ValueError:
            raise ParseError(f"ts {value!r} is not ISO-8601") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.timestamp()
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ParseError(f"ts must be epoch seconds or an ISO-8601 string, got {type(value).__name__}")
    try:
        ts = float(value)
    except OverflowError:
        raise ParseError("ts out of range") from None
    if not math.isfinite(ts) or ts < 0:
        raise ParseError("ts must be a finite, non-negative number")
    if ts > MILLISECONDS_ABOVE:
        ts /= 1000.0
        if ts > MILLISECONDS_ABOVE:
            raise ParseError("ts out of range")
    return ts


def _decode(payload: bytes | str) -> Any:
    size = len(payload.encode("utf-8", "surrogatepass") if isinstance(payload, str) else payload)
    if size > MAX_PAYLOAD_BYTES:
        raise ParseError(f"payload of {size} bytes is over the {MAX_PAYLOAD_BYTES}-byte limit")
    try:
        text = payload.decode("utf-8") if isinstance(payload, bytes) else payload
        return json.loads(text)
    except (ValueError, RecursionError) as exc:  # bad UTF-8, bad JSON, integers over the digit limit
        raise ParseError(f"payload is not valid UTF-8 JSON: {exc}") from None


def _values(raw: Any) -> dict[str, float | None]:
    if not isinstance(raw, dict):
        raise ParseError("values must be an object of sensor name -> number")
    if not raw:
        raise ParseError("values is empty")
    if len(raw) > MAX_ARRAY_VALUES:
        raise ParseError(f"values has more than {MAX_ARRAY_VALUES} entries")
    values: dict[str, float | None] = {}
    for name, value in raw.items():
        if not ID_PATTERN.fullmatch(name):
            raise ParseError(f"sensor name {name[:80]!r} must be 1-64 of A-Z a-z 0-9 _ . -")
        values[name] = _number(value, f"values.{name}")
    return values


def parse_payload(
    payload: bytes | str, *, channel: str, now: float, max_skew_s: float = DEFAULT_MAX_SKEW_S
) -> ParsedPayload:
    """Readings from one message for ``channel``, received at ``now`` (see the module docstring)."""
    document = _decode(payload)
    if isinstance(document, int | float) and not isinstance(document, bool):
        value = _number(document, "payload")
        return ParsedPayload((Reading(channel, value, now),), None, None, False)
    if not isinstance(document, dict):
        raise ParseError(f"payload must be a JSON object or a number, got {type(document).__name__}")

    ts = now if document.get("ts") is None else parse_timestamp(document["ts"])
    clock_suspect = abs(ts - now) > max_skew_s

    single = [key for key in ("value", *SINGLE_VALUE_KEYS) if key in document]
    if len(single) > 1:
        raise ParseError(f"payload has more than one of value, ppm, lel_pct: {single}")
    unit: str | None = None
    raw_unit = document.get("unit")
    if raw_unit is not None:
        if single and single[0] in SINGLE_VALUE_KEYS:
            raise ParseError(f"{single[0]} already names the unit; drop 'unit'")
        if not isinstance(raw_unit, str) or raw_unit not in UNITS:
            raise ParseError(f"unit must be one of {sorted(UNITS)}, got {str(raw_unit)[:40]!r}")
        unit = raw_unit
    readings: list[Reading] = []
    if single:
        key = single[0]
        unit = SINGLE_VALUE_KEYS.get(key, unit)
        readings.append(Reading(channel, _number(document[key], key), ts))

    array: SensorArraySample | None = None
    if "values" in document:
        array = SensorArraySample(channel=channel, ts=ts, values=_values(document["values"]))
        readings.extend(array.as_readings())
    if not readings:
        raise ParseError("payload has no value: give one of value, ppm, lel_pct or values")
    return ParsedPayload(tuple(readings), unit, array, clock_suspect)
