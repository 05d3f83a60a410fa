"""The ``gasguard`` command line.

Each command module under ``gasguard.commands`` owns its commands and registers them here, so the
CLI grows without one file that knows every option.
"""

from __future__ import annotations

import logging

import typer

from gasguard.commands import bench, config_cmd, db, demo, maintenance, ml, notify, serve, simulate, users, vision
from gasguard.commands.apps import CliApps


def build_app() -> typer.Typer:
    """Build the full command tree (a fresh one per call, so tests never share state)."""
    root = typer.Typer(
        help="GasGuard: gas detection, alarms and automatic valve shut-off.",
        no_args_is_help=True,
        add_completion=False,
    )
    apps = CliApps(root=root)
    for module in (demo, serve, config_cmd, simulate, bench, ml, vision, db, users, notify, maintenance):
        module.register(apps)
    apps.attach_groups()
    return root


def main() -> None:
    """Console-script entry point."""
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    build_app()()
