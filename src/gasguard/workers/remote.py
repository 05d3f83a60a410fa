"""What a ``--role web`` tier offers the routes in place of a live runtime: operator commands sent to
the owning worker (``gasguard.workers.commands``) and the site file's structure. It holds no safety
state. The live views (zones, valves, alarms, latest readings, outputs) come from the plant read model
(``services.plant``, followed over the broker); what only the process running a zone has (camera
frames and clips, the loaded models, HTTP ingest) answers 503, naming what to use instead."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from fastapi import HTTPException, status

from gasguard.config import SiteConfig
from gasguard.domain import OperatorCommand, OperatorResult
from gasguard.workers.commands import CommandClient

NOT_HERE = (
    "this web tier (--role web) holds no safety state: camera frames, models and ingest live with the "
    "process that runs the zone; the live views of zones, valves, alarms and readings are served here"
)


class WebTierRuntime:
    """The few ``Runtime`` members the routes use that a stateless web tier can honestly provide."""

    def __init__(self, site: SiteConfig, commands: CommandClient, clock: Callable[[], float] = time.time) -> None:
        self.site = site
        self.commands = commands
        self.clock = clock
        self._zone_of: dict[str, str] = {}
        for _entry, zone in site.zones():
            for channel in zone.channels:
                self._zone_of[channel.id] = zone.id
            for valve in zone.valves:
                self._zone_of[valve.id] = zone.id

    async def operate(self, command: OperatorCommand) -> OperatorResult:
        return await self.commands.operate(command)

    def zone_of_channel(self, channel_id: str) -> str | None:
        return self._zone_of.get(channel_id)

    def zone_of_valve(self, valve_id: str) -> str | None:
        return self._zone_of.get(valve_id)

    def zone_of_alarm(self, alarm_id: str) -> str | None:
        zone = alarm_id.split("/", 1)[0]
        return zone if any(z.id == zone for _e, z in self.site.zones()) else None

    def submit_reading(self, _reading: Any) -> None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, detail=f"{NOT_HERE}; send readings over MQTT")

    def __getattr__(self, name: str) -> Any:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, detail=f"{NOT_HERE} ({name})")
