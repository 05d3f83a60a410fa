"""The live pipeline: one inbox of events, the safety step inline, effects fanned out without waiting.

Every event (reading, valve feedback, operator request, ML signal, tick) goes through one asyncio
queue, so the safety state has exactly one writer. For each event the safety step runs at once; its
valve commands go to the drivers as background tasks, its output commands (sounders, beacons, fans,
relays, the fault relay) to each output's one worker (``RetryingOutput``: newest mode wins, in order),
and its outputs go to the event sink (storage),
the reading sink and the publisher, all of which only enqueue. Nothing the step depends on waits on a
database, a broker or a model: an advisor (ML) runs after the step, its errors are counted in health,
and whatever it says comes back through the inbox as an ``MlSignal`` that can only trip earlier.

A driver that cannot reach its device sends a ``SystemFault`` into the inbox like any event, which
drops the fault relay. The loop notes when it last ticked (``ticking``): drivers write their
devices' watchdog heartbeats, and ``gasguard serve`` pings systemd's watchdog, only while it does,
so a safety loop that hangs is caught outside the process even if the event loop still runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict
from typing import Any, Protocol

from gasguard.actuators.base import OutputDriver, RetryingOutput, RetryingValve, ValveDriver
from gasguard.domain import (
    AlarmChanged,
    ChannelHealthChanged,
    Event,
    MlSignal,
    OperatorCommand,
    OperatorResult,
    Output,
    OutputCommand,
    Reading,
    Tick,
    ValveChanged,
    ValveCommand,
    ZoneTripChanged,
)
from gasguard.notify import Message, Publisher
from gasguard.safety.interlock import PlantState, step
from gasguard.safety.snapshot import to_snapshot

log = logging.getLogger(__name__)

Advisor = Callable[[Reading], Iterable[MlSignal]]
"""An ML model or camera watcher: looks at a reading after the safety step and may ask for an early trip."""


class EventSink(Protocol):
    def submit_outputs(self, outputs: list[Output], *, ts: float) -> None: ...


class ReadingSink(Protocol):
    def submit(self, reading: Reading) -> None: ...


class SnapshotSink(Protocol):
    def save(self, data: dict[str, Any], *, saved_at: float) -> None: ...


ALIVE_MIN_S = 2.0
"""``ticking()`` allows at least this long since the last tick (and at least four ticks)."""

SNAPSHOT_MIN_INTERVAL_S = 0.05
"""While events queue up, the latched state is snapshotted at most this often (always when idle)."""

_LATCH_OUTPUTS = (AlarmChanged, ValveChanged, ZoneTripChanged, OperatorResult, ChannelHealthChanged, OutputCommand)
_TOPICS: dict[type, str] = {
    AlarmChanged: "alarm",
    ValveChanged: "valve",
    ValveCommand: "command",
    ChannelHealthChanged: "health",
    ZoneTripChanged: "trip",
    OperatorResult: "operator",
    OutputCommand: "output",
}


class SafetyPipeline:
    """Owns the safety state of its zones and runs every event through it, in order.

    Give ``publisher`` only when ``events`` does not publish itself: ``storage.EventRecorder`` stores
    each output and then publishes it, so with the recorder as the event sink leave ``publisher`` out,
    or every output would be pushed twice (and once before it was stored).
    """

    def __init__(
        self,
        state: PlantState,
        *,
        valves: Mapping[str, ValveDriver] | None = None,
        outputs: Mapping[str, OutputDriver] | None = None,
        events: EventSink | None = None,
        readings: ReadingSink | None = None,
        snapshots: SnapshotSink | None = None,
        publisher: Publisher | None = None,
        advisors: Iterable[Advisor] = (),
        clock: Callable[[], float] = time.time,
        tick_s: float = 0.5,
    ) -> None:
        self.state = state
        self.clock = clock
        self.tick_s = tick_s
        self.events = events
        self.readings = readings
        self.snapshots = snapshots
        self.publisher = publisher
        self.advisors = list(advisors)
        self._inbox: asyncio.Queue[tuple[Event, asyncio.Future[list[Output]] | None]] = asyncio.Queue()
        self._valves = {vid: RetryingValve(driver, self.submit) for vid, driver in (valves or {}).items()}
        self._outputs = {oid: RetryingOutput(driver, self.submit) for oid, driver in (outputs or {}).items()}
        self._tasks: set[asyncio.Task[Any]] = set()
        self.counters = {"events": 0, "readings": 0, "commands": 0, "advisor_errors": 0, "sink_errors": 0}
        self.last_step_s = 0.0
        self.last_tick_monotonic: float | None = None
        """``time.monotonic()`` of the last tick the loop processed (``None`` before the first)."""
        self.alive_within_s = max(ALIVE_MIN_S, 4 * tick_s)
        self._stopping = False
        self._snapshot_due = False
        self._last_snapshot = 0.0
        drivers: list[ValveDriver | OutputDriver] = [*(valves or {}).values(), *(outputs or {}).values()]
        for driver in drivers:
            driver.attach(self.submit)
            set_alive = getattr(driver, "set_alive", None)
            if callable(set_alive):
                set_alive(self.ticking)

    # ------------------------------------------------------------------ inputs

    def submit(self, event: Event) -> None:
        """Queue an event without waiting (readings, feedback, ML signals). Never drops one."""
        self._inbox.put_nowait((event, None))

    async def request(self, command: OperatorCommand) -> OperatorResult:
        """Run an operator request through the core and return its accepted/refused answer."""
        future: asyncio.Future[list[Output]] = asyncio.get_running_loop().create_future()
        self._inbox.put_nowait((command, future))
        outputs = await future
        return next(o for o in outputs if isinstance(o, OperatorResult))

    def apply(self, outputs: Iterable[Output], *, ts: float) -> None:
        """Act on outputs produced outside ``step`` (a cold start's or a restore's closes). Call on the loop."""
        outputs = list(outputs)
        for out in outputs:
            if isinstance(out, ValveCommand):
                self._send(out)
            elif isinstance(out, OutputCommand):
                self._send_output(out)
        if outputs and self.events is not None:
            self._guard(self.events.submit_outputs, outputs, ts=ts)
        if self.snapshots is not None and outputs:
            self._snapshot_due = True
            self._save_snapshot(force=True)

    # ------------------------------------------------------------------ the loop

    async def run(self) -> None:
        """Process events until cancelled or ``stop``, with a ``Tick`` at least every ``tick_s`` seconds.

        The wait uses ``asyncio.timeout`` rather than ``wait_for``: on Python 3.11 ``wait_for`` can
        swallow a cancellation that arrives as an event does, and the loop would then never stop.
        """
        next_tick = self.clock() + self.tick_s
        self._stopping = False
        try:
            while not self._stopping:
                if self.clock() < next_tick - self.tick_s:
                    next_tick = self.clock()  # the clock stepped back: tick now, not when it catches up
                timeout = min(self.tick_s, max(0.0, next_tick - self.clock()))
                try:
                    async with asyncio.timeout(timeout):
                        event, future = await self._inbox.get()
                except TimeoutError:
                    event, future = Tick(), None
                if isinstance(event, Tick) or self.clock() >= next_tick:
                    next_tick = self.clock() + self.tick_s
                    self.last_tick_monotonic = time.monotonic()
                    if not isinstance(event, Tick):
                        await self._process(Tick(), None)
                await self._process(event, future)
                self._save_snapshot(force=self._inbox.empty())
        finally:
            for task in list(self._tasks):
                task.cancel()
            for task in list(self._tasks):
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    def ticking(self, within_s: float | None = None) -> bool:
        """Whether the loop has ticked in the last ``within_s`` seconds (default ``alive_within_s``).

        Measured on ``time.monotonic``, not the pipeline's clock: a wall-clock step must neither make a
        hung loop look alive nor a live one dead.
        """
        last = self.last_tick_monotonic
        if last is None:
            return False
        return time.monotonic() - last <= (self.alive_within_s if within_s is None else within_s)

    def stop(self) -> None:
        """Ask ``run`` to return after the event it is processing (what is queued stays for ``drain``)."""
        self._stopping = True
        self._inbox.put_nowait((Tick(), None))

    async def drain(self) -> None:
        """Process everything queued so far (for tests and orderly shutdown)."""
        while not self._inbox.empty():
            event, future = self._inbox.get_nowait()
            await self._process(event, future)
        self._save_snapshot(force=True)

    def _save_snapshot(self, *, force: bool) -> None:
        """Snapshot the latched state when it changed: at once when the inbox is idle, else at most every
        ``SNAPSHOT_MIN_INTERVAL_S`` (building one for a large plant takes milliseconds; a burst of latch
        events must not stall the loop building one per event)."""
        if not self._snapshot_due or self.snapshots is None:
            return
        started = time.perf_counter()
        if not force and started - self._last_snapshot < SNAPSHOT_MIN_INTERVAL_S:
            return
        self._snapshot_due = False
        self._last_snapshot = started
        self._guard(self.snapshots.save, to_snapshot(self.state), saved_at=self.clock())

    async def _process(self, event: Event, future: asyncio.Future[list[Output]] | None) -> None:
        now = self.clock()
        started = time.perf_counter()
        try:
            _, outputs = step(self.state, event, now)
        except Exception as exc:  # a bug in the core must not kill the loop; the caller learns of it
            log.exception("safety step failed on %r", event)
            if future is not None and not future.done():
                future.set_exception(exc)
            return
        self.last_step_s = time.perf_counter() - started
        self.counters["events"] += 1
        for out in outputs:
            if isinstance(out, ValveCommand):
                self._send(out)
            elif isinstance(out, OutputCommand):
                self._send_output(out)
        if future is not None and not future.done():
            future.set_result(outputs)
        await self._fan_out(event, outputs, now)
        if isinstance(event, Reading):
            self.counters["readings"] += 1
            self._advise(event)

    def _send(self, command: ValveCommand) -> None:
        self.counters["commands"] += 1
        valve = self._valves.get(command.valve)
        if valve is None:
            log.error("no driver for valve %s; command %s not sent", command.valve, command.action.value)
            return
        task = asyncio.get_running_loop().create_task(valve.send(command.action))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _send_output(self, command: OutputCommand) -> None:
        self.counters["commands"] += 1
        output = self._outputs.get(command.output)
        if output is None:
            log.error("no driver for output %s; %s not sent", command.output, command.mode.value)
            return
        task = output.command(command.mode)
        if task not in self._tasks:
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def output_driver(self, output_id: str) -> RetryingOutput | None:
        """The wrapper an output's commands go through (newest mode wanted, last applied, failures)."""
        return self._outputs.get(output_id)

    async def _fan_out(self, event: Event, outputs: list[Output], now: float) -> None:
        if isinstance(event, Reading) and self.readings is not None:
            self._guard(self.readings.submit, event)
        if outputs and self.events is not None:
            self._guard(self.events.submit_outputs, outputs, ts=now)
        if self.snapshots is not None and any(isinstance(o, _LATCH_OUTPUTS) for o in outputs):
            self._snapshot_due = True
        if self.publisher is None:
            return
        for out in outputs:
            topic = _TOPICS.get(type(out))
            if topic is None:
                continue
            try:
                await self.publisher.publish(Message(topic=topic, payload=_payload(out), ts=now))
            except Exception:
                self.counters["sink_errors"] += 1
                log.exception("publisher failed")

    def _guard(self, call: Callable[..., None], *args: Any, **kwargs: Any) -> None:
        """Call a storage sink; its failure degrades health and is logged, the safety loop goes on."""
        try:
            call(*args, **kwargs)
        except Exception:
            self.counters["sink_errors"] += 1
            log.exception("storage sink %s failed", getattr(call, "__qualname__", call))

    def _advise(self, reading: Reading) -> None:
        for advisor in self.advisors:
            try:
                for signal in advisor(reading):
                    self.submit(signal)
            except Exception:
                self.counters["advisor_errors"] += 1
                log.exception("advisor failed on %s; the threshold path is unaffected", reading.channel)

    # ------------------------------------------------------------------ views

    def view(self) -> dict[str, Any]:
        """Current zones, channels, valves and alarms, as JSON-compatible data."""
        now = self.clock()
        zones = {}
        for zid, zone in self.state.zones.items():
            zones[zid] = {
                "tripped": zone.tripped,
                "trip_cause": zone.trip_cause,
                "votes": zone.votes,
                "vote_k": zone.spec.vote_k,
                "channels": {
                    cid: {
                        "lel_pct": ch.lel,
                        "health": ch.health.value,
                        "in_service": ch.in_service,
                        "over_range": ch.over_range,
                        "test_until": ch.test_until,
                        "levels": {"A1": ch.a1, "A2": ch.a2, "A3": ch.a3},
                    }
                    for cid, ch in zone.channels.items()
                },
                "valves": {
                    vid: {"state": v.state.value, "open_permitted": v.open_permitted, "detail": v.detail}
                    for vid, v in zone.valves.items()
                },
                "alarms": [
                    {
                        "id": a.id,
                        "level": a.level.value,
                        "source": a.source,
                        "state": a.state(now).value,
                        "active": a.active,
                        "acked": a.acked,
                        "latched": a.latched,
                        "value": a.value,
                        "test": a.test,
                    }
                    for a in zone.all_alarms()
                    if a.state(now).value != "normal"
                ],
            }
        outputs = {
            oid: {
                "kind": o.spec.kind.value,
                "mode": (o.mode.value if o.mode is not None else "off"),
                "cause": o.cause,
                "silenced": o.silenced,
                "latched": o.latched,
                "forced_until": o.forced_until,
                "zones": list(o.spec.zones),
                "levels": sorted(level.value for level in o.spec.levels),
            }
            for oid, o in self.state.outputs.items()
        }
        return {"ts": now, "zones": zones, "outputs": outputs}


def _payload(out: Output) -> dict[str, Any]:
    data = asdict(out)
    return {k: (v.value if hasattr(v, "value") and not isinstance(v, (int, float)) else v) for k, v in data.items()}
