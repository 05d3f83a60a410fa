"""Persisted safety-core state, so a restart keeps latched trips and closed valves.

The data is whatever ``safety.to_snapshot`` returns (a JSON-able dict); this module stores it per scope
(a zone id, or ``plant`` when one snapshot covers every zone) and never looks inside.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gasguard.storage.models import SnapshotRow

PLANT_SCOPE = "plant"


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
