"""Response measurement of a gas detector from its readings: baseline, onset, peak, T50 and T90.

Pure functions on ``(ts, %LEL)`` samples, so the live test recorder, the tests and a hand computation
on a recorded trace all use one definition:

- **onset**: the first sample that reads more than ``onset_threshold`` above the *baseline*, the median
  of the up to ``BASELINE_SAMPLES`` samples before it (the channel's zero just before the gas came);
- **t0**, the moment the gas is taken to be applied, is the sample *before* the onset: the last one
  that still read zero. The gas arrived after it, so times measured from it are never shorter than
  the truth (a record errs on the safe side);
- **T50** and **T90**: the time from t0 until the reading first rises by 50 % and 90 % of the applied
  concentration above the baseline, interpolated linearly between the two samples either side (IEC
  60079-29-1 measures t(50) and t(90) on the step the detector sees). Without an applied value the
  step is the peak's rise above the baseline;
- **peak**: the highest reading from the onset on, as the detector showed it (not baseline-corrected,
  which is what a bump test compares with the applied gas).

>>> r = measure_response([(0, 0.0), (1, 0.1), (2, 0.0), (3, 10.0), (4, 30.0), (5, 48.0), (6, 50.0)], applied_lel=50)
>>> r.onset_ts, r.t0_ts, r.peak_lel, round(r.t50_s, 2), round(r.t90_s, 2)
(3, 2, 50.0, 1.75, 2.83)
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

BASELINE_SAMPLES = 10
"""Samples before the onset whose median is the baseline (the zero just before the gas)."""
ONSET_MIN_LEL_PCT = 1.0
ONSET_FRACTION = 0.05
"""The rise that counts as gas arriving: the larger of 1 %LEL and 5 % of the applied concentration."""


@dataclass(frozen=True, slots=True)
class Response:
    """How a detector answered test gas. Times in seconds, readings in %LEL; ``None`` when not reached."""

    samples: int
    baseline_lel: float | None
    onset_ts: float | None
    t0_ts: float | None
    peak_lel: float | None
    peak_ts: float | None
    step_lel: float | None  # the rise T50 and T90 are fractions of: the applied gas, or the peak's rise
    t50_s: float | None
    t90_s: float | None

    def to_json(self) -> dict[str, float | int | None]:
        return {
            "samples": self.samples,
            "baseline_lel_pct": self.baseline_lel,
            "onset_ts": self.onset_ts,
            "t0_ts": self.t0_ts,
            "peak_lel_pct": self.peak_lel,
            "peak_ts": self.peak_ts,
            "step_lel_pct": self.step_lel,
            "t50_s": self.t50_s,
            "t90_s": self.t90_s,
        }


def onset_threshold(applied_lel: float | None) -> float:
    return max(ONSET_MIN_LEL_PCT, ONSET_FRACTION * applied_lel) if applied_lel else ONSET_MIN_LEL_PCT


def find_onset(samples: Sequence[tuple[float, float]], threshold: float) -> tuple[int, float] | None:
    """Index of the first sample more than ``threshold`` above the median of the samples before it,
    and that median; ``None`` when the readings never rise."""
    for i in range(1, len(samples)):
        window = [value for _, value in samples[max(0, i - BASELINE_SAMPLES) : i]]
        baseline = statistics.median(window)
        if samples[i][1] - baseline > threshold:
            return i, baseline
    return None


def _crossing(samples: Sequence[tuple[float, float]], start: int, level: float) -> float | None:
    """When the readings first reach ``level`` at or after ``start``, interpolated with the sample before."""
    for j in range(start, len(samples)):
        ts, value = samples[j]
        if value >= level:
            prev_ts, prev_value = samples[j - 1]
            if prev_value >= level or value == prev_value:
                return ts if prev_value < level else prev_ts
            return prev_ts + (level - prev_value) / (value - prev_value) * (ts - prev_ts)
    return None


def measure_response(samples: Sequence[tuple[float, float]], *, applied_lel: float | None) -> Response:
    """Measure the response in ``samples`` (oldest first) to test gas of ``applied_lel`` (%LEL, if known)."""
    n = len(samples)
    if n == 0:
        return Response(0, None, None, None, None, None, None, None, None)
    found = find_onset(samples, onset_threshold(applied_lel))
    if found is None:
        peak_ts, peak = max(samples, key=lambda s: s[1])
        baseline = statistics.median(v for _, v in samples)
        return Response(n, baseline, None, None, peak, peak_ts, applied_lel, None, None)
    onset, baseline = found
    t0 = samples[onset - 1][0]
    peak_ts, peak = max(samples[onset:], key=lambda s: s[1])
    step = applied_lel if applied_lel else peak - baseline
    times: list[float | None] = []
    for fraction in (0.5, 0.9):
        crossed = _crossing(samples, onset, baseline + fraction * step)
        times.append(None if crossed is None else crossed - t0)
    return Response(n, baseline, samples[onset][0], t0, peak, peak_ts, step, times[0], times[1])
