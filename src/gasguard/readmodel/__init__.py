"""The read model of the plant: zones, channels, valves, alarms and outputs as the dashboard shows
them, folded from the state events a zone's owner publishes (``events``), the same in one process and
across machines (``model``, fed by the local bus or by ``follow`` from the broker)."""

from gasguard.readmodel.model import HEARTBEAT_S, STALE_AFTER_S, PlantReadModel

__all__ = ["HEARTBEAT_S", "STALE_AFTER_S", "PlantReadModel"]
