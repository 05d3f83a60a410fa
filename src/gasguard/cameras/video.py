"""A real camera or a recording through OpenCV: video files, RTSP/HTTP streams, USB cameras.

The source is opened (and re-opened) inside the capture worker thread, so a slow or dead stream
never blocks the event loop. A lost stream closes the capture, health goes "down", and the loop
retries with exponential backoff until the stream is back. A file plays at its own frame rate (frames
in between are skipped) and starts over at its end, so a recording can stand in for a live camera.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from gasguard.cameras.base import CameraError, DetectingCamera, Grab, PlumeDetectorLike
from gasguard.cameras.frame import GradCamFn

log = logging.getLogger(__name__)

LIVE_SCHEMES = {"rtsp", "rtsps", "http", "https", "rtmp", "udp", "tcp"}
MAX_DRAIN = 30
"""At most this many buffered frames are skipped per capture to get to the live edge of a stream."""


def capture_target(source: str | int) -> str | int:
    """What to hand to ``cv2.VideoCapture``: a device index for ``0``/``"0"``/``"usb:0"``, else the
    path or URL unchanged. Raises ``ValueError`` for an empty source."""
    if isinstance(source, int):
        if source < 0:
            raise ValueError(f"USB camera index must be >= 0, got {source}")
        return source
    spec = source.strip()
    if not spec:
        raise ValueError("camera source must not be empty")
    if spec.isdigit():
        return int(spec)
    if spec.lower().startswith("usb:") and spec[4:].isdigit():
        return int(spec[4:])
    return spec


def redact(source: str | int) -> str:
    """The source as it may be shown or logged: ``rtsp://user:secret@host`` -> ``rtsp://***@host``."""
    text = str(source)
    scheme, sep, rest = text.partition("://")
    if not sep or "@" not in rest.split("/", 1)[0]:
        return text
    return f"{scheme}://***@{rest.split('@', 1)[1]}"


def is_live(target: str | int) -> bool:
    """Streams and devices are live (stamped and drained); anything else is a file."""
    if isinstance(target, int):
        return True
    scheme = target.split("://", 1)[0].lower() if "://" in target else ""
    return scheme in LIVE_SCHEMES or target.startswith("/dev/video")


class VideoCamera(DetectingCamera):
    """A camera on anything OpenCV's ``VideoCapture`` opens. ``max_width`` downsizes big pictures
    (the detector works at 160x120 anyway; the dashboard does not need 4K JPEGs)."""

    def __init__(
        self,
        id: str,
        zone: str,
        source: str | int,
        name: str = "",
        *,
        fps: float = 4.0,
        detector: PlumeDetectorLike | None = None,
        loop_file: bool = True,
        max_width: int | None = 640,
        reconnect_s: tuple[float, float] = (1.0, 30.0),
        open_timeout_s: float = 10.0,
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
        if max_width is not None and max_width < 16:
            raise ValueError(f"max_width must be at least 16 pixels, got {max_width}")
        if not 0 < reconnect_s[0] <= reconnect_s[1]:
            raise ValueError(f"reconnect_s must be (first, longest) with 0 < first <= longest, got {reconnect_s}")
        self.source = source
        self.target = capture_target(source)
        self.live = is_live(self.target)
        self.loop_file = loop_file
        self.max_width = max_width
        self.reconnect_s = reconnect_s
        self.open_timeout_s = open_timeout_s
        self.connects = 0
        self._cap: Any = None
        self._file_step = 1
        self._failures_since_connect = 0

    # ------------------------------------------------------------------ the stream

    def _open(self) -> None:
        import cv2

        if not self.live and not Path(str(self.target)).exists():
            raise CameraError(f"no such video file: {self.target}")
        ms = int(self.open_timeout_s * 1000)
        cap = cv2.VideoCapture(
            self.target, cv2.CAP_ANY, [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, ms]
        )
        if not cap.isOpened():
            cap.release()
            raise CameraError(f"cannot open video source {redact(self.source)!r}")
        if self.live:
            cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # honoured by some backends only; draining covers the rest
            self._file_step = 1
        else:
            native = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
            self._file_step = max(1, round(native / self.fps)) if native > 0 else 1
        self._cap = cap
        self.connects += 1
        self._failures_since_connect = 0
        log.info("camera %s connected to %s", self.id, redact(self.source))

    def close(self) -> None:
        """Release the capture (the loop re-opens it on the next frame)."""
        if self._cap is not None:
            self._cap.release()
            self._cap = None

    def _read(self) -> NDArray[np.uint8] | None:
        cap = self._cap
        if self.live:
            grabbed = False
            for _ in range(MAX_DRAIN):  # skip what the backend buffered while we were busy
                started = time.monotonic()
                if not cap.grab():
                    if not grabbed:
                        return None
                    break  # the stream broke after the newest frame: show that one, notice next time
                grabbed = True
                if time.monotonic() - started > 0.5 / self.fps:
                    break  # that one had to wait for the camera: it is the newest
            ok, img = cap.retrieve()
            return img if ok else None
        for _ in range(self._file_step - 1):
            if not cap.grab():
                break
        ok, img = cap.read()
        if not ok and self.loop_file:
            import cv2

            cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, img = cap.read()
        return img if ok else None

    def _grab(self) -> Grab:
        import cv2

        if self._cap is None:
            self._open()
        img = self._read()
        if img is None:
            self.close()
            raise CameraError("stream lost" if self.live else f"end of video file {redact(self.source)}")
        img = np.asarray(img, dtype=np.uint8)
        if self.max_width is not None and img.shape[1] > self.max_width:
            height = max(1, round(img.shape[0] * self.max_width / img.shape[1]))
            img = np.asarray(cv2.resize(img, (self.max_width, height), interpolation=cv2.INTER_AREA), dtype=np.uint8)
        if img.ndim == 2:
            grey = img
        elif np.array_equal(img[..., 0], img[..., 1]) and np.array_equal(img[..., 1], img[..., 2]):
            img = grey = np.ascontiguousarray(img[..., 0])  # greyscale delivered as BGR, as OGI cameras do
        else:
            grey = np.asarray(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY), dtype=np.uint8)
        return Grab(picture=img, detector_input=grey)

    # ------------------------------------------------------------------ loop and health hooks

    def _connected(self) -> bool:
        return self._cap is not None

    def _pause_after_error(self) -> float:
        if self._cap is not None:
            return self.error_pause_s
        self._failures_since_connect += 1
        first, longest = self.reconnect_s
        return float(min(longest, first * 2 ** (self._failures_since_connect - 1)))

    def _health_extra(self) -> dict[str, Any]:
        return {"kind": "video", "source": redact(self.source), "live": self.live, "connects": self.connects}
