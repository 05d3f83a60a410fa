"""``gasguard demo``: the whole system in one command, on embedded defaults."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import typer

from gasguard.commands.apps import CliApps


def register(apps: CliApps) -> None:
    @apps.root.command("demo")
    def demo(
        port: int = typer.Option(8000, "--port", min=1, max=65535, help="Port for the dashboard and API."),
        host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
        speed: float = typer.Option(1.0, "--speed", min=0.1, max=100.0, help="Storyline speed (x real time)."),
        replay: Path | None = typer.Option(
            None, "--replay", help="MultimodalGasData CSV to stream as an extra zone with the gas-type model."
        ),
        data_dir: Path | None = typer.Option(
            None,
            "--data-dir",
            help="Folder for the demo's database (gasguard.db) and key. "
            "Default: GASGUARD_DATA_DIR, else the user data folder/demo.",
        ),
        log_level: str = typer.Option("warning", "--log-level", help="debug, info, warning or error."),
    ) -> None:
        """Run GasGuard on a simulated site: a kitchen leak, automatic shut-off, reset and reopen, looping.

        The data folder is locked while the demo runs: a second demo (or serve) on it stops at once and
        names this one, without touching its database or its admin password.
        """
        started = time.perf_counter()
        from gasguard.commands.failures import exit_for_database
        from gasguard.demo import demo_settings, demo_site, prepare_demo
        from gasguard.serving import ServeError, ServeOptions, run_service
        from gasguard.storage.engine import DatabaseUnavailableError

        logging.getLogger().setLevel(log_level.upper())
        if replay is not None and not replay.is_file():
            typer.echo(f"error: {replay}: no such file", err=True)
            raise typer.Exit(2)
        settings = demo_settings(data_dir)
        # Libraries' own caches (onnxruntime keeps a device id file) go into the demo folder too, so the
        # demo leaves nothing behind outside it.
        os.environ["XDG_CACHE_HOME"] = str(settings.data_dir / "cache")
        site = demo_site(replay)
        parts: dict[str, object] = {}

        def customise(runtime, services):  # type: ignore[no-untyped-def]
            parts["demo"] = prepare_demo(runtime, services, speed=speed, replay=replay)

        def ready() -> None:
            demo_parts = parts["demo"]
            password = getattr(demo_parts, "password", "?")
            elapsed = time.perf_counter() - started
            typer.echo(
                f"GasGuard demo is serving at http://{host}:{port}/  (ready in {elapsed:.1f} s)\n"
                f"  sign in as: admin / {password}   (a new password is generated at every start)\n"
                f"  data folder: {settings.data_dir}\n"
                f"  storyline speed: {speed}x; press Ctrl-C to stop"
            )

        try:
            run_service(
                site,
                settings,
                ServeOptions(host=host, port=port, log_level=log_level),
                customise=customise,
                on_ready=ready,
                command="gasguard demo",
                lock_hint="use --data-dir",
            )
        except DatabaseUnavailableError as exc:  # the demo's own file, damaged: say where it is
            raise exit_for_database(exc) from None
        except ServeError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from None
