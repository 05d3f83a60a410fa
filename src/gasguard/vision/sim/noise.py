"""Smooth random fields (fractal value noise) for textures, turbulence and fixed-pattern noise."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray


def _upsample(grid: NDArray[np.float64], height: int, width: int) -> NDArray[np.float64]:
    """Bilinear upsampling of a coarse grid to ``height x width`` (NumPy only)."""
    gh, gw = grid.shape
    ys = np.linspace(0, gh - 1, height)
    xs = np.linspace(0, gw - 1, width)
    y0 = np.clip(np.floor(ys).astype(int), 0, gh - 2)
    x0 = np.clip(np.floor(xs).astype(int), 0, gw - 2)
    fy = (ys - y0)[:, None]
    fx = (xs - x0)[None, :]
    a = grid[np.ix_(y0, x0)]
    b = grid[np.ix_(y0, x0 + 1)]
    c = grid[np.ix_(y0 + 1, x0)]
    d = grid[np.ix_(y0 + 1, x0 + 1)]
    return np.asarray((a * (1 - fx) + b * fx) * (1 - fy) + (c * (1 - fx) + d * fx) * fy, dtype=np.float64)


def fractal_noise(
    rng: np.random.Generator,
    height: int,
    width: int,
    base_cells: int = 4,
    octaves: int = 4,
    persistence: float = 0.5,
) -> NDArray[np.float64]:
    """Zero-mean, unit-std fractal noise; ``base_cells`` sets the largest feature size."""
    out = np.zeros((height, width))
    amp = 1.0
    cells = base_cells
    for _ in range(octaves):
        grid = rng.standard_normal((cells + 2, max(2, int(cells * width / height) + 2)))
        out += amp * _upsample(grid, height, width)
        amp *= persistence
        cells *= 2
    out -= out.mean()
    std = out.std()
    return out / std if std > 0 else out
