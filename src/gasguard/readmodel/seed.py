"""A web tier's read model seeded from what is stored, so a freshly started one is not blank.

Each zone shows its stored safety snapshot (the one its owner writes, or the single-process
``plant`` snapshot before any worker ran it) and each channel its newest stored reading, marked stale
until the zone's owner is heard from. The snapshot is turned into a state event by the core's own
``restore``, only read: the close commands a restore would issue are dropped, nothing is driven.
"""

from __future__ import annotations

import logging
import time

from sqlalchemy.orm import Session, sessionmaker

from gasguard.readmodel import events
from gasguard.readmodel.model import PlantReadModel
from gasguard.safety.snapshot import SnapshotError, restore
from gasguard.storage.readings import latest_readings
from gasguard.storage.snapshots import PLANT_SCOPE, load_snapshots

log = logging.getLogger(__name__)


def seed_from_storage(model: PlantReadModel, session_factory: sessionmaker[Session]) -> int:
    """Fold the stored snapshots and newest readings into ``model``; how many zones were seeded."""
    with session_factory() as session:
        snapshots = load_snapshots(session)
        channels = [ch.id for _entry, zone in model.site.zones() for ch in zone.channels]
        readings = latest_readings(session, channels=channels)
    spec = model.site.plant_spec()
    now = time.time()
    seeded = 0
    for _entry, zone in model.site.zones():
        stored = snapshots.get(zone.id) or snapshots.get(PLANT_SCOPE)
        if stored is None:
            continue
        data, saved_at = stored
        try:
            state, _commands = restore(spec, data, now)  # the commands are dropped: read only
        except SnapshotError as exc:
            log.warning("stored snapshot of zone %s unusable for the live view: %s", zone.id, exc)
            continue
        payload = events.zone_state(state, zone.id, saved_at)
        stored_zone = data.get("zones", {}).get(zone.id)
        if isinstance(stored_zone, dict):  # as stored, not as a restart would re-trip it
            payload["tripped"] = bool(stored_zone.get("tripped"))
            payload["trip_cause"] = str(stored_zone.get("trip_cause") or "")
        model.seed_zone(payload, saved_at=saved_at)
        seeded += 1
    for reading in readings.values():
        model.seed_reading(reading.channel, value=reading.value, ts=reading.ts)
    log.info("live view seeded from storage: %d zones, %d channels", seeded, len(readings))
    return seeded
