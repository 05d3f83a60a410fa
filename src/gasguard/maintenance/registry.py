"""Which maintenance service runs for which ``Services`` in this process: a lookup for the web routes that
does not import the service module (it needs the web package's health types, and the web package
imports the routes: importing it from a route would be a circle)."""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gasguard.maintenance.service import Maintenance

_running: dict[int, Maintenance] = {}
"""By ``id(services)``, dropped when the services are collected (``Services`` is not hashable)."""


def register(services: Any, maintenance: Maintenance) -> None:
    _running[id(services)] = maintenance
    weakref.finalize(services, _running.pop, id(services), None)


def maintenance_for(services: Any) -> Maintenance | None:
    """The maintenance service running in this process for ``services``, if any."""
    return _running.get(id(services))
