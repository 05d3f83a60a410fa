"""The camera loop: confirmation, signals, health, and carrying on through every kind of failure."""

from __future__ import annotations

import asyncio
import doctest
from collections.abc import Callable

import numpy as np
import pytest

from cameras.fakes import FakeClock, ScriptedDetector
from gasguard.cameras import Camera, CameraFrame, DetectingCamera, Grab, LeakConfirmer, SimulatedThermalCamera
from gasguard.cameras import base as camera_base
from gasguard.domain import MlSignal, MlSignalKind


class StillCamera(DetectingCamera):
    """A camera that always sees the same scene, with a live sensor's bit of noise (a picture that
    never changes at all is a frozen stream, a FAULT)."""

    def _grab(self) -> Grab:
        rng = np.random.default_rng(self._index)
        scene = np.add.outer(np.arange(24) * 4, np.arange(32) * 3) + 40
        picture = (scene + rng.integers(0, 3, scene.shape)).astype(np.uint8)
        return Grab(picture, picture)


def test_confirmer_doctest() -> None:
    assert doctest.testmod(camera_base, raise_on_error=True).attempted >= 1


def test_confirmer_needs_consecutive_leak_frames_and_then_repeats_at_most_every_period() -> None:
    c = LeakConfirmer(confirm_frames=3, signal_every_s=5.0)
    verdicts = [True, True, False, True, True, True, True, True, True, True, False, True, True, True]
    times = [float(t) for t in range(len(verdicts))]
    fired = [t for leak, t in zip(verdicts, times, strict=True) if c.observe(leak, t)]
    # 3 in a row first at t=5; again 5 s later at t=10 is a clear frame; the run from t=11 confirms at
    # t=13, which is 8 s after the last signal.
    assert fired == [5.0, 13.0]


@pytest.mark.parametrize(("frames", "every"), [(0, 5.0), (3, -1.0)])
def test_confirmer_refuses_bad_settings(frames: int, every: float) -> None:
    with pytest.raises(ValueError):
        LeakConfirmer(frames, every)


def test_cameras_satisfy_the_protocol() -> None:
    assert isinstance(StillCamera("c1", "kitchen", detector=ScriptedDetector([False])), Camera)
    assert isinstance(SimulatedThermalCamera("c2", "kitchen", detector=ScriptedDetector([False])), Camera)


def test_capture_records_the_frame_and_the_signal_names_zone_camera_and_score(clock: FakeClock) -> None:
    cam = StillCamera("kitchen-cam", "kitchen", "Kitchen hood", detector=ScriptedDetector([True]), clock=clock)
    signals = []
    for _ in range(3):
        frame = cam.capture()
        assert cam.latest() is frame
        signal = cam.observe(frame)
        if signal is not None:
            signals.append(signal)
        clock.advance(0.25)
    assert len(signals) == 1
    s = signals[0]
    assert (s.zone, s.kind, s.source, s.score) == ("kitchen", MlSignalKind.VISUAL_LEAK, "kitchen-cam", 0.9)
    assert "Kitchen hood" in s.detail and "3 consecutive frames" in s.detail
    assert frame.ts == clock.now - 0.25 and frame.leak is True
    assert frame.mask is not None and frame.mask.shape == (24, 32)


def test_health_is_down_before_the_first_picture_then_ok(clock: FakeClock) -> None:
    cam = StillCamera("c", "kitchen", detector=ScriptedDetector([False]), fps=4.0, clock=clock)
    h = cam.health()
    assert (h["status"], h["frames"], h["errors"], h["last_error"], h["fps"]) == ("down", 0, 0, None, 0.0)
    for _ in range(5):
        cam.capture()
        clock.advance(0.25)
    h = cam.health()
    assert (h["status"], h["frames"], h["errors"], h["fps"]) == ("ok", 5, 0, 4.0)
    clock.advance(60)  # the loop stopped delivering
    assert cam.health()["status"] == "down"


async def _run_until(
    cam: DetectingCamera,
    done: Callable[[], bool],
    on_signal: Callable[[MlSignal], None] | None = None,
    on_frame: Callable[[CameraFrame], None] | None = None,
) -> asyncio.Task[None]:
    """Run the camera's loop until ``done()``; returns the (still running) task, then cancels it."""
    task = asyncio.create_task(cam.run(on_signal or (lambda _s: None), on_frame))
    try:
        async with asyncio.timeout(30):
            while not done():
                assert not task.done(), "the camera loop ended"
                await asyncio.sleep(0.005)
        assert not task.done()
        return task
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


def test_a_detector_that_raises_degrades_health_and_the_loop_keeps_going(clock: FakeClock) -> None:
    detector = ScriptedDetector([RuntimeError("onnx session lost")])
    cam = SimulatedThermalCamera("kitchen-cam", "kitchen", fps=200.0, detector=detector, clock=clock)
    cam.error_pause_s = 0.001
    asyncio.run(_run_until(cam, lambda: detector.calls >= 5))
    h = cam.health()
    assert h["status"] == "degraded"
    assert h["errors"] >= 5 and h["frames"] == 0
    assert h["last_error"] == "detector: RuntimeError: onnx session lost"
    assert cam.latest() is None


def test_the_loop_recovers_when_the_detector_does(clock: FakeClock) -> None:
    detector = ScriptedDetector([RuntimeError("glitch"), RuntimeError("glitch"), False])
    cam = StillCamera("c", "kitchen", fps=200.0, detector=detector, clock=clock)
    cam.error_pause_s = 0.001
    asyncio.run(_run_until(cam, lambda: cam.health()["frames"] >= 3))
    h = cam.health()
    assert (h["status"], h["errors"]) == ("degraded", 2)  # errors stay visible for a while
    clock.advance(cam.degraded_hold_s + 1)
    cam.capture()
    assert cam.health()["status"] == "ok"


def test_a_non_finite_score_is_an_error_not_a_frame(clock: FakeClock) -> None:
    class NanDetector(ScriptedDetector):
        def process(self, frame: object, index: int | None = None):  # type: ignore[no-untyped-def]
            det = super().process(frame, index)
            return type(det)(float("nan"), True, det.mask, 0.0)

    cam = StillCamera("c", "kitchen", detector=NanDetector([True]), clock=clock)
    with pytest.raises(ValueError, match="non-finite leak score"):
        cam.capture()
    assert cam.latest() is None and cam.health()["errors"] == 1


def test_failing_callbacks_are_counted_and_the_loop_goes_on(clock: FakeClock) -> None:
    cam = StillCamera("c", "kitchen", fps=200.0, detector=ScriptedDetector([True]), clock=clock)
    frames: list[CameraFrame] = []

    def bad_signal(_s: MlSignal) -> None:
        raise RuntimeError("inbox full")

    def on_frame(frame: CameraFrame) -> None:
        frames.append(frame)
        clock.advance(1.0)
        raise RuntimeError("bus closed")

    asyncio.run(_run_until(cam, lambda: len(frames) >= 12, bad_signal, on_frame))
    h = cam.health()
    assert h["frames"] >= 12
    assert h["errors"] >= 12 + 2  # every frame callback, and signals at frame 3 and 5 s later
    assert h["last_error"] is not None and "RuntimeError" in h["last_error"]


def test_the_loop_signals_through_on_signal_and_reports_every_frame(clock: FakeClock) -> None:
    verdicts: list[bool | Exception] = [False, False, True, True, True, True, True]
    cam = StillCamera("c", "boiler", fps=200.0, detector=ScriptedDetector(verdicts), clock=clock)
    signals: list[MlSignal] = []
    frames: list[CameraFrame] = []

    def on_frame(frame: CameraFrame) -> None:
        frames.append(frame)
        if len(frames) < 12:
            clock.advance(1.0)  # then the clock stands still at 11 s, so no third signal can be due

    asyncio.run(_run_until(cam, lambda: len(frames) >= 12, signals.append, on_frame))
    # Leak from frame 3 (index 2); confirmed at index 4 (4 s); repeated 5 s later (9 s).
    leak_times = [f.ts for f in frames if f.leak]
    assert [s.zone for s in signals] == ["boiler"] * len(signals)
    assert [s.score for s in signals] == [0.9, 0.9]
    assert [t - frames[0].ts for t in leak_times[:1]] == [2.0]
    assert len(signals) == 2
    assert [f.leak for f in frames[:5]] == [False, False, True, True, True]
