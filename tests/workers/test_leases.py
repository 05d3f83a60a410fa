"""Zone leases on the real PostgreSQL: one owner at a time, expiry on the database clock, fencing tokens,
and the snapshot fence that keeps a former owner from overwriting the new owner's latched state."""

from __future__ import annotations

import time

import pytest
from sqlalchemy.orm import sessionmaker

from gasguard.storage.migrate import engine_at_head
from gasguard.storage.snapshots import load_snapshot
from gasguard.workers.lease import LeaseStoreUnsupportedError, LeaseTable, LeaseTiming, unowned_message, zone_owners
from gasguard.workers.zone import FencedSnapshotStore, LeaseLostError

pytestmark = pytest.mark.server


def test_one_owner_at_a_time_and_a_takeover_after_expiry_with_a_new_token(fresh_postgres: str) -> None:
    engine = engine_at_head(fresh_postgres)
    try:
        table = LeaseTable(engine)
        first = table.acquire("kitchen", "worker-a", 0.6)
        assert first == 1
        assert table.acquire("kitchen", "worker-b", 0.6) is None  # live lease: refused
        assert table.renew("kitchen", "worker-a", first, 0.6)
        assert zone_owners(table, ["kitchen", "boiler"]) == {"kitchen": "worker-a", "boiler": None}
        time.sleep(0.8)  # worker-a stops renewing
        assert not table.renew("kitchen", "worker-a", first, 0.6)  # expired: lost for good
        second = table.acquire("kitchen", "worker-b", 5.0)
        assert second == 2
        assert not table.renew("kitchen", "worker-a", first, 5.0)  # the old token is fenced off
        table.release("kitchen", "worker-b", second)
        assert zone_owners(table, ["kitchen"]) == {"kitchen": None}
        assert table.acquire("kitchen", "worker-a", 5.0) == 3  # released: no wait for the expiry
    finally:
        engine.dispose()


def test_a_former_owner_cannot_store_a_snapshot_over_the_new_owners(fresh_postgres: str) -> None:
    engine = engine_at_head(fresh_postgres)
    sessions = sessionmaker(engine)
    try:
        table = LeaseTable(engine)
        old = table.acquire("kitchen", "worker-a", 0.3)
        assert old is not None
        stale = FencedSnapshotStore(engine, sessions, table, zone="kitchen", owner="worker-a", token=old)
        stale._write({"version": 1, "zones": {"kitchen": {"tripped": True}}}, saved_at=1.0)
        time.sleep(0.5)
        new = table.acquire("kitchen", "worker-b", 5.0)
        assert new is not None
        with pytest.raises(LeaseLostError):
            stale._write({"version": 1, "zones": {"kitchen": {"tripped": False}}}, saved_at=2.0)
        with sessions() as session:
            stored = load_snapshot(session, scope="kitchen")
        assert stored is not None and stored[0]["zones"]["kitchen"]["tripped"] is True
    finally:
        engine.dispose()


def test_leases_refuse_sqlite_and_timing_keeps_the_owner_ahead_of_the_expiry(tmp_path: object) -> None:
    from sqlalchemy import create_engine

    with pytest.raises(LeaseStoreUnsupportedError, match="PostgreSQL"):
        LeaseTable(create_engine("sqlite://"))
    with pytest.raises(ValueError):
        LeaseTiming(renew_every_s=1.0, ttl_s=3.0, hold_s=3.0)
    timing = LeaseTiming()
    assert timing.renew_every_s < timing.hold_s < timing.ttl_s
    assert unowned_message("kitchen") == "no worker owns zone kitchen: check the workers"


def test_one_statement_renews_only_the_live_leases_we_hold_and_presence_expires(fresh_postgres: str) -> None:
    engine = engine_at_head(fresh_postgres)
    try:
        table = LeaseTable(engine)
        kitchen = table.acquire("kitchen", "worker-a", 5.0)
        boiler = table.acquire("boiler", "worker-b", 5.0)
        cellar = table.acquire("cellar", "worker-a", 0.3)
        assert kitchen is not None and boiler is not None and cellar is not None
        time.sleep(0.5)  # the cellar lease expires
        # boiler is worker-b's, cellar has expired, the stale token is fenced off: only the kitchen renews.
        assert table.renew_many("worker-a", {"kitchen": kitchen, "boiler": boiler, "cellar": cellar}, 5.0) == {
            "kitchen"
        }
        assert table.renew_many("worker-a", {"kitchen": kitchen + 1}, 5.0) == set()
        assert table.renew_many("worker-a", {}, 5.0) == set()

        table.beat("worker-a", balancing=True, ttl_s=5.0)
        table.beat("worker-b", balancing=False, ttl_s=0.3)
        table.beat("worker-c", balancing=True, ttl_s=5.0)
        table.leave("worker-c")  # an orderly stop: gone at once
        view = table.view()
        assert {w: info.balancing for w, info in view.workers.items()} == {"worker-a": True, "worker-b": False}
        assert view.owner("kitchen") == "worker-a" and view.owner("cellar") is None and view.owner("attic") is None
        time.sleep(0.5)
        assert set(table.view().workers) == {"worker-a"}  # worker-b stopped beating: no longer live
    finally:
        engine.dispose()
