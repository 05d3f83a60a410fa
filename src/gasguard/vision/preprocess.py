"""Frame preprocessing: strip the thermal phone app's overlay (as the paper does), resize, normalise.

MultimodalGasData frames are 480x640 (width x height) screenshots of the Seek Thermal phone app:
a rainbow colour-scale bar in the leftmost ~15 columns, a darkened strip to column ~63 carrying the
auto-ranged min/max temperature text, "Location Unavailable" or GPS text top right, and a faint logo
bottom right. None of it says anything about gas, and the paper shows a CNN learns from it anyway
(97.7 % with the overlay vs 96.4 % without, with Grad-CAM lighting up the scale bar). The paper crops
these parts away and resizes to 224x224; so does ``remove_app_overlay``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from gasguard.vision.frames import Frame

PAPER_SIZE = 224


@dataclass(frozen=True)
class OverlayGeometry:
    """The app overlay's extent, as fractions of the screenshot (measured on 480x640 frames)."""

    left: float = 66 / 480  # scale bar (0-14) and darkened strip with its text (15-63), plus a margin
    top: float = 92 / 640  # top-right location/GPS text reaches row ~85
    bottom: float = 598 / 640  # the logo starts at row ~602
    right: float = 1.0

    def box(self, height: int, width: int) -> tuple[int, int, int, int]:
        """``(y0, y1, x0, x1)`` of the overlay-free scene in a ``height x width`` frame."""
        return (
            round(self.top * height),
            round(self.bottom * height),
            round(self.left * width),
            round(self.right * width),
        )


SEEK_APP = OverlayGeometry()


def looks_like_app_screenshot(img: NDArray[np.uint8]) -> bool:
    """A portrait 3:4 colour frame whose leftmost columns hold a vertical colour scale (same colour
    across each row, many different colours down the bar)."""
    if img.ndim != 3 or img.shape[0] * 3 != img.shape[1] * 4:
        return False
    bar = img[:, : max(2, img.shape[1] * 12 // 480)].astype(np.int16)
    flat_rows = float(np.abs(np.diff(bar, axis=1)).mean()) < 3.0
    distinct = len(np.unique(bar[:, 0].reshape(-1, 3) // 32, axis=0)) >= 6
    return flat_rows and distinct


def remove_app_overlay(img: NDArray[Any], geometry: OverlayGeometry = SEEK_APP) -> NDArray[Any]:
    """Crop the overlay away (scale bar, darkened strip, temperature/location text, logo)."""
    y0, y1, x0, x1 = geometry.box(img.shape[0], img.shape[1])
    return img[y0:y1, x0:x1]


def preprocess_thermal(img: NDArray[np.uint8], size: int = PAPER_SIZE, overlay: str = "auto") -> NDArray[np.uint8]:
    """The paper's preprocessing: overlay removed (``auto``: only if it looks like an app screenshot;
    ``crop``: always; ``keep``: never), resized to ``size x size``. Colour frames stay BGR."""
    import cv2

    if overlay == "crop" or (overlay == "auto" and looks_like_app_screenshot(img)):
        img = remove_app_overlay(img)
    if img.ndim == 2:
        img = np.asarray(cv2.cvtColor(img, cv2.COLOR_GRAY2BGR), dtype=np.uint8)
    return np.asarray(cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA), dtype=np.uint8)


def unit_grey(frame: Frame | NDArray[Any]) -> NDArray[np.float32]:
    """Any frame -> ``[H, W]`` float32 in 0..1 for the plume detector.

    Colour frames are converted to luma; 16-bit radiometric frames get an automatic gain (0.5-99.5
    percentile stretch), like the 8-bit video an OGI camera outputs.
    """
    import cv2

    img = frame.image if isinstance(frame, Frame) else frame
    if img.ndim == 3:
        return np.asarray(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY), dtype=np.float32) / 255.0
    if img.dtype == np.uint8:
        return img.astype(np.float32) / 255.0
    data = img.astype(np.float32)
    lo, hi = np.percentile(data, [0.5, 99.5])
    return np.asarray(np.clip((data - lo) / max(float(hi - lo), 1e-6), 0, 1), dtype=np.float32)
