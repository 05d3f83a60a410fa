"""A turbulent gas plume as a stream of Gaussian puffs drifting with the wind.

Each time step the source releases puffs carrying ``rate * dt`` grams. A puff moves with the mean
wind plus a gust (an Ornstein-Uhlenbeck velocity sampled when it is released, which makes the plume
meander) plus buoyancy (methane is lighter than air), and grows by turbulent diffusion. Integrating
a 3-D Gaussian puff along the line of sight gives a 2-D Gaussian in column density, so the column
(ppm*m) image is a sum of separable Gaussians: one matrix product per frame. A wind-advected fractal
field modulates it into the wispy, intermittent look of a real plume.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from gasguard.vision.sim.noise import fractal_noise

FloatArray = NDArray[np.float64]

#: Molar volume of an ideal gas at 20 degC and 1 atm, m^3/mol.
MOLAR_VOLUME_M3 = 0.02405
METHANE_MOLAR_MASS_G = 16.04


@dataclass(frozen=True)
class PlumeParams:
    """Physical parameters of one leak, in SI units; image-plane coordinates in metres (y down)."""

    source_xy_m: tuple[float, float]
    rate_g_s: float
    wind_xy_m_s: tuple[float, float]
    turbulence_intensity: float = 0.25
    diffusivity_m2_s: float = 0.02
    buoyancy_m_s: float = 0.3
    initial_sigma_m: float = 0.05
    puffs_per_step: int = 3
    molar_mass_g: float = METHANE_MOLAR_MASS_G


class PuffPlume:
    """State of the puffs of one leak; ``step`` advances time, ``column`` images the column density."""

    def __init__(self, params: PlumeParams, rng: np.random.Generator) -> None:
        self.p = params
        self.rng = rng
        self.x = np.zeros(0)
        self.y = np.zeros(0)
        self.vx = np.zeros(0)
        self.vy = np.zeros(0)
        self.mass = np.zeros(0)
        self.age = np.zeros(0)
        speed = float(np.hypot(*params.wind_xy_m_s))
        self._gust_sigma = params.turbulence_intensity * max(speed, 0.3)
        self._gust = np.zeros(2)

    def step(self, dt: float, emitting: bool = True) -> None:
        p = self.p
        # Large-scale gusts: Ornstein-Uhlenbeck with a 2 s time scale.
        tau = 2.0
        self._gust += -self._gust * dt / tau + self._gust_sigma * np.sqrt(2 * dt / tau) * self.rng.standard_normal(2)
        if emitting and p.rate_g_s > 0:
            n = p.puffs_per_step
            jitter = self.rng.normal(0, p.initial_sigma_m, (2, n))
            self.x = np.concatenate([self.x, p.source_xy_m[0] + jitter[0]])
            self.y = np.concatenate([self.y, p.source_xy_m[1] + jitter[1]])
            self.vx = np.concatenate([self.vx, np.full(n, p.wind_xy_m_s[0] + self._gust[0])])
            self.vy = np.concatenate([self.vy, np.full(n, p.wind_xy_m_s[1] + self._gust[1])])
            self.mass = np.concatenate([self.mass, np.full(n, p.rate_g_s * dt / n)])
            self.age = np.concatenate([self.age, np.zeros(n)])
        buoyancy = p.buoyancy_m_s * np.exp(-self.age / 2.0)
        small = self._gust_sigma * 0.3 * np.sqrt(dt)
        self.x += self.vx * dt + small * self.rng.standard_normal(self.x.shape)
        self.y += (self.vy - buoyancy) * dt + small * self.rng.standard_normal(self.y.shape)
        self.age += dt

    def sigma_m(self) -> FloatArray:
        speed = float(np.hypot(*self.p.wind_xy_m_s))
        return (
            self.p.initial_sigma_m
            + self.p.turbulence_intensity * max(speed, 0.3) * self.age * 0.5
            + np.sqrt(2 * self.p.diffusivity_m2_s * self.age)
        )

    #: Older puffs have mixed into the background air; forgetting them bounds the cost per frame.
    max_age_s = 8.0

    def prune(self, extent_m: tuple[float, float], min_peak_ppm_m: float = 1.0) -> None:
        """Forget puffs that left the view or diluted below anything a camera could see."""
        sig = self.sigma_m()
        peak = self._to_ppm_m(self.mass / (2 * np.pi * sig**2))
        w, h = extent_m
        inside = (self.x > -3 * sig) & (self.x < w + 3 * sig) & (self.y > -3 * sig) & (self.y < h + 3 * sig)
        keep = inside & (peak > min_peak_ppm_m) & (self.age < self.max_age_s)
        for name in ("x", "y", "vx", "vy", "mass", "age"):
            setattr(self, name, getattr(self, name)[keep])

    def _to_ppm_m(self, grams_per_m2: FloatArray) -> FloatArray:
        return grams_per_m2 / self.p.molar_mass_g * MOLAR_VOLUME_M3 * 1e6

    def column(self, height: int, width: int, pixel_m: float) -> FloatArray:
        """Column density image, ppm*m, on a ``height x width`` grid of ``pixel_m`` metre pixels."""
        if self.x.size == 0:
            return np.zeros((height, width))
        sig = self.sigma_m()
        xs = (np.arange(width) + 0.5) * pixel_m
        ys = (np.arange(height) + 0.5) * pixel_m
        gx = np.exp(-((xs[None, :] - self.x[:, None]) ** 2) / (2 * sig[:, None] ** 2))
        gy = np.exp(-((ys[None, :] - self.y[:, None]) ** 2) / (2 * sig[:, None] ** 2))
        amp = self._to_ppm_m(self.mass / (2 * np.pi * sig**2))
        return np.asarray((gy * amp[:, None]).T @ gx)


class TurbulenceTexture:
    """A lognormal multiplicative texture (mean 1) advected with the wind, for small-scale eddies."""

    def __init__(self, rng: np.random.Generator, height: int, width: int, strength: float) -> None:
        self.h, self.w = height, width
        self.field = fractal_noise(rng, 2 * height, 2 * width, base_cells=6, octaves=4, persistence=0.6)
        self.strength = strength
        self.offset = np.zeros(2)

    def step(self, dt: float, wind_px_s: tuple[float, float]) -> None:
        self.offset += np.asarray(wind_px_s) * dt

    def sample(self) -> FloatArray:
        ox = round(-self.offset[0]) % self.w
        oy = round(-self.offset[1]) % self.h
        patch = self.field[oy : oy + self.h, ox : ox + self.w]
        s = self.strength
        return np.asarray(np.exp(s * patch - 0.5 * s**2))
