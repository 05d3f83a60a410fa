"""Channel health: decide whether a channel's value can be trusted.

A channel that is warming up, stale, out of its valid range, reporting NaN or garbage, or stuck on
one value is in FAULT. What a FAULT does to the zone (trip or only alarm) is the zone's fault policy;
this module only says what is wrong.
"""

from __future__ import annotations

import math

from gasguard.domain import ChannelHealth
from gasguard.safety.spec import ChannelSpec


def classify_value(value: object, spec: ChannelSpec) -> ChannelHealth:
    """Health implied by one reported value, before time-based checks.

    >>> from gasguard.safety.spec import ChannelSpec
    >>> spec = ChannelSpec(id="c", zone="z", gas="methane", scale=0.002, offset=0.0, valid_min=0, valid_max=50_000)
    >>> classify_value(500.0, spec), classify_value(float("nan"), spec), classify_value(-5.0, spec)
    (<ChannelHealth.OK: 'ok'>, <ChannelHealth.INVALID: 'invalid'>, <ChannelHealth.OUT_OF_RANGE: 'out_of_range'>)
    """
    if type(value) is not float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return ChannelHealth.INVALID
        value = float(value)
    if not math.isfinite(value):
        return ChannelHealth.INVALID
    if value < spec.valid_min or value > spec.valid_max:
        return ChannelHealth.OUT_OF_RANGE
    return ChannelHealth.OK


def describe(health: ChannelHealth, spec: ChannelSpec) -> str:
    """A short operator-facing reason for a health state."""
    return {
        ChannelHealth.OK: "healthy",
        ChannelHealth.WARMING_UP: f"warming up ({spec.warmup_s:g} s after power-on)",
        ChannelHealth.STALE: f"no reading for more than {spec.stale_timeout_s:g} s",
        ChannelHealth.OUT_OF_RANGE: f"value outside valid range [{spec.valid_min:g}, {spec.valid_max:g}]",
        ChannelHealth.INVALID: "value is not a finite number",
        ChannelHealth.FLATLINE: f"value unchanged for {spec.flatline_s or 0:g} s (stuck sensor?)",
    }[health]
