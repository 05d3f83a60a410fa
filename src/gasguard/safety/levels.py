"""Gas level evaluation: threshold crossing with hysteresis, and the rate of rise of %LEL."""

from __future__ import annotations

from collections import deque


def level_active(was_active: bool, lel_pct: float, setpoint: float, hysteresis: float) -> bool:
    """A level comes in at ``setpoint`` and goes out only below ``setpoint - hysteresis``.

    >>> level_active(False, 19.9, 20.0, 2.0), level_active(False, 20.0, 20.0, 2.0)
    (False, True)
    >>> level_active(True, 18.5, 20.0, 2.0), level_active(True, 17.9, 20.0, 2.0)
    (True, False)
    """
    if lel_pct >= setpoint:
        return True
    return was_active and lel_pct >= setpoint - hysteresis


class RiseTracker:
    """Rate of rise in %LEL per minute over a sliding time window, one reading at a time.

    The rate is the change from the oldest sample still inside the window to the newest. It is only
    reported once at least half a window of history exists, so one noisy pair of samples cannot raise
    the alarm. Clock steps backwards discard the history rather than produce a negative interval.
    """

    __slots__ = ("_samples", "window_s")

    def __init__(self, window_s: float) -> None:
        self.window_s = window_s
        self._samples: deque[tuple[float, float]] = deque()

    def update(self, now: float, lel_pct: float) -> float | None:
        samples = self._samples
        if samples and now < samples[-1][0]:
            samples.clear()
        samples.append((now, lel_pct))
        horizon = now - self.window_s
        while len(samples) > 1 and samples[0][0] < horizon:
            samples.popleft()
        t0, v0 = samples[0]
        span = now - t0
        if span < self.window_s / 2:
            return None
        return (lel_pct - v0) / span * 60.0

    def clear(self) -> None:
        self._samples.clear()
