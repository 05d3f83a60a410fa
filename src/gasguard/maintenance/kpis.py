"""Alarm system performance after ISA-18.2 and EEMUA 191, per zone and per site, from the stored events.

An alarm **annunciation** is an alarm entering ``unacknowledged`` (ISA-18.2's "unacknowledged alarm"
state): a new activation, or one shown again after its shelving ended. Test alarms (a channel in TEST)
are left out: they were planned and nobody had to act.

- **alarms per operator per 10 minutes**: annunciations in each 10-minute slice of the period (from
  its start), shared by the site's ``operator_positions``; the average, the peak and the share of
  slices in flood (more than 10, EEMUA 191's flood threshold). EEMUA 191 calls an average of about
  one per 10 minutes very likely acceptable and two manageable;
- **chattering**: an alarm annunciated more than 3 times within any 1 minute;
- **standing**: an alarm active (unacknowledged, acknowledged or latched) for more than 24 hours
  without a break, counted when that stretch overlaps the period;
- **shelved** and **out-of-service** time: seconds alarms were shelved, and seconds channels were
  out of service (a channel's alarms go out of service together, so each channel counts once);
- **time to acknowledge**: from annunciation to the first acknowledgement (the alarm's state, or an
  operator's acknowledge of it or of its zone); alarms not acknowledged by the period's end are counted
  apart, not as a time.

Stretches that began before the period are found by reading ``LOOKBACK_S`` of events before it.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gasguard.storage.events import EventKind
from gasguard.storage.models import EventRow

SLICE_S = 600.0
FLOOD_PER_SLICE = 10
CHATTER_COUNT = 3
CHATTER_WINDOW_S = 60.0
STANDING_S = 24 * 3600.0
LOOKBACK_S = 30 * 86400.0
WEEK_S = 7 * 86400.0
ACTIVE_STATES = frozenset({"unacknowledged", "acknowledged", "latched"})
EEMUA_TARGETS = {
    "average_per_10min_acceptable": 1.0,
    "average_per_10min_manageable": 2.0,
    "peak_per_10min": float(FLOOD_PER_SLICE),
}


@dataclass
class _AlarmTrack:
    """One alarm's history, rebuilt from its stored state changes."""

    alarm_id: str
    zone: str
    source: str
    level: str
    changes: list[tuple[float, str]] = field(default_factory=list)


@dataclass
class Annunciation:
    alarm_id: str
    zone: str
    ts: float
    acked_at: float | None = None


def _intervals(track: _AlarmTrack, states: frozenset[str], end: float) -> list[tuple[float, float]]:
    """Stretches the alarm spent in any of ``states``, up to ``end``."""
    out: list[tuple[float, float]] = []
    since: float | None = None
    for ts, state in track.changes:
        if state in states and since is None:
            since = ts
        elif state not in states and since is not None:
            out.append((since, ts))
            since = None
    if since is not None:
        out.append((since, end))
    return out


def _clip(intervals: Iterable[tuple[float, float]], start: float, end: float) -> float:
    return sum(max(0.0, min(b, end) - max(a, start)) for a, b in intervals)


def _union(intervals: Iterable[tuple[float, float]]) -> list[tuple[float, float]]:
    merged: list[tuple[float, float]] = []
    for a, b in sorted(intervals):
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q * (len(ordered) - 1))))
    return ordered[rank]


@dataclass
class AlarmHistory:
    """The alarm and acknowledge events of a period (and the lookback before it), grouped per alarm."""

    start: float
    end: float
    tracks: dict[str, _AlarmTrack]
    acks: list[tuple[float, str]]  # (ts, target): accepted operator acknowledges


def load_history(session: Session, *, start: float, end: float) -> AlarmHistory:
    statement = (
        select(EventRow.ts, EventRow.kind, EventRow.zone, EventRow.source, EventRow.payload)
        .where(EventRow.ts >= start - LOOKBACK_S, EventRow.ts < end)
        .where(EventRow.kind.in_([EventKind.ALARM.value, EventKind.OPERATOR.value]))
        .order_by(EventRow.ts, EventRow.id)
    )
    tracks: dict[str, _AlarmTrack] = {}
    acks: list[tuple[float, str]] = []
    for ts, kind, zone, source, payload in session.execute(statement):
        if kind == EventKind.OPERATOR.value:
            if payload.get("action") == "ack" and payload.get("accepted") and isinstance(source, str):
                acks.append((ts, source))
            continue
        if payload.get("test"):
            continue  # a test alarm: planned, nobody had to act
        alarm_id = str(payload.get("alarm_id") or source or "")
        track = tracks.get(alarm_id)
        if track is None:
            track = tracks[alarm_id] = _AlarmTrack(
                alarm_id, str(zone or ""), str(payload.get("source", "")), str(payload.get("level", ""))
            )
        track.changes.append((ts, str(payload.get("state", ""))))
    return AlarmHistory(start, end, tracks, acks)


def _annunciations(history: AlarmHistory) -> list[Annunciation]:
    acks_by_target: dict[str, list[float]] = defaultdict(list)
    for ts, target in history.acks:
        acks_by_target[target].append(ts)
    out: list[Annunciation] = []
    for track in history.tracks.values():
        previous = "normal"
        for i, (ts, state) in enumerate(track.changes):
            if state == "unacknowledged" and previous != "unacknowledged" and history.start <= ts < history.end:
                acked = next((later for later, s in track.changes[i + 1 :] if s in ("acknowledged", "normal")), None)
                by_operator = [t for t in (*acks_by_target[track.alarm_id], *acks_by_target[track.zone]) if t >= ts]
                candidates = [t for t in (acked, min(by_operator, default=None)) if t is not None]
                out.append(Annunciation(track.alarm_id, track.zone, ts, min(candidates, default=None)))
            previous = state
    out.sort(key=lambda a: a.ts)
    return out


def summarise(
    history: AlarmHistory,
    *,
    zones: Iterable[str] | None = None,
    operator_positions: int = 1,
    start: float | None = None,
    end: float | None = None,
) -> dict[str, Any]:
    """The KPIs of the alarms of ``zones`` (all when ``None``) over ``[start, end)`` (the history's period)."""
    start = history.start if start is None else start
    end = history.end if end is None else end
    wanted = None if zones is None else set(zones)
    tracks = [t for t in history.tracks.values() if wanted is None or t.zone in wanted]
    window = AlarmHistory(start, end, {t.alarm_id: t for t in tracks}, history.acks)
    annunciations = _annunciations(window)
    slices = max(1, int(-(-(end - start) // SLICE_S)))
    per_slice = Counter(int((a.ts - start) // SLICE_S) for a in annunciations)
    counts = [per_slice.get(i, 0) / operator_positions for i in range(slices)]
    by_alarm: dict[str, list[float]] = defaultdict(list)
    for a in annunciations:
        by_alarm[a.alarm_id].append(a.ts)
    chattering = []
    for alarm_id, times in by_alarm.items():
        worst = max((sum(1 for u in times[i:] if u - t < CHATTER_WINDOW_S) for i, t in enumerate(times)), default=0)
        if worst > CHATTER_COUNT:
            chattering.append({"alarm_id": alarm_id, "most_in_a_minute": worst, "annunciations": len(times)})
    standing = []
    shelved_s = 0.0
    out_of_service: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for track in tracks:
        for since, until in _intervals(track, ACTIVE_STATES, end):
            if until - since > STANDING_S and until > start:
                standing.append(
                    {
                        "alarm_id": track.alarm_id,
                        "since": since,
                        "until": None if until >= end else until,
                        "hours": round((until - since) / 3600.0, 1),
                    }
                )
        shelved_s += _clip(_intervals(track, frozenset({"shelved"}), end), start, end)
        out_of_service[track.source].extend(_intervals(track, frozenset({"out_of_service"}), end))
    oos_s = sum(_clip(_union(iv), start, end) for iv in out_of_service.values())
    ack_times = [a.acked_at - a.ts for a in annunciations if a.acked_at is not None and a.acked_at < end]
    total = len(annunciations)
    flood = sum(1 for c in counts if c > FLOOD_PER_SLICE)
    return {
        "from": start,
        "to": end,
        "operator_positions": operator_positions,
        "annunciations": total,
        "per_operator_per_10min": {
            "average": round(statistics.fmean(counts), 3),
            "peak": max(counts),
            "slices": slices,
            "flood_slices": flood,
            "flood_pct": round(100.0 * flood / slices, 2),
        },
        "chattering": sorted(chattering, key=lambda c: -c["annunciations"]),
        "standing": standing,
        "shelved_s": round(shelved_s, 1),
        "out_of_service_s": round(oos_s, 1),
        "time_to_ack_s": {
            "acknowledged": len(ack_times),
            "not_acknowledged": total - len(ack_times),
            "median": round(statistics.median(ack_times), 1) if ack_times else None,
            "p90": round(_percentile(ack_times, 0.9), 1) if ack_times else None,
            "max": round(max(ack_times), 1) if ack_times else None,
        },
        "top_alarms": [
            {"alarm_id": alarm_id, "annunciations": len(times)}
            for alarm_id, times in sorted(by_alarm.items(), key=lambda kv: (-len(kv[1]), kv[0]))[:10]
        ],
        "targets": dict(EEMUA_TARGETS),
    }


def alarm_kpis(
    session: Session,
    *,
    start: float,
    end: float,
    zones_by_site: Mapping[str, Iterable[str]],
    operator_positions: Mapping[str, int] | None = None,
) -> dict[str, Any]:
    """KPIs per site and per zone over ``[start, end)``."""
    history = load_history(session, start=start, end=end)
    positions = operator_positions or {}
    sites = []
    for site, zone_ids in zones_by_site.items():
        zone_list = list(zone_ids)
        n = positions.get(site, 1)
        sites.append(
            {
                "site": site,
                **summarise(history, zones=zone_list, operator_positions=n),
                "zones": [{"zone": z, **summarise(history, zones=[z], operator_positions=n)} for z in zone_list],
            }
        )
    return {"from": start, "to": end, "sites": sites}


def weekly_kpis(
    session: Session,
    *,
    end: float,
    weeks: int,
    zones_by_site: Mapping[str, Iterable[str]],
    operator_positions: Mapping[str, int] | None = None,
) -> list[dict[str, Any]]:
    """One summary per week and site, newest last, each with its zones' (the dashboard's weekly table
    shows a site and, opened, where its alarms came from)."""
    start = end - weeks * WEEK_S
    history = load_history(session, start=start, end=end)
    positions = operator_positions or {}
    out = []
    for i in range(weeks):
        a, b = start + i * WEEK_S, start + (i + 1) * WEEK_S
        for site, zone_ids in zones_by_site.items():
            n = positions.get(site, 1)
            zone_list = list(zone_ids)
            summary = summarise(history, zones=zone_list, operator_positions=n, start=a, end=b)
            zones = [
                {"zone": z, **summarise(history, zones=[z], operator_positions=n, start=a, end=b)} for z in zone_list
            ]
            out.append({"site": site, "week_start": a, **summary, "zones": zones})
    return out
