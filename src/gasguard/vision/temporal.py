"""Temporal context for fixed cameras: the network sees the frame, what changed, and what flickers.

A leaking plume is turbulent: it moves and flickers frame to frame while pipes, tanks and sky stay
put. So besides the frame itself the segmentation network gets (1) the frame minus a slow running
background and (2) a running mean of absolute frame-to-frame change. Both are computed here, in NumPy,
by the same code at training time and in the ONNX serving path, so the two can never drift apart.

Channels (1) and (2) are in display units, so the same plume looks strong on a quiet camera and
faint on a noisy one or behind a display range stretched by a hot pipe. Two more channels give the
background difference in units of the camera's own temporal noise (3), and a running mean of that (4),
which averages the noise down so that a plume a few noise steps above the floor stands out. The noise
is estimated from the frame-to-frame change of the whole picture (robustly: most of a fixed camera's
view is static), never below one display step.

A network reads the first as many channels as it was trained with (``network_input``), so a model
trained on three channels still runs.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

#: Input channels of the segmentation network, in order.
CHANNELS = ("frame", "minus_background", "flicker", "snr_difference", "snr_difference_smoothed")
BACKGROUND_RATE = 0.1
FLICKER_RATE = 0.3
DIFF_GAIN = 4.0
FLICKER_GAIN = 8.0
#: Running-mean rates of the noise estimate and of the smoothed noise-relative difference.
NOISE_RATE = 0.2
SNR_SMOOTHING_RATE = 0.35
#: The noise-relative channels are clipped at this many noise steps and divided by ``SNR_SCALE``.
SNR_CLIP = 16.0
SNR_SCALE = 4.0
#: The noise estimate never drops below one 8-bit display step (quantisation hides smaller noise).
NOISE_FLOOR = 1.0 / 255.0
#: Median absolute difference of two frames -> standard deviation of one frame's noise (Gaussian).
_MAD_TO_SIGMA = 1.4826 / float(np.sqrt(2.0))


def frame_noise(grey: NDArray[np.float32], previous: NDArray[np.float32]) -> float:
    """Robust estimate of one frame's temporal noise (std) from its change since the previous frame."""
    return max(_MAD_TO_SIGMA * float(np.median(np.abs(grey - previous))), NOISE_FLOOR)


def network_input(context: NDArray[np.float32], channels: int) -> NDArray[np.float32]:
    """The first ``channels`` channels of ``[..., C, H, W]`` context: what a model trained on them reads."""
    if not 1 <= channels <= len(CHANNELS):
        raise ValueError(f"a plume model may read 1 to {len(CHANNELS)} context channels, not {channels}")
    return context[..., :channels, :, :]


class TemporalContext:
    """Running background and flicker energy of one fixed camera's greyscale stream (values 0..1)."""

    def __init__(self) -> None:
        self.background: NDArray[np.float32] | None = None
        self.previous: NDArray[np.float32] | None = None
        self.flicker: NDArray[np.float32] | None = None
        self.snr_smoothed: NDArray[np.float32] | None = None
        self.noise: float | None = None
        self.frames_seen = 0

    def reset(self) -> None:
        """Forget the stream: the next frame starts a new background and noise estimate."""
        self.background = self.previous = self.flicker = self.snr_smoothed = None
        self.noise = None
        self.frames_seen = 0

    def update(self, grey: NDArray[np.float32]) -> NDArray[np.float32]:
        """Feed one frame (``[H, W]`` in 0..1); returns every context channel, ``[len(CHANNELS), H, W]``."""
        if self.background is None or self.background.shape != grey.shape:
            self.reset()
            self.background = grey.copy()
            self.previous = grey.copy()
            self.flicker = np.zeros_like(grey)
            self.snr_smoothed = np.zeros_like(grey)
        assert self.previous is not None and self.flicker is not None and self.snr_smoothed is not None
        diff = grey - self.background
        # The first frame has no change to measure (one display step); the second sets the estimate,
        # later ones refine it.
        if self.noise is None:
            noise = NOISE_FLOOR
        elif self.frames_seen == 1:
            noise = frame_noise(grey, self.previous)
        else:
            noise = (1 - NOISE_RATE) * self.noise + NOISE_RATE * frame_noise(grey, self.previous)
        self.noise = noise
        self.frames_seen += 1
        snr = np.clip(diff / noise, -SNR_CLIP, SNR_CLIP) / SNR_SCALE
        self.snr_smoothed = (1 - SNR_SMOOTHING_RATE) * self.snr_smoothed + SNR_SMOOTHING_RATE * snr
        self.flicker = (1 - FLICKER_RATE) * self.flicker + FLICKER_RATE * np.abs(grey - self.previous)
        self.background = (1 - BACKGROUND_RATE) * self.background + BACKGROUND_RATE * grey
        self.previous = grey
        return np.stack([grey - 0.5, DIFF_GAIN * diff, FLICKER_GAIN * self.flicker, snr, self.snr_smoothed]).astype(
            np.float32
        )


def clip_inputs(grey_frames: NDArray[np.uint8] | NDArray[np.float32]) -> NDArray[np.float32]:
    """``[T, H, W]`` greyscale clip (uint8, or float in 0..1) -> ``[T, len(CHANNELS), H, W]`` context."""
    frames = np.asarray(grey_frames, dtype=np.float32)
    if np.asarray(grey_frames).dtype == np.uint8:
        frames = frames / 255.0
    ctx = TemporalContext()
    return np.stack([ctx.update(f) for f in frames])
