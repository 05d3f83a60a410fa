"""Due dates: when each channel needs its next bump test and calibration, and each zone its proof test.

The interval comes from the site's maintenance plan (channel, then zone, then site, then the default),
counted from the newest record of that kind. A passed calibration also counts as a bump test (the
detector saw test gas and answered). The newest record failing makes the item due at once: a failed
test is not a test done.

Statuses, most urgent first: ``failed`` (the newest record failed), ``overdue`` (past its due date),
``never`` (no record yet), ``due_soon`` (within the plan's ``due_soon_days``), ``ok``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from gasguard.maintenance.config import DueKind
from gasguard.maintenance.plant import PlantDirectory
from gasguard.maintenance.records import RecordKind, latest_records

DAY_S = 86400.0
STATUS_ORDER = ("failed", "overdue", "never", "due_soon", "ok")


@dataclass(frozen=True, slots=True)
class DueItem:
    kind: DueKind
    target: str  # channel id, or zone id for a proof test
    zone: str
    site: str
    interval_days: float
    status: str
    due_at: float | None
    last_at: float | None
    last_passed: bool | None
    last_kind: str | None  # which record the date counts from (a calibration can stand for a bump)
    last_id: int | None

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "target": self.target,
            "zone": self.zone,
            "site": self.site,
            "interval_days": self.interval_days,
            "status": self.status,
            "due_at": self.due_at,
            "last_at": self.last_at,
            "last_passed": self.last_passed,
            "last_kind": self.last_kind,
            "last_id": self.last_id,
        }

    def describe(self) -> str:
        """Words for a notification or a health detail: 'bump test of kitchen-ch1 overdue since 2026-11-02'."""
        what = {"bump": "bump test", "calibration": "calibration", "proof_test": "proof test"}[self.kind]
        every = f"every {self.interval_days:g} days"
        if self.status == "never":
            return f"{what} of {self.target} never recorded ({every})"
        assert self.due_at is not None
        day = datetime.fromtimestamp(self.due_at, UTC).strftime("%Y-%m-%d")
        if self.status == "failed":
            return f"{what} of {self.target} failed on {day}: repeat it"
        if self.status == "overdue":
            return f"{what} of {self.target} overdue since {day} ({every})"
        if self.status == "due_soon":
            return f"{what} of {self.target} due on {day} ({every})"
        return f"{what} of {self.target} next due on {day}"


def _item(
    plant: PlantDirectory,
    kind: DueKind,
    target: str,
    zone: str,
    last: Mapping[str, Any] | None,
    now: float,
    channel: str | None,
) -> DueItem:
    plan = plant.plan_for_zone(zone)
    days = plan.interval(kind, zone=zone, channel=channel)
    site = plant.site_of_zone(zone) or ""
    if last is None:
        return DueItem(kind, target, zone, site, days, "never", None, None, None, None, None)
    last_at = float(last["ts"])
    passed = bool(last["passed"])
    if not passed:
        status, due_at = "failed", last_at
    else:
        due_at = last_at + days * DAY_S
        if now >= due_at:
            status = "overdue"
        elif now >= due_at - plan.due_soon_days * DAY_S:
            status = "due_soon"
        else:
            status = "ok"
    return DueItem(kind, target, zone, site, days, status, due_at, last_at, passed, str(last["kind"]), int(last["id"]))


def _newer(a: Mapping[str, Any] | None, b: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    if a is None:
        return b
    if b is None:
        return a
    return a if (a["ts"], a["kind"]) >= (b["ts"], b["kind"]) else b


def due_items(
    plant: PlantDirectory, latest: Mapping[RecordKind, Mapping[str, Mapping[str, Any]]], now: float
) -> list[DueItem]:
    """Every due item of the plant, most urgent first, from the newest record of each kind and target."""
    bumps = latest.get(RecordKind.BUMP, {})
    calibrations = latest.get(RecordKind.CALIBRATION, {})
    proofs = latest.get(RecordKind.PROOF_TEST, {})
    items: list[DueItem] = []
    for cid, ch in plant.channels.items():
        calibration = calibrations.get(cid)
        passed_calibration = calibration if calibration is not None and calibration["passed"] else None
        items.append(_item(plant, "bump", cid, ch.zone, _newer(bumps.get(cid), passed_calibration), now, cid))
        items.append(_item(plant, "calibration", cid, ch.zone, calibration, now, cid))
    for zid in plant.zones:
        items.append(_item(plant, "proof_test", zid, zid, proofs.get(zid), now, None))
    items.sort(key=lambda i: (STATUS_ORDER.index(i.status), i.due_at if i.due_at is not None else 0.0, i.target))
    return items


def load_due(session: Session, *, plant: PlantDirectory, now: float) -> list[DueItem]:
    """``due_items`` from the records stored in the database."""
    latest = {kind: latest_records(session, kind=kind) for kind in RecordKind}
    return due_items(plant, latest, now)
