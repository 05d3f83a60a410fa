"""CameraFrame: JPEGs per overlay, the plume tint a user sees, Grad-CAM only when configured."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from gasguard.cameras import CameraFrame


def _picture(height: int = 120, width: int = 160) -> np.ndarray:
    yy, xx = np.mgrid[0:height, 0:width]
    return ((xx * 255 // width + yy) % 200 + 20).astype(np.uint8)


def _decode(data: bytes | None, flags: int = cv2.IMREAD_UNCHANGED) -> np.ndarray:
    assert data is not None
    img = cv2.imdecode(np.frombuffer(data, np.uint8), flags)
    assert img is not None
    return img


def _plume_mask(height: int = 120, width: int = 160) -> np.ndarray:
    mask = np.zeros((height, width), dtype=bool)
    mask[60:100, 80:140] = True
    return mask


def test_plain_jpeg_decodes_to_the_picture_size_for_grey_and_colour() -> None:
    grey = CameraFrame(1.0, 0.1, False, 0.0, image=_picture())
    assert _decode(grey.jpeg("none")).shape == (120, 160)
    colour = CameraFrame(1.0, 0.1, False, 0.0, image=cv2.cvtColor(_picture(90, 200), cv2.COLOR_GRAY2BGR))
    assert _decode(colour.jpeg("none")).shape == (90, 200, 3)


def test_mask_overlay_tints_the_plume_magenta_and_leaves_the_rest() -> None:
    mask = _plume_mask()
    frame = CameraFrame(1.0, 0.93, True, float(mask.mean()), image=_picture(), mask=mask)
    plain = _decode(frame.jpeg("none"), cv2.IMREAD_COLOR).astype(int)
    tinted = _decode(frame.jpeg("mask"), cv2.IMREAD_COLOR).astype(int)
    assert tinted.shape == (120, 160, 3)
    # Magenta raises blue and red over green: ~115 grey levels inside the plume, none elsewhere.
    inner = np.zeros_like(mask)
    inner[63:97, 83:137] = True  # away from the outline and JPEG ringing at the edge
    magenta = (tinted[..., 0] + tinted[..., 2]) / 2 - tinted[..., 1]
    assert magenta[inner].mean() > 80
    background = np.zeros_like(mask)
    background[30:55, 10:70] = True  # clear of the plume and of the score text in the top-left corner
    assert np.abs(tinted[background] - plain[background]).mean() < 4


def test_mask_overlay_of_a_clear_frame_still_shows_the_score() -> None:
    frame = CameraFrame(1.0, 0.05, False, 0.0, image=_picture())
    plain = _decode(frame.jpeg("none"), cv2.IMREAD_COLOR).astype(int)
    annotated = _decode(frame.jpeg("mask"), cv2.IMREAD_COLOR).astype(int)
    # The score text sits in the top-left corner; nothing is tinted elsewhere.
    assert np.abs(annotated[:20, :80] - plain[:20, :80]).max() > 60
    assert np.abs(annotated[40:, :] - plain[40:, :]).mean() < 2


def test_each_overlay_is_encoded_once_and_then_served_from_the_cache() -> None:
    frame = CameraFrame(1.0, 0.5, True, 0.1, image=_picture(), mask=_plume_mask())
    first = frame.jpeg("mask")
    assert frame.jpeg("mask") is first
    assert frame.jpeg("none") is frame.jpeg("none")


def test_gradcam_is_none_without_a_classifier() -> None:
    frame = CameraFrame(1.0, 0.5, True, 0.1, image=_picture(), mask=_plume_mask())
    assert frame.gradcam_available is False
    assert frame.jpeg("gradcam") is None


def test_gradcam_heatmap_is_blended_over_the_picture_at_its_size() -> None:
    calls: list[tuple[int, ...]] = []

    def explain(bgr: np.ndarray) -> np.ndarray:
        calls.append(bgr.shape)
        heat = np.zeros((7, 7), np.float32)
        heat[5:, 5:] = 1.0  # the classifier looked at the bottom-right corner
        return heat

    frame = CameraFrame(1.0, 0.5, False, 0.0, image=_picture(), gradcam=explain)
    assert frame.gradcam_available is True
    img = _decode(frame.jpeg("gradcam"), cv2.IMREAD_COLOR)
    assert img.shape == (120, 160, 3)
    assert calls == [(120, 160, 3)]  # a BGR picture went in, once
    frame.jpeg("gradcam")
    assert len(calls) == 1
    # JET: hot is red, cold is blue.
    hot, cold = img[110:, 150:].astype(int), img[:40, :40].astype(int)
    assert hot[..., 2].mean() > hot[..., 0].mean() + 40
    assert cold[..., 0].mean() > cold[..., 2].mean() + 40


def test_gradcam_that_fails_or_declines_gives_none() -> None:
    def broken(_bgr: np.ndarray) -> np.ndarray:
        raise RuntimeError("model on fire")

    assert CameraFrame(1.0, 0.5, False, 0.0, image=_picture(), gradcam=broken).jpeg("gradcam") is None
    assert CameraFrame(1.0, 0.5, False, 0.0, image=_picture(), gradcam=lambda _b: None).jpeg("gradcam") is None


def test_unknown_overlay_is_refused() -> None:
    frame = CameraFrame(1.0, 0.5, False, 0.0, image=_picture())
    with pytest.raises(ValueError, match="unknown overlay 'heat'"):
        frame.jpeg("heat")  # type: ignore[arg-type]


def test_frame_is_immutable() -> None:
    frame = CameraFrame(1.0, 0.5, False, 0.0, image=_picture())
    with pytest.raises(AttributeError):
        frame.leak = True  # type: ignore[misc]
