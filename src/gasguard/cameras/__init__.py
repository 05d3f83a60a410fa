"""Live cameras: pictures in, plume masks, leak scores and early-trip signals out.

``Camera`` is the protocol the runtime and the web routes use; ``SimulatedThermalCamera`` (a live
simulated scene) and ``VideoCamera`` (files, RTSP/HTTP streams, USB cameras through OpenCV) implement
it on top of ``DetectingCamera``, which owns the capture loop, the detector call, the confirmation
rule and the health report. A camera can only ask the safety core to trip a zone earlier.
"""

from gasguard.cameras.base import (
    Camera,
    CameraError,
    DetectingCamera,
    Grab,
    LeakConfirmer,
    PlumeDetectorLike,
)
from gasguard.cameras.frame import OVERLAYS, CameraFrame, GradCamFn, Overlay
from gasguard.cameras.scene import LiveSceneParams, LiveThermalScene
from gasguard.cameras.simulated import SimulatedThermalCamera
from gasguard.cameras.video import VideoCamera

__all__ = [
    "OVERLAYS",
    "Camera",
    "CameraError",
    "CameraFrame",
    "DetectingCamera",
    "Grab",
    "GradCamFn",
    "LeakConfirmer",
    "LiveSceneParams",
    "LiveThermalScene",
    "Overlay",
    "PlumeDetectorLike",
    "SimulatedThermalCamera",
    "VideoCamera",
]
