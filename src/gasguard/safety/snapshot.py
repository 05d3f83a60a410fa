"""Persist and restore the latched part of the safety state.

A snapshot keeps what must survive a restart or power cycle: which zones are tripped and why, valve
positions and open permissions, alarm latches and over-range locks, acknowledgements, shelving and out-of-service with
their expiries, and ML holds. It is plain JSON-compatible data.

Restoring never opens a valve: a restored tripped zone re-asserts close on its valves, and a valve
whose position the snapshot does not know starts as UNKNOWN in a tripped zone. Sensor values are not
trusted across a restart; channels wait for fresh readings (and warm up again after a power cycle).
"""

from __future__ import annotations

from typing import Any

from gasguard.domain import ChannelHealth, ChannelHealthChanged, Level, Output, ValveState
from gasguard.safety.failsafe import describe
from gasguard.safety.outputs import evaluate_outputs
from gasguard.safety.rules import _close, _trip
from gasguard.safety.spec import PlantSpec
from gasguard.safety.state import PlantState, _build

SNAPSHOT_VERSION = 1


class SnapshotError(ValueError):
    """The snapshot cannot be used; the caller must fall back to a cold start (the safe state)."""


def to_snapshot(state: PlantState) -> dict[str, Any]:
    """The latched state of every zone as JSON-compatible data."""
    zones: dict[str, Any] = {}
    for zid, zone in state.zones.items():
        zones[zid] = {
            "tripped": zone.tripped,
            "trip_cause": zone.trip_cause,
            "ml_until": zone.ml_until,
            "valves": {
                vid: {"state": v.state.value, "open_permitted": v.open_permitted, "detail": v.detail}
                for vid, v in zone.valves.items()
            },
            "channels": {
                cid: {
                    "out_of_service_until": ch.out_of_service_until,
                    "a1": ch.a1,
                    "a2": ch.a2,
                    "a3": ch.a3,
                    "over_range": ch.over_range,
                    "test_until": ch.test_until,
                }
                for cid, ch in zone.channels.items()
            },
            "alarms": {
                a.id: {
                    "active": a.active,
                    "acked": a.acked,
                    "latched": a.latched,
                    "shelved_until": a.shelved_until,
                    "out_of_service_until": a.out_of_service_until,
                    "value": a.value,
                    "detail": a.detail,
                    "test": a.test,
                }
                for a in zone.all_alarms()
            },
        }
    outputs = {
        oid: {"on": o.on, "latched": o.latched, "silenced": o.silenced, "cause": o.cause}
        for oid, o in state.outputs.items()
    }
    return {"version": SNAPSHOT_VERSION, "zones": zones, "outputs": outputs}


def restore(
    spec: PlantSpec, data: dict[str, Any], now: float, *, sensors_repowered: bool = False
) -> tuple[PlantState, list[Output]]:
    """Rebuild a state from a snapshot taken with the same (or an edited) site configuration.

    Zones, channels or valves that the snapshot does not know start as in a cold start: tripped with
    their valves commanded closed. Returns the state and the commands to issue at once (closes).
    """
    if not isinstance(data, dict) or data.get("version") != SNAPSHOT_VERSION:
        raise SnapshotError(f"unsupported snapshot (expected version {SNAPSHOT_VERSION})")
    zones_data = data.get("zones")
    if not isinstance(zones_data, dict):
        raise SnapshotError("snapshot has no zones")
    state = _build(spec, now, warm=not sensors_repowered, valve_state=ValveState.UNKNOWN)
    out: list[Output] = []
    try:
        for zid, zone in state.zones.items():
            zdata = zones_data.get(zid)
            if zdata is None:
                _trip(zone, "restart: zone not in the snapshot", now, out)
                continue
            for vid, valve in zone.valves.items():
                vdata = zdata["valves"].get(vid)
                if vdata is not None:
                    valve.state = ValveState(vdata["state"])
                    valve.open_permitted = bool(vdata["open_permitted"])
                    valve.detail = str(vdata.get("detail", ""))
                    if valve.state in (ValveState.OPENING, ValveState.CLOSING):
                        valve.state = ValveState.UNKNOWN  # travel interrupted: position unknown
            for cid, ch in zone.channels.items():
                cdata = zdata["channels"].get(cid)
                if cdata is not None:
                    ch.out_of_service_until = _opt_float(cdata["out_of_service_until"])
                    ch.a1, ch.a2, ch.a3 = bool(cdata["a1"]), bool(cdata["a2"]), bool(cdata["a3"])
                    ch.over_range = bool(cdata.get("over_range", False))
                    ch.test_until = _opt_float(cdata.get("test_until"))
            for alarm in zone.all_alarms():
                adata = zdata["alarms"].get(alarm.id)
                if adata is None:
                    continue
                alarm.active = bool(adata["active"])
                alarm.acked = bool(adata["acked"])
                alarm.latched = bool(adata["latched"])
                alarm.shelved_until = _opt_float(adata["shelved_until"])
                alarm.out_of_service_until = _opt_float(adata["out_of_service_until"])
                alarm.value = _opt_float(adata["value"])
                alarm.detail = str(adata.get("detail", ""))
                alarm.test = bool(adata.get("test", False))
                alarm.shown = alarm.state(now)
            ml_until = _opt_float(zdata.get("ml_until"))
            zone.ml_until = ml_until if ml_until is not None and ml_until > now else None
            for ch in zone.channels.values():
                if ch.health is not ChannelHealth.OK:  # re-powered sensors warm up again
                    detail = describe(ch.health, ch.spec)
                    out.append(ChannelHealthChanged(zid, ch.spec.id, ch.health, detail))
                    ch.alarms[Level.FAULT].set_condition(True, None, now, out, detail)
                ch.vote = ch.compute_vote()
            zone.votes = sum(1 for ch in zone.channels.values() if ch.vote)
            unknown = any(v.state is ValveState.UNKNOWN for v in zone.valves.values())
            if zdata["tripped"] or zone.votes >= zone.spec.vote_k:
                zone.tripped = False  # _trip reports the latch again so listeners learn it
                _trip(zone, str(zdata["trip_cause"]) or "restored trip", now, out)
            elif unknown:
                _trip(zone, "restart: valve position unknown", now, out)
            else:
                for valve in zone.valves.values():
                    if valve.state is ValveState.FAULT:
                        _close(zone, valve, "restart: valve in fault", now, out)
        outputs_data = data.get("outputs") or {}
        for oid, output in state.outputs.items():
            odata = outputs_data.get(oid)
            if odata is not None and bool(odata["on"]):
                # A sounding or latched output keeps sounding across a restart; timers start again.
                output.on, output.on_since = True, now
                output.latched = bool(odata["latched"])
                output.silenced = bool(odata["silenced"])
                output.cause = str(odata.get("cause", ""))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise SnapshotError(f"snapshot is malformed: {exc!r}") from exc
    state.index()
    evaluate_outputs(state, now, out)
    return state, out


def _opt_float(value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"expected a number, got {value!r}")
    return float(value)
