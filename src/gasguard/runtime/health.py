"""The runtime's parts of ``/api/v1/health``: the pipeline, the reading sources, the models and the
cameras, each a check that reads the runtime's counters (no I/O, safe from any request thread)."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from gasguard.services.health import ComponentHealth
from gasguard.storage.writer import ComponentStatus

if TYPE_CHECKING:
    from gasguard.runtime.core import Runtime

_ORDER = [ComponentStatus.OK, ComponentStatus.DEGRADED, ComponentStatus.DOWN]


def pipeline_health(runtime: Runtime) -> ComponentHealth:
    pipeline = runtime.pipeline
    counters = dict(pipeline.counters)
    detail: dict[str, Any] = {
        **counters,
        "last_step_us": round(pipeline.last_step_s * 1e6, 1),
        "zones": len(pipeline.state.zones),
        "running": runtime.running,
        "ticking": pipeline.ticking(),
    }
    if not runtime.running:
        return ComponentHealth(ComponentStatus.DOWN, detail)
    if counters.get("sink_errors") or counters.get("advisor_errors"):
        return ComponentHealth(ComponentStatus.DEGRADED, detail)
    return ComponentHealth(ComponentStatus.OK, detail)


def sources_health(runtime: Runtime) -> ComponentHealth:
    detail: dict[str, Any] = {}
    status = ComponentStatus.OK
    for name, source in runtime.sources.items():
        entry: dict[str, Any] = {"running": source.running, "restarts": source.restarts}
        if source.last_error:
            entry["last_error"] = source.last_error
        if source.detail is not None:
            with contextlib.suppress(Exception):
                entry.update(source.detail())
        detail[name] = entry
        if runtime.running and not source.running:
            status = ComponentStatus.DEGRADED
    return ComponentHealth(status, detail)


def models_health(runtime: Runtime) -> ComponentHealth:
    detail: dict[str, Any] = {
        m.name: {"loaded": m.loaded, "version": m.version, "error": m.error} for m in runtime.models
    }
    detail["advisor_errors"] = runtime.pipeline.counters.get("advisor_errors", 0)
    detail["model_errors"] = runtime.model_errors
    failed = any(not m.loaded for m in runtime.models) or bool(detail["advisor_errors"])
    return ComponentHealth(ComponentStatus.DEGRADED if failed else ComponentStatus.OK, detail)


def cameras_health(runtime: Runtime) -> ComponentHealth:
    detail: dict[str, Any] = {}
    worst = ComponentStatus.OK
    for cid, camera in runtime.cameras.items():
        try:
            h = dict(camera.health())
        except Exception as exc:
            h = {"status": "down", "error": str(exc)[:200]}
        detail[cid] = h
        status = ComponentStatus(h.get("status", "down"))
        # A camera is an extra, advisory input: at worst it degrades the service, never takes it down.
        status = min(status, ComponentStatus.DEGRADED, key=_ORDER.index)
        worst = max(worst, status, key=_ORDER.index)
    return ComponentHealth(worst, detail)


def register_health(runtime: Runtime) -> None:
    """Add the runtime's checks to its services' health checks."""
    runtime.services.health_checks.update(
        {
            "pipeline": lambda: pipeline_health(runtime),
            "sources": lambda: sources_health(runtime),
            "models": lambda: models_health(runtime),
            "cameras": lambda: cameras_health(runtime),
        }
    )
