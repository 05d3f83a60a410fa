"""Run the service: settings + site file -> services, runtime, configured sources, web app, uvicorn.

``gasguard serve`` and ``gasguard demo`` both come through ``run_service``; the demo only adds its
simulated plant, camera and scripted operator through the ``customise`` hook. Signals (Ctrl-C,
SIGTERM) stop uvicorn, whose lifespan shutdown stores the newest safety snapshot and flushes the
buffered readings before the process exits.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import signal
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import uvicorn
from sqlalchemy.engine import make_url

from gasguard.config import SiteConfig
from gasguard.datalock import DataFolderInUseError, DataFolderLock, lock_data_folder
from gasguard.domain import Output, Reading
from gasguard.identify import ZoneGasIdentifier
from gasguard.ingest.mqtt import MqttPublisher, MqttReadingSource
from gasguard.mqtt_client import BrokerSecurity, broker_from_settings
from gasguard.notifications.service import attach_notifications
from gasguard.runtime import Runtime, UnknownChannelError, build_runtime
from gasguard.services import Services, build_services
from gasguard.services.health import ComponentHealth, HealthCheck
from gasguard.settings import ServiceSettings
from gasguard.storage.engine import explained_database_failures
from gasguard.storage.writer import ComponentStatus
from gasguard.web import create_app

log = logging.getLogger(__name__)


class _Stopped(Exception):
    """SIGTERM arrived after uvicorn's own graceful shutdown."""


class ServeError(RuntimeError):
    """The service could not start (e.g. the port is taken); the message says what to change."""


@dataclass
class ServeOptions:
    host: str = "127.0.0.1"
    port: int = 8000
    log_level: str = "info"
    migrate: bool = True


def mqtt_health(security: BrokerSecurity) -> HealthCheck:
    """The ``mqtt`` health component: degraded, with a warning, while the broker lets anonymous clients in
    (anyone on the network could then publish a reading of 0 for a detector in alarm)."""

    def check() -> ComponentHealth:
        status = ComponentStatus.DEGRADED if security.insecure else ComponentStatus.OK
        return ComponentHealth(status, security.detail())

    return check


def attach_mqtt(runtime: Runtime, settings: ServiceSettings) -> None:
    """Readings in from the broker, stored events and live readings out to it (when a broker is set), and
    a check, at start and hourly, that the broker refuses clients without credentials."""
    broker = broker_from_settings(settings)
    if broker is None:
        return
    prefix = settings.mqtt_topic_prefix
    security = BrokerSecurity(broker)
    runtime.services.health_checks["mqtt"] = mqtt_health(security)
    runtime.services.background.append(security.run)
    source = MqttReadingSource(broker, prefix=prefix, clock=runtime.clock)
    unknown = {"count": 0, "array_only": 0}
    identifier: ZoneGasIdentifier | None = None

    async def consume(rt: Runtime) -> None:
        nonlocal identifier
        async for incoming in source:
            array = incoming.parsed.array
            if array is not None:
                # A sensor array feeds the gas-type model for its zone; its sensors are channels only
                # where the site file names them (``<channel>/<sensor>`` otherwise is model input only).
                if identifier is None:
                    identifier = ZoneGasIdentifier(rt)
                identifier.observe(incoming.address.zone, array.values, array.ts)
            for reading in incoming.parsed.readings:
                if array is not None and rt.zone_of_channel(reading.channel) is None:
                    unknown["array_only"] += 1
                    continue
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
            "array_values_for_models": unknown["array_only"],
            "last_error": stats.last_error,
        }

    runtime.add_source("mqtt", consume, source_detail)

    publisher = MqttPublisher(broker, prefix=prefix, publish_audit=settings.mqtt_publish_audit)
    subscription = runtime.bus.subscribe(maxsize=10_000)

    async def forward(_rt: Runtime) -> None:
        pump = asyncio.create_task(publisher.run())
        try:
            async for message in subscription:
                await publisher.publish(message)
        finally:
            pump.cancel()

    attach_home_assistant(runtime, settings, publisher)
    runtime.add_source(
        "mqtt-publish",
        forward,
        lambda: {"connected": publisher.connected, "sent": publisher.sent, "queued": publisher.queued},
    )


def attach_home_assistant(runtime: Runtime, settings: ServiceSettings, publisher: MqttPublisher) -> None:
    """Home Assistant discovery (retained), state messages, and close requests from Home Assistant.

    Home Assistant may only ask for a close; it goes through the safety core as an audited operator
    command from the user ``homeassistant``. Opening is refused (see ``gasguard.ingest.discovery``).
    """
    from gasguard.ingest.discovery import (
        HomeAssistantStates,
        command_subscription,
        discovery_messages,
        parse_ha_command,
    )
    from gasguard.mqtt_client import make_client

    prefix = settings.mqtt_topic_prefix
    for topic, payload in discovery_messages(
        runtime.site, prefix=prefix, availability_topic=publisher.availability_topic
    ):
        publisher.enqueue(topic, payload, retain=True)
    states = HomeAssistantStates(runtime.site, prefix=prefix)

    def observe(item: Reading | Output) -> None:
        for topic, payload in states.state_messages(item):
            publisher.enqueue(topic, payload, retain=True)

    runtime.add_observer(observe)
    broker = publisher.broker
    refused = {"count": 0}

    async def commands(rt: Runtime) -> None:
        client = make_client(broker, client_id=f"{publisher.client_id}-ha", availability_topic=None)
        async with client:
            await client.subscribe(command_subscription(prefix), qos=1)
            async for message in client.messages:
                payload = message.payload if isinstance(message.payload, bytes | str) else b""
                try:
                    command = parse_ha_command(message.topic.value, payload, site=rt.site, prefix=prefix)
                except ValueError as exc:
                    refused["count"] += 1
                    log.warning("Home Assistant command refused: %s", exc)
                    continue
                await rt.operate(command)

    runtime.add_source("home-assistant-commands", commands, lambda: {"refused": refused["count"]})


def attach_modbus(runtime: Runtime) -> None:
    """Poll the Modbus TCP input registers of channels that have a ``modbus`` block."""
    from gasguard.ingest.modbus import ModbusPoller, modbus_channels

    if not modbus_channels(runtime.site):
        return
    poller = ModbusPoller(runtime.site, clock=runtime.clock)

    async def poll(rt: Runtime) -> None:
        await poller.run(rt.submit_reading)

    runtime.add_source("modbus", poll, poller.health)


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
    runtime = build_runtime(site, services, clock=clock, mqtt=broker_from_settings(settings))
    attach_mqtt(runtime, settings)
    attach_modbus(runtime)
    attach_notifications(runtime)
    if customise is not None:
        customise(runtime, services)
    app = create_app(settings, services)
    return app, services, runtime


def database_folder(settings: ServiceSettings) -> Path | None:
    """The folder of the SQLite file the settings use (the data folder by default); ``None`` for a
    database server, which several GasGuard workers share by design."""
    url = make_url(settings.resolved_database_url())
    database = url.database
    if url.get_backend_name() != "sqlite" or not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database).expanduser().resolve().parent


def claim_data_folder(
    settings: ServiceSettings, options: ServeOptions, *, command: str, hint: str
) -> DataFolderLock | None:
    """Lock the folder of the service's SQLite file for this process, or raise ``ServeError`` naming the
    process that holds it. Called before anything is written, so a refused start changes nothing."""
    folder = database_folder(settings)
    if folder is None:
        return None
    try:
        return lock_data_folder(folder, command=command, host=options.host, port=options.port, hint=hint)
    except DataFolderInUseError as exc:
        raise ServeError(str(exc)) from None


def check_port_free(host: str, port: int) -> None:
    """Refuse a port another program listens on before the database is touched (uvicorn would find out
    only after the migrations and the demo's account set-up)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except OSError:
        return  # a name that does not resolve: uvicorn says so itself
    family, kind, proto, _name, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise ServeError(_port_taken(host, port)) from None


def _port_taken(host: str, port: int) -> str:
    return f"could not start listening on {host}:{port} (in use by another program?); choose another with --port"


def run_service(
    site: SiteConfig,
    settings: ServiceSettings,
    options: ServeOptions,
    *,
    customise: Callable[[Runtime, Services], None] | None = None,
    on_ready: Callable[[], None] | None = None,
    command: str = "gasguard serve",
    lock_hint: str = "set GASGUARD_DATA_DIR to another folder",
) -> None:
    """Serve until interrupted.

    The data folder is locked first, for as long as the process serves (``gasguard.datalock``): a
    second GasGuard on the same SQLite file stops with ``ServeError`` naming the holder, before any
    migration, secret key or account is written. ``command`` is how this process is named to it, and
    ``lock_hint`` the way out it is offered. A port already taken is refused next, also before the
    database is touched.

    A database that cannot be used at start (damaged file, unreachable server, missing driver) raises
    ``DatabaseUnavailableError`` with one line for the operator, before anything listens.
    """
    lock = claim_data_folder(settings, options, command=command, hint=lock_hint)
    try:
        check_port_free(options.host, options.port)
        _serve(site, settings, options, customise=customise, on_ready=on_ready)
    finally:
        if lock is not None:
            lock.release()


def _serve(
    site: SiteConfig,
    settings: ServiceSettings,
    options: ServeOptions,
    *,
    customise: Callable[[Runtime, Services], None] | None,
    on_ready: Callable[[], None] | None,
) -> None:
    with explained_database_failures(settings.resolved_database_url()):
        app, services, _runtime = build_live_app(site, settings, migrate=options.migrate, customise=customise)
    config = uvicorn.Config(
        app,  # type: ignore[arg-type]
        host=options.host,
        port=options.port,
        log_level=options.log_level,
        access_log=False,
        lifespan="on",
        # X-Forwarded-For only from configured reverse proxies: the login limit keys on the client address.
        proxy_headers=bool(settings.trusted_proxies),
        forwarded_allow_ips=",".join(settings.trusted_proxies) or None,
    )
    server = uvicorn.Server(config)

    async def announce() -> None:
        while not server.started:
            await asyncio.sleep(0.05)
        if on_ready is not None:
            on_ready()

    async def main() -> None:
        watcher = asyncio.create_task(announce())
        try:
            await server.serve()
        finally:
            watcher.cancel()

    def stopped_by_signal(_signum: int, _frame: object) -> None:
        raise _Stopped

    # uvicorn shuts down gracefully on SIGINT/SIGTERM and then re-raises the signal; these handlers turn
    # that into a normal return, so an orderly stop exits 0.
    previous = signal.signal(signal.SIGTERM, stopped_by_signal)
    try:
        asyncio.run(main())
    except (KeyboardInterrupt, _Stopped):
        log.info("stopped by a signal after an orderly shutdown")
    except SystemExit:  # uvicorn exits from inside the loop when it cannot start
        if not server.started:
            raise ServeError(_port_taken(options.host, options.port)) from None
        raise
    finally:
        signal.signal(signal.SIGTERM, previous)
        services.dispose()
