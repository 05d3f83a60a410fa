"""The plant's state events: what a zone's owner publishes so that any read model can show the zone.

Fine-grained events (an alarm changed, a valve closed) say what happened but not everything the
dashboard shows (votes, open permission, a channel's test or over-range lock, suppression times), and
a web tier that missed one would be wrong until restart. So the owner of a zone also publishes the
zone's whole visible state (``zone_state``) whenever a step changed it, and again every few seconds
as a heartbeat; outputs likewise (``outputs_state``). A reader folds the newest of each and is right
after one message, wherever it joins; a missing heartbeat is how it tells that nobody is publishing.

Alarms are sent as their facts (condition, acknowledgement, latch, suppression times) rather than
their displayed state, so the reader derives the state at the time it is read with the core's own
rule: a shelve that has just expired shows as expired, as it did when the view was built in-process.
Only alarms that are not normal, or carry a suppression that may still change them, are sent.

Everything here only reads the safety state; nothing in this package can command a valve or output.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from gasguard.domain import AlarmState, Level
from gasguard.safety.alarms import Alarm
from gasguard.safety.state import PlantState

ZONE_STATE = "zone_state"
"""Bus and broker topic of a zone's whole visible state (``gasguard/events/zone_state``)."""

OUTPUTS_STATE = "outputs_state"
"""Bus and broker topic of the outputs' state and what their drivers see."""

READING = "reading"
"""A channel's newest value (pushed at most once a second per channel; every one in-process)."""

IDENTIFICATION = "identification"
"""An advisory gas identification for a zone."""


def alarm_facts(alarm: Alarm) -> dict[str, Any]:
    return {
        "id": alarm.id,
        "level": alarm.level.value,
        "source": alarm.source,
        "latching": alarm.latching,
        "active": alarm.active,
        "acked": alarm.acked,
        "latched": alarm.latched,
        "value": alarm.value,
        "test": alarm.test,
        "shelved_until": alarm.shelved_until,
        "out_of_service_until": alarm.out_of_service_until,
    }


def _worth_sending(alarm: Alarm, now: float) -> bool:
    return alarm.state(now) is not AlarmState.NORMAL or alarm.suppressed


def channel_reading(state: PlantState, zone_id: str, channel_id: str) -> dict[str, Any]:
    """A channel's newest value as the ``reading`` message carries it."""
    ch = state.zones[zone_id].channels[channel_id]
    return {
        "channel": channel_id,
        "zone": zone_id,
        "ts": ch.last_seen,
        "value": ch.last_raw,
        "lel_pct": None if ch.lel is None else round(ch.lel, 3),
    }


def zone_state(state: PlantState, zone_id: str, now: float, *, cameras: Iterable[str] = ()) -> dict[str, Any]:
    """Everything visible about one zone at ``now`` (the ``zone_state`` message's payload)."""
    zone = state.zones[zone_id]
    return {
        "zone": zone_id,
        "ts": now,
        "tripped": zone.tripped,
        "trip_cause": zone.trip_cause,
        "votes": zone.votes,
        "vote_k": zone.spec.vote_k,
        "channels": {
            cid: {
                "lel_pct": None if ch.lel is None else round(ch.lel, 3),
                "value": ch.last_raw,
                "ts": ch.last_seen,
                "health": ch.health.value,
                "in_service": ch.in_service,
                "over_range": ch.over_range,
                "test_until": ch.test_until,
                "levels": {"A1": ch.a1, "A2": ch.a2, "A3": ch.a3},
            }
            for cid, ch in zone.channels.items()
        },
        "valves": {
            vid: {"state": v.state.value, "open_permitted": v.open_permitted, "detail": v.detail}
            for vid, v in zone.valves.items()
        },
        "alarms": [alarm_facts(a) for a in zone.all_alarms() if _worth_sending(a, now)],
        "cameras": list(cameras),
    }


def outputs_state(
    state: PlantState, now: float, *, devices: Mapping[str, Mapping[str, Any]] | None = None
) -> dict[str, Any]:
    """Every output's state (``outputs_state``), with what its driver reports (``feedback``, ``reachable``)."""
    devices = devices or {}
    return {
        "ts": now,
        "outputs": {
            oid: {
                "kind": o.spec.kind.value,
                "mode": (o.mode.value if o.mode is not None else "off"),
                "cause": o.cause,
                "silenced": o.silenced,
                "latched": o.latched,
                "forced_until": o.forced_until,
                "zones": list(o.spec.zones),
                "levels": sorted(level.value for level in o.spec.levels),
                **devices.get(oid, {"feedback": None, "reachable": True}),
            }
            for oid, o in state.outputs.items()
        },
    }


def alarm_from_facts(zone: str, facts: Mapping[str, Any]) -> Alarm:
    """An ``Alarm`` holding the sent facts, so its state is derived by the core's own rule."""
    alarm = Alarm(zone, str(facts["source"]), Level(facts["level"]), latching=bool(facts.get("latching", False)))
    alarm.active = bool(facts["active"])
    alarm.acked = bool(facts["acked"])
    alarm.latched = bool(facts["latched"])
    alarm.value = facts.get("value")
    alarm.test = bool(facts.get("test", False))
    alarm.shelved_until = facts.get("shelved_until")
    alarm.out_of_service_until = facts.get("out_of_service_until")
    return alarm
