"""Temporal context for fixed cameras: the network sees the frame, what changed, and what flickers.

A leaking plume is turbulent: it moves and flickers frame to frame while pipes, tanks and sky stay
put. So besides the frame itself the segmentation network gets (1) the frame minus a slow running
background and (2) a running mean of absolute frame-to-frame change. Both are computed here, in NumPy,
by the same code at training time and in the ONNX serving path, so the two can never drift apart.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

#: Input channels of the segmentation network, in order.
CHANNELS = ("frame", "minus_background", "flicker")
BACKGROUND_RATE = 0.1
FLICKER_RATE = 0.3
DIFF_GAIN = 4.0
FLICKER_GAIN = 8.0


class TemporalContext:
    """Running background and flicker energy of one fixed camera's greyscale stream (values 0..1)."""

    def __init__(self) -> None:
        self.background: NDArray[np.float32] | None = None
        self.previous: NDArray[np.float32] | None = None
        self.flicker: NDArray[np.float32] | None = None

    def reset(self) -> None:
        self.background = self.previous = self.flicker = None

    def update(self, grey: NDArray[np.float32]) -> NDArray[np.float32]:
        """Feed one frame (``[H, W]`` in 0..1); returns the network input ``[3, H, W]``."""
        if self.background is None or self.background.shape != grey.shape:
            self.background = grey.copy()
            self.previous = grey.copy()
            self.flicker = np.zeros_like(grey)
        assert self.previous is not None and self.flicker is not None
        diff = grey - self.background
        self.flicker = (1 - FLICKER_RATE) * self.flicker + FLICKER_RATE * np.abs(grey - self.previous)
        self.background = (1 - BACKGROUND_RATE) * self.background + BACKGROUND_RATE * grey
        self.previous = grey
        return np.stack([grey - 0.5, DIFF_GAIN * diff, FLICKER_GAIN * self.flicker]).astype(np.float32)


def clip_inputs(grey_frames: NDArray[np.uint8] | NDArray[np.float32]) -> NDArray[np.float32]:
    """``[T, H, W]`` greyscale clip (uint8, or float in 0..1) -> ``[T, 3, H, W]`` network inputs."""
    frames = np.asarray(grey_frames, dtype=np.float32)
    if np.asarray(grey_frames).dtype == np.uint8:
        frames = frames / 255.0
    ctx = TemporalContext()
    return np.stack([ctx.update(f) for f in frames])
