"""The simulated thermal camera with the shipped plume model: a leak is seen, masked and signalled;
no leak, no signal; the scene follows the clock and ``speed``."""

from __future__ import annotations

import asyncio

import cv2
import numpy as np
import pytest

from cameras.fakes import FakeClock, ScriptedDetector
from gasguard.cameras import CameraFrame, LiveSceneParams, SimulatedThermalCamera
from gasguard.domain import MlSignal, MlSignalKind

FRAME_DT_S = 0.25  # 4 fps, the demo's rate


def _decode(data: bytes | None) -> np.ndarray:
    assert data is not None
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    assert img is not None
    return img


def test_a_leak_is_seen_masked_and_signalled_for_the_cameras_zone(clock: FakeClock) -> None:
    cam = SimulatedThermalCamera("kitchen-cam", "kitchen", "Kitchen range", seed=0, fps=200.0, clock=clock)
    signals: list[MlSignal] = []
    frames: list[CameraFrame] = []
    leak_from = 12  # frames of clear scene first, so the detector's running background settles

    def on_frame(frame: CameraFrame) -> None:
        frames.append(frame)
        if len(frames) == leak_from:
            cam.set_leak(1.0)
        clock.advance(FRAME_DT_S)

    async def scenario() -> None:
        task = asyncio.create_task(cam.run(signals.append, on_frame))
        try:
            async with asyncio.timeout(60):
                while not signals and len(frames) < leak_from + 40:
                    await asyncio.sleep(0.01)
        finally:
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task

    asyncio.run(scenario())
    assert signals, f"no VISUAL_LEAK within 40 frames; scores {[round(f.leak_score, 2) for f in frames]}"
    s = signals[0]
    assert (s.zone, s.kind, s.source) == ("kitchen", MlSignalKind.VISUAL_LEAK, "kitchen-cam")
    assert 0.5 <= s.score <= 1.0
    assert not any(f.leak for f in frames[:leak_from])  # nothing before the leak started
    seen = next(f for f in frames if f.leak)
    assert seen.mask is not None and seen.mask.any() and seen.mask_fraction > 0
    # What the dashboard shows: same size, and the plume tinted in the mask overlay.
    plain = _decode(seen.jpeg("none"))
    masked = _decode(seen.jpeg("mask"))
    assert plain.shape == (120, 160) and masked.shape == (120, 160, 3)
    tint = (masked[..., 0].astype(int) + masked[..., 2]) / 2 - masked[..., 1]
    assert tint[seen.mask].mean() > tint[~seen.mask].mean() + 40
    assert seen.jpeg("gradcam") is None  # no trained classifier ships


def test_no_leak_no_signal() -> None:
    for seed in (0, 3):
        cam = SimulatedThermalCamera("cam", "kitchen", seed=seed)
        frames = [cam.step(FRAME_DT_S) for _ in range(60)]
        signals = [s for s in map(cam.observe, frames) if s is not None]
        assert signals == [], f"seed {seed}: scores {[round(f.leak_score, 2) for f in frames]}"
        assert cam.visible_gas_pixels == 0


def test_after_the_leak_stops_the_gas_drifts_off_and_the_camera_clears() -> None:
    cam = SimulatedThermalCamera("cam", "kitchen", seed=0)
    for _ in range(8):
        cam.step(FRAME_DT_S)
    cam.set_leak(1.0)
    during = [cam.step(FRAME_DT_S) for _ in range(20)]
    assert cam.visible_gas_pixels > 500 and during[-1].leak
    cam.set_leak(0.0)
    visible_after = []
    for _ in range(60):  # 15 s of scene time
        last = cam.step(FRAME_DT_S)
        visible_after.append(cam.visible_gas_pixels)
    assert visible_after[-1] == 0
    assert last.leak is False


def test_the_scene_follows_the_clock_times_speed(clock: FakeClock) -> None:
    cam = SimulatedThermalCamera("cam", "kitchen", fps=4.0, detector=ScriptedDetector([False]), clock=clock)
    cam.capture()
    assert cam.scene.t_s == pytest.approx(0.25)  # the first frame advances one frame period
    clock.advance(1.0)
    cam.capture()
    assert cam.scene.t_s == pytest.approx(1.25)
    cam.speed = 10.0
    clock.advance(0.5)
    cam.capture()
    assert cam.scene.t_s == pytest.approx(6.25)
    cam.step(2.0)
    assert cam.scene.t_s == pytest.approx(8.25)
    assert cam.health()["scene_time_s"] == 8.25


def test_same_seed_same_scene_other_seed_other_scene() -> None:
    def first_picture(seed: int) -> np.ndarray:
        return SimulatedThermalCamera("c", "z", seed=seed, detector=ScriptedDetector([False])).step(0.25).image

    assert np.array_equal(first_picture(4), first_picture(4))
    assert not np.array_equal(first_picture(4), first_picture(5))


def test_colour_display_gives_a_colour_picture_and_the_detector_still_gets_grey() -> None:
    detector = ScriptedDetector([False])
    seen: list[tuple[int, ...]] = []
    original = detector.process

    def spy(frame: np.ndarray, index: int | None = None):  # type: ignore[no-untyped-def]
        seen.append(frame.shape)
        return original(frame, index)

    detector.process = spy  # type: ignore[method-assign]
    cam = SimulatedThermalCamera("c", "z", height=96, width=128, display="colour", detector=detector)
    frame = cam.step(0.25)
    assert frame.image.shape == (96, 128, 3)
    assert seen == [(96, 128)]
    assert _decode(frame.jpeg("none")).shape == (96, 128, 3)


def test_distractors_are_opt_in() -> None:
    plain = SimulatedThermalCamera("c", "z", seed=1, detector=ScriptedDetector([False]))
    busy = SimulatedThermalCamera(
        "c", "z", seed=1, detector=ScriptedDetector([False]), scene=LiveSceneParams(people=True, steam=True)
    )
    assert plain.scene.background.people == [] and plain.scene.background.vents == []
    assert len(busy.scene.background.people) + len(busy.scene.background.vents) > 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"fps": 0.0}, "fps must be positive"),
        ({"display": "sepia"}, "display must be"),
        ({"height": 8}, "at least 16x16"),
        ({"speed": 0.0}, "speed must be a positive number"),
    ],
)
def test_bad_settings_are_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SimulatedThermalCamera("c", "z", detector=ScriptedDetector([False]), **kwargs)  # type: ignore[arg-type]


def test_bad_leak_rates_and_steps_are_refused() -> None:
    cam = SimulatedThermalCamera("c", "z", detector=ScriptedDetector([False]))
    for rate in (-1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="leak rate"):
            cam.set_leak(rate)
    with pytest.raises(ValueError, match="dt_s"):
        cam.step(-0.1)
    assert cam.leak_rate_g_s == 0.0


def test_the_scene_step_holds_blas_to_one_thread_and_gives_it_back() -> None:
    threadpoolctl = pytest.importorskip("threadpoolctl")
    from gasguard.cameras.scene import single_threaded_blas

    def blas_threads() -> list[int]:
        return [i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]

    before = blas_threads()
    with single_threaded_blas():
        assert set(blas_threads()) <= {1}
    assert blas_threads() == before
