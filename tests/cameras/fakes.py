"""Test doubles for the camera tests: a hand-driven clock and scripted detectors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray


class FakeClock:
    """Epoch-like seconds that move only when a test says so."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass(frozen=True)
class FakeDetection:
    leak_score: float
    leak: bool
    mask: NDArray[np.bool_]
    mask_fraction: float


class ScriptedDetector:
    """Answers from a script of verdicts (``True``/``False``, or an exception to raise), then repeats the last."""

    def __init__(self, script: list[bool | Exception]) -> None:
        self.script = script
        self.calls = 0

    def process(self, frame: Any, index: int | None = None) -> FakeDetection:
        step = self.script[min(self.calls, len(self.script) - 1)]
        self.calls += 1
        if isinstance(step, Exception):
            raise step
        img = np.asarray(frame)
        mask = np.zeros(img.shape[:2], dtype=bool)
        if step:
            mask[: img.shape[0] // 4, : img.shape[1] // 4] = True
        return FakeDetection(0.9 if step else 0.1, step, mask, float(mask.mean()))
