"""Evidence clips: 10 s before to 30 s after a leak signal, with the overlay, a snapshot, and retention."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from cameras.fakes import FakeClock, ScriptedDetector
from gasguard.cameras import DetectingCamera, Grab
from gasguard.cameras.clips import ClipRecorder, clip_file, list_clips


class NoisyCamera(DetectingCamera):
    def _grab(self) -> Grab:
        rng = np.random.default_rng(self._index)
        scene = np.add.outer(np.arange(60) * 2, np.arange(80)) + 30
        picture = (scene + rng.integers(0, 3, scene.shape)).astype(np.uint8)
        return Grab(picture, picture)


def _run(cam: DetectingCamera, clock: FakeClock, seconds: float) -> int:
    signals = 0
    for _ in range(round(seconds * cam.fps)):
        frame = cam.capture()
        signals += cam.observe(frame) is not None
        clock.advance(1 / cam.fps)
    return signals


def test_a_leak_signal_keeps_a_clip_from_10_s_before_to_30_s_after(clock: FakeClock, tmp_path: Path) -> None:
    # 20 s clear, then a plume for 4 s, then clear again.
    verdicts: list[bool | Exception] = [False] * 40 + [True] * 8 + [False] * 200
    cam = NoisyCamera("boiler-cam", "boiler", fps=2.0, detector=ScriptedDetector(verdicts), clock=clock)
    cam.attach_storage(tmp_path / "boiler-cam")
    assert _run(cam, clock, 30) == 1
    assert cam.recorder is not None and cam.recorder.recording is not None
    _run(cam, clock, 40)
    cam.recorder.flush()
    clips = cam.recorder.clips()
    assert len(clips) == 1
    meta = clips[0]
    signal_at = meta["triggered_at"]
    assert meta["camera"] == "boiler-cam" and meta["zone"] == "boiler" and meta["reasons"] == ["camera leak signal"]
    assert signal_at - meta["start_ts"] == 10.0 and meta["end_ts"] - signal_at == 30.0
    assert meta["frames"] == 81 and meta["max_leak_score"] == 0.9 and meta["codec"] in ("avc1", "mp4v", "MJPG")
    video, media = clip_file(tmp_path / "boiler-cam" / "clips", meta["id"], "video")  # type: ignore[misc]
    assert media in ("video/mp4", "video/x-msvideo") and video.stat().st_size == meta["bytes"] > 0
    cap = cv2.VideoCapture(str(video))
    ok, first = cap.read()
    assert ok and first.shape[1] == 640  # enlarged so the score label is readable
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 81
    snapshot, _ = clip_file(tmp_path / "boiler-cam" / "clips", meta["id"], "snapshot")  # type: ignore[misc]
    best = cv2.imread(str(snapshot))
    magenta = (best[..., 0].astype(int) + best[..., 2]) / 2 - best[..., 1]
    assert (magenta > 60).mean() > 0.03  # the snapshot is a leak frame with its plume tinted


def test_signals_during_a_recording_extend_it_up_to_its_longest(tmp_path: Path) -> None:
    clock = FakeClock(0.0)
    rec = ClipRecorder(tmp_path, "c", "z", fps=1.0, pre_s=2, post_s=5, max_s=12, background=False, clock=clock)
    first = rec.trigger(10.0, "camera leak signal")
    assert rec.trigger(14.0, "zone kitchen tripped") == first
    assert rec._active is not None and rec._active.until == 19.0
    rec.trigger(30.0, "camera leak signal")
    assert rec._active.until == 22.0 and rec._active.reasons == ["camera leak signal", "zone kitchen tripped"]


def test_retention_removes_old_clips_then_the_oldest_over_the_size_limit(tmp_path: Path) -> None:
    clock = FakeClock(100 * 86_400.0)
    rec = ClipRecorder(tmp_path, "c", "z", fps=1.0, retention_days=30, max_bytes=2500, background=False, clock=clock)
    for i, age_days in enumerate((40, 3, 2, 1)):
        ts = clock.now - age_days * 86_400
        clip_id = f"2026010{i}T000000Z-000"
        (tmp_path / clip_id).mkdir()
        (tmp_path / clip_id / "clip.mp4").write_bytes(b"x" * 1000)
        (tmp_path / clip_id / "clip.json").write_text(
            json.dumps({"id": clip_id, "triggered_at": ts, "video": "clip.mp4"})
        )
    removed = rec.enforce_retention()
    assert removed == ["20260100T000000Z-000", "20260101T000000Z-000"]  # 40 days old, then the oldest over 2.5 kB
    assert [c["id"] for c in list_clips(tmp_path)] == ["20260103T000000Z-000", "20260102T000000Z-000"]


def test_clip_files_are_only_found_inside_the_clip_folder(tmp_path: Path) -> None:
    assert clip_file(tmp_path, "../../etc/passwd", "video") is None
    assert clip_file(tmp_path, "20260101T000000Z-000", "video") is None
