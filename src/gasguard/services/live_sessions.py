"""The live-feed sockets open in one process, so that an account change made here closes them at once."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

logger = logging.getLogger(__name__)


@dataclass(eq=False)
class LiveWatch:
    """One live-feed socket's claim on a session: ``ended`` is set (with ``reason``) when it must close."""

    user_id: int | None
    token_id: int
    loop: asyncio.AbstractEventLoop
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    reason: str | None = None

    def end(self, reason: str) -> None:
        """Ask the socket to close; safe from any thread (requests run in worker threads)."""
        if self.reason is None:
            self.reason = reason
        with contextlib.suppress(RuntimeError):  # the loop has already stopped: the socket is gone too
            self.loop.call_soon_threadsafe(self.ended.set)


class LiveSessions:
    """The live-feed sockets open in this process, by user and token, so that a sign-out, a disabled
    account or a role change made by a request here ends them at once instead of at the next recheck.

    This is only the fast path of one process: a change made by another web process or by the CLI never
    passes through here, so each socket also re-reads its token from the database (``routes/ws.py``).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._watches: set[LiveWatch] = set()

    def watch(self, *, user_id: int | None, token_id: int) -> LiveWatch:
        """Register a socket; call on the event loop that serves it, and ``forget`` it when it closes."""
        watch = LiveWatch(user_id=user_id, token_id=token_id, loop=asyncio.get_running_loop())
        with self._lock:
            self._watches.add(watch)
        return watch

    def forget(self, watch: LiveWatch) -> None:
        with self._lock:
            self._watches.discard(watch)

    def end_token(self, token_id: int, reason: str) -> int:
        """Close the sockets signed in with this token; how many there were."""
        return self._end(lambda w: w.token_id == token_id, reason)

    def end_user(self, user_id: int, reason: str) -> int:
        """Close every socket of this user, whichever token it used; how many there were."""
        return self._end(lambda w: w.user_id == user_id, reason)

    def _end(self, matches: Callable[[LiveWatch], bool], reason: str) -> int:
        with self._lock:
            ending = [w for w in self._watches if matches(w)]
        for watch in ending:
            watch.end(reason)
        if ending:
            logger.info("closing %d live socket(s): %s", len(ending), reason)
        return len(ending)

    def __len__(self) -> int:
        with self._lock:
            return len(self._watches)
