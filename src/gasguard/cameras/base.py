"""What every camera does: grab, detect, confirm, signal, report health, and never crash.

A camera is an advisory input to the safety core. It may ask for an EARLIER trip (a ``VISUAL_LEAK``
``MlSignal``) once its detector has seen a plume on several consecutive frames; it can never delay or
clear one. So every failure here (a lost stream, a detector that raises, a callback that throws) is
logged and shown in ``health()``, and the loop carries on after a pause.

Concrete cameras implement only ``_grab`` (one picture, blocking) and may override the pause after an
error; the loop, the detector call in a worker thread, the confirmation rule and the health report
live here once. So do commissioning (the scene baseline a camera learns before it judges, stored
with the camera), the fault checks on the picture (``health.SceneWatch``: blocked, moved, frozen,
blank) and the evidence clips (``clips.ClipRecorder``).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from gasguard.cameras.clips import ClipRecorder
from gasguard.cameras.commissioning import SAVE_EVERY_S, StoredScene, load_scene, save_scene
from gasguard.cameras.frame import CameraFrame, GradCamFn, Phase
from gasguard.cameras.health import CameraFault, ReferenceLearner, SceneWatch
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


def _phase(value: object) -> Phase:
    if value == "commissioning":
        return "commissioning"
    return "commissioned" if value == "commissioned" else "uncommissioned"


class CommissioningError(RuntimeError):
    """Commissioning cannot start: the camera's detector has no scene baseline, or bad arguments."""


#: Default length of a commissioning run from the API, seconds of video.
DEFAULT_COMMISSION_S = 120.0
#: At most this many frames are learnt in one commissioning run.
MAX_COMMISSION_FRAMES = 20_000


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
        watch: SceneWatch | None = None,
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
        self.watch = watch if watch is not None else SceneWatch()
        self.fault: CameraFault | None = None
        self._pending: tuple[int, MlSignal] | None = None
        self.storage: Path | None = None
        self.recorder: ClipRecorder | None = None
        self._zone_alarm: Callable[[], bool] | None = None
        self._reference_learner: ReferenceLearner | None = None
        self._commission_request: dict[str, Any] | None = None
        self.commission_record: dict[str, Any] | None = None
        self.commission_note: str | None = None
        self._saved_at: float | None = None

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

    # ------------------------------------------------------------------ storage, clips, the zone

    def attach_storage(
        self,
        folder: Path,
        *,
        zone_alarm: Callable[[], bool] | None = None,
        clips: bool = True,
        clip_pre_s: float = 10.0,
        clip_post_s: float = 30.0,
        clip_retention_days: float = 30.0,
        clip_max_bytes: int = 2_000_000_000,
    ) -> None:
        """Keep this camera's commissioned scene and evidence clips in ``folder`` (the runtime passes
        ``<data_dir>/cameras/<id>``), load a stored scene, and learn whether the zone is in alarm."""
        self.storage = Path(folder)
        self._zone_alarm = zone_alarm
        if clips:
            self.recorder = ClipRecorder(
                self.storage / "clips",
                self.id,
                self.zone,
                fps=self.fps,
                pre_s=clip_pre_s,
                post_s=clip_post_s,
                retention_days=clip_retention_days,
                max_bytes=clip_max_bytes,
                clock=self.clock,
            )
        self._load_scene()

    def _load_scene(self) -> None:
        if self.storage is None or not (self.storage / "baseline.json").is_file():
            return
        det = self.detector
        model = getattr(det, "model_id", None)
        if model is None or not hasattr(det, "use_baseline"):
            return
        scene = load_scene(self.storage, camera_id=self.id, model=model)
        if scene is None:
            self.commission_note = "the stored scene baseline could not be used: commission the camera again"
            return
        with self._capture_lock:
            det.use_baseline(scene.baseline)
            self.watch.reference = scene.reference
            self.commission_record = scene.record
            self._saved_at = self.clock()
        log.info("camera %s: commissioned scene loaded (%s)", self.id, scene.record.get("commissioned_at"))

    def _zone_in_alarm(self) -> bool:
        if self._zone_alarm is None:
            return False
        try:
            return bool(self._zone_alarm())
        except Exception:
            return True  # not knowing is treated as in alarm: the baseline must not adapt

    def mark_event(self, reason: str, ts: float | None = None) -> str | None:
        """Keep an evidence clip around now (a zone trip, say); its id, or ``None`` without storage."""
        if self.recorder is None:
            return None
        return self.recorder.trigger(self.clock() if ts is None else ts, reason)

    # ------------------------------------------------------------------ commissioning

    @property
    def can_commission(self) -> bool:
        return hasattr(self.detector, "commission")

    def commission(
        self, *, frames: int | None = None, seconds: float | None = None, by: str = "", reason: str = ""
    ) -> dict[str, Any]:
        """Learn the scene from the next ``frames`` frames (or ``seconds`` of video, by default
        ``DEFAULT_COMMISSION_S``), which the operator confirms are clean. The camera raises no
        ``VISUAL_LEAK`` while it learns; afterwards it judges every frame against the scene."""
        det = self.detector
        if not hasattr(det, "commission"):
            raise CommissioningError(f"camera {self.id}: its detector cannot learn a scene baseline")
        if frames is None:
            frames = round((DEFAULT_COMMISSION_S if seconds is None else seconds) * self.fps)
        if not 16 <= frames <= MAX_COMMISSION_FRAMES:
            raise CommissioningError(f"a commissioning run takes 16 to {MAX_COMMISSION_FRAMES} frames, not {frames}")
        with self._capture_lock:
            det.commission(frames)
            self._reference_learner = ReferenceLearner()
            self._commission_request = {
                "requested_at": self.clock(),
                "by": by,
                "reason": reason,
                "frames": frames,
                "expected_s": round(frames / self.fps, 1),
            }
            self.commission_note = None
            self.confirmer.consecutive = 0
        log.info("camera %s: commissioning on the next %d frames (by %s: %s)", self.id, frames, by or "?", reason)
        return self.commissioning()

    def cancel_commissioning(self, why: str) -> None:
        with self._capture_lock:
            det: Any = self.detector
            if getattr(det, "phase", None) == "commissioning":
                det.cancel_commissioning()
                self.commission_note = f"commissioning stopped: {why}"
                log.warning("camera %s: commissioning stopped: %s", self.id, why)
            self._reference_learner = None
            self._commission_request = None

    def commissioning(self) -> dict[str, Any]:
        """Where this camera stands: uncommissioned, learning (progress), or commissioned (when, by whom)."""
        det = self._detector
        phase = getattr(det, "phase", "uncommissioned") if det is not None else "uncommissioned"
        learner = getattr(det, "learner", None)
        baseline = getattr(det, "baseline", None)
        out: dict[str, Any] = {
            "state": phase,
            "supported": det is None or hasattr(det, "commission"),
            "note": self.commission_note,
        }
        if phase == "commissioning" and learner is not None:
            out["progress"] = round(float(learner.progress), 3)
            out["request"] = self._commission_request
        if phase == "commissioned":
            out["record"] = self.commission_record
            if baseline is not None:
                out["adapted_frames"] = int(baseline.adapted_frames)
                out["drift"] = round(float(baseline.drift()), 4)
        return out

    def _commissioned(self, now: float) -> None:
        """A commissioning run just ended: keep its record and store the scene."""
        det: Any = self.detector
        request = self._commission_request or {}
        reference = self._reference_learner.finish() if self._reference_learner is not None else None
        self._reference_learner = None
        self._commission_request = None
        self.watch.reference = reference
        self.watch.reset()
        baseline = det.baseline
        self.commission_record = {
            "commissioned_at": now,
            "requested_at": request.get("requested_at"),
            "by": request.get("by", ""),
            "reason": request.get("reason", ""),
            "frames": int(baseline.frames),
            "threshold": round(float(baseline.threshold), 4),
            "model": getattr(det, "model_id", None),
        }
        log.info("camera %s: commissioned on %d frames", self.id, baseline.frames)
        self._save_scene(now)

    def _save_scene(self, now: float) -> None:
        det = self._detector
        baseline = getattr(det, "baseline", None)
        if self.storage is None or baseline is None or self.commission_record is None:
            return
        try:
            save_scene(
                self.storage,
                camera_id=self.id,
                model=str(getattr(det, "model_id", "")),
                scene=StoredScene(baseline, self.watch.reference, self.commission_record),
            )
            self._saved_at = now
        except Exception as exc:
            self._record_error(exc, "baseline save")

    # ------------------------------------------------------------------ one frame

    def latest(self) -> CameraFrame | None:
        return self._latest

    def capture(self) -> CameraFrame:
        """Grab one picture, check it for faults, run the detector and the confirmation rule on it
        (blocking). Records the frame (with everything said about it) or the error."""
        with self._capture_lock:
            try:
                grab = self._grab()
            except Exception as exc:
                self._record_error(exc, "grab")
                raise
            now = self._last_grab_at = self.clock()
            fault = self._check(grab, now)
            try:
                det_obj = self.detector
                learning = getattr(det_obj, "phase", None) == "commissioning"
                if learning and fault is not None:
                    self.cancel_commissioning(f"camera fault: {fault.detail}")
                    learning = False
                if hasattr(det_obj, "hold_adaptation"):
                    det_obj.hold_adaptation = fault is not None or self._zone_in_alarm()
                det = det_obj.process(grab.detector_input, index=self._index)
                score = float(det.leak_score)
                if not np.isfinite(score):
                    raise ValueError(f"detector returned a non-finite leak score {score!r}")
                phase = _phase(getattr(det, "phase", None))
                model_score = getattr(det, "model_score", None)
                leak = bool(det.leak)
                # A faulty picture is shown, never trusted: it cannot confirm a plume.
                signal = self._confirm(leak and fault is None, now, score, float(det.mask_fraction), phase)
                frame = CameraFrame(
                    ts=now,
                    leak_score=min(1.0, max(0.0, score)),
                    leak=leak,
                    mask_fraction=float(det.mask_fraction),
                    image=grab.picture,
                    mask=self._mask_at(det.mask, grab.picture),
                    gradcam=self.gradcam,
                    phase=phase,
                    model_score=None if model_score is None else float(model_score),
                    confirmed=self.confirmer.consecutive >= self.confirmer.confirm_frames,
                    fault=fault.kind if fault is not None else None,
                    seq=self._index,
                )
            except Exception as exc:
                self._record_error(exc, "detector")
                raise
            if learning:
                if self._reference_learner is not None:
                    self._reference_learner.add(grab.detector_input)
                if phase == "commissioning" and getattr(det_obj, "phase", None) == "commissioned":
                    self._commissioned(now)
            elif phase == "commissioned" and self._saved_at is not None and now - self._saved_at >= SAVE_EVERY_S:
                self._save_scene(now)
            self._pending = (frame.seq, signal) if signal is not None else None
            self._index += 1
            self._frames += 1
            self._consecutive_errors = 0
            self._frame_times.append(frame.ts)
            self._latest = frame
            if self.recorder is not None:
                self.recorder.add(frame)
                if signal is not None:
                    self.recorder.trigger(now, "camera leak signal")
            return frame

    def _check(self, grab: Grab, now: float) -> CameraFault | None:
        """Fault checks on the picture; their own failure is an error, not a fault."""
        before = self.fault
        try:
            self.fault = self.watch.observe(grab.detector_input, now)
        except Exception as exc:
            self._record_error(exc, "fault check")
            self.fault = None
        if self.fault is not None and (before is None or before.kind != self.fault.kind):
            log.warning("camera %s FAULT: %s", self.id, self.fault.detail)
        elif before is not None and self.fault is None:
            log.info("camera %s: fault cleared (%s)", self.id, before.kind)
        return self.fault

    def _confirm(self, leak: bool, now: float, score: float, mask_fraction: float, phase: str) -> MlSignal | None:
        if not self.confirmer.observe(leak, now):
            return None
        judged = " against its commissioned scene" if phase == "commissioned" else ""
        return MlSignal(
            zone=self.zone,
            kind=MlSignalKind.VISUAL_LEAK,
            source=self.id,
            score=min(1.0, max(0.0, score)),
            detail=(
                f"{self.name}: plume on {self.confirmer.consecutive} consecutive frames{judged}, "
                f"{mask_fraction:.1%} of the view, leak score {score:.2f}"
            ),
        )

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
        """The signal the confirmation rule decided on when ``frame`` was captured, if one is due
        (once: asking again for the same frame gives ``None``)."""
        pending = self._pending
        if pending is None or pending[0] != frame.seq:
            return None
        self._pending = None
        return pending[1]

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
        """``{"status": "ok|degraded|down", "fps", "frames", "errors", "last_error", "fault", ...}``.

        down: the source is disconnected, has delivered no picture recently, or its pictures are
        frozen or blank (a FAULT); degraded: a blocked lens or a moved camera (a FAULT), or an error
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
        elif self.fault is not None:
            status = "down" if self.fault.kind in ("frozen", "blank") else "degraded"
            detail = f"FAULT: {self.fault.detail}"
        elif self._last_error_at is not None and now - self._last_error_at <= self.degraded_hold_s:
            status, detail = "degraded", "recent errors"
        else:
            status, detail = "ok", "running"
        latest = self._latest
        extra: dict[str, Any] = {}
        if self.recorder is not None:
            extra["clips"] = self.recorder.health()
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
            "fault": self.fault.to_json() if self.fault is not None else None,
            "checks": dict(self.watch.last),
            "commissioning": self.commissioning(),
            **extra,
            **self._health_extra(),
        }
