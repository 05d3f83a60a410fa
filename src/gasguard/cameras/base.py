"""What every camera does: grab, detect, confirm, signal, report health, and never crash.

A camera is an advisory input to the safety core. It may ask for an EARLIER trip (a ``VISUAL_LEAK``
``MlSignal``) once its detector has seen a plume on several consecutive frames; it can never delay or
clear one. So every failure here (a lost stream, a detector that raises, a callback that throws) is
logged and shown in ``health()``, and the loop carries on after a pause.

Concrete cameras implement only ``_grab`` (one picture, blocking) and may override the pause after an
error; the loop, the detector call in a worker thread, the confirmation rule and the health report
live here once.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from gasguard.cameras.frame import CameraFrame, GradCamFn
from gasguard.domain import MlSignal, MlSignalKind

log = logging.getLogger(__name__)

HealthStatus = Literal["ok", "degraded", "down"]


@runtime_checkable
class Camera(Protocol):
    """A camera watching one zone: its latest analysed frame, a loop that runs for ever, its health."""

    id: str
    zone: str
    name: str

    def latest(self) -> CameraFrame | None: ...

    async def run(
        self,
        on_signal: Callable[[MlSignal], None],
        on_frame: Callable[[CameraFrame], None] | None = None,
    ) -> None: ...

    def health(self) -> dict[str, Any]: ...


class DetectionLike(Protocol):
    @property
    def leak_score(self) -> float: ...
    @property
    def leak(self) -> bool: ...
    @property
    def mask(self) -> NDArray[np.bool_]: ...
    @property
    def mask_fraction(self) -> float: ...


class PlumeDetectorLike(Protocol):
    """``gasguard.vision.detector.PlumeDetector`` or anything with the same ``process``."""

    def process(self, frame: Any, index: int | None = None) -> DetectionLike: ...


class LeakConfirmer:
    """Turns per-frame leak verdicts into rare, confirmed signals.

    One noisy frame must not trip a zone, so a plume has to be seen on ``confirm_frames`` consecutive
    frames; while it persists the signal is repeated at most once per ``signal_every_s`` seconds (the
    safety core latches a trip, so repeating is only a heartbeat, not a new decision).

    >>> c = LeakConfirmer(confirm_frames=2, signal_every_s=5.0)
    >>> [c.observe(leak, now) for leak, now in [(True, 0), (True, 1), (True, 2), (True, 6), (False, 7)]]
    [False, True, False, True, False]
    """

    def __init__(self, confirm_frames: int = 3, signal_every_s: float = 5.0) -> None:
        if confirm_frames < 1:
            raise ValueError(f"confirm_frames must be at least 1, got {confirm_frames}")
        if signal_every_s < 0:
            raise ValueError(f"signal_every_s must not be negative, got {signal_every_s}")
        self.confirm_frames = confirm_frames
        self.signal_every_s = signal_every_s
        self.consecutive = 0
        self.last_signal: float | None = None

    def observe(self, leak: bool, now: float) -> bool:
        """Feed one frame's verdict; True when a signal is due now."""
        self.consecutive = self.consecutive + 1 if leak else 0
        if self.consecutive < self.confirm_frames:
            return False
        if self.last_signal is not None and now - self.last_signal < self.signal_every_s:
            return False
        self.last_signal = now
        return True


@dataclass(frozen=True)
class Grab:
    """One picture as a camera delivered it, and the greyscale the detector should see."""

    picture: NDArray[np.uint8]
    detector_input: NDArray[Any]


class CameraError(RuntimeError):
    """The camera could not deliver a picture (not connected, stream lost, end of a file)."""


class DetectingCamera:
    """Base of every camera: the capture loop, plume detection, confirmation and health.

    Subclasses implement ``_grab``. ``capture()`` does one grab + detect synchronously (the loop runs it
    in a worker thread with ``asyncio.to_thread``; tests may call it directly).
    """

    #: Pause after an error before the next attempt, seconds (subclasses may back off further).
    error_pause_s = 1.0
    #: An error is still shown as "degraded" for this long after it happened, seconds.
    degraded_hold_s = 30.0

    def __init__(
        self,
        id: str,
        zone: str,
        name: str = "",
        *,
        fps: float = 4.0,
        detector: PlumeDetectorLike | None = None,
        confirm_frames: int = 3,
        signal_every_s: float = 5.0,
        gradcam: GradCamFn | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not id or not zone:
            raise ValueError("a camera needs a non-empty id and zone")
        if not fps > 0:
            raise ValueError(f"fps must be positive, got {fps}")
        self.id = id
        self.zone = zone
        self.name = name or id
        self.fps = float(fps)
        self.clock = clock
        self.confirmer = LeakConfirmer(confirm_frames, signal_every_s)
        self.gradcam = gradcam
        self._detector = detector
        self._latest: CameraFrame | None = None
        self._capture_lock = threading.RLock()  # re-entrant: subclasses wrap capture() in it
        self._frames = 0
        self._errors = 0
        self._consecutive_errors = 0
        self._last_error: str | None = None
        self._last_error_at: float | None = None
        self._last_grab_at: float | None = None
        self._frame_times: deque[float] = deque(maxlen=20)
        self._index = 0

    # ------------------------------------------------------------------ subclass hooks

    def _grab(self) -> Grab:
        """Deliver one picture (blocking); raise ``CameraError`` (or anything) when there is none."""
        raise NotImplementedError

    def _connected(self) -> bool:
        """Whether the picture source is connected at all (False: health is "down")."""
        return True

    def _pause_after_error(self) -> float:
        return self.error_pause_s

    def _health_extra(self) -> dict[str, Any]:
        return {}

    # ------------------------------------------------------------------ the detector

    @property
    def detector(self) -> PlumeDetectorLike:
        """The plume detector; the shipped model is loaded on first use (in the worker thread)."""
        if self._detector is None:
            from gasguard.vision.detector import PlumeDetector

            self._detector = PlumeDetector()
        return self._detector

    # ------------------------------------------------------------------ one frame

    def latest(self) -> CameraFrame | None:
        return self._latest

    def capture(self) -> CameraFrame:
        """Grab one picture and run the detector on it (blocking). Records the frame or the error."""
        with self._capture_lock:
            try:
                grab = self._grab()
            except Exception as exc:
                self._record_error(exc, "grab")
                raise
            self._last_grab_at = self.clock()
            try:
                det = self.detector.process(grab.detector_input, index=self._index)
                score = float(det.leak_score)
                if not np.isfinite(score):
                    raise ValueError(f"detector returned a non-finite leak score {score!r}")
                frame = CameraFrame(
                    ts=self._last_grab_at,
                    leak_score=min(1.0, max(0.0, score)),
                    leak=bool(det.leak),
                    mask_fraction=float(det.mask_fraction),
                    image=grab.picture,
                    mask=self._mask_at(det.mask, grab.picture),
                    gradcam=self.gradcam,
                )
            except Exception as exc:
                self._record_error(exc, "detector")
                raise
            self._index += 1
            self._frames += 1
            self._consecutive_errors = 0
            self._frame_times.append(frame.ts)
            self._latest = frame
            return frame

    @staticmethod
    def _mask_at(mask: NDArray[np.bool_], picture: NDArray[np.uint8]) -> NDArray[np.bool_] | None:
        import cv2

        mask = np.asarray(mask, dtype=bool)
        if mask.shape == picture.shape[:2]:
            return mask
        if mask.ndim != 2 or mask.size == 0:
            return None
        size = (picture.shape[1], picture.shape[0])
        return np.asarray(cv2.resize(mask.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST) > 0)

    def _record_error(self, exc: BaseException, stage: str) -> None:
        self._errors += 1
        self._consecutive_errors += 1
        self._last_error = f"{stage}: {type(exc).__name__}: {exc}"[:300]
        self._last_error_at = self.clock()
        if self._consecutive_errors == 1 or self._consecutive_errors % 100 == 0:
            log.warning("camera %s %s failed (%d in a row): %s", self.id, stage, self._consecutive_errors, exc)

    def observe(self, frame: CameraFrame) -> MlSignal | None:
        """Feed a captured frame to the confirmation rule; the signal to send, if one is due."""
        if not self.confirmer.observe(frame.leak, frame.ts):
            return None
        return MlSignal(
            zone=self.zone,
            kind=MlSignalKind.VISUAL_LEAK,
            source=self.id,
            score=frame.leak_score,
            detail=(
                f"{self.name}: plume on {self.confirmer.consecutive} consecutive frames, "
                f"{frame.mask_fraction:.1%} of the view, leak score {frame.leak_score:.2f}"
            ),
        )

    # ------------------------------------------------------------------ the loop

    async def run(
        self,
        on_signal: Callable[[MlSignal], None],
        on_frame: Callable[[CameraFrame], None] | None = None,
    ) -> None:
        """Capture at ``fps`` for ever. Grabbing and detection run in a worker thread so the event loop
        never blocks; errors are logged, counted and followed by a pause; only cancellation stops it."""
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            try:
                frame = await asyncio.to_thread(self.capture)
            except Exception:
                await asyncio.sleep(self._pause_after_error())
                continue
            signal = self.observe(frame)
            if signal is not None:
                log.info("camera %s confirms a plume in zone %s (score %.2f)", self.id, self.zone, signal.score)
                self._deliver(on_signal, signal, "on_signal")
            if on_frame is not None:
                self._deliver(on_frame, frame, "on_frame")
            await asyncio.sleep(max(0.0, 1.0 / self.fps - (loop.time() - started)))

    def _deliver(self, callback: Callable[[Any], None], value: Any, what: str) -> None:
        try:
            callback(value)
        except Exception as exc:
            self._record_error(exc, what)
            log.exception("camera %s: %s callback failed", self.id, what)

    # ------------------------------------------------------------------ health

    def measured_fps(self) -> float:
        times = self._frame_times
        if len(times) < 2 or times[-1] <= times[0]:
            return 0.0
        return (len(times) - 1) / (times[-1] - times[0])

    def health(self) -> dict[str, Any]:
        """``{"status": "ok|degraded|down", "fps", "frames", "errors", "last_error", ...}``.

        down: the source is disconnected or has delivered no picture recently; degraded: an error
        (grab, detector, callback) within the last ``degraded_hold_s`` seconds; ok otherwise.
        """
        now = self.clock()
        stale_after = max(10.0, 5.0 / self.fps)
        status: HealthStatus
        if not self._connected():
            status, detail = "down", "not connected"
        elif self._last_grab_at is None:
            status, detail = "down", "no picture yet"
        elif now - self._last_grab_at > stale_after:
            status, detail = "down", f"no picture for {now - self._last_grab_at:.0f} s"
        elif self._last_error_at is not None and now - self._last_error_at <= self.degraded_hold_s:
            status, detail = "degraded", "recent errors"
        else:
            status, detail = "ok", "running"
        latest = self._latest
        return {
            "status": status,
            "detail": detail,
            "fps": round(self.measured_fps(), 2),
            "frames": self._frames,
            "errors": self._errors,
            "last_error": self._last_error,
            "last_frame_ts": latest.ts if latest is not None else None,
            "leak_score": round(latest.leak_score, 4) if latest is not None else None,
            "gradcam": self.gradcam is not None,
            **self._health_extra(),
        }
