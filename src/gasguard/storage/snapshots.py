"""Persisted safety-core state, so a restart keeps latched trips and closed valves.

The data is whatever ``safety.to_snapshot`` returns (a JSON-able dict); this module stores it per scope
(a zone id, or ``plant`` when one snapshot covers every zone) and never looks inside.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gasguard.storage.models import SnapshotRow

PLANT_SCOPE = "plant"

logger = logging.getLogger(__name__)


def save_snapshot(session: Session, *, scope: str, data: Mapping[str, Any], saved_at: float) -> None:
    """Insert or replace the snapshot of ``scope`` (flushed, not committed)."""
    payload = json.loads(json.dumps(data, allow_nan=False))  # refuse what the database cannot store
    row = session.get(SnapshotRow, scope)
    if row is None:
        session.add(SnapshotRow(scope=scope, saved_at=saved_at, data=payload))
    else:
        row.data = payload
        row.saved_at = saved_at
    session.flush()


def load_snapshot(session: Session, *, scope: str) -> tuple[dict[str, Any], float] | None:
    """The stored snapshot of ``scope`` and when it was saved, or ``None``."""
    row = session.get(SnapshotRow, scope)
    if row is None:
        return None
    return dict(row.data), row.saved_at


def load_snapshots(session: Session) -> dict[str, tuple[dict[str, Any], float]]:
    """Every stored snapshot by scope."""
    return {row.scope: (dict(row.data), row.saved_at) for row in session.scalars(select(SnapshotRow))}


class SnapshotStore:
    """Saves safety snapshots without making the safety loop wait.

    ``save`` only remembers the newest snapshot per scope (older unsaved ones are superseded, never
    needed); ``run`` writes it in a worker thread, retrying after a failure. ``flush`` writes now
    (orderly shutdown), ``load`` reads the stored one at start-up.
    """

    def __init__(
        self, session_factory: Callable[[], Session], *, scope: str = PLANT_SCOPE, retry_s: float = 1.0
    ) -> None:
        self._session_factory = session_factory
        self.scope = scope
        self._retry_s = retry_s
        self._latest: tuple[dict[str, Any], float] | None = None
        self._wake = asyncio.Event()
        self.saved = 0
        self.last_error: str | None = None

    def save(self, data: dict[str, Any], *, saved_at: float) -> None:
        self._latest = (data, saved_at)
        self._wake.set()

    def _write(self, data: dict[str, Any], saved_at: float) -> None:
        with self._session_factory() as session, session.begin():
            save_snapshot(session, scope=self.scope, data=data, saved_at=saved_at)

    async def flush(self) -> bool:
        """Write the newest unsaved snapshot; ``False`` if the database refused it (it is kept)."""
        pending = self._latest
        if pending is None:
            return True
        try:
            await asyncio.to_thread(self._write, *pending)
        except Exception as exc:
            self.last_error = f"{type(exc).__name__}: {exc}"[:500]
            logger.error("cannot store the safety snapshot: %s", self.last_error)
            return False
        if self._latest is pending:
            self._latest = None
        self.saved += 1
        self.last_error = None
        return True

    @property
    def unsaved(self) -> bool:
        return self._latest is not None

    async def run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            if not await self.flush():
                await asyncio.sleep(self._retry_s)
                self._wake.set()

    def load(self) -> tuple[dict[str, Any], float] | None:
        with self._session_factory() as session:
            return load_snapshot(session, scope=self.scope)
