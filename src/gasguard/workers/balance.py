"""Sharing zones evenly among the live workers that run without ``--zones``: a pure decision rule.

Each balancing worker, once a second, reads the zone leases and the live workers
(``LeaseTable.view``) and asks ``plan`` what to do. Every worker runs the same rule on (nearly) the
same facts, so they agree without talking to each other:

- **Its share** is ``ceil(zones / live balancing workers)``. Zones a pinned worker (``--zones``) holds
  are not shared out.
- **Take** free zones (no live lease) while below the share. A free zone nobody below its share has
  taken within ``orphan_grace_s`` is taken by anyone, whatever its share: a zone is never left without
  an owner because the workers disagree about shares.
- **Give up** zones above the share only when another live balancing worker has room for them (it is
  below its share) and that room is not already going to free zones or to a worker ahead in the
  order of worker ids (so two busy workers never hand over more than a newcomer can take). The worker
  hands a zone over the way an orderly stop does: snapshot stored, lease released, and the taker polls
  every second, so the zone is without an owner for no longer than an orderly takeover. At most
  ``max_handover`` zones per round, so a round stays short and leases are renewed on time.
- A worker that dies stops renewing its presence *before* its leases (presence is renewed first each
  round), so by the time its zones are free the survivors' shares already count without it.

Zones in a trip are handed over last: moving them is safe (the snapshot keeps them tripped and their
valves closed) but there is no reason to move an incident when a quiet zone will do. A zone with a
valve in travel (closing or opening) is not handed over at all until it has arrived: the new owner
would restore a valve "in travel" it never commanded and, without position feedback, time it out as
a valve fault that an operator must acknowledge.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class BalancePlan:
    """What one worker does this round: its share, zones to try to acquire, zones to hand over."""

    share: int
    take: list[str]
    give_up: list[str]


def _preference(worker: str, zone: str) -> str:
    """An order of free zones that differs per worker, so two workers starting together rarely race
    for the same zone (the loser's acquire simply fails; this only saves round trips)."""
    return hashlib.blake2s(f"{worker}\0{zone}".encode(), digest_size=8).hexdigest()


def plan(
    *,
    me: str,
    zones: Iterable[str],
    mine: Iterable[str],
    owners: Mapping[str, str | None],
    balancing: Iterable[str],
    free_for_s: Mapping[str, float],
    tripped: Callable[[str], bool] = lambda _zone: False,
    moving: Callable[[str], bool] = lambda _zone: False,
    orphan_grace_s: float = 2.0,
    max_handover: int = 10,
) -> BalancePlan:
    """This round's plan for worker ``me`` (see the module docstring).

    ``owners``: the live owner of each zone, ``None`` when free (zones missing count as free).
    ``balancing``: the live workers that share zones (``me`` counts whether listed or not).
    ``free_for_s``: how long each free zone has been seen free by ``me``.
    ``tripped``, ``moving``: whether a zone we hold is tripped (handed over last) or has a valve in
    travel (not handed over this round).

    >>> p = plan(me="b", zones=["z1", "z2", "z3", "z4"], mine=[],
    ...          owners={"z1": "a", "z2": "a", "z3": "a", "z4": "a"}, balancing=["a", "b"], free_for_s={})
    >>> p.share, p.take, p.give_up
    (2, [], [])
    >>> plan(me="a", zones=["z1", "z2", "z3", "z4"], mine=["z1", "z2", "z3", "z4"],
    ...      owners={"z1": "a", "z2": "a", "z3": "a", "z4": "a"}, balancing=["a", "b"], free_for_s={}).give_up
    ['z4', 'z3']
    """
    held = set(mine)
    workers = set(balancing) | {me}
    all_zones = list(dict.fromkeys(zones))
    # Zones held by a live worker that does not share (pinned) stay out of the pool.
    pool = [z for z in all_zones if z in held or owners.get(z) is None or owners.get(z) in workers]
    share = math.ceil(len(pool) / len(workers)) if pool else 0
    free = [z for z in pool if z not in held and owners.get(z) is None]
    owned = {w: 0 for w in workers}
    for zone in pool:
        owner = me if zone in held else owners.get(zone)
        if owner is not None:
            owned[owner] += 1

    take: list[str] = []
    room = share - owned[me]
    for zone in sorted(free, key=lambda z: (-free_for_s.get(z, 0.0), _preference(me, z))):
        if room > 0:
            take.append(zone)
            room -= 1
        elif free_for_s.get(zone, 0.0) >= orphan_grace_s:
            take.append(zone)  # an orphan no worker below its share took: never leave a zone unowned

    give_up: list[str] = []
    surplus = owned[me] - share
    if surplus > 0:
        others_room = sum(max(0, share - n) for w, n in owned.items() if w != me)
        ahead = sum(max(0, n - share) for w, n in owned.items() if w < me)
        count = min(surplus, max(0, others_room - len(free) - ahead), max_handover)
        # Quiet zones first, and among them the last in name order (a stable, readable choice).
        quiet_first = sorted(sorted((z for z in held if not moving(z)), reverse=True), key=tripped)
        give_up = quiet_first[:count]
    return BalancePlan(share=share, take=take, give_up=give_up)
