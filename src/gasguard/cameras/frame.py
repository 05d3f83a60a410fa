"""One analysed camera picture, as the dashboard and the API see it.

A frame carries the detector's verdict (leak score, leak, mask fraction) and keeps the raw picture and
plume mask so that JPEGs are made only when someone asks for them: a camera produces frames several
times a second, while the dashboard polls one picture every second or two, and mostly without the
Grad-CAM overlay. Each overlay is encoded at most once per frame and then served from the cache.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

import numpy as np
from numpy.typing import NDArray

log = logging.getLogger(__name__)

Overlay = Literal["none", "mask", "gradcam"]
OVERLAYS: tuple[str, ...] = get_args(Overlay)
Phase = Literal["uncommissioned", "commissioning", "commissioned"]
#: Largest width a frame is enlarged to for display.
MAX_DISPLAY_WIDTH = 1920

GradCamFn = Callable[[NDArray[np.uint8]], NDArray[np.floating[Any]] | None]
"""Explains a classifier's decision on a BGR picture: a heatmap ``[h, w]`` in 0..1 (any size; it is
resized to the picture), or ``None`` when it has nothing to say. Grad-CAM needs gradients, so this
wraps a trained PyTorch classifier (see ``gasguard.vision.gradcam.grad_cam``); ONNX Runtime alone
cannot compute it."""

JPEG_QUALITY = 80


def _bgr(image: NDArray[Any]) -> NDArray[np.uint8]:
    import cv2

    from gasguard.vision.preprocess import unit_grey

    if image.ndim == 3 and image.dtype == np.uint8:
        return np.asarray(image, dtype=np.uint8)
    grey = image if image.dtype == np.uint8 else np.round(unit_grey(image) * 255).astype(np.uint8)
    return np.asarray(cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR), dtype=np.uint8)


def _enlarge(picture: NDArray[np.uint8], width: int | None) -> NDArray[np.uint8]:
    import cv2

    if width is None or width <= picture.shape[1]:
        return picture
    size = (int(width), max(1, round(picture.shape[0] * width / picture.shape[1])))
    return np.asarray(cv2.resize(picture, size, interpolation=cv2.INTER_LINEAR), dtype=np.uint8)


def _encode(image: NDArray[Any]) -> bytes:
    import cv2

    if image.dtype != np.uint8:
        image = _bgr(image)
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise ValueError(f"JPEG encoding failed for a picture of shape {image.shape}")
    return bytes(buf.tobytes())


@dataclass(frozen=True, eq=False)
class CameraFrame:
    """A camera picture with its plume detection. ``ts`` is epoch seconds (the camera's clock).

    ``image`` is what the camera delivered (``[H, W]`` grey or ``[H, W, 3]`` BGR uint8) and ``mask`` the
    plume mask at the same size (empty unless the detector called the frame a leak). ``gradcam`` is
    set only when a trained classifier and a way to explain it are configured.

    Everything said about a picture travels with it, so a caption can never belong to another
    frame: ``phase`` (how it was judged: model threshold, commissioning, against the scene's
    baseline), ``model_score`` (the model's own calibrated score), ``confirmed`` (the camera's
    confirmation rule sent or held a ``VISUAL_LEAK`` on this frame) and ``fault`` (a camera fault:
    the frame is shown but not trusted).
    """

    ts: float
    leak_score: float
    leak: bool
    mask_fraction: float
    image: NDArray[np.uint8] = field(repr=False)
    mask: NDArray[np.bool_] | None = field(default=None, repr=False)
    gradcam: GradCamFn | None = field(default=None, repr=False)
    phase: Phase = "uncommissioned"
    model_score: float | None = None
    confirmed: bool = False
    fault: str | None = None
    seq: int = 0
    _cache: dict[tuple[str, int | None], bytes | None] = field(default_factory=dict, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    @property
    def height(self) -> int:
        return int(self.image.shape[0])

    @property
    def width(self) -> int:
        return int(self.image.shape[1])

    @property
    def gradcam_available(self) -> bool:
        return self.gradcam is not None

    def caption(self) -> str:
        """What the frame says, in the words drawn on its mask overlay."""
        from gasguard.vision.detector import caption

        text = caption(self._detection())
        if self.confirmed and self.leak:
            text = f"{text} - plume confirmed"
        if self.fault:
            text = f"FAULT {self.fault}: {text}"
        return text

    def jpeg(self, overlay: Overlay = "none", width: int | None = None) -> bytes | None:
        """The picture as JPEG: plain, with the plume mask and score drawn on it, or with the Grad-CAM
        heatmap. ``None`` for ``gradcam`` when no classifier explanation is available. ``width``
        enlarges a small picture for display (never shrinks it), so an overlay's label stays sharp."""
        if overlay not in OVERLAYS:
            raise ValueError(f"unknown overlay {overlay!r}; expected one of {', '.join(OVERLAYS)}")
        width = self._display_width(width)
        key = (overlay, width)
        with self._lock:  # the web tier may ask from several threads; encode each overlay once
            if key not in self._cache:
                self._cache[key] = self._render(overlay, width)
            return self._cache[key]

    def picture(self, overlay: Overlay = "mask", width: int | None = None) -> NDArray[np.uint8] | None:
        """The BGR picture with an overlay drawn (for clips and snapshots), as ``jpeg`` encodes it."""
        width = self._display_width(width)
        if overlay == "none":
            return _enlarge(_bgr(self.image), width)
        if overlay == "mask":
            return self._mask_picture(width)
        return self._gradcam_picture(width)

    def _display_width(self, width: int | None) -> int | None:
        if width is None or width <= self.width:
            return None
        return min(int(width), MAX_DISPLAY_WIDTH)

    def _render(self, overlay: Overlay, width: int | None) -> bytes | None:
        if overlay == "none":
            return _encode(self.image if width is None else _enlarge(_bgr(self.image), width))
        picture = self.picture(overlay, width)
        return None if picture is None else _encode(picture)

    def _detection(self) -> Any:
        from gasguard.vision.detector import Detection

        mask = self.mask if self.mask is not None else np.zeros(self.image.shape[:2], dtype=bool)
        return Detection(0, float(self.leak_score), bool(self.leak), mask, float(self.mask_fraction), self.phase)

    def _mask_picture(self, width: int | None = None) -> NDArray[np.uint8]:
        from gasguard.vision.detector import annotate

        return annotate(self.image, self._detection(), self.caption(), width)

    def _gradcam_picture(self, width: int | None) -> NDArray[np.uint8] | None:
        if self.gradcam is None:
            return None
        import cv2

        from gasguard.vision.gradcam import overlay_heatmap

        picture = _bgr(self.image)
        try:
            heat = self.gradcam(picture)
        except Exception:
            # An explanation is a view aid: its failure must not break the picture or the camera.
            log.exception("Grad-CAM failed for a frame at ts=%.3f", self.ts)
            return None
        if heat is None:
            return None
        cam = np.clip(np.nan_to_num(np.asarray(heat, dtype=np.float32)), 0.0, 1.0).astype(np.float32)
        if cam.ndim != 2:
            log.warning("Grad-CAM returned a %d-D heatmap; expected [h, w]", cam.ndim)
            return None
        if cam.shape != picture.shape[:2]:
            size = (picture.shape[1], picture.shape[0])
            cam = np.asarray(cv2.resize(cam, size, interpolation=cv2.INTER_LINEAR), dtype=np.float32)
        return _enlarge(np.asarray(overlay_heatmap(picture, cam), dtype=np.uint8), width)
