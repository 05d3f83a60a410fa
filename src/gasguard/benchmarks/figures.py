"""Figures, targets and the outside figures they are held against.

A ``Figure`` is one measured number with its unit, the target GasGuard sets itself and, where one
exists, a ``Reference``: what a commercial controller, a standard or a paper states. The references
are the outside yardstick, so each says where it comes from and how firm it is (``kind``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Better = Literal["lower", "higher"]


@dataclass(frozen=True)
class Reference:
    """An outside figure a measurement is compared with."""

    value: float
    unit: str
    what: str
    source: str
    kind: Literal["commercial", "standard", "published", "requirement"]

    def to_json(self) -> dict[str, Any]:
        return {"value": self.value, "unit": self.unit, "what": self.what, "source": self.source, "kind": self.kind}


@dataclass(frozen=True)
class Figure:
    """One measured number, its target, and the outside figure it is held against."""

    key: str
    name: str
    value: float | None
    unit: str
    target: float | None
    better: Better
    reference: Reference | None = None
    note: str = ""
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def meets_target(self) -> bool | None:
        if self.value is None or self.target is None:
            return None
        return self.value <= self.target if self.better == "lower" else self.value >= self.target

    @property
    def beats_reference(self) -> bool | None:
        ref = self.reference
        if self.value is None or ref is None or ref.unit != self.unit:
            return None
        return self.value <= ref.value if self.better == "lower" else self.value >= ref.value

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "name": self.name,
            "value": self.value,
            "unit": self.unit,
            "target": self.target,
            "better": self.better,
            "meets_target": self.meets_target,
            "reference": None if self.reference is None else self.reference.to_json(),
            "beats_reference": self.beats_reference,
            "note": self.note,
        }


# The outside figures. Kept here, in one place, so the README and the results file cite the same ones.
ALARM_CYCLE = Reference(
    value=500.0,
    unit="ms",
    what="alarm evaluation cycle of a commercial fixed gas-detection controller (a reading is acted on "
    "within one cycle)",
    source="typical scan cycle of fixed gas-detection controllers, as named in the GasGuard issue "
    "'Prove it' (a commercial controller evaluates alarms every 500 ms)",
    kind="commercial",
)
CONTROLLER_CHANNELS = Reference(
    value=1000.0,
    unit="readings/s",
    what="1,000 detector channels reporting once a second (the load GasGuard is sized for)",
    source="GasGuard issue 'Prove it', item 5 (1,000 channels at 1 Hz)",
    kind="requirement",
)
VIDEO_RATE = Reference(
    value=30.0,
    unit="frames/s",
    what="video rate of an NTSC-timed camera stream (thermal and OGI cameras stream at 30 Hz or less)",
    source="broadcast video frame rate (NTSC 30 frames/s); camera streams are at or below it",
    kind="standard",
)
