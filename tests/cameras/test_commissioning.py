"""A camera commissioned on its scene: learns, stores the scene with the camera, restores it, and a fault stops it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cameras.fakes import FakeClock, ScriptedDetector
from gasguard.cameras import Grab, SimulatedThermalCamera
from gasguard.cameras.base import CommissioningError
from gasguard.vision.detector import PlumeDetector


def _camera(clock: FakeClock, storage: Path, detector: PlumeDetector | None = None) -> SimulatedThermalCamera:
    cam = SimulatedThermalCamera("yard-cam", "kitchen", "Yard", seed=4, fps=4.0, detector=detector, clock=clock)
    cam.attach_storage(storage, zone_alarm=lambda: False)
    return cam


def _run(cam: SimulatedThermalCamera, clock: FakeClock, frames: int) -> list:
    out = []
    for _ in range(frames):
        clock.advance(0.25)
        frame = cam.step(0.25)
        out.append((frame, cam.observe(frame)))
    return out


def test_commissioning_learns_the_scene_stores_it_and_a_restart_restores_it(clock: FakeClock, tmp_path: Path) -> None:
    cam = _camera(clock, tmp_path)
    _run(cam, clock, 4)
    assert cam.commissioning()["state"] == "uncommissioned"
    state = cam.commission(frames=24, by="ada", reason="new camera, yard clear")
    assert state["state"] == "commissioning" and state["request"]["frames"] == 24
    learning = _run(cam, clock, 12)
    assert all(f.phase == "commissioning" and not f.leak and s is None for f, s in learning)
    assert 0.3 < cam.commissioning()["progress"] < 0.7
    _run(cam, clock, 20)
    done = cam.commissioning()
    assert done["state"] == "commissioned"
    assert done["record"]["by"] == "ada" and done["record"]["reason"] == "new camera, yard clear"
    stored = json.loads((tmp_path / "baseline.json").read_text())
    assert stored["camera"] == "yard-cam" and stored["model"].startswith("plume_seg.onnx:") and stored["scene"]
    # A leak is still seen against the learnt scene, and signalled.
    cam.set_leak(1.0)
    leak = _run(cam, clock, 24)
    assert any(s is not None for _, s in leak) and leak[-1][0].phase == "commissioned"

    again = _camera(FakeClock(clock.now), tmp_path)  # a restart: the scene comes back from the file
    assert again.commissioning()["state"] == "commissioned"
    assert again.commissioning()["record"]["by"] == "ada" and again.watch.reference is not None


def test_a_scene_learnt_with_another_model_is_not_used(clock: FakeClock, tmp_path: Path) -> None:
    cam = _camera(clock, tmp_path)
    cam.commission(frames=16, by="ada", reason="x")
    _run(cam, clock, 24)
    doc = json.loads((tmp_path / "baseline.json").read_text())
    doc["model"] = "plume_seg.onnx:000000000000"
    (tmp_path / "baseline.json").write_text(json.dumps(doc))
    again = _camera(FakeClock(clock.now), tmp_path)
    state = again.commissioning()
    assert state["state"] == "uncommissioned" and "commission the camera again" in state["note"]


def test_commissioning_needs_a_scene_model_and_sane_lengths(clock: FakeClock, tmp_path: Path) -> None:
    scripted = SimulatedThermalCamera("c", "kitchen", detector=ScriptedDetector([False]), clock=clock)
    with pytest.raises(CommissioningError, match="cannot learn a scene baseline"):
        scripted.commission(frames=100)
    cam = _camera(clock, tmp_path)
    with pytest.raises(CommissioningError, match="16 to"):
        cam.commission(frames=4)
    assert cam.commission(seconds=30)["request"]["frames"] == 120  # 30 s at 4 frames/s


def test_a_fault_stops_commissioning_and_holds_adaptation(clock: FakeClock, tmp_path: Path) -> None:
    cam = _camera(clock, tmp_path)
    cam.commission(frames=400, by="ada", reason="x")
    _run(cam, clock, 4)
    frozen = cam.scene.grey(cam.scene.advance(0.0))
    cam._grab = lambda: Grab(frozen, frozen)  # type: ignore[method-assign]
    _run(cam, clock, 30)  # 7.5 s of the same picture: frozen after 5 s
    state = cam.commissioning()
    assert state["state"] == "uncommissioned" and "commissioning stopped: camera fault" in state["note"]
    assert cam.health()["fault"]["kind"] == "frozen"
    assert cam.detector.hold_adaptation is True  # type: ignore[attr-defined]
