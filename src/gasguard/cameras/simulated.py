"""A simulated thermal camera: a live scene from the plume simulator, watched by the shipped detector.

It lets the demo (and anyone without a thermal camera) see the whole camera path work: a leak turned
on with ``set_leak`` becomes a plume in the picture, the detector masks it, and after a few confirmed
frames the zone gets a ``VISUAL_LEAK`` signal. The scene runs on the camera's clock times ``speed``,
so a demo can run faster than real time; ``step(dt_s)`` advances it by an exact amount instead.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any, Literal

from gasguard.cameras.base import DetectingCamera, Grab, PlumeDetectorLike
from gasguard.cameras.frame import CameraFrame, GradCamFn
from gasguard.cameras.scene import LiveSceneParams, LiveThermalScene


class SimulatedThermalCamera(DetectingCamera):
    """A fixed thermal camera over a simulated scene (one background per ``seed``).

    ``display`` chooses what the picture looks like: ``grey`` (8-bit white-hot, as an OGI camera
    delivers) or ``colour`` (colour-mapped thermal). The detector always gets the greyscale frame,
    the way a radiometric camera's analytics see the raw data whatever palette the display uses.
    """

    def __init__(
        self,
        id: str,
        zone: str,
        name: str = "",
        *,
        seed: int = 0,
        fps: float = 4.0,
        height: int = 120,
        width: int = 160,
        detector: PlumeDetectorLike | None = None,
        display: Literal["grey", "colour"] = "grey",
        scene: LiveSceneParams | None = None,
        speed: float = 1.0,
        confirm_frames: int = 3,
        signal_every_s: float = 5.0,
        gradcam: GradCamFn | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(
            id,
            zone,
            name,
            fps=fps,
            detector=detector,
            confirm_frames=confirm_frames,
            signal_every_s=signal_every_s,
            gradcam=gradcam,
            clock=clock,
        )
        if display not in ("grey", "colour"):
            raise ValueError(f"display must be 'grey' or 'colour', got {display!r}")
        self.display = display
        self.scene = LiveThermalScene(seed, height, width, scene)
        self.speed = speed
        self.visible_gas_pixels = 0
        self._last_wall: float | None = None
        self._forced_dt: float | None = None

    @property
    def speed(self) -> float:
        """Scene seconds per second of the camera's clock (1: real time)."""
        return self._speed

    @speed.setter
    def speed(self, value: float) -> None:
        value = float(value)
        if not math.isfinite(value) or value <= 0:
            raise ValueError(f"speed must be a positive number, got {value!r}")
        self._speed = value

    @property
    def leak_rate_g_s(self) -> float:
        return self.scene.leak_rate_g_s

    def set_leak(self, rate_g_s: float) -> None:
        """Start (> 0 g/s), change or stop (0) the simulated leak; released gas drifts off afterwards."""
        self.scene.set_leak(rate_g_s)

    def step(self, dt_s: float | None = None) -> CameraFrame:
        """Advance the scene by ``dt_s`` scene seconds (default: the clock's time since the last frame
        times ``speed``), capture and detect. Blocking; raises what ``capture`` raises."""
        if dt_s is not None and (not math.isfinite(dt_s) or dt_s < 0):
            raise ValueError(f"dt_s must be a finite number >= 0, got {dt_s!r}")
        with self._capture_lock:
            self._forced_dt = dt_s
            try:
                return self.capture()
            finally:
                self._forced_dt = None

    def _grab(self) -> Grab:
        now = self.clock()
        if self._forced_dt is not None:
            dt = self._forced_dt
        elif self._last_wall is None:
            dt = self.speed / self.fps
        else:
            dt = max(0.0, now - self._last_wall) * self.speed
        self._last_wall = now
        frame = self.scene.advance(dt)
        self.visible_gas_pixels = int(frame.visible_gas.sum())
        grey = self.scene.grey(frame)
        picture = grey if self.display == "grey" else self.scene.colour(frame)
        return Grab(picture=picture, detector_input=grey)

    def _health_extra(self) -> dict[str, Any]:
        return {
            "kind": "simulated",
            "leak_rate_g_s": self.leak_rate_g_s,
            "scene_time_s": round(self.scene.t_s, 2),
            "speed": self.speed,
        }
