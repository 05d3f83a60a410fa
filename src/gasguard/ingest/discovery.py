"""Home Assistant MQTT discovery for GasGuard's zones, channels and valves, and the state they show.

``discovery_messages`` gives the retained config messages (publish each as JSON, retained, to its
topic) that make Home Assistant create, grouped in one device per zone:

- a ``sensor`` per channel: its gas concentration in %LEL (unit ``%``), from
  ``<prefix>/<site>/<zone>/<channel>/lel``;
- three ``binary_sensor`` per zone, from ``<prefix>/<site>/<zone>/status``: ``gas`` (device class gas:
  an A1/A2/A3, rate-of-rise or ML alarm is active), ``trip`` (device class safety: the zone is
  tripped and latched, its valves held closed) and ``fault`` (device class problem: a channel or
  valve cannot be trusted);
- a ``valve`` per valve (device class gas), from ``<prefix>/<site>/<zone>/<valve>/status``;
- per output, from ``<prefix>/<site>/output/<output>/status``: a ``siren`` for a sounder, a ``switch``
  for a beacon, fan or relay, and a ``binary_sensor`` (device class problem, on when the relay has
  dropped) for the system-failure relay, in one "GasGuard outputs" device per site.

**Outputs are read-only for Home Assistant.** Its MQTT siren and switch need a command topic, so they
get ``<prefix>/<site>/output/<output>/ha_command``, which GasGuard never subscribes to: turning a
sounder off or a fan on from Home Assistant changes nothing, and the entity shows GasGuard's state
again at once (``optimistic: false``). Silencing a sounder is an operator's act in GasGuard.

**The valve entity can close but never open.** Its ``payload_open`` is null, so Home Assistant shows
no open button and offers no ``valve.open`` action. Reopening a gas valve needs an operator in
GasGuard, after a reset, with a reason, and is audited (safety rule 4); an automation, a voice
assistant or a stolen Home Assistant session must not be able to do it. Closing is always allowed,
so Home Assistant publishes ``CLOSE`` on ``<prefix>/<site>/<zone>/<valve>/command``; the runtime
subscribes to ``command_subscription(prefix)`` and turns each message into an audited
``OperatorCommand`` with ``parse_ha_command`` (which refuses anything but CLOSE). It never writes to
the valve controller's own ``.../valve/set`` topic, so nothing bypasses the safety core.

``HomeAssistantStates`` turns readings and safety-core outputs into the retained JSON state messages
those entities read. Everything is derived from the site configuration; nothing here does I/O.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gasguard import __version__
from gasguard.config import SiteConfig
from gasguard.domain import (
    AlarmChanged,
    AlarmState,
    ChannelHealth,
    ChannelHealthChanged,
    Level,
    OperatorAction,
    OperatorCommand,
    Output,
    OutputCommand,
    OutputKind,
    OutputMode,
    Reading,
    ValveChanged,
    ValveState,
    ZoneTripChanged,
)

HA_USER = "homeassistant"
CLOSE_PAYLOAD = "CLOSE"
GAS_LEVELS = frozenset({Level.A1, Level.A2, Level.A3, Level.ROR, Level.ML})
FAULT_LEVELS = frozenset({Level.FAULT, Level.VALVE_FAULT})
CONDITION_PRESENT = frozenset({AlarmState.UNACKED, AlarmState.ACKED})
HA_VALVE_STATES: Mapping[ValveState, str | None] = {
    ValveState.OPEN: "open",
    ValveState.OPENING: "opening",
    ValveState.CLOSED: "closed",
    ValveState.CLOSING: "closing",
    ValveState.FAULT: None,  # Home Assistant has no fault state: shown as unknown, the fault sensor is on
    ValveState.UNKNOWN: None,
}
_OBJECT_ID = re.compile(r"[^A-Za-z0-9_-]")

Json = dict[str, Any]


# --------------------------------------------------------------------------- topics


def channel_topic(prefix: str, site: str, zone: str, channel: str) -> str:
    return f"{prefix}/{site}/{zone}/{channel}/lel"


def zone_topic(prefix: str, site: str, zone: str) -> str:
    return f"{prefix}/{site}/{zone}/status"


def valve_state_topic(prefix: str, site: str, zone: str, valve: str) -> str:
    """GasGuard's view of the valve (not the controller's own ``.../valve/state`` topic)."""
    return f"{prefix}/{site}/{zone}/{valve}/status"


def valve_command_topic(prefix: str, site: str, zone: str, valve: str) -> str:
    """Where Home Assistant asks GasGuard to close a valve (GasGuard, not the controller, listens)."""
    return f"{prefix}/{site}/{zone}/{valve}/command"


def output_state_topic(prefix: str, site: str, output: str) -> str:
    return f"{prefix}/{site}/output/{output}/status"


def command_subscription(prefix: str = "gasguard") -> str:
    """The topic filter the runtime subscribes to for close requests from Home Assistant."""
    return f"{prefix}/+/+/+/command"


def _object_id(*parts: str) -> str:
    return _OBJECT_ID.sub("_", "_".join(parts))


# --------------------------------------------------------------------------- discovery


def _device(prefix: str, site: str, zone_id: str, zone_name: str) -> Json:
    return {
        "identifiers": [f"{prefix}_{site}_{zone_id}"],
        "name": zone_name or zone_id,
        "manufacturer": "GasGuard",
        "model": "Gas detection zone",
        "sw_version": __version__,
        "suggested_area": zone_name or zone_id,
    }


def discovery_messages(
    site: SiteConfig,
    *,
    prefix: str = "gasguard",
    discovery_prefix: str = "homeassistant",
    availability_topic: str,
) -> list[tuple[str, Json]]:
    """Retained Home Assistant discovery config messages as ``(topic, payload)``; see the module docstring.

    ``availability_topic`` is where GasGuard's publisher announces ``online`` (and its last will
    ``offline``), so every entity turns unavailable when GasGuard is gone instead of showing stale
    "no gas". Raises ``ValueError`` if two ids map to the same discovery topic (``a.b`` and ``a_b``).
    """
    node = _object_id(prefix)
    origin = {"name": "GasGuard", "sw_version": __version__}
    messages: list[tuple[str, Json]] = []

    def add(component: str, object_id: str, payload: Json) -> None:
        common = {"origin": origin, "availability_topic": availability_topic, "qos": 1}
        messages.append((f"{discovery_prefix}/{component}/{node}/{object_id}/config", {**payload, **common}))

    for entry, zone in site.zones():
        device = _device(prefix, entry.id, zone.id, zone.name)
        status = zone_topic(prefix, entry.id, zone.id)
        for channel in zone.channels:
            topic = channel_topic(prefix, entry.id, zone.id, channel.id)
            add(
                "sensor",
                _object_id(entry.id, channel.id, "lel"),
                {
                    "name": f"{channel.name or channel.id} LEL",
                    "unique_id": f"{prefix}_{entry.id}_{channel.id}_lel",
                    "device": device,
                    "state_topic": topic,
                    "value_template": "{{ value_json.lel_pct }}",
                    "json_attributes_topic": topic,
                    "unit_of_measurement": "%",
                    "state_class": "measurement",
                    "suggested_display_precision": 1,
                    "icon": "mdi:gauge",
                },
            )
        for key, name, device_class in (
            ("gas", "Gas detected", "gas"),
            ("tripped", "Gas shut-off tripped", "safety"),
            ("fault", "Fault", "problem"),
        ):
            add(
                "binary_sensor",
                _object_id(entry.id, zone.id, key),
                {
                    "name": name,
                    "unique_id": f"{prefix}_{entry.id}_{zone.id}_{key}",
                    "device": device,
                    "device_class": device_class,
                    "state_topic": status,
                    "value_template": f"{{{{ 'ON' if value_json.{key} else 'OFF' }}}}",
                    "json_attributes_topic": status,
                },
            )
        for valve in zone.valves:
            state = valve_state_topic(prefix, entry.id, zone.id, valve.id)
            add(
                "valve",
                _object_id(entry.id, valve.id, "valve"),
                {
                    "name": valve.name or valve.id,
                    "unique_id": f"{prefix}_{entry.id}_{valve.id}_valve",
                    "device": device,
                    "device_class": "gas",
                    "state_topic": state,
                    "value_template": "{{ value_json.state }}",
                    "json_attributes_topic": state,
                    "command_topic": valve_command_topic(prefix, entry.id, zone.id, valve.id),
                    "payload_open": None,  # never opened from Home Assistant: see the module docstring
                    "payload_close": CLOSE_PAYLOAD,
                    "reports_position": False,
                    "optimistic": False,
                    "retain": False,
                },
            )
    for entry, output in site.outputs():
        state = output_state_topic(prefix, entry.id, output.id)
        device = {
            "identifiers": [f"{prefix}_{entry.id}_outputs"],
            "name": f"{entry.name or entry.id} alarm outputs",
            "manufacturer": "GasGuard",
            "model": "Alarm outputs",
            "sw_version": __version__,
        }
        common: Json = {
            "name": output.name or output.id,
            "unique_id": f"{prefix}_{entry.id}_{output.id}_output",
            "device": device,
            "state_topic": state,
            "json_attributes_topic": state,
        }
        if output.kind is OutputKind.FAULT_RELAY:
            add(
                "binary_sensor",
                _object_id(entry.id, output.id, "output"),
                {**common, "device_class": "problem", "value_template": "{{ 'ON' if value_json.dropped else 'OFF' }}"},
            )
            continue
        read_only = {
            "command_topic": f"{state.rsplit('/', 1)[0]}/ha_command",  # GasGuard never listens here
            "optimistic": False,
            "retain": False,
            "value_template": "{{ value_json.state }}",
            "state_on": "ON",
            "state_off": "OFF",
        }
        if output.kind is OutputKind.SOUNDER:
            add("siren", _object_id(entry.id, output.id, "output"), {**common, **read_only})
        else:
            icon = {OutputKind.FAN: "mdi:fan", OutputKind.BEACON: "mdi:alarm-light"}.get(
                output.kind, "mdi:electric-switch"
            )
            add("switch", _object_id(entry.id, output.id, "output"), {**common, **read_only, "icon": icon})
    topics = [topic for topic, _ in messages]
    clashes = sorted({topic for topic in topics if topics.count(topic) > 1})
    if clashes:
        raise ValueError(f"ids map to the same Home Assistant discovery topic: {', '.join(clashes)}; rename one")
    return messages


# --------------------------------------------------------------------------- close requests from HA


def parse_ha_command(
    topic: str, payload: bytes | str, *, site: SiteConfig, prefix: str = "gasguard"
) -> OperatorCommand:
    """An audited close request from a Home Assistant command message; ``ValueError`` for anything else.

    Only ``CLOSE`` for a configured valve is accepted: opening is refused here, whatever Home
    Assistant sends, because reopening must go through an operator in GasGuard.
    """
    parts = topic.split("/")
    if len(parts) != 5 or parts[0] != prefix or parts[4] != "command":
        raise ValueError(f"not a GasGuard command topic: {topic[:200]!r}")
    site_id, zone_id, valve_id = parts[1:4]
    known = {(s.id, z.id, v.id) for s, z in site.zones() for v in z.valves}
    if (site_id, zone_id, valve_id) not in known:
        raise ValueError(f"no valve {valve_id[:64]!r} in site {site_id[:64]!r}, zone {zone_id[:64]!r}")
    try:
        text = (payload.decode("utf-8") if isinstance(payload, bytes) else payload).strip()
    except UnicodeDecodeError:
        raise ValueError("command is not UTF-8 text") from None
    if text.upper() != CLOSE_PAYLOAD:
        raise ValueError(
            f"refused {text[:40]!r} for valve {valve_id}: Home Assistant may only CLOSE; "
            "reopening needs an operator in GasGuard after a reset"
        )
    return OperatorCommand(
        OperatorAction.CLOSE, target=valve_id, user=HA_USER, reason="close requested from Home Assistant"
    )


# --------------------------------------------------------------------------- state messages


@dataclass
class _Channel:
    site: str
    zone: str
    scale: float
    offset: float
    lel_pct: float | None = None
    value: float | None = None
    health: ChannelHealth | None = None
    sent_lel: float | None = None
    sent_at: float | None = None
    sent_health: ChannelHealth | None = None


@dataclass
class _Zone:
    site: str
    tripped: bool = False
    trip_cause: str = ""
    alarms: dict[str, AlarmChanged] = field(default_factory=dict)
    channel_health: dict[str, ChannelHealth] = field(default_factory=dict)
    valve_state: dict[str, ValveState] = field(default_factory=dict)


class HomeAssistantStates:
    """Turns readings and safety-core outputs into the retained state messages discovery points at.

    Feed it every reading and every output of the safety step, in order; publish what it returns as
    retained JSON. A channel's %LEL is sent when it moved by ``min_change_lel`` or more, when its
    health changed, or ``max_silence_s`` after the last send, so a steady sensor does not flood the
    broker. The zone status is sent whenever an alarm, trip, channel health or valve state of the
    zone changes; after a restart, feed the restored trip state (a ``ZoneTripChanged`` per tripped
    zone) so Home Assistant shows it at once.
    """

    def __init__(
        self,
        site: SiteConfig,
        *,
        prefix: str = "gasguard",
        min_change_lel: float = 0.1,
        max_silence_s: float = 60.0,
    ) -> None:
        self.prefix = prefix
        self.min_change_lel = min_change_lel
        self.max_silence_s = max_silence_s
        spec = site.plant_spec()
        sites = {zone.id: entry.id for entry, zone in site.zones()}
        self._channels: dict[str, _Channel] = {
            ch.id: _Channel(sites[zone.id], zone.id, ch.scale, ch.offset) for zone in spec.zones for ch in zone.channels
        }
        self._zones: dict[str, _Zone] = {zone.id: _Zone(sites[zone.id]) for zone in spec.zones}
        self._output_site = {output.id: entry.id for entry, output in site.outputs()}
        self._valve_zone = {valve.id: zone.id for zone in spec.zones for valve in zone.valves}

    def state_messages(self, item: Reading | Output) -> list[tuple[str, Json]]:
        """The state messages ``item`` changes (often none)."""
        if isinstance(item, Reading):
            return self._on_reading(item)
        if isinstance(item, ChannelHealthChanged):
            channel = self._channels.get(item.channel)
            zone = self._zones.get(item.zone)
            if channel is None or zone is None:
                return []
            channel.health = item.health
            zone.channel_health[item.channel] = item.health
            return [*self._channel_message(item.channel, channel, force=True), self.zone_message(item.zone)]
        if isinstance(item, AlarmChanged):
            zone = self._zones.get(item.zone)
            if zone is None:
                return []
            if item.state is AlarmState.NORMAL:
                zone.alarms.pop(item.alarm_id, None)
            else:
                zone.alarms[item.alarm_id] = item
            return [self.zone_message(item.zone)]
        if isinstance(item, ZoneTripChanged):
            zone = self._zones.get(item.zone)
            if zone is None:
                return []
            zone.tripped, zone.trip_cause = item.tripped, item.cause if item.tripped else ""
            return [self.zone_message(item.zone)]
        if isinstance(item, OutputCommand):
            site_id = self._output_site.get(item.output)
            if site_id is None:
                return []
            on = item.mode is not OutputMode.OFF
            payload: Json = {
                "state": "ON" if on else "OFF",
                "mode": item.mode.value,
                "dropped": not on,  # read by the fault relay's problem sensor
                "cause": item.reason,
                "silenced": item.silenced,
                "forced": item.forced,
            }
            return [(output_state_topic(self.prefix, site_id, item.output), payload)]
        if isinstance(item, ValveChanged):
            zone = self._zones.get(item.zone)
            if zone is None or item.valve not in self._valve_zone:
                return []
            zone.valve_state[item.valve] = item.state
            state = {"state": HA_VALVE_STATES.get(item.state), "gasguard_state": item.state.value}
            if item.detail:
                state["detail"] = item.detail
            return [
                (valve_state_topic(self.prefix, zone.site, item.zone, item.valve), state),
                self.zone_message(item.zone),
            ]
        return []

    def zone_message(self, zone_id: str) -> tuple[str, Json]:
        """The zone's current status message (``KeyError`` for an unknown zone)."""
        zone = self._zones[zone_id]
        present = [a for a in zone.alarms.values() if a.state in CONDITION_PRESENT]
        troubled_channels = sorted(c for c, h in zone.channel_health.items() if h is not ChannelHealth.OK)
        troubled_valves = sorted(v for v, s in zone.valve_state.items() if s in (ValveState.FAULT, ValveState.UNKNOWN))
        payload: Json = {
            "gas": any(a.level in GAS_LEVELS for a in present),
            "tripped": zone.tripped,
            "fault": bool(troubled_channels or troubled_valves or any(a.level in FAULT_LEVELS for a in present)),
            "trip_cause": zone.trip_cause,
            "alarms": sorted(a.alarm_id for a in zone.alarms.values()),
            "faulty_channels": troubled_channels,
            "faulty_valves": troubled_valves,
        }
        return zone_topic(self.prefix, zone.site, zone_id), payload

    def _on_reading(self, reading: Reading) -> list[tuple[str, Json]]:
        channel = self._channels.get(reading.channel)
        if channel is None:
            return []  # a sub-channel of a sensor array, or not in this configuration
        value = reading.value
        if value is None or not math.isfinite(value):
            channel.value, channel.lel_pct = None, None
        else:
            channel.value, channel.lel_pct = value, value * channel.scale + channel.offset
        return self._channel_message(reading.channel, channel, now=reading.ts)

    def _worth_sending(self, channel: _Channel, now: float | None) -> bool:
        """Moved enough, health changed, or silent for too long (a steady channel still shows it is alive)."""
        if channel.health is not channel.sent_health or channel.sent_at is None or now is None:
            return True
        if not 0 <= now - channel.sent_at < self.max_silence_s:
            return True
        last, current = channel.sent_lel, channel.lel_pct
        if last is None or current is None:
            return (last is None) != (current is None)
        return abs(current - last) >= self.min_change_lel

    def _channel_message(
        self, channel_id: str, channel: _Channel, *, now: float | None = None, force: bool = False
    ) -> list[tuple[str, Json]]:
        if not force and not self._worth_sending(channel, now):
            return []
        if now is not None:
            channel.sent_at = now
        channel.sent_lel, channel.sent_health = channel.lel_pct, channel.health
        payload: Json = {
            "lel_pct": None if channel.lel_pct is None else round(channel.lel_pct, 3),
            "value": channel.value,
            "health": channel.health.value if channel.health is not None else None,
        }
        return [(channel_topic(self.prefix, channel.site, channel.zone, channel_id), payload)]
