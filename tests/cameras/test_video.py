"""VideoCamera on real files written with OpenCV: frames, looping, lost streams, missing files."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import ClassVar

import cv2
import numpy as np
import pytest

from cameras.fakes import FakeClock, ScriptedDetector
from gasguard.cameras import CameraError, VideoCamera
from gasguard.cameras.video import capture_target, is_live, redact


def _write_video(path: Path, frames: int, height: int = 96, width: int = 128, fps: float = 8.0) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (width, height))
    assert writer.isOpened(), "OpenCV cannot write MJPG/AVI here"
    for i in range(frames):
        img = np.full((height, width, 3), 40, np.uint8)
        cv2.circle(img, (10 + i * 7 % (width - 20), height // 2), 8, (200, 200, 200), -1)
        img[0, 0] = (0, 0, 255) if i % 2 else (255, 0, 0)  # a colour pixel: this is a colour video
        writer.write(img)
    writer.release()
    return path


def test_frames_from_a_video_file_have_its_size_and_encode(tmp_path: Path, clock: FakeClock) -> None:
    video = _write_video(tmp_path / "cam.avi", frames=6)
    cam = VideoCamera("door-cam", "boiler", str(video), fps=8.0, detector=ScriptedDetector([False]), clock=clock)
    assert cam.health()["status"] == "down"
    frame = cam.capture()
    assert frame.image.shape == (96, 128, 3)
    jpeg = frame.jpeg("none")
    assert jpeg is not None
    assert cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_UNCHANGED).shape == (96, 128, 3)
    h = cam.health()
    assert (h["status"], h["frames"], h["connects"], h["live"]) == ("ok", 1, 1, False)


def test_the_detector_gets_greyscale(tmp_path: Path) -> None:
    video = _write_video(tmp_path / "cam.avi", frames=3)
    detector = ScriptedDetector([False])
    shapes: list[tuple[int, ...]] = []
    original = detector.process

    def spy(frame: np.ndarray, index: int | None = None):  # type: ignore[no-untyped-def]
        shapes.append(frame.shape)
        return original(frame, index)

    detector.process = spy  # type: ignore[method-assign]
    VideoCamera("c", "z", str(video), detector=detector).capture()
    assert shapes == [(96, 128)]


def test_the_shipped_detector_runs_on_a_video_file(tmp_path: Path) -> None:
    video = _write_video(tmp_path / "cam.avi", frames=4)
    cam = VideoCamera("c", "z", str(video), fps=8.0)
    frame = cam.capture()
    assert 0.0 <= frame.leak_score <= 1.0 and frame.mask_fraction >= 0.0


def test_a_file_loops_at_its_end(tmp_path: Path) -> None:
    video = _write_video(tmp_path / "cam.avi", frames=5)
    cam = VideoCamera("c", "z", str(video), fps=8.0, detector=ScriptedDetector([False]))
    for _ in range(12):
        cam.capture()
    h = cam.health()
    assert (h["frames"], h["errors"], h["connects"]) == (12, 0, 1)


def test_a_file_plays_at_its_own_rate(tmp_path: Path) -> None:
    # 24 fps file, camera at 4 fps: every 6th frame, so 24 frames last 4 captures.
    video = _write_video(tmp_path / "cam.avi", frames=24, fps=24.0)
    cam = VideoCamera("c", "z", str(video), fps=4.0, loop_file=False, detector=ScriptedDetector([False]))
    for _ in range(4):
        cam.capture()
    with pytest.raises(CameraError, match="end of video file"):
        cam.capture()


def test_end_of_stream_disconnects_then_reconnects(tmp_path: Path, clock: FakeClock) -> None:
    video = _write_video(tmp_path / "cam.avi", frames=2)
    cam = VideoCamera("c", "z", str(video), fps=8.0, loop_file=False, detector=ScriptedDetector([False]), clock=clock)
    cam.capture()
    cam.capture()
    with pytest.raises(CameraError, match="end of video file"):
        cam.capture()
    h = cam.health()
    assert (h["status"], h["detail"], h["errors"]) == ("down", "not connected", 1)
    cam.capture()  # the next attempt opens the source again
    h = cam.health()
    assert (h["status"], h["connects"]) == ("degraded", 2)


def test_a_missing_file_is_down_retried_with_backoff_and_never_crashes(tmp_path: Path) -> None:
    cam = VideoCamera(
        "c", "z", str(tmp_path / "nope.avi"), detector=ScriptedDetector([False]), reconnect_s=(0.001, 0.004)
    )

    async def scenario() -> list[float]:
        task = asyncio.create_task(cam.run(lambda _s: None))
        try:
            async with asyncio.timeout(30):
                while cam.health()["errors"] < 4:
                    assert not task.done()
                    await asyncio.sleep(0.005)
            assert not task.done()
        finally:
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        return [cam._pause_after_error() for _ in range(3)]

    pauses = asyncio.run(scenario())
    h = cam.health()
    assert (h["status"], h["frames"], h["connects"]) == ("down", 0, 0)
    assert h["last_error"].startswith("grab: CameraError: no such video file")
    assert pauses == [0.004, 0.004, 0.004]  # doubled from 1 ms up to the 4 ms ceiling
    assert cam.latest() is None


def test_big_pictures_are_downsized_for_the_dashboard(tmp_path: Path) -> None:
    video = _write_video(tmp_path / "big.avi", frames=2, height=480, width=1280)
    frame = VideoCamera("c", "z", str(video), max_width=640, detector=ScriptedDetector([False])).capture()
    assert frame.image.shape == (240, 640, 3)


def test_backoff_doubles_from_the_first_delay() -> None:
    cam = VideoCamera("c", "z", "rtsp://10.0.0.9/stream", detector=ScriptedDetector([False]), reconnect_s=(1, 8))
    assert [cam._pause_after_error() for _ in range(6)] == [1, 2, 4, 8, 8, 8]


@pytest.mark.parametrize(
    ("source", "target", "live"),
    [
        (0, 0, True),
        ("2", 2, True),
        ("usb:1", 1, True),
        ("/dev/video0", "/dev/video0", True),
        ("rtsp://cam.local:554/stream1", "rtsp://cam.local:554/stream1", True),
        ("http://cam.local/mjpeg", "http://cam.local/mjpeg", True),
        ("recordings/kitchen.mp4", "recordings/kitchen.mp4", False),
    ],
)
def test_sources_are_understood(source: str | int, target: str | int, live: bool) -> None:
    assert capture_target(source) == target
    assert is_live(capture_target(source)) is live


def test_bad_sources_are_refused() -> None:
    for bad in ("", "   ", -1):
        with pytest.raises(ValueError):
            capture_target(bad)


def test_credentials_never_reach_health_or_errors() -> None:
    assert redact("rtsp://admin:s3cret@10.0.0.9:554/live") == "rtsp://***@10.0.0.9:554/live"
    assert redact("rtsp://10.0.0.9/live") == "rtsp://10.0.0.9/live"
    cam = VideoCamera("c", "z", "rtsp://admin:s3cret@10.0.0.9/live", detector=ScriptedDetector([False]))
    assert "s3cret" not in str(cam.health())


class FakeStream:
    """Stands in for ``cv2.VideoCapture`` on an RTSP URL: delivers 3 pictures, then drops."""

    opened: ClassVar[list[tuple[object, ...]]] = []

    def __init__(self, *args: object) -> None:
        FakeStream.opened.append(args)
        self.left = 3
        self.released = False

    def isOpened(self) -> bool:
        return True

    def set(self, prop: int, value: float) -> bool:
        return True

    def grab(self) -> bool:
        if self.left <= 0:
            return False
        self.left -= 1
        return True

    def retrieve(self) -> tuple[bool, np.ndarray]:
        return True, np.full((48, 64), 90, np.uint8)

    def release(self) -> None:
        self.released = True


def test_a_dropped_live_stream_goes_down_and_comes_back(monkeypatch: pytest.MonkeyPatch, clock: FakeClock) -> None:
    FakeStream.opened = []
    monkeypatch.setattr(cv2, "VideoCapture", FakeStream)
    url = "rtsp://viewer:pw@10.0.0.9/live"
    cam = VideoCamera("c", "z", url, fps=4.0, detector=ScriptedDetector([False]), clock=clock)
    frame = cam.capture()  # the fake answers every grab at once, so one capture drains all 3 buffered frames
    assert frame.image.shape == (48, 64)
    with pytest.raises(CameraError, match="stream lost"):
        cam.capture()
    assert cam.health()["status"] == "down"
    cam.capture()
    assert len(FakeStream.opened) == 2 and FakeStream.opened[0][0] == url
    assert cam.health()["connects"] == 2
