"""systemd's watchdog for ``gasguard serve``: pinged only while the safety loop ticks.

Under systemd (``deploy/gasguard.service``: ``Type=notify``, ``WatchdogSec=10``, ``Restart=always``)
the service says ``READY=1`` once it serves, then ``WATCHDOG=1`` every half watchdog interval, but
only while the safety pipeline has ticked within ``ALIVE_WITHIN_S``. A stuck event loop sends no
ping (the pinging task runs on the same loop), and a safety loop that hangs while the event loop
still runs sends none either (the tick is checked): systemd then kills the process and starts it
again, and the restored safety state keeps latched trips and closed valves (``Restart=always``).
Meanwhile the I/O modules' own watchdogs have already dropped the valves and the fault relay,
because the drivers' heartbeats are gated on the same tick (``docs/watchdog.md``).

Without systemd (no ``NOTIFY_SOCKET``) nothing is sent and nothing is started. The ``sdnotify``
package does the socket work; tests pass a fake ``Notifier``.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Mapping
from typing import Protocol

logger = logging.getLogger(__name__)

ALIVE_WITHIN_S = 5.0
"""The safety loop must have ticked this recently for a ping (it ticks every 0.5 s)."""

DEFAULT_PING_S = 5.0
"""Ping interval when systemd does not say its watchdog interval (``WATCHDOG_USEC``)."""


class Notifier(Protocol):
    """What ``sdnotify.SystemdNotifier`` offers: one datagram to systemd's notify socket."""

    def notify(self, state: str) -> None: ...


def systemd_notifier(environ: Mapping[str, str] | None = None) -> Notifier | None:
    """A notifier for systemd's socket, or ``None`` when not started by systemd with ``Type=notify``."""
    env = os.environ if environ is None else environ
    if not env.get("NOTIFY_SOCKET"):
        return None
    import sdnotify

    notifier: Notifier = sdnotify.SystemdNotifier()
    return notifier


def ping_interval_s(environ: Mapping[str, str] | None = None) -> float | None:
    """Half of systemd's watchdog interval (``WATCHDOG_USEC``), as sd_watchdog_enabled(3) advises;
    ``None`` when the watchdog is off or meant for another process (``WATCHDOG_PID``)."""
    env = os.environ if environ is None else environ
    usec = env.get("WATCHDOG_USEC")
    if not usec:
        return None
    pid = env.get("WATCHDOG_PID")
    if pid and pid.strip() != str(os.getpid()):
        return None
    try:
        seconds = int(usec) / 1_000_000
    except ValueError:
        logger.warning("WATCHDOG_USEC=%r is not a number; pinging every %.0f s", usec, DEFAULT_PING_S)
        return DEFAULT_PING_S
    return max(0.05, seconds / 2) if seconds > 0 else None


class SystemdWatchdog:
    """Tells systemd the service is ready, then alive while ``alive()`` says the safety loop ticks."""

    def __init__(self, notifier: Notifier, alive: Callable[[], bool], *, every_s: float | None) -> None:
        self.notifier = notifier
        self.alive = alive
        self.every_s = every_s
        self.pings = 0
        self.withheld = 0

    def ready(self) -> None:
        self.notifier.notify("READY=1")
        logger.info(
            "told systemd the service is ready%s",
            f"; watchdog pings every {self.every_s:g} s while the safety loop ticks" if self.every_s else "",
        )

    def stopping(self) -> None:
        self.notifier.notify("STOPPING=1")

    def ping(self) -> bool:
        """Ping once if the safety loop ticks; returns whether it pinged."""
        if self.alive():
            self.notifier.notify("WATCHDOG=1")
            self.pings += 1
            return True
        if not self.pings:
            return False  # still starting: the safety loop has not ticked yet
        self.withheld += 1
        if self.withheld == 1 or self.withheld % 10 == 0:
            logger.error("safety loop not ticking: systemd watchdog ping withheld (%d so far)", self.withheld)
        return False

    async def run(self) -> None:
        """Ping every ``every_s`` until cancelled (returns at once when systemd has no watchdog set)."""
        if not self.every_s:
            return
        while True:
            self.ping()
            await asyncio.sleep(self.every_s)
