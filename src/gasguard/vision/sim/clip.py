"""Short simulated clips from a fixed camera, with per-pixel ground truth and physical labels.

The ground-truth mask marks pixels where the plume's contrast exceeds the camera's noise floor:
``|T_with_gas - T_without_gas| > k * sqrt(NETD^2 + q^2 / 12)``, with ``q`` the temperature step of one
grey level of the delivered 8-bit frame. So the mask is "where a camera could see gas", not "where
there is any gas": a plume against a background at the gas temperature is, correctly, not marked.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from gasguard.vision.sim.background import make_background, render_distractors
from gasguard.vision.sim.plume import PlumeParams, PuffPlume, TurbulenceTexture
from gasguard.vision.sim.radiometry import METHANE_ALPHA_PER_PPM_M, RadianceTable, apparent_temperature
from gasguard.vision.sim.render import display_range, to_colour, to_grey, to_radiometric_u16
from gasguard.vision.sim.shift import SceneShift, ShiftRenderer, compress, display

FloatArray = NDArray[np.float64]

_TABLE: RadianceTable | None = None


def _table() -> RadianceTable:
    global _TABLE
    if _TABLE is None:
        _TABLE = RadianceTable.build()
    return _TABLE


@dataclass(frozen=True)
class SceneParams:
    """Everything that defines one clip; ``random_scene`` draws these from broad ranges."""

    seed: int
    height: int = 120
    width: int = 160
    frames: int = 16
    fps: float = 15.0
    leak_rate_g_s: float = 1.0
    distance_m: float = 10.0
    wind_speed_m_s: float = 2.0
    wind_direction_deg: float = 0.0  # in the image plane: 0 = to the right, 90 = up
    air_temperature_k: float = 293.0
    gas_temperature_delta_k: float = -2.0  # expanding gas cools (Joule-Thomson)
    netd_k: float = 0.03
    horizontal_fov_deg: float = 24.0
    onset_frame: int = 0  # frame at which the leak starts (0: already developed when the clip starts)
    alpha_per_ppm_m: float = METHANE_ALPHA_PER_PPM_M
    turbulence_intensity: float = 0.25
    threshold_k_sigma: float = 2.5
    min_mask_pixels: int = 12  # a frame with fewer visible-gas pixels is labelled "no leak"
    white_hot: bool = True
    min_people: int = 0  # force at least this many people walking through the view
    min_steam_vents: int = 0  # force at least this many steam vents in the view
    shift: SceneShift | None = None  # held-out camera and scene changes (evaluation only, never training)


@dataclass
class Clip:
    """Frames as brightness temperature (noisy, kelvin), ground-truth masks, labels, display span."""

    params: SceneParams
    temperature_k: NDArray[np.float32]
    mask: NDArray[np.bool_]
    span: tuple[float, float]
    labels: dict[str, Any] = field(default_factory=dict)

    @property
    def frame_leak(self) -> NDArray[np.bool_]:
        return np.asarray(self.mask.reshape(len(self.mask), -1).sum(axis=1) >= self.params.min_mask_pixels)

    def grey(self) -> NDArray[np.uint8]:
        """``[T, H, W]`` 8-bit greyscale OGI frames (with the scene's display shift and compression)."""
        shift = self.params.shift
        if shift is None:
            return to_grey(self.temperature_k.astype(np.float64), self.span, self.params.white_hot)
        lo, hi = self.span
        g = np.clip((self.temperature_k.astype(np.float64) - lo) / (hi - lo), 0, 1)
        if not self.params.white_hot:
            g = 1 - g
        return compress(np.round(display(g, shift) * 255).astype(np.uint8), shift)

    def colour(self, palette: str = "rainbow") -> NDArray[np.uint8]:
        """``[T, H, W, 3]`` RGB colour-mapped thermal frames."""
        return to_colour(self.temperature_k.astype(np.float64), self.span, palette)

    def radiometric(self) -> NDArray[np.uint16]:
        """``[T, H, W]`` 16-bit radiometric counts (centikelvin)."""
        return to_radiometric_u16(self.temperature_k.astype(np.float64))


def _blur3(img: FloatArray) -> FloatArray:
    """3x3 box blur with edge replication: the camera's optical point-spread function."""
    p = np.pad(img, 1, mode="edge")
    h, w = img.shape
    return np.asarray(sum(p[dy : dy + h, dx : dx + w] for dy in range(3) for dx in range(3)) / 9.0)


def random_scene(rng: np.random.Generator, seed: int, leak_probability: float = 0.6, **overrides: Any) -> SceneParams:
    """Draw a scene from the ranges the model is meant to cover."""
    leak = rng.random() < leak_probability
    frames = int(overrides.get("frames", 16))
    values: dict[str, Any] = {
        "seed": seed,
        "leak_rate_g_s": float(np.exp(rng.uniform(np.log(0.3), np.log(5.0)))) if leak else 0.0,
        "distance_m": float(rng.uniform(3.0, 20.0)),
        "wind_speed_m_s": float(np.exp(rng.uniform(np.log(0.3), np.log(6.0)))),
        "wind_direction_deg": float(rng.uniform(0, 360)),
        "air_temperature_k": float(rng.uniform(268.0, 310.0)),
        "gas_temperature_delta_k": float(rng.uniform(-10.0, 0.0)),
        "netd_k": float(rng.uniform(0.015, 0.08)),
        "horizontal_fov_deg": float(rng.choice([14.5, 24.0, 45.0])),
        "onset_frame": int(rng.integers(1, frames)) if (leak and rng.random() < 0.25) else 0,
        "turbulence_intensity": float(rng.uniform(0.1, 0.4)),
        "white_hot": bool(rng.random() < 0.7),
    }
    values.update(overrides)
    return SceneParams(**values)


def simulate_clip(params: SceneParams, warmup_s: float = 5.0) -> Clip:
    """Run the scene and return the clip. Deterministic for a given ``params.seed``."""
    rng = np.random.default_rng(params.seed)
    h, w = params.height, params.width
    table = _table()
    bg = make_background(rng, h, w, params.air_temperature_k, params.min_people, params.min_steam_vents)
    pixel_m = 2 * params.distance_m * np.tan(np.radians(params.horizontal_fov_deg) / 2) / w
    shifted = (
        ShiftRenderer(params.shift, params.seed, bg, pixel_m, params.netd_k, params.fps)
        if params.shift is not None
        else None
    )
    extent = (w * pixel_m, h * pixel_m)
    if bg.leak_points:
        sx, sy = bg.leak_points[int(rng.integers(len(bg.leak_points)))]
    else:
        sx, sy = rng.uniform(0.2, 0.8) * w, rng.uniform(0.3, 0.9) * h
    direction = np.radians(params.wind_direction_deg)
    wind = (params.wind_speed_m_s * np.cos(direction), -params.wind_speed_m_s * np.sin(direction))
    plume = PuffPlume(
        PlumeParams(
            source_xy_m=(sx * pixel_m, sy * pixel_m),
            rate_g_s=params.leak_rate_g_s,
            wind_xy_m_s=wind,
            turbulence_intensity=params.turbulence_intensity,
        ),
        rng,
    )
    texture = TurbulenceTexture(rng, h, w, strength=0.8)
    dt = 1.0 / params.fps
    if params.onset_frame == 0:
        for _ in range(int(warmup_s * params.fps)):
            plume.step(dt, emitting=True)
            plume.prune(extent)
    t_gas = params.air_temperature_k + params.gas_temperature_delta_k
    fixed_pattern = rng.normal(0, 0.5 * params.netd_k, (h, w))
    span = display_range(bg.temperature_k if shifted is None else shifted.static)
    q = (span[1] - span[0]) / 255.0
    noise_k = params.netd_k
    if shifted is not None:  # a display gain below 1 makes one grey level a bigger step; JPEG adds noise
        q /= shifted.s.display_gain
        noise_k = shifted.s.temporal_noise_k(params.netd_k)
        noise_k = float(np.hypot(noise_k, shifted.s.compression_noise_k(shifted.static, span, params.white_hot)))
    floor = params.threshold_k_sigma * float(np.sqrt(noise_k**2 + q**2 / 12.0))
    temps = np.empty((params.frames, h, w), dtype=np.float32)
    masks = np.empty((params.frames, h, w), dtype=bool)
    wind_px = (wind[0] / pixel_m, wind[1] / pixel_m)
    peak_column = 0.0
    for i in range(params.frames):
        t = i * dt
        emitting = i >= params.onset_frame
        plume.step(dt, emitting=emitting)
        plume.prune(extent)
        texture.step(dt, wind_px)
        base = bg.temperature_k if shifted is None else shifted.base(t)
        background = render_distractors(bg, base, t, dt, rng)
        if shifted is not None:
            background = shifted.over_scene(background, t, dt)
        column = plume.column(h, w, pixel_m) * texture.sample() if params.leak_rate_g_s > 0 else np.zeros((h, w))
        peak_column = max(peak_column, float(column.max()))
        # The lens blurs scene and gas alike (a 3x3 point-spread function); the mask is taken after it.
        background = _blur3(background)
        clean = apparent_temperature(table, background, t_gas, _blur3(column), params.alpha_per_ppm_m)
        if shifted is not None:  # a swaying camera moves scene and gas alike
            clean, background = shifted.move([clean, background], *shifted.offset_px(t))
        masks[i] = np.abs(clean - background) > floor
        temps[i] = clean + fixed_pattern + rng.normal(0, params.netd_k, (h, w))
        if shifted is not None:
            temps[i] += shifted.sensor()
    clip = Clip(params, temps, masks, span)
    clip.labels = {
        **{k: v for k, v in asdict(params).items() if k != "seed"},
        "seed": params.seed,
        "leak": bool(params.leak_rate_g_s > 0),
        "pixel_m": float(pixel_m),
        "source_px": [float(sx), float(sy)],
        "noise_floor_k": floor,
        "peak_column_ppm_m": peak_column,
        "frame_leak": clip.frame_leak.tolist(),
    }
    return clip
