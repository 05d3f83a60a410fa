"""In-memory login rate limiting, per username and client and per client overall.

After ``max_failures`` failed logins for one username from one client within ``window_s`` seconds,
further attempts are refused until the oldest failure leaves the window. One client trying many
usernames is limited too, at ``client_factor`` times that. A successful login clears the
username+client count. Memory is bounded: at most ``max_keys`` keys are tracked.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable


class LoginRateLimiter:
    def __init__(
        self,
        *,
        max_failures: int = 5,
        window_s: float = 300.0,
        client_factor: int = 4,
        max_keys: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self.client_factor = client_factor
        self.max_keys = max_keys
        self._clock = clock
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    @staticmethod
    def _user_key(username: str, client: str) -> str:
        return f"u\x00{username.lower()}\x00{client}"

    @staticmethod
    def _client_key(client: str) -> str:
        return f"c\x00{client}"

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._failures.get(key)
        if times is None:
            return deque()
        while times and times[0] <= now - self.window_s:
            times.popleft()
        if not times:
            del self._failures[key]
        return times

    def retry_after(self, username: str, client: str) -> float:
        """Seconds until this login may be tried again; 0 when it may be tried now."""
        now = self._clock()
        waits = [0.0]
        for key, limit in (
            (self._user_key(username, client), self.max_failures),
            (self._client_key(client), self.max_failures * self.client_factor),
        ):
            times = self._recent(key, now)
            if len(times) >= limit:
                waits.append(times[len(times) - limit] + self.window_s - now)
        return max(waits)

    def record_failure(self, username: str, client: str) -> None:
        now = self._clock()
        for key in (self._user_key(username, client), self._client_key(client)):
            times = self._failures.setdefault(key, deque())
            times.append(now)
            while len(times) > self.max_failures * self.client_factor:
                times.popleft()
            self._failures.move_to_end(key)
        while len(self._failures) > self.max_keys:
            self._failures.popitem(last=False)

    def record_success(self, username: str, client: str) -> None:
        self._failures.pop(self._user_key(username, client), None)
