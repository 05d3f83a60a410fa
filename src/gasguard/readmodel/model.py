"""``PlantReadModel``: what the dashboard and the API show about the plant, folded from events.

One class for every deployment: in one process it listens to the local bus (``FanoutBus.listen``),
so it sees every state message in order the moment the safety step made it; a ``--role web`` tier
feeds it the same messages from the broker (``readmodel.follow``). It never looks at a safety state
object and holds no driver: it cannot issue a command, only answer what was last published.

Staleness is part of the answer. A zone whose state is not live (nothing heard yet, only the stored
snapshot, no heartbeat from its owner within ``stale_after_s``, or the broker away) carries a
``stale`` entry with the reason, so an operator never mistakes old data for the plant now.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from gasguard.config import OutputConfig, SiteConfig, ZoneConfig
from gasguard.notify import Message
from gasguard.readmodel import events
from gasguard.readmodel.views import output_row, sort_alarms, zone_json
from gasguard.safety.interlock import cold_start

log = logging.getLogger(__name__)

HEARTBEAT_S = 2.0
"""A zone's owner republishes its state at least this often (``runtime.feed``)."""

STALE_AFTER_S = 3 * HEARTBEAT_S
"""Across machines, a zone whose owner has said nothing for this long is shown as stale."""


class PlantReadModel:
    """The plant's zones, channels, valves, alarms and outputs as last published (module docstring)."""

    def __init__(
        self,
        site: SiteConfig,
        *,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        stale_after_s: float | None = None,
    ) -> None:
        """``stale_after_s``: ``None`` for a feed in the same process (it cannot fall silent while the
        pipeline runs); a number for a feed over the broker, where silence means nobody publishes."""
        self.site = site
        self.clock = clock
        self.monotonic = monotonic
        self.stale_after_s = stale_after_s
        self.feed_problem: str | None = None
        """Set by the feed while it cannot deliver (the broker away): every zone is then stale."""
        self.applied = 0
        self.ignored = 0
        self._zones_cfg: dict[str, tuple[str, ZoneConfig]] = {}
        self._zone_of_channel: dict[str, str] = {}
        self._zone_of_valve: dict[str, str] = {}
        self._outputs_cfg: dict[str, OutputConfig] = {cfg.id: cfg for _s, cfg in site.outputs()}
        for entry, zone in site.zones():
            self._zones_cfg[zone.id] = (entry.id, zone)
            self._zone_of_channel.update({ch.id: zone.id for ch in zone.channels})
            self._zone_of_valve.update({v.id: zone.id for v in zone.valves})
        now = clock()
        unknown, _commands = cold_start(site.plant_spec(), now)  # structure only; the commands are dropped
        self._zone_of_alarm = {a.id: zid for zid, z in unknown.zones.items() for a in z.all_alarms()}
        # Until a zone is heard from it shows the cold-start state (tripped, valves unknown): unknown
        # counts as unsafe, as in the core. Every dict below has all its keys from the start, so routes
        # reading from worker threads never see one change size.
        self._zones: dict[str, dict[str, Any]] = {}
        for zid in self._zones_cfg:
            placeholder = events.zone_state(unknown, zid, now)
            placeholder["trip_cause"] = "no live state from this zone yet"
            self._zones[zid] = placeholder
        self._live_at: dict[str, float | None] = dict.fromkeys(self._zones_cfg)
        self._stale_since: dict[str, float | None] = dict.fromkeys(self._zones_cfg)
        self._not_live: dict[str, str | None] = {zid: "no live state from this zone yet" for zid in self._zones_cfg}
        self._readings: dict[str, dict[str, Any]] = {
            cid: {"lel_pct": None, "value": None, "ts": None} for cid in self._zone_of_channel
        }
        self._identifications: dict[str, dict[str, Any] | None] = dict.fromkeys(self._zones_cfg)
        self._outputs: dict[str, dict[str, Any] | None] = dict.fromkeys(self._outputs_cfg)

    # ------------------------------------------------------------------ folding

    def apply(self, message: Message) -> None:
        """Fold one message; topics that say nothing about the current state are passed over."""
        topic, payload = message.topic, message.payload
        if topic == events.READING:
            folded = self._apply_reading(payload)
        elif topic == events.ZONE_STATE:
            folded = self._apply_zone(payload)
        elif topic == events.OUTPUTS_STATE:
            folded = self._apply_outputs(payload)
        elif topic == events.IDENTIFICATION:
            folded = self._apply_identification(payload)
        else:
            return
        if folded:
            self.applied += 1
        else:
            self.ignored += 1

    def _apply_identification(self, payload: Mapping[str, Any]) -> bool:
        zone = payload.get("zone")
        if zone not in self._identifications:
            return False
        self._identifications[str(zone)] = dict(payload)
        return True

    def _apply_reading(self, payload: Mapping[str, Any]) -> bool:
        channel = payload.get("channel")
        if channel not in self._readings:
            return False
        self._readings[str(channel)] = {
            "lel_pct": payload.get("lel_pct"),
            "value": payload.get("value"),
            "ts": payload.get("ts"),
        }
        return True

    def _apply_zone(self, payload: Mapping[str, Any]) -> bool:
        zone = payload.get("zone")
        if zone not in self._zones:
            return False
        zid = str(zone)
        self._zones[zid] = dict(payload)
        for cid, ch in payload["channels"].items():
            if cid in self._readings:
                self._readings[cid] = {"lel_pct": ch["lel_pct"], "value": ch["value"], "ts": ch["ts"]}
        self._live_at[zid] = self.monotonic()
        self._stale_since[zid] = None
        self._not_live[zid] = None
        return True

    def _apply_outputs(self, payload: Mapping[str, Any]) -> bool:
        known = [(oid, state) for oid, state in payload.get("outputs", {}).items() if oid in self._outputs]
        for oid, state in known:
            self._outputs[oid] = dict(state)
        return bool(known) or not payload.get("outputs")

    def seed_zone(self, payload: Mapping[str, Any], *, saved_at: float) -> None:
        """Show a zone's stored state until its owner is heard from (a web tier starting up)."""
        zone = payload.get("zone")
        if zone not in self._zones or self._not_live[str(zone)] is None:
            return
        zid = str(zone)
        self._zones[zid] = dict(payload)
        self._stale_since[zid] = saved_at
        self._not_live[zid] = "the stored state, saved by the zone's last owner: no live state from the zone yet"

    def seed_reading(self, channel: str, *, value: float | None, ts: float) -> None:
        """A channel's newest stored reading, until a live one arrives (``lel_pct`` is not stored)."""
        current = self._readings.get(channel)
        if current is not None and current["ts"] is None:
            self._readings[channel] = {"lel_pct": None, "value": value, "ts": ts}

    # ------------------------------------------------------------------ staleness

    def stale(self, zone_id: str) -> dict[str, Any] | None:
        """Why the zone's state may not be the plant now (and since when), or ``None`` when it is live."""
        since = self._stale_since.get(zone_id)
        reason = self._not_live.get(zone_id)
        if reason is None and self.stale_after_s is not None:
            live_at = self._live_at.get(zone_id)
            if live_at is not None and self.monotonic() - live_at > self.stale_after_s:
                reason = (
                    f"nothing heard from the owner of zone {zone_id} for "
                    f"{self.monotonic() - live_at:.0f} s: no worker owns it, or it cannot reach the broker"
                )
                since = self._zones[zone_id].get("ts")
        if reason is None and self.feed_problem is not None:
            reason, since = self.feed_problem, self._zones[zone_id].get("ts")
        return None if reason is None else {"reason": reason, "since": since}

    def stale_zones(self) -> dict[str, dict[str, Any]]:
        return {zid: s for zid in self._zones_cfg if (s := self.stale(zid)) is not None}

    # ------------------------------------------------------------------ structure

    def zone_of_channel(self, channel_id: str) -> str | None:
        return self._zone_of_channel.get(channel_id)

    def zone_of_valve(self, valve_id: str) -> str | None:
        return self._zone_of_valve.get(valve_id)

    def zone_of_alarm(self, alarm_id: str) -> str | None:
        return self._zone_of_alarm.get(alarm_id)

    def has_output(self, output_id: str) -> bool:
        return self._outputs.get(output_id) is not None

    # ------------------------------------------------------------------ views

    def channel_reading(self, channel_id: str) -> dict[str, Any] | None:
        zone = self._zone_of_channel.get(channel_id)
        if zone is None:
            return None
        return {"channel": channel_id, "zone": zone, **self._readings[channel_id]}

    def latest_readings(self, zone: str | None = None) -> list[dict[str, Any]]:
        rows = []
        for zid, (_site, cfg) in self._zones_cfg.items():
            if zone is not None and zid != zone:
                continue
            for ch in cfg.channels:
                rows.append({"channel": ch.id, "zone": zid, **self._readings[ch.id], "unit": ch.unit.value})
        return rows

    def view(self) -> dict[str, Any]:
        """Sites, zones, channels, valves, alarms and identifications, JSON-ready (the API contract)."""
        now = self.clock()
        sites = []
        for entry in self.site.sites:
            zones = [self._zone(zone.id, now) for zone in entry.zones]
            sites.append({"id": entry.id, "name": entry.name or entry.id, "zones": zones})
        return {"ts": now, "sites": sites}

    def _zone(self, zone_id: str, now: float) -> dict[str, Any]:
        site_id, cfg = self._zones_cfg[zone_id]
        body = zone_json(cfg, site_id, self._zones[zone_id], self._readings, self._identifications[zone_id], now)
        stale = self.stale(zone_id)
        if stale is not None:
            body["stale"] = stale
        return body

    def zones_view(self) -> list[dict[str, Any]]:
        now = self.clock()
        return [self._zone(zone.id, now) for entry in self.site.sites for zone in entry.zones]

    def zone_view(self, zone_id: str) -> dict[str, Any] | None:
        return self._zone(zone_id, self.clock()) if zone_id in self._zones_cfg else None

    def valves_view(self) -> list[dict[str, Any]]:
        return [valve for zone in self.zones_view() for valve in zone["valves"]]

    def alarms_view(self, zone: str | None = None) -> list[dict[str, Any]]:
        """Alarms not in the normal state: unacknowledged first, then by priority, as operators work them."""
        alarms = [alarm for z in self.zones_view() if zone is None or z["id"] == zone for alarm in z["alarms"]]
        return sort_alarms(alarms)

    def outputs_view(self) -> list[dict[str, Any]]:
        """Every output whose state was published, in site-file order (see ``views.output_row``)."""
        rows = []
        for oid, cfg in self._outputs_cfg.items():
            state = self._outputs[oid]
            if state is not None:
                rows.append(output_row(cfg, state))
        return rows

    def health(self) -> dict[str, Any]:
        """For ``/api/v1/health``: the folded message count and the zones that are not live."""
        return {"applied": self.applied, "ignored": self.ignored, "stale": self.stale_zones()}
