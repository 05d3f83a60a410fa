"""A continuous thermal scene for one fixed camera, built from the plume simulator's pieces.

``gasguard.vision.sim.simulate_clip`` makes short clips with a leak that is on for the whole clip.
A live camera needs the opposite: one scene that never ends, whose leak an operator (or a demo) turns
on and off. So this keeps one fixed background per camera (drawn once from its seed), one puff plume
whose source emits while the leak rate is above zero (and whose gas drifts off with the wind after it
stops), and renders each frame radiometrically (Beer-Lambert absorption in the methane band, lens
blur, fixed-pattern and NETD noise) the same way the training clips were rendered.

The physics runs at a fixed internal step (``PHYSICS_DT_S``, the clips' 15 Hz) however far a frame
advances, so a camera at 4 fps, or a demo at 10x speed, sees the same smooth plume.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from gasguard.vision.sim.background import make_background, render_distractors
from gasguard.vision.sim.plume import PlumeParams, PuffPlume, TurbulenceTexture
from gasguard.vision.sim.radiometry import METHANE_ALPHA_PER_PPM_M, RadianceTable, apparent_temperature
from gasguard.vision.sim.render import display_range, to_colour, to_grey

FloatArray = NDArray[np.float64]

PHYSICS_DT_S = 1.0 / 15.0
MAX_STEP_S = 5.0
"""A frame advances the scene by at most this much; after a long stall the scene skips ahead instead
of simulating minutes of plume at once in the capture thread."""

Display = Literal["grey", "colour"]


@cache
def _blas_controller() -> Any:
    try:
        from threadpoolctl import ThreadpoolController  # installed with scikit-learn
    except ImportError:  # pragma: no cover - scikit-learn is a core dependency
        return None
    return ThreadpoolController()


@contextlib.contextmanager
def single_threaded_blas() -> Iterator[None]:
    """Run the plume's small matrix products on one BLAS thread.

    The column-density image is one ~(120 x 300) @ (300 x 160) product per frame. Multi-threaded
    OpenBLAS spin-waits its helper threads for that, which on a busy 2-core box costs several times
    the CPU of a single thread (measured 12.6 ms vs 1.9 ms per frame). The limit is process-wide while
    it lasts, so it is held only around the scene step.
    """
    controller = _blas_controller()
    if controller is None:
        yield
        return
    with controller.limit(limits=1, user_api="blas"):
        yield


@dataclass(frozen=True)
class LiveSceneParams:
    """What a simulated camera looks at. Defaults: a methane leak 6 m away, indoor air, light draught.

    ``wind_direction_deg`` ``None`` draws one from the seed (0 = to the right, 90 = up). ``people`` and
    ``steam`` add the simulator's moving distractors (people walking by, a steam vent) where the seed's
    background has them. They are off by default because the shipped plume model mistakes them for gas
    on long runs (see the cameras README for the measured rates); turn them on to see that.
    """

    distance_m: float = 6.0
    horizontal_fov_deg: float = 24.0
    wind_speed_m_s: float = 1.0
    wind_direction_deg: float | None = None
    air_temperature_k: float = 295.0
    gas_temperature_delta_k: float = -8.0
    netd_k: float = 0.03
    turbulence_intensity: float = 0.25
    alpha_per_ppm_m: float = METHANE_ALPHA_PER_PPM_M
    threshold_k_sigma: float = 2.5
    white_hot: bool = True
    palette: str = "iron"
    people: bool = False
    steam: bool = False

    def __post_init__(self) -> None:
        for name in ("distance_m", "horizontal_fov_deg", "air_temperature_k", "netd_k"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)!r}")
        if self.wind_speed_m_s < 0:
            raise ValueError(f"wind_speed_m_s must not be negative, got {self.wind_speed_m_s!r}")


@dataclass(frozen=True)
class SceneFrame:
    """One rendered frame: brightness temperature (kelvin, noisy) and where gas is visible (truth)."""

    t_s: float
    temperature_k: NDArray[np.float32]
    visible_gas: NDArray[np.bool_]
    leak_rate_g_s: float


class LiveThermalScene:
    """One fixed camera's never-ending scene. Not thread-safe: one caller steps it at a time."""

    def __init__(self, seed: int = 0, height: int = 120, width: int = 160, params: LiveSceneParams | None = None):
        if height < 16 or width < 16:
            raise ValueError(f"frame must be at least 16x16, got {height}x{width}")
        self.params = p = params or LiveSceneParams()
        self.seed = seed
        self.height, self.width = height, width
        self.rng = np.random.default_rng(seed)
        self.table = RadianceTable.build()
        background = make_background(self.rng, height, width, p.air_temperature_k)
        self.background = dataclasses.replace(
            background,
            people=background.people if p.people else [],
            vents=background.vents if p.steam else [],
        )
        self.pixel_m = 2 * p.distance_m * math.tan(math.radians(p.horizontal_fov_deg) / 2) / width
        self.extent_m = (width * self.pixel_m, height * self.pixel_m)
        points = self.background.leak_points
        if points:
            sx, sy = points[int(self.rng.integers(len(points)))]
        else:
            sx, sy = self.rng.uniform(0.2, 0.8) * width, self.rng.uniform(0.3, 0.9) * height
        self.source_px = (float(sx), float(sy))
        direction = math.radians(
            p.wind_direction_deg if p.wind_direction_deg is not None else float(self.rng.uniform(0, 360))
        )
        self.wind_m_s = (p.wind_speed_m_s * math.cos(direction), -p.wind_speed_m_s * math.sin(direction))
        self.wind_px_s = (self.wind_m_s[0] / self.pixel_m, self.wind_m_s[1] / self.pixel_m)
        self.plume = PuffPlume(
            PlumeParams(
                source_xy_m=(sx * self.pixel_m, sy * self.pixel_m),
                rate_g_s=0.0,
                wind_xy_m_s=self.wind_m_s,
                turbulence_intensity=p.turbulence_intensity,
            ),
            self.rng,
        )
        self.texture = TurbulenceTexture(self.rng, height, width, strength=0.8)
        self.fixed_pattern = self.rng.normal(0, 0.5 * p.netd_k, (height, width))
        self.span = display_range(self.background.temperature_k)
        q = (self.span[1] - self.span[0]) / 255.0
        self.noise_floor_k = p.threshold_k_sigma * math.sqrt(p.netd_k**2 + q**2 / 12.0)
        self.t_s = 0.0

    @property
    def leak_rate_g_s(self) -> float:
        return float(self.plume.p.rate_g_s)

    def set_leak(self, rate_g_s: float) -> None:
        """Start (rate > 0), change or stop (0) the leak; gas already released drifts on."""
        rate = float(rate_g_s)
        if not math.isfinite(rate) or rate < 0:
            raise ValueError(f"leak rate must be a finite number >= 0 g/s, got {rate_g_s!r}")
        self.plume.p = dataclasses.replace(self.plume.p, rate_g_s=rate)

    def advance(self, dt_s: float) -> SceneFrame:
        """Move the scene on by ``dt_s`` seconds (capped at ``MAX_STEP_S``) and render a frame."""
        if not math.isfinite(dt_s) or dt_s < 0:
            raise ValueError(f"time step must be a finite number >= 0 s, got {dt_s!r}")
        dt_s = min(dt_s, MAX_STEP_S)
        steps = math.ceil(dt_s / PHYSICS_DT_S - 1e-9)
        emitting = self.leak_rate_g_s > 0
        for _ in range(steps):
            sub = dt_s / steps
            self.plume.step(sub, emitting=emitting)
            self.texture.step(sub, self.wind_px_s)
        self.plume.prune(self.extent_m)
        self.t_s += dt_s
        with single_threaded_blas():
            return self._render(max(dt_s, 1e-3))

    def _render(self, dt_s: float) -> SceneFrame:
        import cv2

        p, h, w = self.params, self.height, self.width
        scene = render_distractors(self.background, self.background.temperature_k, self.t_s, dt_s, self.rng)
        # The lens blurs scene and gas alike (3x3 point-spread function, as in the training clips).
        scene = np.asarray(cv2.blur(scene, (3, 3), borderType=cv2.BORDER_REPLICATE), dtype=np.float64)
        if self.plume.x.size:
            column = self.plume.column(h, w, self.pixel_m) * self.texture.sample()
            column = np.asarray(cv2.blur(column, (3, 3), borderType=cv2.BORDER_REPLICATE), dtype=np.float64)
            t_gas = p.air_temperature_k + p.gas_temperature_delta_k
            clean = apparent_temperature(self.table, scene, t_gas, column, p.alpha_per_ppm_m)
            visible = np.abs(clean - scene) > self.noise_floor_k
        else:
            clean, visible = scene, np.zeros((h, w), dtype=bool)
        noisy = clean + self.fixed_pattern + self.rng.normal(0, p.netd_k, (h, w))
        return SceneFrame(self.t_s, noisy.astype(np.float32), visible, self.leak_rate_g_s)

    def grey(self, frame: SceneFrame) -> NDArray[np.uint8]:
        """8-bit greyscale with the camera's fixed gain, as an OGI camera delivers it."""
        return to_grey(frame.temperature_k.astype(np.float64), self.span, self.params.white_hot)

    def colour(self, frame: SceneFrame) -> NDArray[np.uint8]:
        """Colour-mapped thermal picture, BGR (the OpenCV order every other source uses)."""
        rgb = to_colour(frame.temperature_k.astype(np.float64), self.span, self.params.palette)
        return np.ascontiguousarray(rgb[..., ::-1])
