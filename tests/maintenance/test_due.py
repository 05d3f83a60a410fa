"""Due dates: intervals per site, zone and channel; a calibration stands for a bump; failed is due at once;
an overdue calibration degrades health (never trips) and reminders go out on the bus's maintenance topic."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import yaml
from sqlalchemy.orm import sessionmaker

from gasguard.config import ConfigError, parse_site_config
from gasguard.maintenance.config import MaintenanceConfig
from gasguard.maintenance.due import DAY_S, due_items
from gasguard.maintenance.plant import PlantDirectory
from gasguard.maintenance.records import RecordKind
from gasguard.maintenance.service import DueWatcher
from gasguard.notify import FanoutBus
from gasguard.storage.engine import make_session_factory
from gasguard.storage.migrate import engine_at_head
from gasguard.storage.writer import ComponentStatus
from maintenance.conftest import LAB_SITE

NOW = 1_700_000_000.0


def _rec(kind: str, ts: float, passed: bool = True, rid: int = 1) -> dict[str, Any]:
    return {"kind": kind, "ts": ts, "passed": passed, "id": rid}


def _by(items: list[Any]) -> dict[tuple[str, str], Any]:
    return {(i.kind, i.target): i for i in items}


def test_due_intervals_follow_channel_then_zone_then_site(plant: PlantDirectory) -> None:
    latest = {
        RecordKind.BUMP: {
            "kitchen-ch1": _rec("bump", NOW - 15 * DAY_S),  # channel override: every 14 days
            "lab-ch2": _rec("bump", NOW - 25 * DAY_S),  # site: every 30 days, due soon (within 7)
        },
        RecordKind.CALIBRATION: {"lab-mq5": _rec("calibration", NOW - 10 * DAY_S)},
        RecordKind.PROOF_TEST: {"lab": _rec("proof_test", NOW - 400 * DAY_S, passed=False)},
    }
    items = _by(due_items(plant, latest, NOW))
    assert items["bump", "kitchen-ch1"].status == "overdue" and items["bump", "kitchen-ch1"].interval_days == 14
    assert items["bump", "lab-ch2"].status == "due_soon"
    assert items["bump", "lab-ch2"].due_at == pytest.approx(NOW + 5 * DAY_S)
    # A passed calibration counts as the bump test too:
    assert items["bump", "lab-mq5"].status == "ok" and items["bump", "lab-mq5"].last_kind == "calibration"
    assert items["calibration", "lab-mq5"].due_at == pytest.approx(NOW + 170 * DAY_S)
    assert items["calibration", "kitchen-ch1"].status == "never"
    assert items["proof_test", "lab"].status == "failed"
    assert items["proof_test", "lab"].describe().startswith("proof test of lab failed on ")
    statuses = [i.status for i in due_items(plant, latest, NOW)]
    assert statuses == sorted(statuses, key=["failed", "overdue", "never", "due_soon", "ok"].index)


def test_maintenance_config_names_an_unknown_override() -> None:
    cfg = MaintenanceConfig(zones={"attic": {"bump_days": 7}})  # type: ignore[dict-item]
    with pytest.raises(ValueError, match=r"maintenance\.zones names no zone 'attic'"):
        cfg.check_ids(["lab"], ["lab-ch2"])


def test_maintenance_block_in_the_site_file_is_checked_by_name() -> None:
    data = yaml.safe_load(LAB_SITE)
    data["sites"][0]["maintenance"]["channels"] = {"ghost": {"bump_days": 3}}
    with pytest.raises(ConfigError, match=r"maintenance\.channels names no channel 'ghost' of this site"):
        parse_site_config(data, "site.yaml")
    data["sites"][0]["maintenance"] = {"bump_dayz": 3}
    with pytest.raises(ConfigError, match="maintenance: unknown key 'bump_dayz' \\(did you mean 'bump_days'\\?\\)"):
        parse_site_config(data, "site.yaml")


def test_overdue_calibration_degrades_health_and_reminds_once(plant: PlantDirectory, sqlite_url: str) -> None:
    engine = engine_at_head(sqlite_url)
    factory: sessionmaker[Any] = make_session_factory(engine)
    from gasguard.maintenance.records import CalibrationInput, store_record

    with factory() as session:
        store_record(
            session,
            plant=plant,
            record=CalibrationInput("lab-ch2", "methane", 50, as_left_zero=0, as_left_span=50, ts=NOW - 200 * DAY_S),
            recorded_by="otto",
            now=NOW,
        )
        session.commit()
    bus = FanoutBus()
    reminders = bus.subscribe(topics=("maintenance",))
    watcher = DueWatcher(plant, bus=bus, session_factory=factory, clock=lambda: NOW)
    assert watcher.health().status is ComponentStatus.OK  # nothing computed yet
    asyncio.run(watcher.refresh())
    health = watcher.health()
    assert health.status is ComponentStatus.DEGRADED
    assert health.detail["calibration"] == ["calibration of lab-ch2 overdue since 2023-10-25 (every 180 days)"]
    message = reminders.get_nowait()
    assert message.payload["zone"] == "lab"
    assert "calibration of lab-ch2 overdue since" in message.payload["reason"]
    asyncio.run(watcher.refresh())
    assert reminders.pending() == 0  # told once, not at every refresh
    engine.dispose()
