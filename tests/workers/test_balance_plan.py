"""The balancing rule on its own (``gasguard.workers.balance.plan``): shares, orderly hand-over only to a
worker with room, orphans never left unowned, pinned workers' zones left out."""

from __future__ import annotations

from gasguard.workers.balance import plan

ZONES = [f"z{i:02d}" for i in range(10)]


def _owners(**by_worker: list[str]) -> dict[str, str | None]:
    owners: dict[str, str | None] = dict.fromkeys(ZONES)
    for worker, zones in by_worker.items():
        for zone in zones:
            owners[zone] = worker
    return owners


def test_balancing_a_lone_worker_takes_every_free_zone() -> None:
    decided = plan(me="a", zones=ZONES, mine=[], owners=_owners(), balancing=["a"], free_for_s={})
    assert decided.share == 10
    assert sorted(decided.take) == ZONES
    assert decided.give_up == []


def test_balancing_hands_over_only_what_a_newcomer_has_room_for() -> None:
    owners = _owners(a=ZONES)
    decided = plan(me="a", zones=ZONES, mine=ZONES, owners=owners, balancing=["a", "b"], free_for_s={})
    assert decided.share == 5
    assert decided.give_up == ["z09", "z08", "z07", "z06", "z05"]  # quiet zones, last names first
    newcomer = plan(me="b", zones=ZONES, mine=[], owners=owners, balancing=["a", "b"], free_for_s={})
    assert newcomer.take == [] and newcomer.give_up == []  # it waits for a's hand-over


def test_balancing_without_room_nothing_is_handed_over() -> None:
    # a holds 6, b holds 4, both shares are 5: b has room for 1, so one zone moves.
    owners = _owners(a=ZONES[:6], b=ZONES[6:])
    decided = plan(me="a", zones=ZONES, mine=ZONES[:6], owners=owners, balancing=["a", "b"], free_for_s={})
    assert len(decided.give_up) == 1
    # b dead (its presence gone, its leases not yet expired): nobody has room, nothing is handed over;
    # b's zones join the pool when their leases expire.
    alone = plan(me="a", zones=ZONES, mine=ZONES[:6], owners=owners, balancing=["a"], free_for_s={})
    assert alone.give_up == [] and alone.take == []
    expired = plan(me="a", zones=ZONES, mine=ZONES[:6], owners=_owners(a=ZONES[:6]), balancing=["a"], free_for_s={})
    assert expired.share == 10 and sorted(expired.take) == ZONES[6:]


def test_balancing_two_busy_workers_never_hand_over_more_than_the_newcomer_takes() -> None:
    owners = _owners(a=ZONES[:5], b=ZONES[5:])
    workers = ["a", "b", "c"]  # share ceil(10 / 3) = 4; c has room for 4, a and b each have 1 surplus
    given = [
        plan(
            me=w,
            zones=ZONES,
            mine=ZONES[:5] if w == "a" else ZONES[5:],
            owners=owners,
            balancing=workers,
            free_for_s={},
        ).give_up
        for w in ("a", "b")
    ]
    assert [len(g) for g in given] == [1, 1]
    # Free zones fill the newcomer's room first: with 3 zones already free, only 1 more may move.
    owners = _owners(a=ZONES[:5], b=ZONES[5:7])
    a = plan(me="a", zones=ZONES, mine=ZONES[:5], owners=owners, balancing=workers, free_for_s={})
    b = plan(me="b", zones=ZONES, mine=ZONES[5:7], owners=owners, balancing=workers, free_for_s={})
    assert len(a.give_up) == 1 and b.give_up == [] and len(b.take) == 2


def test_balancing_an_orphan_is_taken_by_a_worker_at_its_share_after_the_grace() -> None:
    owners = _owners(a=ZONES[:5], b=ZONES[5:9])  # z09 free; b (4 of share 5) should take it
    fresh = plan(me="a", zones=ZONES, mine=ZONES[:5], owners=owners, balancing=["a", "b"], free_for_s={"z09": 0.5})
    assert fresh.take == []
    late = plan(me="a", zones=ZONES, mine=ZONES[:5], owners=owners, balancing=["a", "b"], free_for_s={"z09": 2.5})
    assert late.take == ["z09"]


def test_balancing_tripped_zones_move_last_and_pinned_zones_are_not_shared() -> None:
    owners = _owners(a=ZONES[:6], p=ZONES[6:])  # p is pinned (not balancing): z06..z09 are not shared
    decided = plan(
        me="a",
        zones=ZONES,
        mine=ZONES[:6],
        owners=owners,
        balancing=["a", "b"],
        free_for_s={},
        tripped=lambda zone: zone in {"z05", "z04"},
    )
    assert decided.share == 3
    assert decided.give_up == ["z03", "z02", "z01"]


def test_balancing_never_hands_over_a_zone_whose_valve_is_moving() -> None:
    owners = _owners(a=ZONES)
    decided = plan(
        me="a",
        zones=ZONES,
        mine=ZONES,
        owners=owners,
        balancing=["a", "b"],
        free_for_s={},
        moving=lambda zone: zone in {"z09", "z08"},
    )
    assert decided.give_up == ["z07", "z06", "z05", "z04", "z03"]
