"""A camera's commissioned scene, kept with the camera: ``<data_dir>/cameras/<camera id>/baseline.json``.

The file holds the detector's ``SceneBaseline`` (per-pixel normal of the plume network's output,
threshold; see ``gasguard.vision.commissioning``), the ``SceneReference`` the health checks compare
the view with (moved camera, blocked lens), and who commissioned it, when and why. It is written
when a commissioning run ends and, as the baseline adapts, every ``SAVE_EVERY_S``; always through a
temporary file, so a crash leaves the previous file whole. A baseline learnt with another plume
model is not used (the camera runs uncommissioned, and says so, until it is commissioned again).
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gasguard.cameras.health import SceneReference
from gasguard.vision.commissioning import SceneBaseline

log = logging.getLogger(__name__)

BASELINE_FILE = "baseline.json"
FORMAT_VERSION = 1
SAVE_EVERY_S = 600.0


@dataclass(frozen=True)
class StoredScene:
    baseline: SceneBaseline
    reference: SceneReference | None
    record: dict[str, Any]


def save_scene(folder: Path, *, camera_id: str, model: str, scene: StoredScene) -> Path:
    """Write the camera's commissioned scene atomically; returns the file."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / BASELINE_FILE
    doc = {
        "version": FORMAT_VERSION,
        "camera": camera_id,
        "model": model,
        "record": scene.record,
        "detector": scene.baseline.to_json(),
        "scene": scene.reference.to_json() if scene.reference is not None else None,
    }
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(doc))
    os.replace(tmp, path)
    return path


def load_scene(folder: Path, *, camera_id: str, model: str) -> StoredScene | None:
    """The stored scene, or ``None`` (no file, another camera's or model's, or unreadable: logged)."""
    path = folder / BASELINE_FILE
    if not path.is_file():
        return None
    try:
        doc = json.loads(path.read_text())
        if doc.get("version") != FORMAT_VERSION:
            raise ValueError(f"unsupported version {doc.get('version')!r}")
        if doc.get("camera") != camera_id:
            raise ValueError(f"it belongs to camera {doc.get('camera')!r}")
        if doc.get("model") != model:
            log.warning(
                "camera %s: the stored scene baseline was learnt with model %s, not %s: commission the camera again",
                camera_id,
                doc.get("model"),
                model,
            )
            return None
        reference = SceneReference.from_json(doc["scene"]) if doc.get("scene") else None
        return StoredScene(SceneBaseline.from_json(doc["detector"]), reference, dict(doc.get("record") or {}))
    except Exception as exc:
        log.error("camera %s: cannot use its stored scene baseline %s: %s", camera_id, path, exc)
        return None
