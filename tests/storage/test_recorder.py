"""Events are stored before they are published, and still published (marked) when storage fails."""

from __future__ import annotations

import asyncio

from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from gasguard.domain import ValveAction, ValveCommand, ZoneTripChanged
from gasguard.notify import FanoutBus
from gasguard.storage.engine import make_session_factory
from gasguard.storage.events import list_events
from gasguard.storage.migrate import engine_at_head
from gasguard.storage.recorder import EventRecorder

T0 = 1_700_000_000.0
OUTPUTS = [ZoneTripChanged("kitchen", True, "A2"), ValveCommand("kitchen", "kv", ValveAction.CLOSE, "trip")]


def test_published_events_are_already_in_the_database(sqlite_url: str) -> None:
    engine = engine_at_head(sqlite_url)
    factory = make_session_factory(engine)
    bus = FanoutBus()
    seen_in_db: list[int] = []

    class CheckingPublisher:
        async def publish(self, message) -> None:  # type: ignore[no-untyped-def]
            with factory() as session:
                ids = [e.id for e in list_events(session)]
            seen_in_db.append(int(message.payload["id"] in ids))
            await bus.publish(message)

    async def scenario() -> list[str]:
        sub = bus.subscribe()
        recorder = EventRecorder(factory, CheckingPublisher())
        await recorder.record_outputs(OUTPUTS, ts=T0)
        return [sub.get_nowait().topic, sub.get_nowait().topic]

    assert asyncio.run(scenario()) == ["trip", "valve_command"]
    assert seen_in_db == [1, 1]
    engine.dispose()


def test_outage_publishes_unstored_and_retries(sqlite_url: str) -> None:
    engine = engine_at_head(sqlite_url)
    factory = make_session_factory(engine)
    down = True

    def flaky() -> Session:
        if down:
            raise OperationalError("connect", {}, Exception("no route to host"))
        return factory()

    bus = FanoutBus()

    async def scenario() -> list[tuple[str, bool, object]]:
        sub = bus.subscribe()
        recorder = EventRecorder(flaky, bus)
        await recorder.record_outputs(OUTPUTS, ts=T0)
        assert recorder.pending == 2
        assert recorder.last_error is not None and "no route to host" in recorder.last_error
        nonlocal down
        down = False
        assert await recorder.retry_pending() is True
        assert recorder.pending == 0
        return [(m.topic, m.payload["stored"], m.payload["id"]) for m in (sub.get_nowait(), sub.get_nowait())]

    assert asyncio.run(scenario()) == [("trip", False, None), ("valve_command", False, None)]
    with factory() as session:
        assert [(e.kind, e.source) for e in list_events(session)] == [("valve_command", "kv"), ("trip", "kitchen")]
    engine.dispose()
