"""systemd's watchdog: ``gasguard serve`` pings only while the safety loop ticks (a fake notifier here; the
SIGSTOP test reads a real notify socket from a real service)."""

from __future__ import annotations

import asyncio
import os
import time

import pytest

from gasguard.pipeline import SafetyPipeline
from gasguard.safety.interlock import running_start
from gasguard.watchdog import SystemdWatchdog, ping_interval_s, systemd_notifier
from safety.plantspec import plant


class FakeNotifier:
    def __init__(self) -> None:
        self.sent: list[tuple[float, str]] = []

    def notify(self, state: str) -> None:
        self.sent.append((time.monotonic(), state))

    def pings(self, after: float = 0.0, before: float = float("inf")) -> int:
        return sum(1 for t, state in self.sent if state == "WATCHDOG=1" and after <= t < before)


def test_watchdog_systemd_pings_only_while_the_safety_loop_ticks() -> None:
    async def scenario() -> tuple[FakeNotifier, dict[str, float]]:
        pipeline = SafetyPipeline(running_start(plant(), 0.0), tick_s=0.02)
        pipeline.alive_within_s = 0.1
        notifier = FakeNotifier()
        watchdog = SystemdWatchdog(notifier, pipeline.ticking, every_s=0.02)
        marks: dict[str, float] = {}
        pinging = asyncio.create_task(watchdog.run())
        await asyncio.sleep(0.1)
        marks["before_start"] = time.monotonic()  # not ticked yet: no ping
        loop = asyncio.create_task(pipeline.run())
        watchdog.ready()
        await asyncio.sleep(0.3)
        marks["stopped"] = time.monotonic()
        pipeline.stop()  # the safety loop ends while the event loop goes on: pings must stop
        await loop
        await asyncio.sleep(0.4)
        marks["blocked"] = time.monotonic()
        time.sleep(0.3)  # a stuck event loop: nothing runs, so nothing pings
        marks["unblocked"] = time.monotonic()
        pinging.cancel()
        return notifier, marks

    notifier, marks = asyncio.run(scenario())
    assert notifier.pings(before=marks["before_start"]) == 0
    assert notifier.pings(after=marks["before_start"], before=marks["stopped"]) >= 5
    assert notifier.pings(after=marks["stopped"] + 0.15) == 0
    assert ("READY=1" in [state for _, state in notifier.sent]) is True


def test_watchdog_systemd_ping_interval_is_half_of_watchdog_usec_for_this_process() -> None:
    assert ping_interval_s({"WATCHDOG_USEC": "10000000"}) == 5.0
    assert ping_interval_s({"WATCHDOG_USEC": "10000000", "WATCHDOG_PID": str(os.getpid())}) == 5.0
    assert ping_interval_s({"WATCHDOG_USEC": "10000000", "WATCHDOG_PID": "1"}) is None  # meant for another
    assert ping_interval_s({}) is None
    assert ping_interval_s({"WATCHDOG_USEC": "0"}) is None


def test_watchdog_systemd_is_off_without_a_notify_socket() -> None:
    assert systemd_notifier({}) is None


@pytest.mark.parametrize("every_s", [None, 0.0])
def test_watchdog_systemd_without_an_interval_sends_nothing(every_s: float | None) -> None:
    notifier = FakeNotifier()
    asyncio.run(SystemdWatchdog(notifier, lambda: True, every_s=every_s).run())
    assert notifier.sent == []
