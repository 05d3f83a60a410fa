"""Camera and scene shifts for held-out evaluation: how a real site differs from the training scenes.

The plume model was trained on ``simulate_clip`` scenes with the augmentations of
``seg_data.augment_clip``. A real camera brings things it never saw: another gain and offset,
much more or much less noise, fixed-pattern noise and banding, heavy video compression, a sky whose
clouds drift, heat shimmer, a steam plume, people lingering in view, a camera that sways on its
mast, plumes far away. ``SceneShift`` describes any mix of these, ``simulate_clip`` renders it, and
``gasguard.vision.shift_eval`` measures the detector on sets of such scenes.

The plain training splits pass no shift. The ``train_shift`` split (``vision.train_shifts``) draws the
same kinds of shift from other ranges and seeds than the held-out sets, so those stay unseen. Every
random draw a shift makes comes from its own generator, so a clip without a shift is bit for bit what
it was before.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from gasguard.vision.sim.background import Background, Person
from gasguard.vision.sim.noise import fractal_noise
from gasguard.vision.sim.plume import PlumeParams, PuffPlume

FloatArray = NDArray[np.float64]

#: Seed of a shift's own random generator: ``[scene seed, SHIFT_STREAM]``.
SHIFT_STREAM = 0x5E1F7


@dataclass(frozen=True)
class SceneShift:
    """What a held-out scene changes; the defaults change nothing.

    Display: ``display_gain`` scales the delivered 8-bit picture's contrast around mid-grey (an AGC
    set wider or narrower than the simulator's), ``display_offset`` moves its brightness (fraction
    of full scale), ``jpeg_quality`` compresses every frame. Sensor: ``fixed_pattern_k`` (static
    per-pixel offsets), ``column_banding_k`` (static column offsets) and ``row_noise_k`` (row offsets
    drawn anew each frame, as microbolometer row noise), all standard deviations in kelvin. Scene:
    ``clouds`` paints an outdoor sky above a horizon with clouds drifting at ``cloud_speed_px_s``;
    ``shimmer_px`` displaces the background by a turbulent field of that amplitude (heat shimmer);
    ``steam_plume`` adds a continuous, turbulent steam plume from a vent; ``people`` puts that many
    people in view, walking slowly. Camera: ``camera_motion_px`` sways the whole view (scene and
    gas) by about that many pixels.
    """

    display_gain: float = 1.0
    display_offset: float = 0.0
    jpeg_quality: int | None = None
    fixed_pattern_k: float = 0.0
    column_banding_k: float = 0.0
    row_noise_k: float = 0.0
    clouds: bool = False
    cloud_speed_px_s: float = 1.0
    shimmer_px: float = 0.0
    steam_plume: bool = False
    people: int = 0
    camera_motion_px: float = 0.0

    def __post_init__(self) -> None:
        if not self.display_gain > 0:
            raise ValueError(f"display_gain must be positive, got {self.display_gain!r}")
        if self.jpeg_quality is not None and not 1 <= self.jpeg_quality <= 100:
            raise ValueError(f"jpeg_quality must be 1..100, got {self.jpeg_quality!r}")
        for name in ("fixed_pattern_k", "column_banding_k", "row_noise_k", "shimmer_px", "camera_motion_px"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative, got {getattr(self, name)!r}")
        if self.people < 0:
            raise ValueError(f"people must not be negative, got {self.people!r}")

    @property
    def moves_scene(self) -> bool:
        return self.clouds or self.shimmer_px > 0 or self.steam_plume

    def temporal_noise_k(self, netd_k: float) -> float:
        """Temporal noise a viewer fights to see gas: NETD and row noise."""
        return math.sqrt(netd_k**2 + self.row_noise_k**2)

    def compression_noise_k(self, scene_k: NDArray[np.float64], span: tuple[float, float], white_hot: bool) -> float:
        """RMS error the JPEG compression adds to this scene, in kelvin (0 without compression).

        Compression hides faint gas as noise does, so the ground truth's visibility floor counts it.
        """
        if self.jpeg_quality is None:
            return 0.0
        lo, hi = span
        g = np.clip((scene_k - lo) / (hi - lo), 0, 1)
        if not white_hot:
            g = 1 - g
        grey = np.round(display(g, self) * 255).astype(np.uint8)
        error = compress(grey, self).astype(np.float64) - grey
        return float(np.sqrt(np.mean(error**2))) * (hi - lo) / 255.0 / self.display_gain


def display(grey01: NDArray[np.float64], shift: SceneShift | None) -> NDArray[np.float64]:
    """Apply a shift's display gain and offset to 0..1 grey (clipped to 0..1)."""
    if shift is None or (shift.display_gain == 1.0 and shift.display_offset == 0.0):
        return grey01
    return np.asarray(np.clip((grey01 - 0.5) * shift.display_gain + 0.5 + shift.display_offset, 0.0, 1.0))


def compress(grey: NDArray[np.uint8], shift: SceneShift | None) -> NDArray[np.uint8]:
    """JPEG-compress every frame of ``[..., H, W]`` 8-bit grey at the shift's quality (if any)."""
    if shift is None or shift.jpeg_quality is None:
        return grey
    import cv2

    flat = grey.reshape(-1, *grey.shape[-2:])
    out = np.empty_like(flat)
    for i, frame in enumerate(flat):
        ok, buf = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, int(shift.jpeg_quality)])
        decoded = cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE) if ok else None
        out[i] = frame if decoded is None else decoded
    return out.reshape(grey.shape)


class ShiftRenderer:
    """The state of one clip's shift: sky and clouds, steam plume, shimmer field, sway, sensor pattern."""

    def __init__(
        self,
        shift: SceneShift,
        seed: int,
        bg: Background,
        pixel_m: float,
        netd_k: float,
        fps: float,
    ) -> None:
        self.s = shift
        self.rng = np.random.default_rng([seed, SHIFT_STREAM])
        rng = self.rng
        h, w = bg.temperature_k.shape
        self.h, self.w = h, w
        self.bg = bg
        yy = np.mgrid[0:h, 0:w][0].astype(np.float64)
        self.horizon: float | None = None
        self.static = bg.temperature_k.copy()
        if shift.clouds:
            t_air = bg.air_temperature_k
            self.horizon = float(rng.uniform(0.3, 0.5) * h)
            t_zenith = t_air - rng.uniform(25, 50)
            self.clear_sky = t_zenith + (t_air - 4 - t_zenith) * np.clip(yy / max(self.horizon, 1), 0, 1) ** 1.5
            self.cloud_delta = float(rng.uniform(10, 25))  # clouds are warmer than the clear sky
            self.cloud_field = fractal_noise(rng, h, 4 * w, base_cells=2, octaves=4, persistence=0.55)
            self.cloud_cut = float(rng.uniform(-0.3, 0.4))
            self.sky_rows = yy < self.horizon
            # A leak comes from plant equipment, not from the sky.
            below = [(x, y) for x, y in bg.leak_points if y > self.horizon + 3]
            bg.leak_points[:] = below or [
                (float(rng.uniform(0.2, 0.8) * w), float(rng.uniform(self.horizon + 5, h - 3)))
            ]
            self.static = np.where(self.sky_rows, self._sky(0.0), self.static)
        if shift.people:
            bg.people[:] = [
                Person(
                    x=float(rng.uniform(0, w)),
                    y_feet=float(rng.uniform(0.7, 1.0) * h),
                    height_px=float(rng.uniform(0.3, 0.8) * h),
                    speed_px_s=float(rng.choice([-1, 1]) * rng.uniform(0.02, 0.08) * w),
                    temperature_k=float(rng.uniform(300, 307)),
                )
                for _ in range(shift.people)
            ]
        self.steam: PuffPlume | None = None
        if shift.steam_plume:
            vx, vy = float(rng.uniform(0.15, 0.85) * w), float(rng.uniform(0.55, 0.95) * h)
            self.steam_temperature_k = bg.air_temperature_k + float(rng.uniform(6, 20))
            self.steam_opacity_per_unit = float(rng.uniform(0.5, 1.5)) / 2000.0
            self.steam_pixel_m = pixel_m
            self.steam = PuffPlume(
                PlumeParams(
                    source_xy_m=(vx * pixel_m, vy * pixel_m),
                    rate_g_s=float(rng.uniform(1.0, 4.0)),
                    wind_xy_m_s=(float(rng.uniform(-0.6, 0.6)), float(-rng.uniform(0.3, 1.0))),
                    turbulence_intensity=0.35,
                    buoyancy_m_s=0.6,
                ),
                rng,
            )
            for _ in range(int(4 * fps)):  # the vent has been steaming before the clip starts
                self.steam.step(1.0 / fps)
                self.steam.prune((w * pixel_m, h * pixel_m))
        if shift.shimmer_px > 0:
            self.shimmer = (
                fractal_noise(rng, 2 * h, 2 * w, base_cells=8, octaves=3, persistence=0.5),
                fractal_noise(rng, 2 * h, 2 * w, base_cells=8, octaves=3, persistence=0.5),
            )
            # Strongest low in the view (above hot ground and equipment), fading upwards.
            self.shimmer_weight = (0.35 + 0.65 * (yy / max(h - 1, 1))).astype(np.float32)
            self.shimmer_speed = float(rng.uniform(15, 30))  # px/s, rising air
        if shift.camera_motion_px > 0:
            self.sway = [
                (float(rng.uniform(0.1, 0.4)), float(rng.uniform(0, 2 * np.pi)), float(rng.uniform(0.5, 1.0)))
                for _ in range(2)
            ]
        self.pattern = np.zeros((h, w))
        if shift.fixed_pattern_k > 0:
            self.pattern += rng.normal(0, shift.fixed_pattern_k, (h, w))
        if shift.column_banding_k > 0:
            self.pattern += rng.normal(0, shift.column_banding_k, (1, w))
        self.netd_k = netd_k

    # ------------------------------------------------------------------ scene

    def _sky(self, t_s: float) -> FloatArray:
        offset = (self.s.cloud_speed_px_s * t_s) % (self.cloud_field.shape[1] - self.w - 1)
        i0 = int(offset)
        frac = offset - i0
        field = (1 - frac) * self.cloud_field[:, i0 : i0 + self.w] + frac * self.cloud_field[
            :, i0 + 1 : i0 + 1 + self.w
        ]
        cover = np.clip((field - self.cloud_cut) * 1.5, 0.0, 1.0)
        return np.asarray(self.clear_sky + self.cloud_delta * cover)

    def base(self, t_s: float) -> FloatArray:
        """The static scene at time ``t_s`` (the sky's clouds move)."""
        if self.horizon is None:
            return self.static
        return np.asarray(np.where(self.sky_rows, self._sky(t_s), self.static))

    def over_scene(self, scene: FloatArray, t_s: float, dt_s: float) -> FloatArray:
        """Steam drawn over the scene, then the heat shimmer that displaces what is behind it."""
        if self.steam is not None:
            self.steam.step(dt_s)
            self.steam.prune((self.w * self.steam_pixel_m, self.h * self.steam_pixel_m))
            column = self.steam.column(self.h, self.w, self.steam_pixel_m)
            opacity = 0.9 * -np.expm1(-self.steam_opacity_per_unit * column)
            scene = scene + (self.steam_temperature_k - scene) * opacity
        if self.s.shimmer_px > 0:
            import cv2

            rise = int(self.shimmer_speed * t_s) % self.h
            sx = self.shimmer[0][rise : rise + self.h, : self.w]
            sy = self.shimmer[1][rise : rise + self.h, self.w : 2 * self.w]
            amp = self.s.shimmer_px * self.shimmer_weight
            grid_y, grid_x = np.mgrid[0 : self.h, 0 : self.w].astype(np.float32)
            map_x = (grid_x + amp * sx.astype(np.float32)).astype(np.float32)
            map_y = (grid_y + amp * sy.astype(np.float32)).astype(np.float32)
            scene = np.asarray(
                cv2.remap(scene.astype(np.float32), map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT),
                dtype=np.float64,
            )
        return scene

    # ------------------------------------------------------------------ camera

    def offset_px(self, t_s: float) -> tuple[float, float]:
        """Where the swaying camera points at ``t_s``, pixels (0, 0) when it does not move."""
        if self.s.camera_motion_px <= 0:
            return 0.0, 0.0
        amp = self.s.camera_motion_px
        (fx, px, ax), (fy, py, ay) = self.sway
        jitter = self.rng.normal(0, 0.1 * amp, 2)
        return (
            float(amp * ax * math.sin(2 * math.pi * fx * t_s + px) + jitter[0]),
            float(amp * ay * math.sin(2 * math.pi * fy * t_s + py) + jitter[1]),
        )

    @staticmethod
    def move(images: list[FloatArray], dx: float, dy: float) -> list[FloatArray]:
        """Translate every image by ``(dx, dy)`` pixels (sub-pixel, edges replicated)."""
        if dx == 0.0 and dy == 0.0:
            return images
        import cv2

        m = np.array([[1.0, 0.0, dx], [0.0, 1.0, dy]], dtype=np.float64)
        out = []
        for img in images:
            h, w = img.shape
            moved = cv2.warpAffine(
                img.astype(np.float32), m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
            )
            out.append(np.asarray(moved, dtype=np.float64))
        return out

    def sensor(self) -> FloatArray:
        """Sensor pattern of one frame: the static pattern plus this frame's row noise (kelvin)."""
        if self.s.row_noise_k > 0:
            return self.pattern + self.rng.normal(0, self.s.row_noise_k, (self.h, 1))
        return self.pattern
