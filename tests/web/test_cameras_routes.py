"""Cameras: latest leak score per camera, and the latest frame as JPEG with its overlays."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import cv2
import numpy as np

from gasguard.cameras.frame import CameraFrame
from gasguard.domain import MlSignal
from gasguard.web.testing import NOW
from live_harness import LiveHarness


class StillCamera:
    """A camera that shows whatever frame the test gives it (and never runs a capture loop)."""

    def __init__(self, camera_id: str, zone: str, name: str) -> None:
        self.id, self.zone, self.name = camera_id, zone, name
        self.frame: Any = None

    def latest(self) -> Any:
        return self.frame

    async def run(self, on_signal: Callable[[MlSignal], None], on_frame: Callable[[Any], None] | None = None) -> None:
        return None

    def health(self) -> dict[str, Any]:
        return {"status": "ok"}


class BrokenFrame:
    ts, leak_score, leak, mask_fraction = NOW, 0.1, False, 0.0

    def jpeg(self, overlay: str) -> bytes | None:
        raise ValueError("JPEG encoding failed")


def _frame(*, leak: bool, gradcam: bool = False) -> CameraFrame:
    image = np.zeros((24, 32), dtype=np.uint8)
    image[8:16, 8:20] = 200
    mask = np.zeros((24, 32), dtype=bool)
    mask[8:16, 8:20] = leak
    heat = (lambda picture: np.ones(picture.shape[:2])) if gradcam else None
    return CameraFrame(
        ts=NOW,
        leak_score=0.93 if leak else 0.02,
        leak=leak,
        mask_fraction=float(mask.mean()),
        image=image,
        mask=mask,
        gradcam=heat,
    )


def _camera(live: LiveHarness) -> StillCamera:
    camera = StillCamera("kitchen-thermal", "kitchen", "Kitchen thermal")
    live.runtime.add_camera(camera)
    return camera


def test_cameras_list_their_latest_score(live: LiveHarness) -> None:
    camera = _camera(live)
    vera = live.headers("vera")
    assert live.client.get("/api/v1/cameras", headers=vera).json() == [
        {
            "id": "kitchen-thermal",
            "zone": "kitchen",
            "name": "Kitchen thermal",
            "leak_score": None,
            "leak": None,
            "ts": None,
            "seq": None,
            "phase": None,
            "model_score": None,
            "confirmed": None,
            "caption": None,
            "fault": None,
            "health": "ok",
            "commissioning": None,
        }
    ]
    camera.frame = _frame(leak=True)
    [listed] = live.client.get("/api/v1/cameras", headers=vera).json()
    assert {k: listed[k] for k in ("leak_score", "leak", "ts", "phase", "caption", "seq")} == {
        "leak_score": 0.93,
        "leak": True,
        "ts": NOW,
        "phase": "uncommissioned",
        "caption": "LEAK 0.93",
        "seq": 0,
    }
    assert live.zone("kitchen")["cameras"] == ["kitchen-thermal"]


def test_frames_are_jpeg_with_overlays(live: LiveHarness) -> None:
    camera = _camera(live)
    vera = live.headers("vera")
    url = "/api/v1/cameras/kitchen-thermal/frame.jpg"
    none_yet = live.client.get(url, headers=vera)
    assert (none_yet.status_code, none_yet.json()) == (503, {"detail": "camera 'kitchen-thermal' has no frame yet"})
    camera.frame = _frame(leak=True)
    plain = live.client.get(url, headers=vera)
    masked = live.client.get(url, params={"overlay": "mask"}, headers=vera)
    for response in (plain, masked):
        assert (response.status_code, response.headers["content-type"]) == (200, "image/jpeg")
        assert response.content[:2] == b"\xff\xd8"
        # The caption facts come with the picture, from the same frame.
        assert response.headers["x-frame-ts"] == f"{NOW:.3f}" and response.headers["x-leak"] == "true"
        assert (response.headers["x-leak-score"], response.headers["x-frame-caption"]) == ("0.9300", "LEAK 0.93")
        assert response.headers["cache-control"] == "no-store"
    large = live.client.get(url, params={"overlay": "mask", "width": 640}, headers=vera)
    assert cv2.imdecode(np.frombuffer(large.content, np.uint8), cv2.IMREAD_COLOR).shape == (480, 640, 3)
    assert plain.content != masked.content
    no_cam = live.client.get(url, params={"overlay": "gradcam"}, headers=vera)
    assert (no_cam.status_code, no_cam.json()) == (
        404,
        {"detail": "no Grad-CAM for camera 'kitchen-thermal': no classifier runs on it"},
    )
    camera.frame = _frame(leak=True, gradcam=True)
    heatmap = live.client.get(url, params={"overlay": "gradcam"}, headers=vera)
    assert (heatmap.status_code, heatmap.content[:2]) == (200, b"\xff\xd8")


def test_frame_errors_are_clear(live: LiveHarness) -> None:
    camera = _camera(live)
    vera = live.headers("vera")
    unknown = live.client.get("/api/v1/cameras/garage/frame.jpg", headers=vera)
    assert (unknown.status_code, unknown.json()) == (404, {"detail": "no camera 'garage'"})
    bad = live.client.get("/api/v1/cameras/kitchen-thermal/frame.jpg", params={"overlay": "xray"}, headers=vera)
    assert (bad.status_code, bad.json()["detail"]) == (
        422,
        "query.overlay: Input should be 'none', 'mask' or 'gradcam'",
    )
    camera.frame = BrokenFrame()
    broken = live.client.get("/api/v1/cameras/kitchen-thermal/frame.jpg", headers=vera)
    assert (broken.status_code, broken.json()) == (
        503,
        {"detail": "camera 'kitchen-thermal': the latest frame cannot be encoded"},
    )
    assert live.client.get("/api/v1/cameras/kitchen-thermal/frame.jpg").status_code == 401
