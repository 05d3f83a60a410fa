"""Per-component health, as shown by ``GET /api/v1/health``.

Each component (database, reading writer, event log, broker, models, sources, ...) registers a check:
a function returning a ``ComponentHealth``. The service is ``down`` if any component is down,
``degraded`` if any is degraded, else ``ok``.

Anybody may see each component's status; the details (counts, connection states, error messages) are for
signed-in people only, and even then an error never carries the SQL statement or its parameters: they can
hold user names, token hashes or readings, and are of no use to an operator.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from gasguard.services.health import ComponentHealth, HealthCheck
from gasguard.storage.writer import ComponentStatus


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
            results[name] = ComponentHealth(ComponentStatus.DOWN, {"error": describe_error(exc)})
    return results


MAX_ERROR_TEXT = 300
# SQLAlchemy appends the statement, its parameters and a documentation link to its messages, each on a
# line of its own; a statement may span lines, so everything from the first such marker on is dropped.
_SQLALCHEMY_TAIL = re.compile(
    r"\s*(\[SQL: |\[parameters: |\[generated in |\(Background on this error at: ).*", re.DOTALL
)


def public_error_text(text: str) -> str:
    """An error message fit to show: the first line, without SQLAlchemy's ``[SQL: ...]`` part, cut short."""
    trimmed = _SQLALCHEMY_TAIL.sub("", text)
    first_line = trimmed.strip().splitlines()[0] if trimmed.strip() else ""
    return first_line[:MAX_ERROR_TEXT]


def describe_error(exc: BaseException) -> str:
    """``TypeName: first line of the message`` with no SQL statement or parameters."""
    return public_error_text(f"{type(exc).__name__}: {exc}")


def public_detail(value: Any) -> Any:
    """A component's detail with every string passed through ``public_error_text`` (checks written by
    others may put a raw ``str(exc)`` in there)."""
    if isinstance(value, str):
        return public_error_text(value) if "\n" in value or "[SQL: " in value else value
    if isinstance(value, Mapping):
        return {str(k): public_detail(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [public_detail(v) for v in value]
    return value


class RecentViewers:
    """Bearer tokens (as their keyed hashes) that proved a signed-in person recently, in memory.

    Health details are most needed while the database is down, which is exactly when a token cannot be
    checked. A token that this process checked within ``ttl_s`` keeps its caller's details through the
    outage; nothing else is granted by it, and a token the database refuses is forgotten at once.
    """

    def __init__(self, *, ttl_s: float = 300.0, max_entries: int = 1000) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def remember(self, token_hash: str, now: float) -> None:
        with self._lock:
            self._seen[token_hash] = now
            self._seen.move_to_end(token_hash)
            while len(self._seen) > self.max_entries:
                self._seen.popitem(last=False)

    def forget(self, token_hash: str) -> None:
        with self._lock:
            self._seen.pop(token_hash, None)

    def recent(self, token_hash: str, now: float) -> bool:
        with self._lock:
            seen = self._seen.get(token_hash)
            return seen is not None and 0 <= now - seen <= self.ttl_s
