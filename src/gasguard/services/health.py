"""A component's health as every part of GasGuard reports it: a status and JSON-ready details.

Checks are plain functions (``HealthCheck``) that each part registers in ``Services.health_checks``;
``/api/v1/health`` (``web/health.py``) runs them and decides what a caller may see.
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
