"""Commands for the ml package (evaluate, train, bench)."""

from __future__ import annotations

from gasguard.commands.apps import CliApps


def register(apps: CliApps) -> None:
    """Add this module's commands to the shared command groups."""
