"""The incident book: what happened, who has been told, and who must be told next.

Pure: bus messages and the time go in, ``Send`` decisions come out; no I/O and no clock of its own, so
repeat and escalation are tested on a fake clock and a restart resumes from the stored incidents.

One incident gathers what matters until it ends, so people get a story, not a storm:

- a **trip** incident per zone from its first A2 alarm or trip until the zone is reset (A1, FAULT and
  camera alarms of that zone are gathered into it); updates on A3 reached, a valve closed or failed
  to close, acknowledged by whom, and reset;
- a **system** incident for a start without a stored safety state (every valve closed) until the zone
  is reset, and for a storage outage until it recovers;
- a **fault**, **valve_fault** or **camera_leak** incident per alarm until the alarm clears;
- an **a1** (warning or rate of rise) incident per alarm until it clears, and a one-shot **maintenance**
  reminder. These two are advisory: quiet hours may hold them back and they neither repeat nor escalate.

Everything else repeats every ``repeat_every_min`` to each route told, and after
``escalate_after_min`` unacknowledged is escalated to the route's ``escalate_to``, until somebody
acknowledges (in the dashboard, through the alarm, or with the link in the message).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from gasguard.notifications.config import QUIETABLE, NotificationsConfig, NotifyEvent, Route
from gasguard.notify import Message

ACK_LINK_SOURCE = "notifications.ack_link"
"""Audit ``source`` of an acknowledge through the signed link in a message (the web tier records it)."""
ACK_DASHBOARD_SOURCE = "notifications.ack"
"""Audit ``source`` of an acknowledge of an incident in the dashboard or the API."""

TIMELINE_MAX = 200
"""Entries kept per incident (a week-long fault repeating every minute must not grow without bound)."""


class IncidentKind(StrEnum):
    TRIP = "trip"
    SYSTEM = "system"
    FAULT = "fault"
    VALVE_FAULT = "valve_fault"
    CAMERA_LEAK = "camera_leak"
    A1 = "a1"
    MAINTENANCE = "maintenance"


REPEATING = frozenset(
    {IncidentKind.TRIP, IncidentKind.SYSTEM, IncidentKind.FAULT, IncidentKind.VALVE_FAULT, IncidentKind.CAMERA_LEAK}
)
"""Incidents that repeat and escalate until acknowledged; the others are told once."""

_GATHERED_BY_TRIP = frozenset({IncidentKind.A1, IncidentKind.FAULT, IncidentKind.CAMERA_LEAK})
"""Alarm incidents a trip of the same zone takes in: the trip message already says the zone is in trouble."""

_OPENING_EVENT = {
    IncidentKind.TRIP: NotifyEvent.TRIP,
    IncidentKind.SYSTEM: NotifyEvent.SYSTEM,
    IncidentKind.FAULT: NotifyEvent.FAULT,
    IncidentKind.VALVE_FAULT: NotifyEvent.VALVE_FAULT,
    IncidentKind.CAMERA_LEAK: NotifyEvent.CAMERA_LEAK,
    IncidentKind.A1: NotifyEvent.A1,
    IncidentKind.MAINTENANCE: NotifyEvent.MAINTENANCE,
}
_LEVEL_KIND = {
    "A1": IncidentKind.A1,
    "ROR": IncidentKind.A1,
    "FAULT": IncidentKind.FAULT,
    "VALVE_FAULT": IncidentKind.VALVE_FAULT,
    "ML": IncidentKind.CAMERA_LEAK,
}


class SendReason(StrEnum):
    OPENED = "opened"  # the first message of an incident to a route
    REPEAT = "repeat"
    ESCALATED = "escalated"
    UPDATE = "update"  # A3 reached, valve closed or failed, acknowledged
    CLOSED = "closed"  # reset or cleared


@dataclass
class RouteState:
    """One route's part in an incident: when it was first told, last told, and whether it escalated."""

    first_at: float
    last_at: float
    repeats: int = 0
    escalated_at: float | None = None
    escalated_from: str | None = None
    delivered: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "first_at": self.first_at,
            "last_at": self.last_at,
            "repeats": self.repeats,
            "escalated_at": self.escalated_at,
            "escalated_from": self.escalated_from,
            "delivered": self.delivered,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RouteState:
        return cls(
            first_at=float(data["first_at"]),
            last_at=float(data["last_at"]),
            repeats=int(data.get("repeats", 0)),
            escalated_at=data.get("escalated_at"),
            escalated_from=data.get("escalated_from"),
            delivered=bool(data.get("delivered", False)),
        )


@dataclass
class Incident:
    """Something that needs people, from its first event until it is reset or clears."""

    id: str
    key: str
    kind: IncidentKind
    zone: str | None
    opened_at: float
    cause: str
    events: set[NotifyEvent] = field(default_factory=set)
    closed_at: float | None = None
    close_note: str = ""
    acked_at: float | None = None
    acked_by: str | None = None
    acked_via: str | None = None
    highest_lel: float | None = None
    highest_channel: str | None = None
    valves: dict[str, str] = field(default_factory=dict)
    valves_told: set[str] = field(default_factory=set)
    routes: dict[str, RouteState] = field(default_factory=dict)
    timeline: list[dict[str, Any]] = field(default_factory=list)

    @property
    def open(self) -> bool:
        return self.closed_at is None

    @property
    def acknowledged(self) -> bool:
        return self.acked_at is not None

    def note(self, ts: float, what: str, **extra: Any) -> None:
        self.timeline.append({"ts": ts, "what": what, **extra})
        if len(self.timeline) > TIMELINE_MAX:
            del self.timeline[1 : len(self.timeline) - TIMELINE_MAX + 1]  # keep the first entry

    def see_lel(self, channel: str | None, lel: float | None) -> None:
        if lel is None or lel != lel:  # None or NaN
            return
        if self.highest_lel is None or lel > self.highest_lel:
            self.highest_lel = float(lel)
            self.highest_channel = channel

    def to_state(self) -> dict[str, Any]:
        """Everything not in its own column, as JSON for the ``state`` column."""
        return {
            "cause": self.cause,
            "events": sorted(self.events),
            "close_note": self.close_note,
            "highest_lel": self.highest_lel,
            "highest_channel": self.highest_channel,
            "valves": dict(self.valves),
            "valves_told": sorted(self.valves_told),
            "routes": {name: rs.to_json() for name, rs in self.routes.items()},
            "timeline": list(self.timeline),
        }

    @classmethod
    def from_row(
        cls,
        *,
        id: str,
        key: str,
        kind: str,
        zone: str | None,
        opened_at: float,
        closed_at: float | None,
        acked_at: float | None,
        acked_by: str | None,
        acked_via: str | None,
        state: Mapping[str, Any],
    ) -> Incident:
        return cls(
            id=id,
            key=key,
            kind=IncidentKind(kind),
            zone=zone,
            opened_at=opened_at,
            cause=str(state.get("cause", "")),
            events={NotifyEvent(e) for e in state.get("events", ()) if e in NotifyEvent._value2member_map_},
            closed_at=closed_at,
            close_note=str(state.get("close_note", "")),
            acked_at=acked_at,
            acked_by=acked_by,
            acked_via=acked_via,
            highest_lel=state.get("highest_lel"),
            highest_channel=state.get("highest_channel"),
            valves=dict(state.get("valves", {})),
            valves_told=set(state.get("valves_told", ())),
            routes={name: RouteState.from_json(rs) for name, rs in dict(state.get("routes", {})).items()},
            timeline=list(state.get("timeline", ())),
        )


@dataclass(frozen=True)
class Send:
    """Tell ``route`` about ``incident``; ``note`` says what is new (empty for a first message)."""

    incident: Incident
    route: str
    reason: SendReason
    note: str = ""


def _inner(message: Message) -> Mapping[str, Any]:
    """A stored event's own fields (the recorder wraps them in ``payload``)."""
    inner = message.payload.get("payload")
    return inner if isinstance(inner, Mapping) else {}


class IncidentBook:
    """Open incidents by key, the rules that open, update and close them, and the repeat/escalation timers.

    Call ``observe`` with every batch of bus messages (the messages of one safety step arrive together:
    a FAULT that trips its zone is then one trip incident, not two), ``due`` as time passes, and
    ``acknowledge`` for an acknowledge that did not come through an alarm. Each returns what to send.
    ``dirty`` collects the ids of incidents that changed, for the store.
    """

    def __init__(self, config: NotificationsConfig, *, new_id: Callable[[], str] | None = None) -> None:
        self.config = config
        self._new_id = new_id or (lambda: secrets.token_hex(8))
        self._escalation_levels = config.escalation_levels()
        self.open: dict[str, Incident] = {}
        """Open incidents by key (``<zone>/trip``, an alarm id, ``system/<component>``)."""
        self.by_id: dict[str, Incident] = {}
        self.dirty: set[str] = set()
        self.closed: dict[str, Incident] = {}
        """Incidents closed since the store last took them (``take_closed``)."""
        self._lel: dict[str, tuple[str, float]] = {}

    # ------------------------------------------------------------------ restore

    def restore(self, incidents: Iterable[Incident]) -> None:
        for incident in incidents:
            if incident.open:
                self.open[incident.key] = incident
                self.by_id[incident.id] = incident

    def take_closed(self) -> list[Incident]:
        closed = list(self.closed.values())
        self.closed.clear()
        return closed

    # ------------------------------------------------------------------ routing

    def _routes_for(self, incident: Incident) -> list[Route]:
        """First-line routes that take this incident's zone and one of its events (not yet told)."""
        return [
            route
            for route in self.config.routes
            if route.name not in self._escalation_levels
            and route.name not in incident.routes
            and route.takes_zone(incident.zone)
            and incident.events & set(route.events)
        ]

    def _quiet(self, route: Route, incident: Incident, now: float) -> bool:
        if route.quiet_hours is None or _OPENING_EVENT[incident.kind] not in QUIETABLE:
            return False
        return route.quiet_hours.contains(now)

    def _reach(self, incident: Incident, now: float, out: list[Send]) -> None:
        """Tell every matching route not yet told (a new incident, or an A3 that an a3-only route takes)."""
        for route in self._routes_for(incident):
            if self._quiet(route, incident, now):
                incident.note(now, "held back by quiet hours", route=route.name)
                continue
            incident.routes[route.name] = RouteState(first_at=now, last_at=now)
            incident.note(now, "sent", route=route.name)
            out.append(Send(incident, route.name, SendReason.OPENED))
        self.dirty.add(incident.id)

    def _update(self, incident: Incident, note: str, now: float, out: list[Send]) -> None:
        """Tell every route already told what is new."""
        incident.note(now, note)
        self.dirty.add(incident.id)
        for name in incident.routes:
            out.append(Send(incident, name, SendReason.UPDATE, note))

    def _close(self, incident: Incident, note: str, event: NotifyEvent, now: float, out: list[Send]) -> None:
        incident.closed_at = now
        incident.close_note = note
        incident.note(now, note)
        self.open.pop(incident.key, None)
        self.by_id.pop(incident.id, None)
        self.closed[incident.id] = incident
        self.dirty.add(incident.id)
        for name in incident.routes:
            route = self._route(name)
            if route is None or event not in route.events or self._quiet(route, incident, now):
                continue
            out.append(Send(incident, name, SendReason.CLOSED, note))

    def _route(self, name: str) -> Route | None:
        return next((r for r in self.config.routes if r.name == name), None)

    # ------------------------------------------------------------------ opening

    def _open(
        self, key: str, kind: IncidentKind, zone: str | None, cause: str, now: float, fresh: dict[str, Incident]
    ) -> Incident:
        incident = self.open.get(key)
        if incident is not None:
            return incident
        incident = Incident(
            id=self._new_id(), key=key, kind=kind, zone=zone, opened_at=now, cause=cause, events={_OPENING_EVENT[kind]}
        )
        incident.note(now, f"opened: {cause}" if cause else "opened")
        if zone is not None and zone in self._lel:
            channel, lel = self._lel[zone]
            incident.see_lel(channel, lel)
        self.open[key] = incident
        self.by_id[incident.id] = incident
        self.dirty.add(incident.id)
        fresh[incident.id] = incident
        return incident

    def _trip(self, zone: Any, cause: str, now: float, fresh: dict[str, Incident], out: list[Send]) -> Incident:
        """The zone's trip incident, opened if needed. Gas in a zone whose system incident (a start
        without a stored state) is still open turns that incident into a trip: the same people are
        told there is gas now, and the routes that take trips join."""
        key = f"{zone}/trip"
        incident = self.open.get(key)
        if incident is None:
            return self._open(key, IncidentKind.TRIP, zone, cause, now, fresh)
        if incident.kind is IncidentKind.SYSTEM:
            incident.kind = IncidentKind.TRIP
            incident.events.add(NotifyEvent.TRIP)
            incident.cause = cause
            incident.acked_at = incident.acked_by = incident.acked_via = None  # gas needs a new acknowledge
            if incident.id not in fresh:
                self._update(incident, f"gas: {cause}", now, out)
                self._reach(incident, now, out)
        return incident

    def trip_of(self, zone: str | None) -> Incident | None:
        if zone is None:
            return None
        incident = self.open.get(f"{zone}/trip")
        return incident if incident is not None and incident.kind is IncidentKind.TRIP else None

    # ------------------------------------------------------------------ bus messages

    def observe(self, messages: Iterable[Message], now: float) -> list[Send]:
        """Take one batch of bus messages; return the messages to send now."""
        out: list[Send] = []
        fresh: dict[str, Incident] = {}
        for message in messages:
            handler = _HANDLERS.get(message.topic)
            if handler is not None:
                handler(self, message, now, fresh, out)
        # Same batch: an alarm incident of a zone that tripped in it is gathered into the trip.
        for incident in list(fresh.values()):
            trip = self.trip_of(incident.zone)
            if incident.kind in _GATHERED_BY_TRIP and trip is not None and trip is not incident:
                incident.closed_at = now
                incident.close_note = f"gathered into the trip incident {trip.id}"
                self.open.pop(incident.key, None)
                self.by_id.pop(incident.id, None)
                self.closed[incident.id] = incident
                trip.note(now, f"{incident.cause}")
                del fresh[incident.id]
        for incident in fresh.values():
            self._reach(incident, now, out)
        return out

    def _on_alarm(self, message: Message, now: float, fresh: dict[str, Incident], out: list[Send]) -> None:
        alarm = _inner(message)
        if alarm.get("test"):
            return  # a test alarm (its channel is in TEST with test gas) notifies nobody
        zone = alarm.get("zone")
        level = str(alarm.get("level", ""))
        state = str(alarm.get("state", ""))
        alarm_id = str(alarm.get("alarm_id", ""))
        source = alarm.get("source")
        value = alarm.get("value")
        detail = str(alarm.get("detail") or message.payload.get("reason") or "")
        if isinstance(value, int | float) and level in {"A1", "A2", "A3", "ROR"}:
            self._see_lel(zone, source, float(value))
        if state == "normal":
            incident = self.open.get(alarm_id)
            if incident is not None:
                self._close(incident, f"cleared: {alarm_id}", NotifyEvent.CLEARED, now, out)
            return
        if state != "unacknowledged":
            return
        trip = self.trip_of(zone)
        if level in {"A2", "A3"}:
            if trip is None:
                trip = self._trip(zone, detail or f"{level} on {source}", now, fresh, out)
            if level == "A3" and NotifyEvent.A3 not in trip.events:
                trip.events.add(NotifyEvent.A3)
                note = f"A3 reached on {source}" + (
                    f" ({float(value):.1f} %LEL)" if isinstance(value, int | float) else ""
                )
                if trip.id in fresh:
                    trip.note(now, note)
                else:
                    self._update(trip, note, now, out)
                    self._reach(trip, now, out)
            return
        kind = _LEVEL_KIND.get(level)
        if kind is None:
            return
        if trip is not None and kind is IncidentKind.VALVE_FAULT:
            note = f"valve {source} failed: {detail}" if detail else f"valve {source} failed"
            trip.events.add(NotifyEvent.VALVE_FAULT)
            if trip.id in fresh:
                trip.note(now, note)
            else:
                self._update(trip, note, now, out)
                self._reach(trip, now, out)
            return
        if trip is not None and kind in _GATHERED_BY_TRIP:
            trip.note(now, f"{level} on {source}: {detail}" if detail else f"{level} on {source}")
            self.dirty.add(trip.id)
            return
        self._open(alarm_id, kind, zone, detail or f"{level} on {source}", now, fresh)

    def _see_lel(self, zone: Any, channel: Any, lel: float) -> None:
        if not isinstance(zone, str):
            return
        self._lel[zone] = (str(channel), lel)
        for incident in self.open.values():
            if incident.zone == zone:
                before = incident.highest_lel
                incident.see_lel(str(channel), lel)
                if incident.highest_lel != before:
                    self.dirty.add(incident.id)

    def _on_reading(self, message: Message, now: float, fresh: dict[str, Incident], out: list[Send]) -> None:
        lel = message.payload.get("lel_pct")
        if isinstance(lel, int | float):
            zone = message.payload.get("zone")
            channel = message.payload.get("channel")
            if isinstance(zone, str) and any(i.zone == zone for i in self.open.values()):
                self._see_lel(zone, channel, float(lel))

    def _on_trip(self, message: Message, now: float, fresh: dict[str, Incident], out: list[Send]) -> None:
        trip = _inner(message)
        zone = trip.get("zone")
        if not isinstance(zone, str):
            return
        cause = str(trip.get("cause", ""))
        key = f"{zone}/trip"
        if trip.get("tripped"):
            if cause.startswith("cold start"):
                self._open(
                    key,
                    IncidentKind.SYSTEM,
                    zone,
                    f"GasGuard started without a stored safety state ({cause})",
                    now,
                    fresh,
                )
                return
            self._trip(zone, cause, now, fresh, out)
            return
        incident = self.open.get(key)
        if incident is not None:
            self._close(incident, cause or "reset", NotifyEvent.RESET, now, out)

    def _on_valve(self, message: Message, now: float, fresh: dict[str, Incident], out: list[Send]) -> None:
        valve = _inner(message)
        zone, valve_id, state = valve.get("zone"), str(valve.get("valve", "")), str(valve.get("state", ""))
        for incident in list(self.open.values()):
            if incident.zone != zone:
                continue
            incident.valves[valve_id] = state
            self.dirty.add(incident.id)
            if incident.kind is not IncidentKind.TRIP or state != "closed" or valve_id in incident.valves_told:
                continue
            incident.valves_told.add(valve_id)
            if incident.id in fresh:
                incident.note(now, f"valve {valve_id} closed")
            else:
                self._update(incident, f"valve {valve_id} closed", now, out)

    def _on_operator(self, message: Message, now: float, fresh: dict[str, Incident], out: list[Send]) -> None:
        result = _inner(message)
        if result.get("action") != "ack" or not result.get("accepted"):
            return
        target = str(result.get("target", ""))
        user = str(result.get("user") or message.payload.get("actor") or "someone")
        zone = result.get("zone") or target.split("/", 1)[0]
        touched = [self.open.get(target), self.open.get(f"{zone}/trip")]
        for incident in touched:
            if incident is not None and not incident.acknowledged:
                self._acknowledge(incident, user, "alarm", now, out)

    def _on_audit(self, message: Message, now: float, fresh: dict[str, Incident], out: list[Send]) -> None:
        source = message.payload.get("source")
        if source not in {ACK_LINK_SOURCE, ACK_DASHBOARD_SOURCE}:
            return
        details = _inner(message)
        incident = self.by_id.get(str(details.get("incident", "")))
        if incident is None or incident.acknowledged:
            return
        user = str(message.payload.get("actor") or "someone")
        self._acknowledge(incident, user, "link" if source == ACK_LINK_SOURCE else "dashboard", now, out)

    def _on_health(self, message: Message, now: float, fresh: dict[str, Incident], out: list[Send]) -> None:
        if message.payload.get("zone") is not None:
            return  # a channel's health: its FAULT alarm tells
        details = _inner(message)
        component = str(details.get("component") or message.payload.get("source") or "")
        if not component:
            return
        key = f"system/{component}"
        reason = str(message.payload.get("reason", ""))
        if details.get("status") == "ok":
            incident = self.open.get(key)
            if incident is not None:
                self._close(incident, f"recovered: {reason}" if reason else "recovered", NotifyEvent.CLEARED, now, out)
            return
        self._open(key, IncidentKind.SYSTEM, None, reason or f"{component} failing", now, fresh)

    def _on_maintenance(self, message: Message, now: float, fresh: dict[str, Incident], out: list[Send]) -> None:
        payload = message.payload
        zone = payload.get("zone") if isinstance(payload.get("zone"), str) else None
        what = str(payload.get("reason") or payload.get("detail") or "maintenance due")
        incident = self._open(f"maintenance/{self._new_id()}", IncidentKind.MAINTENANCE, zone, what, now, fresh)
        incident.closed_at = now  # a reminder: told once, nothing to acknowledge
        self.open.pop(incident.key, None)
        self.by_id.pop(incident.id, None)
        self.closed[incident.id] = incident

    # ------------------------------------------------------------------ acknowledge

    def _acknowledge(self, incident: Incident, user: str, via: str, now: float, out: list[Send]) -> None:
        incident.acked_at = now
        incident.acked_by = user
        incident.acked_via = via
        self._update(incident, f"acknowledged by {user}", now, out)

    def acknowledge(self, incident_id: str, user: str, via: str, now: float) -> list[Send]:
        """Acknowledge an open incident by id (repeats and escalation stop; updates go on)."""
        out: list[Send] = []
        incident = self.by_id.get(incident_id)
        if incident is not None and not incident.acknowledged:
            self._acknowledge(incident, user, via, now, out)
        return out

    # ------------------------------------------------------------------ timers

    def due(self, now: float) -> list[Send]:
        """Repeats and escalations whose time has come."""
        out: list[Send] = []
        for incident in list(self.open.values()):
            if incident.kind not in REPEATING or incident.acknowledged:
                continue
            for name, state in list(incident.routes.items()):
                route = self._route(name)
                if route is None:
                    continue
                if route.repeat_every_min is not None and now - state.last_at >= route.repeat_every_min * 60.0:
                    state.last_at = now
                    state.repeats += 1
                    incident.note(now, "repeated", route=name)
                    self.dirty.add(incident.id)
                    out.append(Send(incident, name, SendReason.REPEAT))
                target = route.escalate_to
                if (
                    target is not None
                    and state.escalated_at is None
                    and now - state.first_at >= route.escalate_after_min * 60.0
                ):
                    state.escalated_at = now
                    self.dirty.add(incident.id)
                    if target in incident.routes:
                        continue
                    incident.routes[target] = RouteState(first_at=now, last_at=now, escalated_from=name)
                    minutes = round(route.escalate_after_min)
                    incident.note(now, "escalated", route=target, source_route=name)
                    out.append(Send(incident, target, SendReason.ESCALATED, f"not acknowledged after {minutes} min"))
        return out

    def next_due(self) -> float | None:
        """When ``due`` will next have something to do (for a scheduler that sleeps until then)."""
        times: list[float] = []
        for incident in self.open.values():
            if incident.kind not in REPEATING or incident.acknowledged:
                continue
            for name, state in incident.routes.items():
                route = self._route(name)
                if route is None:
                    continue
                if route.repeat_every_min is not None:
                    times.append(state.last_at + route.repeat_every_min * 60.0)
                if route.escalate_to is not None and state.escalated_at is None:
                    times.append(state.first_at + route.escalate_after_min * 60.0)
        return min(times) if times else None


_Handler = Callable[[IncidentBook, Message, float, dict[str, Incident], list[Send]], None]
_HANDLERS: dict[str, _Handler] = {
    "alarm": IncidentBook._on_alarm,
    "trip": IncidentBook._on_trip,
    "valve": IncidentBook._on_valve,
    "operator": IncidentBook._on_operator,
    "audit": IncidentBook._on_audit,
    "health": IncidentBook._on_health,
    "reading": IncidentBook._on_reading,
    "maintenance": IncidentBook._on_maintenance,
}
TOPICS = tuple(_HANDLERS)
"""Bus topics the notifier subscribes to."""
