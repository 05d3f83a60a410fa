"""``gasguard serve --role worker|web``: the two halves of a GasGuard spread over several machines.

``--role all`` (the default) is untouched and never comes here. A worker runs the safety pipelines of
the zones it leases and answers only health over HTTP (for the container health check and load
balancers); a web tier holds no safety state: the API and dashboard from the database and the live
views from the plant read model it follows over the broker, with a ``zones`` health component that is
DOWN while any zone of the site file has no live owner.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from collections.abc import Awaitable, Callable
from typing import Any

import uvicorn
from fastapi import FastAPI, Response

from gasguard.config import SiteConfig
from gasguard.mqtt_client import broker_from_settings
from gasguard.services import Services, build_services
from gasguard.services.health import ComponentHealth
from gasguard.serving import ServeOptions, check_port_free
from gasguard.settings import ServiceSettings
from gasguard.storage.engine import explained_database_failures
from gasguard.storage.writer import ComponentStatus
from gasguard.web import create_app
from gasguard.workers.commands import CommandClient, CommandServer, command_key
from gasguard.workers.lease import LeaseStoreUnsupportedError, LeaseTable, unowned_message, zone_owners
from gasguard.workers.live_view import attach_live_view
from gasguard.workers.remote import WebTierRuntime
from gasguard.workers.worker import ZoneWorker, forward_events

log = logging.getLogger(__name__)


class RoleError(RuntimeError):
    """A worker or web tier cannot start as configured; the message says what to change."""


def site_zone_ids(site: SiteConfig) -> list[str]:
    return [zone.id for _entry, zone in site.zones()]


def pinned_zones(site: SiteConfig, zones: str | None) -> list[str]:
    """``--zones kitchen,boiler`` checked against the site file; every zone when not given."""
    known = site_zone_ids(site)
    if not zones:
        return known
    wanted = [z.strip() for z in zones.split(",") if z.strip()]
    unknown = [z for z in wanted if z not in known]
    if unknown:
        raise RoleError(f"--zones names zones the site file lacks: {', '.join(unknown)} (it has {', '.join(known)})")
    return wanted


def zones_health(table: LeaseTable, zones: list[str]) -> Callable[[], ComponentHealth]:
    """Health component ``zones``: DOWN, naming them, while any zone has no worker owning it."""

    def check() -> ComponentHealth:
        try:
            owners = zone_owners(table, zones)
        except Exception as exc:
            return ComponentHealth(
                ComponentStatus.DOWN, {"error": f"cannot read the zone leases: {type(exc).__name__}"}
            )
        unowned = [z for z, owner in owners.items() if owner is None]
        detail: dict[str, Any] = {"owners": owners}
        if unowned:
            detail["problem"] = "; ".join(unowned_message(z) for z in unowned)
            return ComponentHealth(ComponentStatus.DOWN, detail)
        return ComponentHealth(ComponentStatus.OK, detail)

    return check


def _uvicorn(app: Any, options: ServeOptions, settings: ServiceSettings) -> uvicorn.Server:
    return uvicorn.Server(
        uvicorn.Config(
            app,
            host=options.host,
            port=options.port,
            log_level=options.log_level,
            access_log=False,
            lifespan="on",
            proxy_headers=bool(settings.trusted_proxies),
            forwarded_allow_ips=",".join(settings.trusted_proxies) or None,
        )
    )


def _run(main: Callable[[], Any]) -> None:
    """Run ``main`` until it returns; SIGTERM (systemd, docker stop) ends it like Ctrl-C, in order."""

    def stop(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        log.info("stopped by a signal after an orderly shutdown")
    finally:
        signal.signal(signal.SIGTERM, previous)


async def supervised(
    name: str, run: Callable[[], Awaitable[None]], *, backoff_s: tuple[float, float] = (1.0, 30.0)
) -> None:
    """Run a broker task for as long as the process serves, restarting it after a failure (broker away)."""
    delay = backoff_s[0]
    while True:
        try:
            await run()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("%s failed (%s: %s); restarting in %.0f s", name, type(exc).__name__, exc, delay)
        await asyncio.sleep(delay)
        delay = min(delay * 2, backoff_s[1])


def worker_health_app(worker: ZoneWorker, services: Services) -> FastAPI:
    """Liveness for the container and the worker's leases for people; no API, no safety state served."""
    app = FastAPI(title="GasGuard worker", docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/api/v1/health/live")
    async def live() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/api/v1/health")
    async def health(response: Response) -> dict[str, Any]:
        detail = worker.health()
        stalled = worker.stats.last_error is not None and not worker.held
        response.status_code = 503 if stalled else 200
        return {"status": "degraded" if stalled else "ok", "role": "worker", **detail}

    return app


def serve_worker(
    site: SiteConfig,
    settings: ServiceSettings,
    options: ServeOptions,
    *,
    zones: str | None,
    on_ready: Callable[[], None] | None = None,
) -> None:
    """Lease and run zones until stopped (see ``gasguard.workers.worker``)."""
    candidates = pinned_zones(site, zones)
    check_port_free(options.host, options.port)
    with explained_database_failures(settings.resolved_database_url()):
        services = build_services(settings, upgrade=options.migrate, clock=time.time)
    broker = broker_from_settings(settings)
    try:
        worker = ZoneWorker(site, services, candidates=candidates, broker=broker, balancing=not zones)
    except LeaseStoreUnsupportedError as exc:
        services.dispose()
        raise RoleError(str(exc)) from None
    server = _uvicorn(worker_health_app(worker, services), options, settings)

    async def main() -> None:
        tasks = [asyncio.create_task(run(), name="services") for run in services.background]
        if broker is not None:
            tasks.append(
                asyncio.create_task(forward_events(services, broker, publish_audit=settings.mqtt_publish_audit))
            )
            commands = CommandServer(
                broker,
                prefix=settings.mqtt_topic_prefix,
                owner=worker.owner,
                operate=worker.operate_owned,
                key=command_key(settings.resolved_secret_key()),
            )
            tasks.append(asyncio.create_task(supervised("commands", commands.run), name="commands"))
        leases = asyncio.create_task(worker.run(), name="zone-worker")
        log.info("worker %s started for zones %s", worker.owner, ", ".join(candidates))
        if on_ready is not None:
            on_ready()
        try:
            await server.serve()
        finally:
            leases.cancel()
            await asyncio.gather(leases, return_exceptions=True)
            await services.writer.stop()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    try:
        _run(main)
    finally:
        services.dispose()
        worker.engine.dispose()


def serve_web(
    site: SiteConfig,
    settings: ServiceSettings,
    options: ServeOptions,
    *,
    on_ready: Callable[[], None] | None = None,
) -> None:
    """The API and dashboard with no safety state: records from the database, the live views from the
    plant read model followed over the broker (``workers.live_view``), operator commands to the owning
    worker; health reports every zone without an owner as DOWN."""
    check_port_free(options.host, options.port)
    with explained_database_failures(settings.resolved_database_url()):
        services = build_services(settings, upgrade=options.migrate, clock=time.time)
    try:
        table = LeaseTable(services.engine)
    except LeaseStoreUnsupportedError as exc:
        services.dispose()
        raise RoleError(str(exc)) from None
    services.health_checks["zones"] = zones_health(table, site_zone_ids(site))
    broker = broker_from_settings(settings)
    client: CommandClient | None = None
    if broker is not None:
        client = CommandClient(
            broker, site, table, prefix=settings.mqtt_topic_prefix, key=command_key(settings.resolved_secret_key())
        )
        services.runtime = WebTierRuntime(site, client)
    follower = attach_live_view(site, services, broker, prefix=settings.mqtt_topic_prefix)
    server = _uvicorn(create_app(settings, services), options, settings)

    async def main() -> None:
        tasks = [asyncio.create_task(supervised("commands", client.run))] if client is not None else []
        if follower is not None:
            tasks.append(asyncio.create_task(supervised("live view", follower.run), name="live-view"))
        if on_ready is not None:
            on_ready()
        try:
            await server.serve()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    try:
        _run(main)
    finally:
        services.dispose()
