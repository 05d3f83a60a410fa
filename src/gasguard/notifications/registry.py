"""Which notifier runs for which ``Services`` in this process: a lookup the web routes use (for test
messages) without importing the notifier, whose health types come from the web package."""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gasguard.notifications.service import Notifier

_notifiers: dict[int, Notifier] = {}
"""By ``id(services)``, dropped when the services are collected (``Services`` is not hashable)."""


def register(services: Any, notifier: Notifier) -> None:
    _notifiers[id(services)] = notifier
    weakref.finalize(services, _notifiers.pop, id(services), None)


def notifier_for(services: Any) -> Notifier | None:
    """The notifier running in this process for ``services``, if any."""
    return _notifiers.get(id(services))
