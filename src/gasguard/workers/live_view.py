"""The live view of a ``--role web`` tier: the plant read model, seeded from storage and kept current
from the workers' events on the broker (``readmodel.follow``), with its own health component.

The same ``PlantReadModel`` a single process uses, listening to this process's bus; the follower puts
the broker's events on that bus, so the dashboards' live feed here gets them too. A zone that nobody
publishes (no owner, a worker cut off from the broker) or a broker this tier cannot reach shows as
stale in every view, with the reason, instead of as old data that looks current.
"""

from __future__ import annotations

import logging
from typing import Any

from gasguard.config import SiteConfig
from gasguard.mqtt_client import BrokerAddress
from gasguard.readmodel import STALE_AFTER_S, PlantReadModel
from gasguard.readmodel.follow import BrokerFollower
from gasguard.readmodel.seed import seed_from_storage
from gasguard.services import ComponentHealth, HealthCheck, Services
from gasguard.storage.writer import ComponentStatus

log = logging.getLogger(__name__)

NO_BROKER = "no broker configured (GASGUARD_MQTT_URL): this web tier cannot follow the workers"


def live_view_health(model: PlantReadModel, follower: BrokerFollower | None) -> HealthCheck:
    """Health component ``live_view``: DEGRADED while the broker is away or any zone is not live."""

    def check() -> ComponentHealth:
        detail: dict[str, Any] = {**model.health(), "broker": None if follower is None else follower.health()}
        if follower is None or not follower.connected or detail["stale"]:
            return ComponentHealth(ComponentStatus.DEGRADED, detail)
        return ComponentHealth(ComponentStatus.OK, detail)

    return check


def attach_live_view(
    site: SiteConfig, services: Services, broker: BrokerAddress | None, *, prefix: str
) -> BrokerFollower | None:
    """Make ``services.plant`` for a web tier; the follower to run while serving (``None`` without a broker)."""
    model = PlantReadModel(site, stale_after_s=STALE_AFTER_S)
    services.bus.listen(model.apply)
    services.plant = model
    try:
        seed_from_storage(model, services.session_factory)
    except Exception as exc:  # a blank start is shown as stale, never a reason not to serve
        log.warning("live view not seeded from storage: %s: %s", type(exc).__name__, exc)
    follower = None if broker is None else BrokerFollower(broker, services.bus, model, prefix=prefix)
    if follower is None:
        model.feed_problem = NO_BROKER
    services.health_checks["live_view"] = live_view_health(model, follower)
    return follower
