"""The in-process bus: topic filtering, bounded queues that drop the oldest, no waiting on publish."""

from __future__ import annotations

import asyncio

import pytest

from gasguard.notify import FanoutBus, Message, Publisher


def _msg(topic: str, n: int) -> Message:
    return Message(topic=topic, payload={"n": n}, ts=float(n))


def test_every_subscriber_gets_its_topics_in_order() -> None:
    async def scenario() -> tuple[list[int], list[int]]:
        bus = FanoutBus()
        everything = bus.subscribe()
        alarms = bus.subscribe(topics=("alarm",))
        for n, topic in enumerate(["alarm", "reading", "alarm"]):
            await bus.publish(_msg(topic, n))
        got_all = [everything.get_nowait().payload["n"] for _ in range(everything.pending())]
        got_alarms = [alarms.get_nowait().payload["n"] for _ in range(alarms.pending())]
        return got_all, got_alarms

    assert asyncio.run(scenario()) == ([0, 1, 2], [0, 2])


def test_a_slow_subscriber_loses_the_oldest_and_does_not_hold_up_others() -> None:
    async def scenario() -> tuple[list[int], int, int, int]:
        bus = FanoutBus()
        slow = bus.subscribe(maxsize=3)
        fast = bus.subscribe(maxsize=100)
        for n in range(10):
            await bus.publish(_msg("reading", n))
        kept = [slow.get_nowait().payload["n"] for _ in range(slow.pending())]
        return kept, slow.dropped, fast.pending(), bus.dropped_total

    assert asyncio.run(scenario()) == ([7, 8, 9], 7, 10, 7)


def test_unsubscribed_queues_get_nothing_and_drops_stay_counted() -> None:
    async def scenario() -> tuple[int, int, int]:
        bus = FanoutBus()
        sub = bus.subscribe(maxsize=1)
        await bus.publish(_msg("a", 1))
        await bus.publish(_msg("a", 2))
        bus.unsubscribe(sub)
        await bus.publish(_msg("a", 3))
        return sub.pending(), bus.subscriber_count, bus.dropped_total

    assert asyncio.run(scenario()) == (1, 0, 1)


def test_subscription_iterates_as_messages_arrive() -> None:
    async def scenario() -> list[int]:
        bus = FanoutBus()
        sub = bus.subscribe()
        received: list[int] = []

        async def consume() -> None:
            async for message in sub:
                received.append(int(message.payload["n"]))
                if len(received) == 2:
                    return

        task = asyncio.create_task(consume())
        await asyncio.sleep(0)
        await bus.publish(_msg("x", 5))
        await bus.publish(_msg("x", 6))
        await asyncio.wait_for(task, 1.0)
        return received

    assert asyncio.run(scenario()) == [5, 6]


def test_bus_is_a_publisher_and_rejects_zero_sized_queues() -> None:
    bus = FanoutBus()
    assert isinstance(bus, Publisher)
    with pytest.raises(ValueError):
        bus.subscribe(maxsize=0)


def test_module_example_runs() -> None:
    import doctest

    import gasguard.notify

    assert doctest.testmod(gasguard.notify).failed == 0
