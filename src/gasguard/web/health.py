"""Per-component health, as shown by ``GET /api/v1/health``.

Each component (database, reading writer, event log, broker, models, sources, ...) registers a check:
a function returning a ``ComponentHealth``. The service is ``down`` if any component is down,
``degraded`` if any is degraded, else ``ok``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from gasguard.storage.writer import ComponentStatus

HealthCheck = Callable[[], "ComponentHealth"]


@dataclass(frozen=True, slots=True)
class ComponentHealth:
    status: ComponentStatus
    detail: Mapping[str, Any] = field(default_factory=dict)


def overall(components: Mapping[str, ComponentHealth]) -> ComponentStatus:
    statuses = {c.status for c in components.values()}
    if ComponentStatus.DOWN in statuses:
        return ComponentStatus.DOWN
    if ComponentStatus.DEGRADED in statuses:
        return ComponentStatus.DEGRADED
    return ComponentStatus.OK


def run_checks(checks: Mapping[str, HealthCheck]) -> dict[str, ComponentHealth]:
    """Run every check; a check that raises reports its component as down."""
    results: dict[str, ComponentHealth] = {}
    for name, check in checks.items():
        try:
            results[name] = check()
        except Exception as exc:  # a broken check must not break the health endpoint
            results[name] = ComponentHealth(ComponentStatus.DOWN, {"error": f"{type(exc).__name__}: {exc}"[:300]})
    return results
