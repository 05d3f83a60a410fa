"""The plume simulator's physics and outputs."""

from __future__ import annotations

import numpy as np
import pytest

from gasguard.vision.sim import random_scene, simulate_clip
from gasguard.vision.sim.plume import METHANE_MOLAR_MASS_G, MOLAR_VOLUME_M3, PlumeParams, PuffPlume
from gasguard.vision.sim.radiometry import RadianceTable, absorptance, apparent_temperature, band_radiance


def test_band_radiance_rises_with_temperature_and_inverts() -> None:
    temps = np.array([250.0, 290.0, 300.0, 350.0])
    rad = band_radiance(temps)
    assert np.all(np.diff(rad) > 0)
    table = RadianceTable.build()
    assert np.allclose(table.temperature(table.radiance(temps)), temps, atol=0.01)


def test_gas_is_dark_against_warmer_background_bright_against_sky_invisible_at_equal_temperature() -> None:
    table = RadianceTable.build()
    column = np.array([2000.0])
    gas_t = 290.0
    warm = apparent_temperature(table, np.array([300.0]), gas_t, column)[0]
    sky = apparent_temperature(table, np.array([250.0]), gas_t, column)[0]
    same = apparent_temperature(table, np.array([290.0]), gas_t, column)[0]
    assert warm < 300.0 and sky > 250.0
    assert same == pytest.approx(290.0, abs=1e-3)
    # Contrast follows (B(T_bg) - B(T_gas)) * (1 - exp(-alpha * CL)): twice the absorptance ~ twice the contrast.
    a1, a2 = absorptance(np.array([500.0]))[0], absorptance(np.array([1000.0]))[0]
    d1 = 300.0 - apparent_temperature(table, np.array([300.0]), gas_t, np.array([500.0]))[0]
    d2 = 300.0 - apparent_temperature(table, np.array([300.0]), gas_t, np.array([1000.0]))[0]
    assert d2 / d1 == pytest.approx(a2 / a1, rel=0.02)


def test_column_density_integrates_to_released_mass() -> None:
    plume = PuffPlume(
        PlumeParams(source_xy_m=(5.0, 5.0), rate_g_s=2.0, wind_xy_m_s=(0.5, 0.0)), np.random.default_rng(0)
    )
    for _ in range(15):  # 1 s at 15 fps
        plume.step(1 / 15)
    pixel = 0.02
    column = plume.column(500, 500, pixel)  # 10 m x 10 m, the whole plume
    litres_ppm = column.sum() * pixel**2  # ppm * m^3
    grams = litres_ppm / 1e6 / MOLAR_VOLUME_M3 * METHANE_MOLAR_MASS_G
    assert grams == pytest.approx(2.0, rel=0.02)


def test_no_leak_scene_has_empty_masks_and_noise_at_netd() -> None:
    params = random_scene(np.random.default_rng(3), 3, leak_probability=0.0, frames=6, netd_k=0.05)
    clip = simulate_clip(params)
    assert params.leak_rate_g_s == 0.0
    assert not clip.mask.any() and not clip.frame_leak.any()
    # Frame-to-frame differences of a static scene are temporal noise, std = sqrt(2) * NETD; a robust
    # estimate (1.4826 * median absolute deviation) ignores the few pixels a walking person changed.
    diff = np.diff(clip.temperature_k, axis=0)
    assert 1.4826 * np.median(np.abs(diff)) == pytest.approx(np.sqrt(2) * 0.05, rel=0.05)


def test_leak_scene_is_deterministic_and_labelled() -> None:
    params = random_scene(
        np.random.default_rng(0),
        11,
        leak_probability=1.0,
        frames=6,
        leak_rate_g_s=3.0,
        distance_m=6.0,
        wind_speed_m_s=1.0,
        gas_temperature_delta_k=-8.0,
        onset_frame=0,
    )
    a, b = simulate_clip(params), simulate_clip(params)
    assert np.array_equal(a.temperature_k, b.temperature_k) and np.array_equal(a.mask, b.mask)
    assert a.frame_leak.all()
    assert a.labels["leak_rate_g_s"] == 3.0 and a.labels["distance_m"] == 6.0 and a.labels["wind_speed_m_s"] == 1.0
    assert a.labels["frame_leak"] == [True] * 6
    grey, colour, raw = a.grey(), a.colour(), a.radiometric()
    assert grey.shape == (6, 120, 160) and grey.dtype == np.uint8
    assert colour.shape == (6, 120, 160, 3)
    assert raw.dtype == np.uint16 and abs(int(raw[0, 0, 0]) - round(float(a.temperature_k[0, 0, 0]) * 100)) <= 1


def test_mask_marks_pixels_whose_contrast_exceeds_the_noise_floor() -> None:
    params = random_scene(
        np.random.default_rng(0),
        11,
        leak_probability=1.0,
        frames=4,
        leak_rate_g_s=3.0,
        distance_m=6.0,
        gas_temperature_delta_k=-8.0,
        onset_frame=0,
        netd_k=0.02,
    )
    clip = simulate_clip(params)
    floor = clip.labels["noise_floor_k"]
    assert floor >= 2.5 * 0.02
    # Inside the mask the noisy frame departs from a gas-free rerun by more than the floor on average.
    clean = simulate_clip(
        random_scene(
            np.random.default_rng(0),
            11,
            leak_probability=1.0,
            frames=4,
            leak_rate_g_s=0.0,
            distance_m=6.0,
            gas_temperature_delta_k=-8.0,
            onset_frame=0,
            netd_k=0.02,
        )
    )
    assert not clean.mask.any()
