"""Batched, outage-tolerant writing of readings.

The safety pipeline hands readings to ``ReadingWriter.submit``, which only appends to a buffer and
returns: it never waits for the database. A background task (``run``) writes the buffer in batches of
``batch_size`` at least every ``flush_interval_s``, in a worker thread so the event loop stays free.

When the database is unreachable the readings stay in memory and are written, in order, once it is
back (retries back off from 0.5 s to 30 s). The buffer is bounded: ``max_buffer`` readings (default
250,000, about 25 MB, over four minutes at 1,000 readings/s). Past that the OLDEST readings are dropped
and counted in ``health().dropped``, so memory stays bounded and the freshest data survives.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy.orm import Session

from gasguard.domain import Reading
from gasguard.storage.readings import add_readings

logger = logging.getLogger(__name__)

DEFAULT_MAX_BUFFER = 250_000


class ComponentStatus(StrEnum):
    OK = "ok"
    DEGRADED = "degraded"  # working around a problem (buffering during a database outage)
    DOWN = "down"  # losing data or not working


@dataclass(frozen=True, slots=True)
class WriterHealth:
    status: ComponentStatus
    buffered: int
    capacity: int
    written: int
    dropped: int
    failed_attempts: int
    last_error: str | None
    last_error_at: float | None
    last_success_at: float | None

    @property
    def fill(self) -> float:
        return self.buffered / self.capacity


class ReadingWriter:
    """Buffers readings and writes them in batches; see the module docstring for the guarantees."""

    def __init__(
        self,
        session_factory: Callable[[], Session],
        *,
        batch_size: int = 500,
        flush_interval_s: float = 1.0,
        max_buffer: int = DEFAULT_MAX_BUFFER,
        retry_initial_s: float = 0.5,
        retry_max_s: float = 30.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if batch_size < 1 or max_buffer < batch_size or flush_interval_s <= 0:
            raise ValueError("need batch_size >= 1, max_buffer >= batch_size and flush_interval_s > 0")
        self._session_factory = session_factory
        self.batch_size = batch_size
        self.flush_interval_s = flush_interval_s
        self.max_buffer = max_buffer
        self._retry_initial_s = retry_initial_s
        self._retry_max_s = retry_max_s
        self._clock = clock
        self._buffer: deque[Reading] = deque()
        self._wake = asyncio.Event()
        self._stopping = False
        self._written = 0
        self._dropped = 0
        self._failed_attempts = 0
        self._failing = False
        self._last_error: str | None = None
        self._last_error_at: float | None = None
        self._last_success_at: float | None = None

    # ------------------------------------------------------------------ producer side (never waits)

    def submit(self, reading: Reading) -> None:
        """Queue one reading for storage. Never blocks, never raises for a full buffer."""
        if len(self._buffer) >= self.max_buffer:
            self._buffer.popleft()
            self._dropped += 1
        self._buffer.append(reading)
        if len(self._buffer) >= self.batch_size:
            self._wake.set()

    def submit_many(self, readings: Iterable[Reading]) -> None:
        for reading in readings:
            self.submit(reading)

    # ------------------------------------------------------------------ consumer side

    def _write(self, batch: list[Reading]) -> None:
        with self._session_factory() as session, session.begin():
            add_readings(session, readings=batch)

    async def flush(self) -> bool:
        """Write everything buffered now, batch by batch. ``False`` if the database refused a batch."""
        while self._buffer:
            count = min(self.batch_size, len(self._buffer))
            batch = [self._buffer.popleft() for _ in range(count)]
            try:
                await asyncio.to_thread(self._write, batch)
            except Exception as exc:  # any database or driver error: keep the data and retry later
                self._requeue(batch)
                self._failed_attempts += 1
                self._last_error = f"{type(exc).__name__}: {exc}"[:500]
                self._last_error_at = self._clock()
                if not self._failing:
                    logger.error("cannot store readings, keeping them in memory: %s", self._last_error)
                self._failing = True
                return False
            self._written += len(batch)
            self._last_success_at = self._clock()
            if self._failing:
                logger.warning("storing readings again after an outage (%d still buffered)", len(self._buffer))
            self._failing = False
        return True

    def _requeue(self, batch: list[Reading]) -> None:
        self._buffer.extendleft(reversed(batch))
        while len(self._buffer) > self.max_buffer:
            self._buffer.popleft()
            self._dropped += 1

    async def run(self) -> None:
        """Flush on a full batch or every ``flush_interval_s``; back off while the database is down."""
        backoff = self._retry_initial_s
        while not self._stopping:
            with contextlib.suppress(TimeoutError):  # asyncio.timeout: wait_for can swallow a cancel on 3.11
                async with asyncio.timeout(self.flush_interval_s):
                    await self._wake.wait()
            self._wake.clear()
            if await self.flush():
                backoff = self._retry_initial_s
            else:
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self._retry_max_s)

    async def stop(self) -> bool:
        """Stop the loop and make a last attempt to write what is buffered."""
        self._stopping = True
        self._wake.set()
        return await self.flush()

    def health(self) -> WriterHealth:
        if self._failing and len(self._buffer) >= self.max_buffer:
            status = ComponentStatus.DOWN
        elif self._failing:
            status = ComponentStatus.DEGRADED
        else:
            status = ComponentStatus.OK
        return WriterHealth(
            status=status,
            buffered=len(self._buffer),
            capacity=self.max_buffer,
            written=self._written,
            dropped=self._dropped,
            failed_attempts=self._failed_attempts,
            last_error=self._last_error,
            last_error_at=self._last_error_at,
            last_success_at=self._last_success_at,
        )
