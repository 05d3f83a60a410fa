"""Band radiance (Planck), its inverse, and the gas layer's radiative transfer.

A gas layer at temperature ``T_gas`` with column density ``CL`` (ppm*m) in front of a background of
radiance ``L_bg`` is seen as ``L = L_bg * (1 - a) + B(T_gas) * a`` with absorptance
``a = 1 - exp(-alpha * CL)`` (Kirchhoff: absorptance = emissivity). The contrast is therefore
``dI = -(B(T_bg) - B(T_gas)) * (1 - exp(-alpha * CL))``: the gas is dark against a warmer background
and bright against a colder one (the sky), and invisible where the two temperatures match.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

H_PLANCK = 6.62607015e-34
C_LIGHT = 2.99792458e8
K_BOLTZMANN = 1.380649e-23

#: Methane's 3.2-3.4 um band, where cooled OGI cameras (e.g. FLIR GF320) filter.
OGI_BAND_M = (3.2e-6, 3.4e-6)
#: Band-averaged absorption coefficient of methane in that band, per ppm*m. 1,000 ppm*m absorbs ~10 %,
#: the order of magnitude reported for OGI detection thresholds; a tunable scene parameter.
METHANE_ALPHA_PER_PPM_M = 1.0e-4

FloatArray = NDArray[np.float64]


def planck_spectral_radiance(wavelength_m: FloatArray, temperature_k: FloatArray) -> FloatArray:
    """Planck's law, W / (m^2 sr m)."""
    c1 = 2.0 * H_PLANCK * C_LIGHT**2
    c2 = H_PLANCK * C_LIGHT / K_BOLTZMANN
    return c1 / (wavelength_m**5 * np.expm1(c2 / (wavelength_m * temperature_k)))


def band_radiance(
    temperature_k: FloatArray | float, band_m: tuple[float, float] = OGI_BAND_M, samples: int = 9
) -> FloatArray:
    """Radiance integrated over a spectral band (trapezoid rule), W / (m^2 sr)."""
    t = np.asarray(temperature_k, dtype=np.float64)
    wl = np.linspace(band_m[0], band_m[1], samples)
    spectral = planck_spectral_radiance(wl.reshape((-1,) + (1,) * t.ndim), t[None, ...])
    return np.asarray(np.trapezoid(spectral, wl, axis=0), dtype=np.float64)


@dataclass(frozen=True)
class RadianceTable:
    """A monotonic temperature -> band radiance table, for fast inversion back to apparent temperature."""

    temperatures_k: FloatArray
    radiances: FloatArray

    @classmethod
    def build(
        cls, band_m: tuple[float, float] = OGI_BAND_M, t_min: float = 180.0, t_max: float = 700.0
    ) -> RadianceTable:
        temps = np.linspace(t_min, t_max, 4096)
        return cls(temps, band_radiance(temps, band_m))

    def radiance(self, temperature_k: FloatArray) -> FloatArray:
        return np.interp(temperature_k, self.temperatures_k, self.radiances)

    def temperature(self, radiance: FloatArray) -> FloatArray:
        """Apparent (brightness) temperature of a radiance."""
        return np.interp(radiance, self.radiances, self.temperatures_k)


def absorptance(column_ppm_m: FloatArray, alpha_per_ppm_m: float = METHANE_ALPHA_PER_PPM_M) -> FloatArray:
    """Fraction of background radiance the gas column absorbs (Beer-Lambert)."""
    return -np.expm1(-alpha_per_ppm_m * np.maximum(column_ppm_m, 0.0))


def apparent_temperature(
    table: RadianceTable,
    background_k: FloatArray,
    gas_temperature_k: FloatArray | float,
    column_ppm_m: FloatArray,
    alpha_per_ppm_m: float = METHANE_ALPHA_PER_PPM_M,
) -> FloatArray:
    """Brightness temperature the camera sees through the gas layer (noise-free)."""
    a = absorptance(column_ppm_m, alpha_per_ppm_m)
    l_bg = table.radiance(background_k)
    l_gas = table.radiance(np.broadcast_to(np.asarray(gas_temperature_k, dtype=np.float64), l_bg.shape))
    return table.temperature(l_bg + (l_gas - l_bg) * a)
