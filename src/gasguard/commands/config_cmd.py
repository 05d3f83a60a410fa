"""``gasguard config check FILE`` and ``gasguard config example``."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from gasguard.commands.apps import CliApps
from gasguard.config import ConfigError, example_config_path, load_site_config


def register(apps: CliApps) -> None:
    config_app = typer.Typer(help="Site configuration files.", no_args_is_help=True, add_completion=False)

    @config_app.command("check")
    def check(
        file: Path = typer.Argument(..., help="Site configuration YAML."),
        as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    ) -> None:
        """Validate a site configuration; exit 1 with each problem named if it is invalid."""
        try:
            config = load_site_config(file)
            spec = config.plant_spec()
        except (ConfigError, ValueError) as exc:
            if as_json:
                typer.echo(json.dumps({"file": str(file), "valid": False, "error": str(exc)}))
            else:
                typer.echo(str(exc), err=True)
            raise typer.Exit(1) from None
        summary = {
            "file": str(file),
            "valid": True,
            "sites": len(config.sites),
            "zones": len(spec.zones),
            "channels": sum(len(z.channels) for z in spec.zones),
            "valves": sum(len(z.valves) for z in spec.zones),
        }
        if as_json:
            typer.echo(json.dumps(summary))
        else:
            typer.echo(
                f"{file}: valid ({summary['zones']} zones, {summary['channels']} channels, {summary['valves']} valves)"
            )

    @config_app.command("example")
    def example() -> None:
        """Print the commented example configuration (redirect it to a file to start your own)."""
        typer.echo(example_config_path().read_text(encoding="utf-8"), nl=False)

    apps.root.add_typer(config_app, name="config")
