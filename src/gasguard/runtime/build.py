"""``build_runtime``: the composition root of a single-process GasGuard.

It restores the safety state from the stored snapshot (latched trips and closed valves survive a
restart) or, with none, starts in the safe state; builds one driver per configured valve and output;
makes the plant read model the routes show (``services.plant``), listening to the local bus; and adds
the runtime's tasks to ``services.background`` so the web app runs them for as long as it serves.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping

from gasguard.actuators.base import OutputDriver, ValveDriver
from gasguard.actuators.factory import build_output_drivers, build_valve_drivers
from gasguard.config import SiteConfig
from gasguard.domain import Output
from gasguard.maintenance.service import attach_maintenance
from gasguard.mqtt_client import BrokerAddress
from gasguard.readmodel import PlantReadModel
from gasguard.runtime.core import Runtime
from gasguard.runtime.health import register_health
from gasguard.safety.interlock import PlantState, cold_start
from gasguard.safety.snapshot import SnapshotError, restore
from gasguard.services import Services
from gasguard.storage.snapshots import SnapshotStore

log = logging.getLogger(__name__)


def initial_state(site: SiteConfig, snapshots: SnapshotStore, now: float) -> tuple[PlantState, list[Output]]:
    """The stored snapshot restored, or the safe state when there is none (or it cannot be used)."""
    spec = site.plant_spec()
    stored = None
    try:
        stored = snapshots.load()
    except Exception:
        log.exception("cannot read the stored safety snapshot; starting in the safe state")
    if stored is not None:
        data, saved_at = stored
        try:
            state, outputs = restore(spec, data, now)
        except SnapshotError as exc:
            log.error("stored safety snapshot unusable (%s); starting in the safe state", exc)
        else:
            log.info("safety state restored from the snapshot saved at %.0f", saved_at)
            return state, outputs
    return cold_start(spec, now)


def build_runtime(
    site: SiteConfig,
    services: Services,
    *,
    valves: Mapping[str, ValveDriver] | None = None,
    outputs: Mapping[str, OutputDriver] | None = None,
    mqtt: BrokerAddress | None = None,
    clock: Callable[[], float] = time.time,
    tick_s: float = 0.5,
) -> Runtime:
    """Build the runtime for ``site`` and attach it to ``services`` (run by the web app's lifespan).

    Valve and output drivers come from the site file (simulated, Modbus or MQTT) unless ``valves`` or
    ``outputs`` is given.
    """
    if valves is None:
        valves = build_valve_drivers(site, mqtt=mqtt, prefix=services.settings.mqtt_topic_prefix)
    if outputs is None:
        outputs = build_output_drivers(site, mqtt=mqtt, prefix=services.settings.mqtt_topic_prefix)
    store = SnapshotStore(services.session_factory)
    state, initial = initial_state(site, store, clock())
    plant = PlantReadModel(site, clock=clock)
    services.bus.listen(plant.apply)  # every state message, in order, as the step makes it
    services.plant = plant
    runtime = Runtime(
        site,
        services,
        state,
        initial,
        valves=valves,
        outputs=outputs,
        snapshots=store,
        clock=clock,
        tick_s=tick_s,
    )
    runtime.feed.publish_all()  # the read model is right before the first request
    register_health(runtime)
    services.runtime = runtime
    services.background.append(runtime.run)
    services.shutdown.append(runtime.stop)
    attach_maintenance(runtime)  # test recorder and due dates: bus consumers, never on the safety path
    return runtime
