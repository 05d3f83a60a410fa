"""Grad-CAM (Selvaraju et al. 2017) for the image branch: which pixels pushed the predicted class.

The paper uses it to check that GasNet looks at the air, not at hands or the app overlay. Training
extra only (PyTorch); the overlay PNG is written with OpenCV.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray


def grad_cam(
    model: Any, image: NDArray[np.uint8], sensors: NDArray[np.float32] | None, target: int | None = None
) -> tuple[NDArray[np.float32], int]:
    """Heatmap ``[H, W]`` in 0..1 for one BGR ``image`` (and standardized ``sensors`` for fusion models),
    plus the class it explains (the predicted one unless ``target`` is given)."""
    import torch
    import torch.nn.functional as F

    model.eval()
    store: dict[str, Any] = {}

    def hook(_m: Any, _i: Any, out: torch.Tensor) -> None:
        out.retain_grad()
        store["act"] = out

    handle = model.last_conv.register_forward_hook(hook)
    try:
        x = torch.from_numpy(image.astype(np.float32) / 255.0).permute(2, 0, 1)[None].requires_grad_(False)
        s = torch.from_numpy(np.asarray(sensors, dtype=np.float32))[None] if sensors is not None else torch.zeros(1, 7)
        scores = model(x, s)
        cls = int(scores.argmax(1)) if target is None else target
        model.zero_grad()
        scores[0, cls].backward()
        act, grad = store["act"], store["act"].grad
        weights = grad.mean(dim=(2, 3), keepdim=True)
        cam = F.relu((weights * act).sum(1, keepdim=True))
        cam = F.interpolate(cam, size=image.shape[:2], mode="bilinear", align_corners=False)[0, 0]
        cam_np = cam.detach().numpy()
    finally:
        handle.remove()
    peak = float(cam_np.max())
    return (cam_np / peak if peak > 0 else cam_np).astype(np.float32), cls


def overlay_heatmap(image: NDArray[np.uint8], heat: NDArray[np.float32], alpha: float = 0.45) -> NDArray[np.uint8]:
    """Blend a JET-coloured heatmap over the BGR image."""
    import cv2

    colour = cv2.applyColorMap(np.round(heat * 255).astype(np.uint8), cv2.COLORMAP_JET)
    return np.asarray(cv2.addWeighted(image, 1 - alpha, colour, alpha, 0), dtype=np.uint8)


def save_panel(path: Path, image: NDArray[np.uint8], heat: NDArray[np.float32]) -> None:
    """Write ``image | heatmap | overlay`` side by side, as the paper's Grad-CAM figures."""
    import cv2

    heat_bgr = cv2.applyColorMap(np.round(heat * 255).astype(np.uint8), cv2.COLORMAP_JET)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.hstack([image, heat_bgr, overlay_heatmap(image, heat)]))
