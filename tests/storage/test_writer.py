"""The reading writer batches, survives a database outage without losing data, and stays bounded."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from gasguard.domain import Reading
from gasguard.storage.engine import make_session_factory
from gasguard.storage.migrate import engine_at_head
from gasguard.storage.readings import count_readings, query_readings
from gasguard.storage.writer import ComponentStatus, ReadingWriter

T0 = 1_700_000_000.0


class FlakyDatabase:
    """A session factory that fails while ``down`` is set, like a database that went away."""

    def __init__(self, factory: Callable[[], Session]) -> None:
        self.factory = factory
        self.down = False
        self.batches: list[int] = []

    def __call__(self) -> Session:
        if self.down:
            raise OperationalError("connect", {}, Exception("connection refused"))
        session = self.factory()
        return session


def _readings(n: int, start: int = 0) -> list[Reading]:
    return [Reading("ch", float(i), T0 + i) for i in range(start, start + n)]


def test_readings_are_written_in_batches_and_in_order(sqlite_url: str) -> None:
    engine = engine_at_head(sqlite_url)
    factory = make_session_factory(engine)
    writer = ReadingWriter(factory, batch_size=4, max_buffer=1000)
    writer.submit_many(_readings(10))
    assert writer.health().buffered == 10
    assert asyncio.run(writer.flush()) is True
    with factory() as session:
        assert [r.value for r in query_readings(session, channel="ch", start=T0, end=T0 + 10)] == [
            float(i) for i in range(10)
        ]
    health = writer.health()
    assert (health.status, health.buffered, health.written, health.dropped) == (ComponentStatus.OK, 0, 10, 0)
    engine.dispose()


def test_outage_keeps_readings_in_memory_and_writes_them_later(sqlite_url: str) -> None:
    engine = engine_at_head(sqlite_url)
    db = FlakyDatabase(make_session_factory(engine))
    ticks = iter(range(100))
    writer = ReadingWriter(db, batch_size=5, max_buffer=1000, clock=lambda: float(next(ticks)))
    db.down = True
    writer.submit_many(_readings(12))
    assert asyncio.run(writer.flush()) is False
    health = writer.health()
    assert health.status is ComponentStatus.DEGRADED
    assert health.buffered == 12
    assert health.last_error is not None and "connection refused" in health.last_error
    writer.submit_many(_readings(3, start=12))
    db.down = False
    assert asyncio.run(writer.flush()) is True
    with db.factory() as session:
        stored = query_readings(session, channel="ch", start=T0, end=T0 + 100)
    assert [r.value for r in stored] == [float(i) for i in range(15)]
    health = writer.health()
    assert (health.status, health.written, health.dropped, health.failed_attempts) == (ComponentStatus.OK, 15, 0, 1)
    engine.dispose()


def test_full_buffer_drops_the_oldest_and_reports_down(sqlite_url: str) -> None:
    engine = engine_at_head(sqlite_url)
    db = FlakyDatabase(make_session_factory(engine))
    writer = ReadingWriter(db, batch_size=2, max_buffer=5)
    db.down = True
    writer.submit_many(_readings(8))
    asyncio.run(writer.flush())
    health = writer.health()
    assert (health.status, health.buffered, health.dropped, health.fill) == (ComponentStatus.DOWN, 5, 3, 1.0)
    db.down = False
    asyncio.run(writer.flush())
    with db.factory() as session:
        assert [r.value for r in query_readings(session, channel="ch", start=T0, end=T0 + 100)] == [
            3.0,
            4.0,
            5.0,
            6.0,
            7.0,
        ]
    engine.dispose()


def test_run_loop_flushes_on_interval_and_stop_writes_the_rest(sqlite_url: str) -> None:
    engine = engine_at_head(sqlite_url)
    factory = make_session_factory(engine)

    async def scenario() -> int:
        writer = ReadingWriter(factory, batch_size=1000, flush_interval_s=0.05)
        task = asyncio.create_task(writer.run())
        writer.submit_many(_readings(3))
        await asyncio.sleep(0.3)
        with factory() as session:
            after_interval = count_readings(session)
        writer.submit_many(_readings(2, start=3))
        await writer.stop()
        await asyncio.wait_for(task, 2.0)
        return after_interval

    assert asyncio.run(scenario()) == 3
    with factory() as session:
        assert count_readings(session) == 5
    engine.dispose()
