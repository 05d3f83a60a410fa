"""Thermal / OGI cameras: the latest leak score per camera, and the latest frame as JPEG with an overlay.

The dashboard polls ``frame.jpg`` with its bearer token (fetch + blob URL); encoding runs in a worker
thread so a large frame never holds up the event loop the safety pipeline runs on.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any, Literal

from fastapi import APIRouter, HTTPException, Response, status

from gasguard.web.deps import CurrentUser, RuntimeDep
from gasguard.web.routes.operate import UNAVAILABLE
from gasguard.web.schemas import CameraPublic

if TYPE_CHECKING:
    from gasguard.runtime import Runtime

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/api/v1/cameras", tags=["cameras"])

Overlay = Literal["none", "mask", "gradcam"]


def _camera_or_404(runtime: Runtime, camera_id: str) -> Any:
    camera = runtime.cameras.get(camera_id)
    if camera is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no camera {camera_id!r}")
    return camera


@router.get("", responses={**UNAVAILABLE})
async def get_cameras(_user: CurrentUser, runtime: RuntimeDep) -> list[CameraPublic]:
    cameras = []
    for camera in runtime.cameras.values():
        frame = camera.latest()
        cameras.append(
            CameraPublic(
                id=camera.id,
                zone=camera.zone,
                name=camera.name,
                leak_score=None if frame is None else frame.leak_score,
                leak=None if frame is None else frame.leak,
                ts=None if frame is None else frame.ts,
            )
        )
    return cameras


@router.get(
    "/{camera_id}/frame.jpg",
    response_class=Response,
    responses={
        200: {"content": {"image/jpeg": {}}, "description": "The latest frame"},
        404: {"description": "No such camera, or no Grad-CAM for it"},
        503: {"description": "No frame yet, or the live runtime is not running"},
    },
)
async def get_frame(camera_id: str, _user: CurrentUser, runtime: RuntimeDep, overlay: Overlay = "none") -> Response:
    """The latest frame; ``mask`` draws the detected plume, ``gradcam`` what the classifier looked at."""
    camera = _camera_or_404(runtime, camera_id)
    frame = camera.latest()
    if frame is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, detail=f"camera {camera_id!r} has no frame yet")
    try:
        image: bytes | None = await asyncio.to_thread(frame.jpeg, overlay)
    except Exception:  # a broken frame must not become a 500; the camera's health shows the cause
        logger.exception("camera %s: cannot encode the latest frame", camera_id)
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, detail=f"camera {camera_id!r}: the latest frame cannot be encoded"
        ) from None
    if image is None:
        if overlay == "gradcam":
            raise HTTPException(
                status.HTTP_404_NOT_FOUND, detail=f"no Grad-CAM for camera {camera_id!r}: no classifier runs on it"
            )
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, detail=f"camera {camera_id!r} has no image yet")
    return Response(content=image, media_type="image/jpeg")
