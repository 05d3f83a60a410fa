"""The paper's preprocessing on the 11 real MultimodalGasData frames: overlay gone, scene kept."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from gasguard.vision.preprocess import SEEK_APP, looks_like_app_screenshot, preprocess_thermal, unit_grey


@pytest.fixture(scope="module")
def real_frames(shared_data: Path) -> list[np.ndarray]:
    paths = sorted((shared_data / "multimodalgasdata" / "thermal-sample").glob("*/*.png"))
    assert len(paths) == 11
    return [cv2.imread(str(p)) for p in paths]


def _static_overlay(frames: list[np.ndarray]) -> np.ndarray:
    """Pixels (almost) identical in all 11 frames of different scenes: the app's fixed drawing (scale bar).
    The frames are re-encoded screenshots, so "identical" allows a few grey levels of jitter."""
    stack = np.stack(frames).astype(np.float64)
    return np.asarray(stack.std(axis=0).max(axis=2) < 6.0)


def _text_pixels(img: np.ndarray) -> np.ndarray:
    """Thin bright strokes: white top-hat response of the luma (temperature, location and GPS text)."""
    grey = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    tophat = cv2.morphologyEx(grey, cv2.MORPH_TOPHAT, np.ones((7, 7), np.uint8))
    low_saturation = (img.max(axis=2).astype(int) - img.min(axis=2)) < 40
    return (tophat > 60) & low_saturation & (grey > 170)


def test_every_real_frame_is_recognised_as_an_app_screenshot(real_frames: list[np.ndarray]) -> None:
    assert all(looks_like_app_screenshot(f) for f in real_frames)
    assert not looks_like_app_screenshot(np.zeros((240, 320, 3), np.uint8))


def test_crop_excludes_scale_bar_text_and_darkened_strip(real_frames: list[np.ndarray]) -> None:
    h, w = real_frames[0].shape[:2]
    y0, y1, x0, x1 = SEEK_APP.box(h, w)
    static = _static_overlay(real_frames)
    assert static[:, :15].mean() > 0.9  # the detector does find the scale bar in the originals
    assert not static[y0:y1, x0:x1].any()
    for frame in real_frames:
        text = _text_pixels(frame)
        assert text.sum() > 50  # every original carries text
        assert text[y0:y1, x0:x1].sum() == 0
    # The darkened strip: columns 15-63 are much darker than the scene next to them in every frame.
    for frame in real_frames:
        strip = frame[y0:y1, 20:60].mean()
        scene = frame[y0:y1, 70:110].mean()
        assert strip < scene
    assert x0 >= 64


def test_output_is_224_square_and_keeps_the_scene(real_frames: list[np.ndarray]) -> None:
    h, w = real_frames[0].shape[:2]
    y0, y1, x0, x1 = SEEK_APP.box(h, w)
    assert (y1 - y0) * (x1 - x0) / (h * w) > 0.68  # two thirds of the picture survive
    for frame in real_frames:
        out = preprocess_thermal(frame)
        assert out.shape == (224, 224, 3) and out.dtype == np.uint8
        reference = cv2.resize(frame[y0:y1, x0:x1], (224, 224), interpolation=cv2.INTER_AREA)
        assert np.abs(out.astype(int) - reference).max() == 0
        assert _text_pixels(out).sum() == 0


def test_non_app_frames_are_only_resized() -> None:
    img = np.arange(240 * 320 * 3, dtype=np.uint32).reshape(240, 320, 3).astype(np.uint8)
    out = preprocess_thermal(img, size=32)
    assert np.array_equal(out, cv2.resize(img, (32, 32), interpolation=cv2.INTER_AREA))


def test_unit_grey_stretches_radiometric_frames() -> None:
    counts = np.linspace(29000, 31000, 100 * 100).reshape(100, 100).astype(np.uint16)
    g = unit_grey(counts)
    assert g.dtype == np.float32 and g.min() == 0.0 and g.max() == 1.0
    assert unit_grey(np.full((4, 4), 255, np.uint8)).tolist() == [[1.0] * 4] * 4
