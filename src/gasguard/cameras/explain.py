"""Grad-CAM for a live camera, from a trained image classifier checkpoint (PyTorch, training extra).

GasGuard ships no trained thermal classifier (``gasnet_bench.onnx`` has random weights and exists
only to time inference), so by default a camera has no Grad-CAM and ``CameraFrame.jpeg("gradcam")``
is ``None``. A user who trained GasNet on their own frames (``gasguard train vision-classifier
--model gasnet``) can pass ``classifier_gradcam(checkpoint)`` as a camera's ``gradcam`` to get the
heatmap of what the classifier looked at. Grad-CAM needs gradients, which ONNX Runtime does not
give, hence PyTorch; it is computed only when the dashboard asks for that overlay.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from gasguard.cameras.frame import GradCamFn


def classifier_gradcam(checkpoint: Path) -> GradCamFn:
    """A ``GradCamFn`` for an image-only classifier checkpoint (GasNet). Fusion models need a sensor
    row per frame, which a camera does not have, so they are refused with ``ValueError``."""
    from gasguard.vision.gradcam import grad_cam
    from gasguard.vision.preprocess import preprocess_thermal
    from gasguard.vision.train_cls import load_checkpoint

    path = Path(checkpoint)
    if not path.is_file():
        raise FileNotFoundError(f"no classifier checkpoint at {path}")
    model, ckpt = load_checkpoint(path)
    config: dict[str, Any] = ckpt.get("config", {})
    kind = config.get("kind")
    if kind != "gasnet":
        raise ValueError(f"live Grad-CAM needs an image-only classifier (gasnet); {path} holds {kind!r}")
    size = int(config.get("image_size", 224))
    lock = threading.Lock()  # one backward pass at a time through the shared model

    def explain(picture_bgr: NDArray[np.uint8]) -> NDArray[np.float32]:
        # A live camera has no phone-app overlay to crop, so the heatmap lines up with the picture.
        image = preprocess_thermal(picture_bgr, size=size, overlay="keep")
        with lock:
            heat, _cls = grad_cam(model, image, None)
        return heat

    return explain
