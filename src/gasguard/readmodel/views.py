"""The dashboard's JSON, built from the read model's folded state and the site file's structure.

These shapes are the API contract (``web/schemas.py`` documents them); they were built by the runtime
from the live safety state before the read model existed, and stay byte-compatible with that.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from gasguard.config import ModbusOutputDriver, MqttOutputDriver, OutputConfig, ZoneConfig
from gasguard.domain import AlarmState
from gasguard.readmodel.events import alarm_from_facts

PRIORITY = {"A3": 5, "A2": 4, "VALVE_FAULT": 4, "ML": 3, "FAULT": 3, "ROR": 2, "A1": 1}
"""How an operator works the alarm list: unacknowledged first, then A3 > A2 > FAULT > A1 ..."""

_NO_READING = {"lel_pct": None, "value": None, "ts": None}


def zone_status(tripped: bool, alarms: Sequence[Mapping[str, Any]], channels: Sequence[Mapping[str, Any]]) -> str:
    """The zone's summary colour for operators: tripped > alarm > fault > warning > normal."""
    if tripped:
        return "tripped"
    active = {a["level"] for a in alarms if a.get("active")}
    if active & {"A2", "A3", "VALVE_FAULT", "ML", "ROR"}:
        return "alarm"
    if "FAULT" in active or any(c["health"] != "ok" for c in channels):
        return "fault"
    if "A1" in active:
        return "warning"
    return "normal"


def alarm_rows(zone_id: str, facts: Sequence[Mapping[str, Any]], now: float) -> list[dict[str, Any]]:
    """The zone's alarms not in the normal state at ``now``, each derived with the core's rule."""
    rows = []
    for fact in facts:
        state = alarm_from_facts(zone_id, fact).state(now)
        if state is AlarmState.NORMAL:
            continue
        rows.append(
            {
                "id": fact["id"],
                "level": fact["level"],
                "source": fact["source"],
                "state": state.value,
                "active": fact["active"],
                "acked": fact["acked"],
                "latched": fact["latched"],
                "value": fact["value"],
                "test": fact["test"],
                "zone": zone_id,
            }
        )
    return rows


def sort_alarms(alarms: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(alarms, key=lambda a: (a["acked"], -PRIORITY.get(a["level"], 0), a["id"]))


def zone_json(
    zone: ZoneConfig,
    site_id: str,
    state: Mapping[str, Any],
    readings: Mapping[str, Mapping[str, Any]],
    identification: Mapping[str, Any] | None,
    now: float,
) -> dict[str, Any]:
    """One zone as the dashboard shows it; ``readings`` hold each channel's newest value."""
    raw_channels = state["channels"]
    channels = []
    for cfg in zone.channels:
        ch_raw = raw_channels[cfg.id]
        live = readings.get(cfg.id, _NO_READING)
        channels.append(
            {
                "id": cfg.id,
                "name": cfg.name or cfg.id,
                "gas": cfg.gas,
                "unit": cfg.unit.value,
                "lel_pct": live["lel_pct"],
                "value": live["value"],
                "ts": live["ts"],
                "health": ch_raw["health"],
                "in_service": ch_raw["in_service"],
                "over_range": ch_raw["over_range"],
                "test_until": ch_raw["test_until"],
                "levels": ch_raw["levels"],
                "setpoints": {"a1": cfg.setpoints.a1, "a2": cfg.setpoints.a2, "a3": cfg.setpoints.a3},
            }
        )
    valves = [
        {
            "id": cfg.id,
            "name": cfg.name or cfg.id,
            "zone": zone.id,
            **state["valves"][cfg.id],
            "travel_time_s": cfg.travel_time_s,
        }
        for cfg in zone.valves
    ]
    alarms = alarm_rows(zone.id, state["alarms"], now)
    return {
        "id": zone.id,
        "name": zone.name or zone.id,
        "site": site_id,
        "tripped": state["tripped"],
        "trip_cause": state["trip_cause"],
        "status": zone_status(state["tripped"], alarms, channels),
        "votes": state["votes"],
        "vote_k": state["vote_k"],
        "channels": channels,
        "valves": valves,
        "alarms": alarms,
        "identification": dict(identification) if identification else None,
        "cameras": list(state.get("cameras", [])),
    }


def driver_kind(cfg: OutputConfig) -> str:
    if isinstance(cfg.driver, ModbusOutputDriver):
        return "modbus"
    if isinstance(cfg.driver, MqttOutputDriver):
        return "mqtt"
    return "simulated"


def output_row(cfg: OutputConfig, state: Mapping[str, Any]) -> dict[str, Any]:
    """One output: its state, what drives it and what its driver sees (``feedback``, ``reachable``)."""
    body = {k: v for k, v in state.items() if k not in ("feedback", "reachable")}
    return {
        "id": cfg.id,
        "name": cfg.name or cfg.id,
        **body,
        "driver": driver_kind(cfg),
        "feedback": state.get("feedback"),
        "reachable": bool(state.get("reachable", True)),
    }
