"""The words of each message: a title that says what and where at a glance on a locked phone, and a
body with the site, zone, gas, highest %LEL, valves, what to do, the dashboard link and, for people
who may acknowledge, a one-time acknowledge link."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from gasguard.config import SiteConfig
from gasguard.notifications.config import NotificationsConfig
from gasguard.notifications.incidents import REPEATING, Incident, IncidentKind, Send, SendReason

_HEADLINE = {
    IncidentKind.TRIP: "GAS TRIP",
    IncidentKind.SYSTEM: "GASGUARD SYSTEM PROBLEM",
    IncidentKind.FAULT: "DETECTOR FAULT",
    IncidentKind.VALVE_FAULT: "VALVE FAULT",
    IncidentKind.CAMERA_LEAK: "CAMERA SEES A LEAK",
    IncidentKind.A1: "Gas warning",
    IncidentKind.MAINTENANCE: "Maintenance due",
}
_PREFIX = {
    SendReason.OPENED: "",
    SendReason.REPEAT: "REPEAT, not acknowledged: ",
    SendReason.ESCALATED: "ESCALATED: ",
    SendReason.UPDATE: "UPDATE: ",
    SendReason.CLOSED: "ENDED: ",
}


@dataclass(frozen=True)
class ZoneInfo:
    site_id: str
    site_name: str
    name: str
    gases: tuple[str, ...]
    channel_names: Mapping[str, str] = field(default_factory=dict)
    valve_names: Mapping[str, str] = field(default_factory=dict)


def zone_directory(site: SiteConfig) -> dict[str, ZoneInfo]:
    """What a message says about each zone, from the site file."""
    directory = {}
    for site_entry, zone in site.zones():
        gases = tuple(dict.fromkeys(ch.gas for ch in zone.channels))
        directory[zone.id] = ZoneInfo(
            site_id=site_entry.id,
            site_name=site_entry.name or site_entry.id,
            name=zone.name or zone.id,
            gases=gases,
            channel_names={ch.id: ch.name or ch.id for ch in zone.channels},
            valve_names={v.id: v.name or v.id for v in zone.valves},
        )
    return directory


def clock_text(ts: float) -> str:
    """``2023-11-14 22:13 UTC``: one time zone for everybody on the rota."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M UTC")


@dataclass(frozen=True)
class Composed:
    title: str
    body: str


class MessageComposer:
    """Builds the title and body of a ``Send``; ``ack_link`` is made per message by the caller."""

    def __init__(
        self,
        config: NotificationsConfig,
        zones: Mapping[str, ZoneInfo],
        *,
        public_url: str | None,
        gas_names: Mapping[str, str] | None = None,
    ) -> None:
        self.config = config
        self.zones = zones
        self.public_url = public_url.rstrip("/") if public_url else None
        self.identified = dict(gas_names or {})
        """Gas named by the gas-type model per zone (``NoGas``, ``Smoke`` ...), kept current by the notifier."""

    def zone_link(self, zone: str | None) -> str | None:
        if self.public_url is None:
            return None
        return f"{self.public_url}/#/zones/{zone}" if zone else f"{self.public_url}/"

    def wants_ack_link(self, send: Send) -> bool:
        incident = send.incident
        return (
            self.public_url is not None
            and incident.open
            and not incident.acknowledged
            and incident.kind in REPEATING
            and send.reason is not SendReason.CLOSED
        )

    def compose(
        self, send: Send, *, ack_link: str | None = None, ack_as: str | None = None, ack_until: float | None = None
    ) -> Composed:
        incident = send.incident
        info = self.zones.get(incident.zone or "")
        where = f"{info.name} ({info.site_name})" if info else (incident.zone or "GasGuard")
        headline = _HEADLINE[incident.kind]
        facts = self._facts(incident, info)
        summary = ", ".join(facts["short"])
        title = f"{_PREFIX[send.reason]}{headline}: {where}" + (f", {summary}" if summary else "")
        if send.note and send.reason in {SendReason.UPDATE, SendReason.CLOSED}:
            title = f"{_PREFIX[send.reason]}{headline}: {where}: {send.note}"
        lines = [f"{headline} in {info.name} at {info.site_name}." if info else f"{headline}."]
        if send.note:
            lines.append(f"New: {send.note}.")
        if incident.cause:
            lines.append(f"Cause: {incident.cause}")
        lines.extend(facts["long"])
        lines.append(f"Started: {clock_text(incident.opened_at)}")
        if incident.acknowledged:
            lines.append(f"Acknowledged by {incident.acked_by} at {clock_text(incident.acked_at or 0.0)}")
        elif incident.kind in REPEATING and incident.open:
            lines.append("Not acknowledged yet: this message repeats until somebody acknowledges.")
        if not incident.open:
            lines.append(f"Ended: {incident.close_note} at {clock_text(incident.closed_at or 0.0)}")
        if incident.kind in {IncidentKind.TRIP, IncidentKind.CAMERA_LEAK, IncidentKind.A1} and incident.open:
            lines += ["", f"What to do: {self.config.what_to_do.for_site(info.site_id if info else None)}"]
        link = self.zone_link(incident.zone)
        if link:
            lines += ["", f"Dashboard: {link}"]
        if ack_link:
            until = f", valid until {clock_text(ack_until)}" if ack_until else ""
            lines.append(f"Acknowledge as {ack_as} (once{until}): {ack_link}")
        lines += ["", f"Incident {incident.id}"]
        return Composed(title=title, body="\n".join(lines))

    def _facts(self, incident: Incident, info: ZoneInfo | None) -> dict[str, list[str]]:
        short: list[str] = []
        long: list[str] = []
        if info is None:
            return {"short": short, "long": long}
        gas = ", ".join(info.gases)
        identified = self.identified.get(incident.zone or "")
        if gas:
            long.append(f"Gas: {gas}" + (f" (the gas-type model says {identified})" if identified else ""))
        if incident.highest_lel is not None:
            channel = info.channel_names.get(incident.highest_channel or "", incident.highest_channel or "")
            short.append(f"{incident.highest_lel:.0f} %LEL {gas}".strip())
            long.append(f"Highest: {incident.highest_lel:.1f} %LEL" + (f" ({channel})" if channel else ""))
        if info.valve_names:
            states = [f"{name} {incident.valves.get(vid, 'unknown')}" for vid, name in info.valve_names.items()]
            if incident.kind is IncidentKind.TRIP:
                short.append("valve " + "/".join(incident.valves.get(v, "closing") for v in info.valve_names))
            long.append("Valves: " + "; ".join(states))
        return {"short": short, "long": long}
