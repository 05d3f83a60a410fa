"""Run the service: settings + site file -> services, runtime, configured sources, web app, uvicorn.

``gasguard serve`` and ``gasguard demo`` both come through ``run_service``; the demo only adds its
simulated plant, camera and scripted operator through the ``customise`` hook. Signals (Ctrl-C,
SIGTERM) stop uvicorn, whose lifespan shutdown stores the newest safety snapshot and flushes the
buffered readings before the process exits.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import uvicorn

from gasguard.config import SiteConfig
from gasguard.ingest.mqtt import MqttPublisher, MqttReadingSource, parse_mqtt_url
from gasguard.runtime import Runtime, UnknownChannelError, build_runtime
from gasguard.settings import ServiceSettings
from gasguard.web import build_services, create_app
from gasguard.web.services import Services

log = logging.getLogger(__name__)


@dataclass
class ServeOptions:
    host: str = "127.0.0.1"
    port: int = 8000
    log_level: str = "info"
    migrate: bool = True


def attach_mqtt(runtime: Runtime, settings: ServiceSettings) -> None:
    """Readings in from the broker, every stored event and live reading out to it (when a broker is set)."""
    if not settings.mqtt_url:
        return
    broker = parse_mqtt_url(settings.mqtt_url)
    prefix = settings.mqtt_topic_prefix
    source = MqttReadingSource(broker, prefix=prefix, clock=runtime.clock)
    unknown = {"count": 0}

    async def consume(rt: Runtime) -> None:
        async for incoming in source:
            for reading in incoming.parsed.readings:
                try:
                    rt.submit_reading(reading)
                except UnknownChannelError as exc:
                    unknown["count"] += 1
                    if unknown["count"] <= 10 or unknown["count"] % 1000 == 0:
                        log.warning("MQTT reading refused (%d so far): %s", unknown["count"], exc)

    def source_detail() -> dict[str, object]:
        stats = source.stats
        return {
            "connected": stats.connected,
            "received": stats.received,
            "readings": stats.readings,
            "invalid": stats.invalid,
            "unknown_channel": unknown["count"],
            "last_error": stats.last_error,
        }

    runtime.add_source("mqtt", consume, source_detail)

    publisher = MqttPublisher(broker, prefix=prefix)
    subscription = runtime.bus.subscribe(maxsize=10_000)

    async def forward(_rt: Runtime) -> None:
        pump = asyncio.create_task(publisher.run())
        try:
            async for message in subscription:
                await publisher.publish(message)
        finally:
            pump.cancel()

    runtime.add_source(
        "mqtt-publish",
        forward,
        lambda: {"connected": publisher.connected, "sent": publisher.sent, "queued": publisher.queued},
    )


def build_live_app(
    site: SiteConfig,
    settings: ServiceSettings,
    *,
    migrate: bool = True,
    clock: Callable[[], float] = time.time,
    customise: Callable[[Runtime, Services], None] | None = None,
) -> tuple[object, Services, Runtime]:
    """Services, runtime and the ASGI app, ready for uvicorn (or a test client)."""
    services = build_services(settings, upgrade=migrate, clock=clock)
    runtime = build_runtime(site, services, clock=clock)
    attach_mqtt(runtime, settings)
    if customise is not None:
        customise(runtime, services)
    app = create_app(settings, services)
    return app, services, runtime


def run_service(
    site: SiteConfig,
    settings: ServiceSettings,
    options: ServeOptions,
    *,
    customise: Callable[[Runtime, Services], None] | None = None,
    on_ready: Callable[[], None] | None = None,
) -> None:
    """Serve until interrupted."""
    app, services, _runtime = build_live_app(site, settings, migrate=options.migrate, customise=customise)
    config = uvicorn.Config(
        app,  # type: ignore[arg-type]
        host=options.host,
        port=options.port,
        log_level=options.log_level,
        access_log=False,
        lifespan="on",
    )
    server = uvicorn.Server(config)

    async def main() -> None:
        serving = asyncio.create_task(server.serve())
        if on_ready is not None:
            while not server.started and not serving.done():
                await asyncio.sleep(0.05)
            if server.started:
                on_ready()
        await serving

    try:
        asyncio.run(main())
    finally:
        services.dispose()
