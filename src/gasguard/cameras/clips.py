"""Evidence clips: what a camera saw around each leak signal, kept as video with the plume drawn on it.

Every frame goes through a ring buffer of the last ``pre_s`` seconds. When the camera signals a
leak (or the runtime marks a zone trip), a recording starts with that buffer and goes on until
``post_s`` seconds after the last trigger (at most ``max_s`` in all). It is then written, off the
capture thread, to ``<folder>/<clip id>/``: the video with the plume overlay and the score on every
frame (MP4 through OpenCV with H.264 where the build has it, else MPEG-4 Part 2, else MJPEG in an
AVI), ``snapshot.jpg`` (the frame with the highest leak score, with its overlay) and ``clip.json``.
Old clips are deleted by age (``retention_days``) and, oldest first, when the folder grows past
``max_bytes``.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from gasguard.cameras.frame import CameraFrame

log = logging.getLogger(__name__)

#: (fourcc, file suffix, media type), best first.
CODECS: tuple[tuple[str, str, str], ...] = (
    ("avc1", ".mp4", "video/mp4"),
    ("mp4v", ".mp4", "video/mp4"),
    ("MJPG", ".avi", "video/x-msvideo"),
)
CLIP_ID = re.compile(r"^[0-9]{8}T[0-9]{6}Z-[0-9]{3}$")
META_FILE = "clip.json"
SNAPSHOT_FILE = "snapshot.jpg"

_codec_lock = threading.Lock()
_codec_cache: dict[tuple[int, int], tuple[str, str, str]] = {}


def _writer(path_stem: Path, fps: float, size: tuple[int, int]) -> tuple[Any, Path, str, str]:
    """An opened ``cv2.VideoWriter`` with the best codec this OpenCV build has for ``size``."""
    import cv2

    with _codec_lock:
        cached = _codec_cache.get(size)
    for fourcc, suffix, media in (cached,) if cached else CODECS:
        path = path_stem.with_suffix(suffix)
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*fourcc), fps, size)
        if writer.isOpened():
            with _codec_lock:
                _codec_cache[size] = (fourcc, suffix, media)
            return writer, path, fourcc, media
        writer.release()
        path.unlink(missing_ok=True)
    raise RuntimeError("this OpenCV build cannot write video (no mp4v/avc1/MJPG writer)")


def _bgr(frame: CameraFrame, width: int | None) -> NDArray[np.uint8]:
    picture = frame.picture("mask", width)
    assert picture is not None  # the mask overlay always exists
    return picture


@dataclass
class _Recording:
    clip_id: str
    triggered_at: float
    until: float
    reasons: list[str]
    frames: list[CameraFrame] = field(default_factory=list)


class ClipRecorder:
    """Ring buffer and clip writer of one camera. ``add`` every frame; ``trigger`` on a leak signal."""

    def __init__(
        self,
        folder: Path,
        camera_id: str,
        zone: str,
        *,
        fps: float,
        pre_s: float = 10.0,
        post_s: float = 30.0,
        max_s: float = 120.0,
        retention_days: float = 30.0,
        max_bytes: int = 2_000_000_000,
        width: int | None = 640,
        background: bool = True,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if pre_s < 0 or post_s < 0 or max_s <= 0:
            raise ValueError("pre_s and post_s must be >= 0 and max_s > 0")
        self.folder = Path(folder)
        self.camera_id = camera_id
        self.zone = zone
        self.fps = float(fps)
        self.pre_s, self.post_s, self.max_s = pre_s, post_s, max_s
        self.retention_s = retention_days * 86_400.0
        self.max_bytes = max_bytes
        self.width = width
        self.background = background
        self.clock = clock
        self._ring: deque[CameraFrame] = deque()
        self._active: _Recording | None = None
        self._lock = threading.Lock()
        self._writers: list[threading.Thread] = []
        self.written = 0
        self.errors = 0
        self.last_error: str | None = None

    # ------------------------------------------------------------------ frames and triggers

    def add(self, frame: CameraFrame) -> None:
        done: _Recording | None = None
        with self._lock:
            self._ring.append(frame)
            while self._ring and frame.ts - self._ring[0].ts > self.pre_s:
                self._ring.popleft()
            rec = self._active
            if rec is not None:
                rec.frames.append(frame)
                if frame.ts >= rec.until:
                    done, self._active = rec, None
        if done is not None:
            self._write(done)

    def trigger(self, ts: float, reason: str) -> str:
        """Start a clip (or extend the one being recorded); returns its id."""
        with self._lock:
            rec = self._active
            if rec is not None:
                rec.until = min(max(rec.until, ts + self.post_s), rec.triggered_at + self.max_s)
                if reason not in rec.reasons:
                    rec.reasons.append(reason)
                return rec.clip_id
            stamp = datetime.fromtimestamp(ts, UTC)
            clip_id = f"{stamp:%Y%m%dT%H%M%S}Z-{stamp.microsecond // 1000:03d}"
            self._active = _Recording(clip_id, ts, ts + self.post_s, [reason], list(self._ring))
            log.info("camera %s: recording evidence clip %s (%s)", self.camera_id, clip_id, reason)
            return clip_id

    @property
    def recording(self) -> str | None:
        rec = self._active
        return rec.clip_id if rec is not None else None

    def flush(self) -> None:
        """Write the clip being recorded now (shutdown) and wait for every writer."""
        with self._lock:
            rec, self._active = self._active, None
        if rec is not None and rec.frames:
            self._write(rec)
        for thread in list(self._writers):
            thread.join()

    # ------------------------------------------------------------------ writing

    def _write(self, rec: _Recording) -> None:
        if not self.background:
            self._write_now(rec)
            return
        thread = threading.Thread(target=self._write_now, args=(rec,), name=f"clip-{self.camera_id}", daemon=True)
        self._writers = [t for t in self._writers if t.is_alive()] + [thread]
        thread.start()

    def _write_now(self, rec: _Recording) -> None:
        try:
            self._encode(rec)
            self.written += 1
            self.enforce_retention()
        except Exception as exc:
            self.errors += 1
            self.last_error = f"{type(exc).__name__}: {exc}"[:300]
            log.exception("camera %s: evidence clip %s could not be written", self.camera_id, rec.clip_id)

    def _encode(self, rec: _Recording) -> None:
        frames = rec.frames
        if not frames:
            return
        target = self.folder / rec.clip_id
        partial = self.folder / f".{rec.clip_id}.partial"
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        first = _bgr(frames[0], self.width)
        size = (first.shape[1], first.shape[0])
        span = frames[-1].ts - frames[0].ts
        fps = (len(frames) - 1) / span if len(frames) > 1 and span > 0 else self.fps
        writer, video, fourcc, media = _writer(partial / "clip", fps, size)
        try:
            for frame in frames:
                picture = _bgr(frame, self.width)
                if (picture.shape[1], picture.shape[0]) != size:
                    import cv2

                    picture = np.asarray(cv2.resize(picture, size, interpolation=cv2.INTER_AREA), dtype=np.uint8)
                writer.write(picture)
        finally:
            writer.release()
        best = max(frames, key=lambda f: f.leak_score)
        (partial / SNAPSHOT_FILE).write_bytes(best.jpeg("mask", self.width) or b"")
        meta = {
            "id": rec.clip_id,
            "camera": self.camera_id,
            "zone": self.zone,
            "triggered_at": rec.triggered_at,
            "reasons": rec.reasons,
            "start_ts": frames[0].ts,
            "end_ts": frames[-1].ts,
            "duration_s": round(span, 2),
            "frames": len(frames),
            "fps": round(fps, 2),
            "max_leak_score": round(best.leak_score, 4),
            "snapshot_ts": best.ts,
            "video": video.name,
            "codec": fourcc,
            "media_type": media,
            "bytes": video.stat().st_size,
        }
        (partial / META_FILE).write_text(json.dumps(meta, indent=1))
        shutil.rmtree(target, ignore_errors=True)
        partial.rename(target)  # a clip appears complete or not at all
        log.info(
            "camera %s: evidence clip %s written (%d frames, %s)", self.camera_id, rec.clip_id, len(frames), fourcc
        )

    # ------------------------------------------------------------------ listing and retention

    def clips(self) -> list[dict[str, Any]]:
        """Stored clips, newest first (their ``clip.json``)."""
        return list_clips(self.folder)

    def enforce_retention(self) -> list[str]:
        """Delete clips older than the retention, then the oldest while over ``max_bytes``."""
        now = self.clock()
        removed = []
        entries = list_clips(self.folder)
        for meta in entries:
            if now - float(meta.get("triggered_at", now)) > self.retention_s:
                shutil.rmtree(self.folder / meta["id"], ignore_errors=True)
                removed.append(meta["id"])
        kept = [m for m in entries if m["id"] not in removed]
        total = sum(_folder_bytes(self.folder / m["id"]) for m in kept)
        for meta in reversed(kept):  # oldest first
            if total <= self.max_bytes:
                break
            total -= _folder_bytes(self.folder / meta["id"])
            shutil.rmtree(self.folder / meta["id"], ignore_errors=True)
            removed.append(meta["id"])
        if removed:
            log.info("camera %s: %d evidence clip(s) removed by retention", self.camera_id, len(removed))
        return removed

    def health(self) -> dict[str, Any]:
        return {
            "written": self.written,
            "errors": self.errors,
            "last_error": self.last_error,
            "recording": self.recording,
        }


def _folder_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.glob("*") if p.is_file())


def list_clips(folder: Path) -> list[dict[str, Any]]:
    """Every complete clip under ``folder``, newest first; unreadable ones are skipped."""
    out: list[dict[str, Any]] = []
    if not folder.is_dir():
        return out
    for child in folder.iterdir():
        if not CLIP_ID.match(child.name):
            continue
        try:
            out.append(json.loads((child / META_FILE).read_text()))
        except (OSError, ValueError):
            continue
    return sorted(out, key=lambda m: m.get("triggered_at", 0.0), reverse=True)


def clip_file(folder: Path, clip_id: str, what: str) -> tuple[Path, str] | None:
    """``(path, media type)`` of a clip's ``video`` or ``snapshot``; ``None`` when there is none.

    The id must look like one this recorder makes, so no request can reach outside ``folder``.
    """
    if not CLIP_ID.match(clip_id):
        return None
    base = folder / clip_id
    try:
        meta = json.loads((base / META_FILE).read_text())
    except (OSError, ValueError):
        return None
    if what == "snapshot":
        path, media = base / SNAPSHOT_FILE, "image/jpeg"
    elif what == "video":
        path, media = (
            base / Path(str(meta.get("video", ""))).name,
            str(meta.get("media_type", "application/octet-stream")),
        )
    else:
        raise ValueError(f"unknown clip file {what!r}")
    return (path, media) if path.is_file() else None
