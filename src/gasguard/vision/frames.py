"""Frame sources: one small protocol, many inputs.

Everything the vision package reads arrives as an iterator of ``Frame`` (index, timestamp, pixels):
dataset image folders, image sequences (e.g. greyscale OGI frames), video files and RTSP/HTTP/USB
streams through OpenCV, 16-bit radiometric arrays (``.npy``, ``.tif``), and the plume simulator.
``open_source`` picks the right one from a path or URL, the way the CLI's ``--source`` does.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

log = logging.getLogger(__name__)

FrameKind = Literal["bgr", "grey", "radiometric"]
IMAGE_EXTENSIONS = {".png", ".jpg", ".jpeg", ".bmp", ".pgm", ".ppm"}
RADIOMETRIC_EXTENSIONS = {".npy", ".tif", ".tiff"}
VIDEO_EXTENSIONS = {".mp4", ".avi", ".mkv", ".mov", ".webm", ".m4v", ".mpg", ".mpeg"}
_DATASET_NAME = re.compile(r"^(\d+)_(.+)$")


@dataclass(frozen=True)
class Frame:
    """One picture: ``bgr`` ``[H, W, 3]`` uint8, ``grey`` ``[H, W]`` uint8, or ``radiometric`` ``[H, W]``
    uint16 counts / float kelvin. ``timestamp`` is seconds (from the source's start, or epoch for live)."""

    index: int
    timestamp: float
    image: NDArray[Any]
    kind: FrameKind
    meta: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class FrameSource(Protocol):
    """Anything that yields frames in order."""

    def __iter__(self) -> Iterator[Frame]: ...


def _read_image(path: Path) -> tuple[NDArray[Any], FrameKind]:
    import cv2

    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise ValueError(f"cannot read image {path}")
    if img.ndim == 3 and img.shape[2] == 4:
        img = cv2.cvtColor(img, cv2.COLOR_BGRA2BGR)
    if img.ndim == 3 and np.array_equal(img[..., 0], img[..., 1]) and np.array_equal(img[..., 1], img[..., 2]):
        img = img[..., 0]  # greyscale stored as RGB, as many OGI exports are
    if img.dtype == np.uint16:
        return img, "radiometric"
    return img, ("grey" if img.ndim == 2 else "bgr")


def dataset_items(root: Path) -> list[tuple[str, int, Path]]:
    """``(class, serial, path)`` for every ``<root>/<Class>/<n>_<Class>.png``, by class then serial."""
    items = []
    for class_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        for path in class_dir.iterdir():
            m = _DATASET_NAME.match(path.stem)
            if m and path.suffix.lower() in IMAGE_EXTENSIONS and m.group(2) == class_dir.name:
                items.append((class_dir.name, int(m.group(1)), path))
    return sorted(items, key=lambda t: (t[0], t[1]))


def is_dataset_folder(root: Path) -> bool:
    return root.is_dir() and bool(dataset_items(root))


class ImageFolderSource:
    """A MultimodalGasData-style folder, ``<root>/<Class>/<n>_<Class>.png``; meta has label and serial."""

    def __init__(self, root: Path, fps: float = 0.5) -> None:
        self.root = Path(root)
        self.items = dataset_items(self.root)
        self.fps = fps  # the dataset was recorded one frame every ~2 s

    def __iter__(self) -> Iterator[Frame]:
        for i, (label, serial, path) in enumerate(self.items):
            img, kind = _read_image(path)
            yield Frame(i, i / self.fps, img, kind, {"label": label, "serial": serial, "path": str(path)})


class ImageSequenceSource:
    """Sorted image files (a folder or a list), e.g. a 320x240 greyscale OGI sequence."""

    def __init__(self, paths: list[Path] | Path, fps: float = 15.0) -> None:
        if isinstance(paths, Path):
            paths = sorted(p for p in paths.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS | RADIOMETRIC_EXTENSIONS)
        self.paths = list(paths)
        self.fps = fps

    def __iter__(self) -> Iterator[Frame]:
        index = 0
        for path in self.paths:
            if path.suffix.lower() in RADIOMETRIC_EXTENSIONS:
                for frame in RadiometricSource(path, fps=self.fps, start_index=index):
                    yield frame
                    index += 1
                continue
            img, kind = _read_image(path)
            yield Frame(index, index / self.fps, img, kind, {"path": str(path)})
            index += 1


class RadiometricSource:
    """16-bit radiometric data: ``.npy`` (``[H, W]`` or ``[T, H, W]``) or (multi-page) ``.tif``."""

    def __init__(self, path: Path, fps: float = 15.0, start_index: int = 0) -> None:
        self.path = Path(path)
        self.fps = fps
        self.start_index = start_index

    def _arrays(self) -> list[NDArray[Any]]:
        if self.path.suffix.lower() == ".npy":
            data = np.load(self.path)
            return list(data) if data.ndim == 3 else [data]
        import cv2

        ok, pages = cv2.imreadmulti(str(self.path), flags=cv2.IMREAD_UNCHANGED)
        if not ok:
            raise ValueError(f"cannot read TIFF {self.path}")
        return list(pages)

    def __iter__(self) -> Iterator[Frame]:
        for i, arr in enumerate(self._arrays()):
            if arr.ndim != 2:
                raise ValueError(f"radiometric frames must be 2-D, got shape {arr.shape} in {self.path}")
            index = self.start_index + i
            yield Frame(index, index / self.fps, arr, "radiometric", {"path": str(self.path)})


class VideoSource:
    """A video file, or a live RTSP/HTTP stream or USB camera, through OpenCV.

    ``uri`` is a path, a URL, or a device index (``0``, ``usb:0``, ``/dev/video0``). Live sources are
    stamped with the wall clock, files with their own position. ``max_frames`` bounds a live run.
    """

    def __init__(self, uri: str | int, max_frames: int | None = None, reconnect: bool = False) -> None:
        self.uri = uri
        self.max_frames = max_frames
        self.reconnect = reconnect

    @property
    def live(self) -> bool:
        return isinstance(self.uri, int) or str(self.uri).split("://")[0].lower() in {"rtsp", "http", "https", "rtmp"}

    def __iter__(self) -> Iterator[Frame]:
        import cv2

        cap = cv2.VideoCapture(self.uri)
        if not cap.isOpened():
            raise ValueError(f"cannot open video source {self.uri!r}")
        index = 0
        try:
            while self.max_frames is None or index < self.max_frames:
                ok, img = cap.read()
                if not ok:
                    if self.live and self.reconnect:
                        log.warning("stream %s dropped; reconnecting", self.uri)
                        cap.release()
                        time.sleep(1.0)
                        cap = cv2.VideoCapture(self.uri)
                        continue
                    break
                ts = time.time() if self.live else cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
                kind: FrameKind = "bgr"
                if (
                    img.ndim == 3
                    and np.array_equal(img[..., 0], img[..., 2])
                    and np.array_equal(img[..., 0], img[..., 1])
                ):
                    img, kind = img[..., 0], "grey"
                yield Frame(index, float(ts), img, kind, {"uri": str(self.uri)})
                index += 1
        finally:
            cap.release()


class SimulatorSource:
    """Frames from the plume simulator: ``mode`` ``grey`` (OGI), ``colour`` (thermal), ``radiometric``."""

    def __init__(
        self,
        seed: int = 0,
        frames: int = 32,
        height: int = 240,
        width: int = 320,
        mode: Literal["grey", "colour", "radiometric"] = "grey",
        **scene: Any,
    ) -> None:
        self.seed = seed
        self.frames = frames
        self.height = height
        self.width = width
        self.mode = mode
        self.scene = scene

    def __iter__(self) -> Iterator[Frame]:
        from gasguard.vision.sim import random_scene, simulate_clip

        params = random_scene(
            np.random.default_rng(self.seed),
            self.seed,
            height=self.height,
            width=self.width,
            frames=self.frames,
            **self.scene,
        )
        clip = simulate_clip(params)
        if self.mode == "grey":
            images: NDArray[Any] = clip.grey()
        elif self.mode == "colour":
            images = clip.colour()[..., ::-1]  # RGB -> BGR, the OpenCV convention of every other source
        else:
            images = clip.radiometric()
        kind: FrameKind = {"grey": "grey", "colour": "bgr", "radiometric": "radiometric"}[self.mode]  # type: ignore[assignment]
        for i, img in enumerate(images):
            yield Frame(
                i,
                i / params.fps,
                np.ascontiguousarray(img),
                kind,
                {"mask": clip.mask[i], "leak": bool(clip.frame_leak[i]), "labels": clip.labels},
            )


def _parse_sim(spec: str) -> dict[str, Any]:
    """``sim``, ``sim:7`` or ``sim://seed=7,frames=16,leak_rate_g_s=2``."""
    body = spec.split(":", 1)[1].lstrip("/") if ":" in spec else ""
    if body.isdigit():
        return {"seed": int(body)}
    out: dict[str, Any] = {}
    for part in filter(None, body.split(",")):
        key, _, value = part.partition("=")
        out[key] = value if key == "mode" else (int(value) if value.lstrip("-").isdigit() else float(value))
    return out


def open_source(spec: str, max_frames: int | None = None) -> FrameSource:
    """Choose a source from a CLI ``--source`` value (path, URL, device, or ``sim:...``)."""
    lower = spec.lower()
    if lower == "sim" or lower.startswith("sim:"):
        return SimulatorSource(**_parse_sim(spec))
    if "://" in spec:
        return VideoSource(spec, max_frames=max_frames, reconnect=True)
    if spec.isdigit() or lower.startswith("usb:") or lower.startswith("/dev/video"):
        device = spec.split(":", 1)[1] if lower.startswith("usb:") else spec
        return VideoSource(int(device) if device.isdigit() else device, max_frames=max_frames)
    path = Path(spec)
    if path.is_dir():
        return ImageFolderSource(path) if is_dataset_folder(path) else ImageSequenceSource(path)
    if not path.exists():
        raise FileNotFoundError(f"no such source: {spec}")
    suffix = path.suffix.lower()
    if suffix in RADIOMETRIC_EXTENSIONS:
        return RadiometricSource(path)
    if suffix in IMAGE_EXTENSIONS:
        return ImageSequenceSource([path])
    return VideoSource(str(path), max_frames=max_frames)
