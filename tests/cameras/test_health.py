"""Camera FAULTs from the picture: frozen, blank, blocked lens, moved camera; a faulty camera never signals."""

from __future__ import annotations

import numpy as np

from cameras.fakes import FakeClock, ScriptedDetector
from gasguard.cameras import DetectingCamera, Grab
from gasguard.cameras.health import ReferenceLearner, SceneWatch


def _scene(shift: int = 0, seed: int = 0) -> np.ndarray:
    """A plant-like picture: panels and pipes, with sensor noise."""
    rng = np.random.default_rng(seed)
    img = np.full((120, 160), 90.0)
    img[30:36, :] = 200  # a hot pipe
    img[:, 50:56] = 160
    img[70:110, 90:140] = 60  # a cold tank
    img = np.roll(img, shift, axis=1)
    return np.clip(img + rng.normal(0, 1.5, img.shape), 0, 255).astype(np.uint8)


def _commissioned_watch() -> SceneWatch:
    learner = ReferenceLearner()
    for i in range(8):
        learner.add(_scene(seed=i))
    watch = SceneWatch()
    watch.reference = learner.finish()
    return watch


def _feed(watch: SceneWatch, pictures: list[np.ndarray], start: float = 0.0, dt: float = 0.25) -> list:
    return [watch.observe(p, start + i * dt) for i, p in enumerate(pictures)]


def test_a_live_scene_has_no_fault() -> None:
    watch = _commissioned_watch()
    assert _feed(watch, [_scene(seed=100 + i) for i in range(80)]) == [None] * 80


def test_a_frozen_stream_is_a_fault_after_five_seconds() -> None:
    watch = SceneWatch()
    still = _scene()
    faults = _feed(watch, [still] * 30)
    assert faults[:20] == [None] * 20  # 19 repeats = 4.75 s
    assert faults[21] is not None and faults[21].kind == "frozen" and "frozen stream" in faults[21].detail
    assert watch.observe(_scene(seed=5), 8.0) is None  # a new picture clears it


def test_a_blank_picture_is_a_fault() -> None:
    watch = SceneWatch()
    rng = np.random.default_rng(0)
    black = [rng.integers(0, 2, (120, 160)).astype(np.uint8) for _ in range(20)]
    fault = _feed(watch, black)[-1]
    assert fault is not None and fault.kind == "blank" and "black" in fault.detail


def test_a_blocked_lens_loses_the_detail_of_the_commissioned_scene() -> None:
    watch = _commissioned_watch()
    rng = np.random.default_rng(1)
    # A hand or tape over the lens: a smooth, dim picture with sensor noise, not black.
    covered = [
        np.clip(70 + np.linspace(0, 10, 160)[None, :] + rng.normal(0, 1.5, (120, 160)), 0, 255).astype(np.uint8)
        for _ in range(30)
    ]
    faults = _feed(watch, covered)
    assert faults[19] is None  # it must hold for 5 s: a person walking past the lens is no fault
    assert faults[-1] is not None and faults[-1].kind == "blocked" and "blocked lens" in faults[-1].detail


def test_a_camera_that_moved_no_longer_matches_its_commissioned_scene() -> None:
    watch = _commissioned_watch()
    moved = [_scene(shift=12, seed=200 + i) for i in range(50)]
    faults = _feed(watch, moved)
    assert faults[30] is None  # 7.5 s: not yet (a passing lorry is no fault)
    assert faults[-1] is not None and faults[-1].kind == "moved" and "re-commission" in faults[-1].detail
    assert watch.last["shift_px"] > 2


class PictureCamera(DetectingCamera):
    """Shows whatever pictures the test queues (the last one again when the queue is empty)."""

    def __init__(self, pictures: list[np.ndarray], **kw) -> None:  # type: ignore[no-untyped-def]
        super().__init__("cam", "kitchen", "Kitchen", **kw)
        self.pictures = pictures

    def _grab(self) -> Grab:
        picture = self.pictures.pop(0) if len(self.pictures) > 1 else self.pictures[0]
        return Grab(picture, picture)


def test_a_faulty_camera_is_shown_but_never_signals_and_health_says_why(clock: FakeClock) -> None:
    frozen = _scene()
    cam = PictureCamera([frozen], detector=ScriptedDetector([True]), clock=clock, fps=4.0)
    signals, frames = [], []
    for _ in range(40):  # 10 s of a frozen picture the detector calls "leak"
        frame = cam.capture()
        frames.append(frame)
        if (s := cam.observe(frame)) is not None:
            signals.append(s)
        clock.advance(0.25)
    # Before the fault holds (5 s) the plume is confirmed as usual; afterwards nothing is signalled.
    assert len(signals) == 1 and frames[2].confirmed
    assert frames[-1].fault == "frozen" and frames[-1].caption().startswith("FAULT frozen")
    h = cam.health()
    assert h["status"] == "down" and h["fault"]["kind"] == "frozen" and h["detail"].startswith("FAULT")
    clock.advance(0.25)
    cam.pictures = [_scene(seed=9)]
    assert cam.capture().fault is None and cam.health()["fault"] is None
