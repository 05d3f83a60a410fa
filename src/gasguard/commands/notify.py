"""``gasguard notify test --config site.yaml [--route NAME]``: a test message to every URL of the routes.

Sends straight through Apprise from this process, with the secrets from this shell's environment, and
reports each URL (masked) with its result, so a route can be proven before the first real alarm.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import typer

from gasguard.commands.apps import CliApps
from gasguard.config import ConfigError, load_site_config


def register(apps: CliApps) -> None:
    notify_app = typer.Typer(help="Notifications to people.", no_args_is_help=True, add_completion=False)

    @notify_app.command("test")
    def test(
        config: Path = typer.Option(..., "--config", help="Site configuration YAML with a notifications block."),
        route: str | None = typer.Option(None, "--route", help="Only this route."),
        as_json: bool = typer.Option(False, "--json", help="Print the results as JSON."),
    ) -> None:
        """Send a test message to each URL of each route; exit 1 if any was refused."""
        from gasguard.notifications.delivery import AppriseSender

        try:
            site = load_site_config(config)
        except ConfigError as exc:
            typer.echo(str(exc), err=True)
            raise typer.Exit(1) from None
        routes = [r for r in (site.notifications.routes if site.notifications else []) if route in (None, r.name)]
        if not routes:
            typer.echo(f"{config}: no notification route{' ' + repr(route) if route else 's'} to test", err=True)
            raise typer.Exit(1)
        sender = AppriseSender()

        async def run() -> list[dict[str, object]]:
            results: list[dict[str, object]] = []
            for r in routes:
                for url in r.urls:
                    outcome = await sender.send(
                        url,
                        title="GasGuard test message",
                        body=f"A test of the notification route {r.name}. Nothing needs doing.",
                    )
                    results.append({"route": r.name, "url": outcome.url, "ok": outcome.ok, "error": outcome.error})
            return results

        results = asyncio.run(run())
        if as_json:
            typer.echo(json.dumps(results))
        else:
            for result in results:
                verdict = "sent" if result["ok"] else f"FAILED: {result['error']}"
                typer.echo(f"{result['route']}: {result['url']}: {verdict}")
        if not all(result["ok"] for result in results):
            raise typer.Exit(1)

    apps.root.add_typer(notify_app, name="notify")
