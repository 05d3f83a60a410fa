"""``gasguard serve``: the service for a site file, on the database and broker from the settings."""

from __future__ import annotations

import faulthandler
import logging
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from gasguard.commands.apps import CliApps

if TYPE_CHECKING:
    from gasguard.config import SiteConfig
    from gasguard.runtime import Runtime
    from gasguard.services import Services
    from gasguard.serving import ServeOptions
    from gasguard.settings import ServiceSettings


def register(apps: CliApps) -> None:
    @apps.root.command("serve")
    def serve(
        config: Path | None = typer.Option(
            None, "--config", help="Site YAML (sites, zones, channels, valves). Default: GASGUARD_SITE_CONFIG."
        ),
        host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
        port: int = typer.Option(8000, "--port", min=1, max=65535, help="Port to listen on."),
        migrate: bool = typer.Option(
            True, "--migrate/--no-migrate", help="Bring the database schema up to date before serving."
        ),
        log_level: str = typer.Option("info", "--log-level", help="debug, info, warning or error."),
        role: str = typer.Option(
            "all",
            "--role",
            help="all: every zone in this process (default). worker: lease zones on PostgreSQL and run their "
            "safety pipelines. web: API and dashboard only, no safety state.",
        ),
        zones: str | None = typer.Option(
            None,
            "--zones",
            help="With --role worker: only these zones (comma-separated), first come. Default: an even share of "
            "the zones among the live workers that run without --zones.",
        ),
    ) -> None:
        """Serve the API, the dashboard and the live safety pipeline for a site."""
        from gasguard.commands.failures import exit_for_database
        from gasguard.config import ConfigError, load_site_config
        from gasguard.serving import ServeError, ServeOptions, run_service
        from gasguard.settings import ServiceSettings, UnsafeSettingsError
        from gasguard.storage.engine import DatabaseUnavailableError
        from gasguard.storage.migrate import SchemaOutOfDateError

        logging.getLogger().setLevel(log_level.upper())
        try:
            settings = ServiceSettings()
            path = config or settings.site_config
            if path is None:
                raise ConfigError("no site file: pass --config FILE or set GASGUARD_SITE_CONFIG")
            site = load_site_config(path)
        except (ConfigError, UnsafeSettingsError, ValueError) as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None

        if role != "all":
            _serve_role(
                role, zones, site, settings, ServeOptions(host=host, port=port, log_level=log_level, migrate=migrate)
            )
            return
        if zones is not None:
            typer.echo("error: --zones needs --role worker", err=True)
            raise typer.Exit(2)

        from gasguard.watchdog import ALIVE_WITHIN_S, SystemdWatchdog, ping_interval_s, systemd_notifier

        # Under systemd (Type=notify): READY=1 once serving, WATCHDOG=1 only while the safety loop ticks.
        notifier = systemd_notifier()
        systemd: SystemdWatchdog | None = None

        def with_systemd(runtime: Runtime, services: Services) -> None:
            nonlocal systemd
            if notifier is None:
                return
            # When the watchdog fires systemd sends SIGABRT first: print where every thread was stuck.
            faulthandler.enable()
            pipeline = runtime.pipeline
            systemd = SystemdWatchdog(notifier, lambda: pipeline.ticking(ALIVE_WITHIN_S), every_s=ping_interval_s())
            services.background.append(systemd.run)

            async def stopping() -> None:
                if systemd is not None:
                    systemd.stopping()

            services.shutdown.insert(0, stopping)

        def ready() -> None:
            typer.echo(f"GasGuard is serving {path} at http://{host}:{port}/ (API docs at /docs)")
            if systemd is not None:
                systemd.ready()

        try:
            run_service(
                site,
                settings,
                ServeOptions(host=host, port=port, log_level=log_level, migrate=migrate),
                customise=with_systemd,
                on_ready=ready,
            )
        except (DatabaseUnavailableError, SchemaOutOfDateError) as exc:
            raise exit_for_database(exc) from None
        except ServeError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from None


def _serve_role(
    role: str, zones: str | None, site: SiteConfig, settings: ServiceSettings, options: ServeOptions
) -> None:
    """``--role worker`` or ``--role web`` (gasguard.workers); the single process never comes here."""
    from gasguard.commands.failures import exit_for_database
    from gasguard.serving import ServeError
    from gasguard.storage.engine import DatabaseUnavailableError
    from gasguard.storage.migrate import SchemaOutOfDateError
    from gasguard.workers.serve import RoleError, serve_web, serve_worker

    def ready() -> None:
        typer.echo(f"GasGuard {role} is serving at http://{options.host}:{options.port}/")

    try:
        if role == "worker":
            serve_worker(site, settings, options, zones=zones, on_ready=ready)
        elif role == "web":
            if zones is not None:
                raise RoleError("--zones needs --role worker")
            serve_web(site, settings, options, on_ready=ready)
        else:
            raise RoleError(f"--role must be all, worker or web (not {role!r})")
    except (DatabaseUnavailableError, SchemaOutOfDateError) as exc:
        raise exit_for_database(exc) from None
    except (RoleError, ServeError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2 if isinstance(exc, RoleError) else 1) from None
