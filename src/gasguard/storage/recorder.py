"""Events are stored first, then published.

``EventRecorder.record`` writes events to the database (in a worker thread) and only then hands them,
with their ids, to the ``Publisher``, so a client that sees an alarm live can always find it in the
event log. If the database is down the events are still published at once (an operator must see an
alarm even while storage is broken), marked ``"stored": false``, and kept in a bounded retry queue
that ``retry_pending`` writes later.

The pipeline calls ``submit`` (never waits) and runs ``run`` as a task; REST routes that audit an
operator's action ``await record(...)`` so the audit entry exists before the response.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Sequence

from sqlalchemy.orm import Session

from gasguard.domain import Output
from gasguard.notify import Message, Publisher
from gasguard.storage.events import EventRecord, add_events, event_from_output

logger = logging.getLogger(__name__)

DEFAULT_MAX_PENDING = 10_000


class EventRecorder:
    def __init__(
        self,
        session_factory: Callable[[], Session],
        publisher: Publisher,
        *,
        max_pending: int = DEFAULT_MAX_PENDING,
    ) -> None:
        self._session_factory = session_factory
        self._publisher = publisher
        self._queue: asyncio.Queue[list[EventRecord]] = asyncio.Queue()
        self._pending: deque[EventRecord] = deque()
        self.max_pending = max_pending
        self.dropped = 0
        self.last_error: str | None = None

    def _write(self, events: Sequence[EventRecord]) -> list[EventRecord]:
        with self._session_factory() as session, session.begin():
            return add_events(session, events=events)

    async def _publish(self, events: Sequence[EventRecord], *, stored: bool) -> None:
        for event in events:
            payload = event.to_json()
            payload["stored"] = stored
            try:
                await self._publisher.publish(Message(topic=str(event.kind), payload=payload, ts=event.ts))
            except Exception:  # a broken consumer must not stop recording
                logger.exception("publishing event %s failed", event.kind)

    def _keep_for_retry(self, events: Sequence[EventRecord]) -> None:
        self._pending.extend(events)
        while len(self._pending) > self.max_pending:
            self._pending.popleft()
            self.dropped += 1

    async def record(self, events: Sequence[EventRecord]) -> list[EventRecord]:
        """Store, then publish. Returns the stored events (without ids if storing failed)."""
        if not events:
            return []
        try:
            stored = await asyncio.to_thread(self._write, list(events))
        except Exception as exc:
            self.last_error = f"{type(exc).__name__}: {exc}"[:500]
            logger.error("cannot store %d events, publishing them unstored: %s", len(events), self.last_error)
            self._keep_for_retry(events)
            await self._publish(events, stored=False)
            return list(events)
        self.last_error = None
        await self._publish(stored, stored=True)
        return stored

    async def record_outputs(self, outputs: Sequence[Output], *, ts: float) -> list[EventRecord]:
        return await self.record([event_from_output(output, ts=ts) for output in outputs])

    def submit(self, events: Sequence[EventRecord]) -> None:
        """Queue events for ``run`` to record; never waits."""
        if events:
            self._queue.put_nowait(list(events))

    def submit_outputs(self, outputs: Sequence[Output], *, ts: float) -> None:
        self.submit([event_from_output(output, ts=ts) for output in outputs])

    async def retry_pending(self) -> bool:
        """Write events kept during an outage (they were already published). ``True`` when none are left."""
        while self._pending:
            batch = [self._pending.popleft() for _ in range(min(500, len(self._pending)))]
            try:
                await asyncio.to_thread(self._write, batch)
            except Exception as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"[:500]
                self._pending.extendleft(reversed(batch))
                return False
        self.last_error = None
        return True

    @property
    def pending(self) -> int:
        return len(self._pending)

    async def run(self, *, retry_every_s: float = 5.0) -> None:
        """Record submitted events in order; retry kept ones every ``retry_every_s``."""
        while True:
            try:  # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation
                async with asyncio.timeout(retry_every_s):
                    events = await self._queue.get()
            except TimeoutError:
                if self._pending:
                    await self.retry_pending()
                continue
            try:
                await self.record(events)
            finally:
                self._queue.task_done()

    async def wait_recorded(self, timeout_s: float = 10.0) -> bool:
        """Wait until everything submitted so far has been stored (or kept for retry); ``False`` on timeout."""
        try:
            await asyncio.wait_for(self._queue.join(), timeout_s)
        except TimeoutError:
            return False
        return True
