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
    """

    ts: float
    leak_score: float
    leak: bool
    mask_fraction: float
    image: NDArray[np.uint8] = field(repr=False)
    mask: NDArray[np.bool_] | None = field(default=None, repr=False)
    gradcam: GradCamFn | None = field(default=None, repr=False)
    _cache: dict[str, bytes | None] = field(default_factory=dict, init=False, repr=False)
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

    def jpeg(self, overlay: Overlay = "none") -> bytes | None:
        """The picture as JPEG: plain, with the plume mask and score drawn on it, or with the Grad-CAM
        heatmap. ``None`` for ``gradcam`` when no classifier explanation is available."""
        if overlay not in OVERLAYS:
            raise ValueError(f"unknown overlay {overlay!r}; expected one of {', '.join(OVERLAYS)}")
        with self._lock:  # the web tier may ask from several threads; encode each overlay once
            if overlay not in self._cache:
                self._cache[overlay] = self._render(overlay)
            return self._cache[overlay]

    def _render(self, overlay: Overlay) -> bytes | None:
        if overlay == "none":
            return _encode(self.image)
        if overlay == "mask":
            return _encode(self._mask_picture())
        return self._gradcam_jpeg()

    def _mask_picture(self) -> NDArray[np.uint8]:
        from gasguard.vision.detector import Detection, annotate

        mask = self.mask if self.mask is not None else np.zeros(self.image.shape[:2], dtype=bool)
        det = Detection(0, float(self.leak_score), bool(self.leak), mask, float(self.mask_fraction))
        return annotate(self.image, det)

    def _gradcam_jpeg(self) -> bytes | None:
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
        return _encode(overlay_heatmap(picture, cam))
