"""Turning brightness temperatures into what a camera delivers: 8-bit greyscale OGI, colour thermal, 16-bit.

NumPy only. Colour maps are linear interpolations between key colours (RGB order), close to the
"rainbow" palette of handheld thermal apps and the "iron" palette of industrial cameras.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]

_KEYS: dict[str, list[tuple[float, tuple[int, int, int]]]] = {
    "rainbow": [
        (0.0, (0, 0, 0)),
        (0.15, (0, 0, 160)),
        (0.35, (0, 120, 255)),
        (0.5, (0, 200, 60)),
        (0.65, (240, 240, 0)),
        (0.82, (255, 40, 0)),
        (1.0, (255, 255, 255)),
    ],
    "iron": [
        (0.0, (0, 0, 0)),
        (0.25, (80, 0, 140)),
        (0.5, (200, 30, 80)),
        (0.75, (250, 150, 0)),
        (1.0, (255, 255, 220)),
    ],
}


def colormap_lut(name: str) -> NDArray[np.uint8]:
    """A 256x3 RGB lookup table for ``name`` ("rainbow" or "iron")."""
    keys = _KEYS[name]
    pos = np.array([k[0] for k in keys])
    cols = np.array([k[1] for k in keys], dtype=np.float64)
    x = np.linspace(0, 1, 256)
    lut = np.stack([np.interp(x, pos, cols[:, c]) for c in range(3)], axis=1)
    return np.round(lut).astype(np.uint8)


def display_range(temperature_k: FloatArray, low_pct: float = 0.5, high_pct: float = 99.5) -> tuple[float, float]:
    """Automatic gain control: the temperature span the display maps to 0..255."""
    lo, hi = np.percentile(temperature_k, [low_pct, high_pct])
    return float(lo), float(max(hi, lo + 0.5))


def to_grey(temperature_k: FloatArray, span: tuple[float, float], white_hot: bool = True) -> NDArray[np.uint8]:
    """8-bit greyscale as an OGI camera shows it (white-hot or black-hot)."""
    lo, hi = span
    g = np.clip((temperature_k - lo) / (hi - lo), 0, 1)
    if not white_hot:
        g = 1 - g
    return np.round(g * 255).astype(np.uint8)


def to_colour(temperature_k: FloatArray, span: tuple[float, float], palette: str = "rainbow") -> NDArray[np.uint8]:
    """Colour-mapped thermal frame, RGB uint8 ``[..., 3]``."""
    grey = to_grey(temperature_k, span)
    return colormap_lut(palette)[grey]


def to_radiometric_u16(temperature_k: FloatArray) -> NDArray[np.uint16]:
    """16-bit radiometric counts in centikelvin, the common convention of radiometric TIFF/raw exports."""
    return np.round(np.clip(temperature_k * 100.0, 0, 65535)).astype(np.uint16)
