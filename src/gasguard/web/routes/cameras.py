"""Thermal / OGI cameras: the latest verdict per camera, the latest frame as JPEG with an overlay,
commissioning (admins, audited), and the evidence clips kept around leak signals.

The dashboard polls ``frame.jpg`` with its bearer token (fetch + blob URL); encoding runs in a worker
thread so a large frame never holds up the event loop the safety pipeline runs on. The response's
``X-Frame-*`` headers describe the very frame in the picture (time, score, verdict, caption), so a
caption shown beside it can never belong to another frame.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Response, status
from fastapi.responses import FileResponse
from pydantic import Field

from gasguard.web.deps import AdminUser, CurrentUser, RuntimeDep, ServicesDep, SessionDep
from gasguard.web.routes.operate import UNAVAILABLE, Responses
from gasguard.web.schemas import CameraPublic, StrippedReason

if TYPE_CHECKING:
    from gasguard.runtime import Runtime

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/api/v1/cameras", tags=["cameras"])

Overlay = Literal["none", "mask", "gradcam"]
NO_CAMERA: Responses = {404: {"description": "No such camera"}}


class CameraView(CameraPublic):
    """A camera's latest frame as the dashboard shows it; every field comes from that one frame."""

    seq: int | None = Field(None, description="Frame number (matches X-Frame-Seq of frame.jpg).")
    phase: str | None = Field(
        None, description="uncommissioned (model threshold) | commissioning (learning, never a leak) | commissioned"
    )
    model_score: float | None = Field(None, description="The model's own calibrated score for that frame.")
    confirmed: bool | None = Field(None, description="The plume was seen on enough consecutive frames to signal.")
    caption: str | None = Field(None, description="The words drawn on the frame's mask overlay.")
    fault: dict[str, Any] | None = Field(None, description="A camera FAULT (blocked, moved, frozen, blank), if any.")
    health: str = Field("ok", description="ok | degraded | down (see /api/v1/health for details).")
    commissioning: dict[str, Any] | None = None


class CommissionBody(StrippedReason):
    """Learn the scene from the next stretch of video, which the admin confirms is free of gas."""

    reason: str = Field(min_length=3, max_length=500, description="Why (audited), e.g. 'new camera, site clear'.")
    seconds: float | None = Field(None, ge=5, le=3600, description="Seconds of video to learn (default 120).")
    frames: int | None = Field(None, ge=16, le=20_000, description="Or a number of frames.")


def _camera_or_404(runtime: Runtime, camera_id: str) -> Any:
    camera = runtime.cameras.get(camera_id)
    if camera is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no camera {camera_id!r}")
    return camera


def _health(camera: Any) -> dict[str, Any]:
    try:
        return dict(camera.health())
    except Exception:
        logger.exception("camera %s: health failed", getattr(camera, "id", "?"))
        return {"status": "down"}


def _commissioning(camera: Any) -> dict[str, Any] | None:
    fn = getattr(camera, "commissioning", None)
    return fn() if callable(fn) else None


def _caption(frame: Any) -> str:
    fn = getattr(frame, "caption", None)
    if callable(fn):
        return str(fn())
    return f"{'LEAK' if frame.leak else 'clear'} {frame.leak_score:.2f}"


def _view(camera: Any) -> CameraView:
    frame = camera.latest()
    health = _health(camera)
    base: dict[str, Any] = {
        "id": camera.id,
        "zone": camera.zone,
        "name": camera.name,
        "health": health.get("status", "down"),
        "fault": health.get("fault"),
        "commissioning": _commissioning(camera),
    }
    if frame is None:
        return CameraView(**base, leak_score=None, leak=None, ts=None)
    return CameraView(
        **base,
        leak_score=frame.leak_score,
        leak=frame.leak,
        ts=frame.ts,
        seq=getattr(frame, "seq", None),
        phase=getattr(frame, "phase", "uncommissioned"),
        model_score=getattr(frame, "model_score", None),
        confirmed=getattr(frame, "confirmed", None),
        caption=_caption(frame),
    )


@router.get("", responses={**UNAVAILABLE})
async def get_cameras(_user: CurrentUser, runtime: RuntimeDep) -> list[CameraView]:
    return [_view(camera) for camera in runtime.cameras.values()]


@router.get("/{camera_id}", responses={**NO_CAMERA, **UNAVAILABLE})
async def get_camera(camera_id: str, _user: CurrentUser, runtime: RuntimeDep) -> CameraView:
    return _view(_camera_or_404(runtime, camera_id))


def _frame_headers(frame: Any) -> dict[str, str]:
    headers = {
        "Cache-Control": "no-store",
        "X-Frame-Ts": f"{frame.ts:.3f}",
        "X-Leak-Score": f"{frame.leak_score:.4f}",
        "X-Leak": "true" if frame.leak else "false",
        "X-Frame-Caption": _caption(frame).encode("ascii", "replace").decode("ascii"),
    }
    for header, attr in (("X-Frame-Seq", "seq"), ("X-Frame-Phase", "phase"), ("X-Camera-Fault", "fault")):
        value = getattr(frame, attr, None)
        if value is not None:
            headers[header] = str(value)
    model_score = getattr(frame, "model_score", None)
    if model_score is not None:
        headers["X-Model-Score"] = f"{model_score:.4f}"
    return headers


@router.get(
    "/{camera_id}/frame.jpg",
    response_class=Response,
    responses={
        200: {
            "content": {"image/jpeg": {}},
            "description": "The latest frame; X-Frame-Ts, X-Frame-Seq, X-Leak-Score, X-Leak, X-Frame-Caption, "
            "X-Frame-Phase, X-Model-Score and X-Camera-Fault describe that same frame",
        },
        404: {"description": "No such camera, or no Grad-CAM for it"},
        503: {"description": "No frame yet, or the live runtime is not running"},
    },
)
async def get_frame(
    camera_id: str,
    _user: CurrentUser,
    runtime: RuntimeDep,
    overlay: Overlay = "none",
    width: int | None = Query(
        None, ge=16, le=1920, description="Enlarge a smaller frame to this width (sharp overlay label)."
    ),
) -> Response:
    """The latest frame; ``mask`` draws the detected plume, ``gradcam`` what the classifier looked at."""
    camera = _camera_or_404(runtime, camera_id)
    frame = camera.latest()  # one frame object: the picture and every header come from it
    if frame is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, detail=f"camera {camera_id!r} has no frame yet")
    try:
        if width is None:
            image: bytes | None = await asyncio.to_thread(frame.jpeg, overlay)
        else:
            image = await asyncio.to_thread(frame.jpeg, overlay, width)
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
    return Response(content=image, media_type="image/jpeg", headers=_frame_headers(frame))


# ---------------------------------------------------------------------------- commissioning


@router.get("/{camera_id}/commission", responses={**NO_CAMERA, **UNAVAILABLE})
async def get_commissioning(camera_id: str, _user: CurrentUser, runtime: RuntimeDep) -> dict[str, Any]:
    """uncommissioned | commissioning (progress) | commissioned (when, by whom, why, threshold)."""
    camera = _camera_or_404(runtime, camera_id)
    return _commissioning(camera) or {"state": "uncommissioned", "supported": False}


@router.post(
    "/{camera_id}/commission",
    status_code=status.HTTP_202_ACCEPTED,
    responses={
        **NO_CAMERA,
        **UNAVAILABLE,
        409: {"description": "The camera cannot be commissioned (no scene model, or it is in FAULT)"},
    },
)
def post_commission(
    camera_id: str,
    body: CommissionBody,
    admin: AdminUser,
    runtime: RuntimeDep,
    services: ServicesDep,
    session: SessionDep,
) -> dict[str, Any]:
    """(Re-)commission: the camera learns its scene from the next ``seconds`` (or ``frames``) of video,
    which the admin confirms are free of gas, and then judges every frame against it. While it learns
    it sends no leak signal (the gas detectors keep protecting the zone). Admins only; audited."""
    camera = _camera_or_404(runtime, camera_id)
    commission = getattr(camera, "commission", None)
    if not callable(commission):
        raise HTTPException(status.HTTP_409_CONFLICT, detail=f"camera {camera_id!r} cannot be commissioned")
    state: dict[str, Any]
    fault = _health(camera).get("fault")
    if fault:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            detail=f"camera {camera_id!r} is in FAULT ({fault.get('detail', fault.get('kind'))}): fix it first",
        )
    from gasguard.cameras.base import CommissioningError

    try:
        state = commission(frames=body.frames, seconds=body.seconds, by=admin.name, reason=body.reason)
    except CommissioningError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(exc)) from None
    request = state.get("request") or {}
    services.record_audit(
        session,
        ts=services.clock(),
        source=f"camera:{camera_id}",
        actor=admin.name,
        reason=body.reason,
        payload={
            "action": "camera.commission",
            "zone": camera.zone,
            "frames": request.get("frames"),
            "expected_s": request.get("expected_s"),
        },
    )
    return state


# ---------------------------------------------------------------------------- evidence clips


def _clips_folder(camera: Any) -> Any:
    recorder = getattr(camera, "recorder", None)
    return None if recorder is None else recorder.folder


@router.get("/{camera_id}/clips", responses={**NO_CAMERA, **UNAVAILABLE})
async def get_clips(camera_id: str, _user: CurrentUser, runtime: RuntimeDep) -> list[dict[str, Any]]:
    """Evidence clips of this camera, newest first, with links to the video and the best snapshot."""
    from gasguard.cameras.clips import list_clips

    camera = _camera_or_404(runtime, camera_id)
    folder = _clips_folder(camera)
    if folder is None:
        return []
    clips = await asyncio.to_thread(list_clips, folder)
    base = f"/api/v1/cameras/{camera_id}/clips"
    return [
        {**c, "video_url": f"{base}/{c['id']}/video", "snapshot_url": f"{base}/{c['id']}/snapshot.jpg"} for c in clips
    ]


def _clip_response(runtime: Runtime, camera_id: str, clip_id: str, what: str, download: bool) -> FileResponse:
    from gasguard.cameras.clips import clip_file

    camera = _camera_or_404(runtime, camera_id)
    folder = _clips_folder(camera)
    found = None if folder is None else clip_file(folder, clip_id, what)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no clip {clip_id!r} for camera {camera_id!r}")
    path, media = found
    name = f"{camera_id}-{clip_id}{path.suffix}"
    return FileResponse(
        path,
        media_type=media,
        filename=name if download else None,
        content_disposition_type="attachment" if download else "inline",
    )


@router.get("/{camera_id}/clips/{clip_id}/video", responses={404: {"description": "No such camera or clip"}})
async def get_clip_video(
    camera_id: str,
    clip_id: str,
    _user: CurrentUser,
    runtime: RuntimeDep,
    download: bool = Query(True, description="Send as an attachment (false: to play in the page)."),
) -> FileResponse:
    """The clip's video (MP4, or MJPEG AVI where this OpenCV build has no MP4 writer)."""
    return _clip_response(runtime, camera_id, clip_id, "video", download)


@router.get("/{camera_id}/clips/{clip_id}/snapshot.jpg", responses={404: {"description": "No such camera or clip"}})
async def get_clip_snapshot(camera_id: str, clip_id: str, _user: CurrentUser, runtime: RuntimeDep) -> FileResponse:
    """The clip's best frame (highest leak score) with the plume overlay."""
    return _clip_response(runtime, camera_id, clip_id, "snapshot", False)
