"""Held-out scene sets under domain shift: which shifts, which seeds, how a scene of a set is drawn.

Each set is one kind of shift (``SHIFT_SETS``), drawn per scene from ranges outside what the plume
model was trained on (``seg_data.augment_clip``: gain 0.6-1.5, offset +-0.15, JPEG quality 40-95,
NETD 0.015-0.08 K, distance 3-20 m, people crossing and short steam puffs). A scene is one fixed
camera: ``baseline`` leak-free frames (what commissioning learns from), then ``test`` frames that are
judged; in every other scene a leak starts at the first test frame.

Seeds: evaluation scenes and calibration scenes (the only ones any commissioning setting may be
tuned on) come from seed ranges that training, validation and the plain test split never use.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from gasguard.vision.sim import SceneParams, random_scene
from gasguard.vision.sim.shift import SceneShift

#: First seed of each purpose; set ``k`` uses ``base + 1000 * k + i``.
SEED_BASE = {"evaluation": 6_000_000, "calibration": 7_000_000}

Draw = Callable[[np.random.Generator], tuple[SceneShift | None, dict[str, Any]]]


def _log_uniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))


def _gain_offset(rng: np.random.Generator) -> tuple[SceneShift | None, dict[str, Any]]:
    gain = float(rng.uniform(0.3, 0.5)) if rng.random() < 0.5 else float(rng.uniform(1.8, 2.6))
    return SceneShift(display_gain=gain, display_offset=float(rng.uniform(-0.25, 0.25))), {}


def _fpn_banding(rng: np.random.Generator) -> tuple[SceneShift | None, dict[str, Any]]:
    return (
        SceneShift(
            fixed_pattern_k=float(rng.uniform(0.05, 0.15)),
            column_banding_k=float(rng.uniform(0.05, 0.2)),
            row_noise_k=float(rng.uniform(0.02, 0.06)),
        ),
        {},
    )


SHIFT_SETS: dict[str, tuple[str, Draw]] = {
    "reference": ("no shift: scenes drawn like the plain test split", lambda rng: (None, {})),
    "gain-offset": ("display gain 0.3-0.5 or 1.8-2.6 (clipping), offset +-0.25", _gain_offset),
    "noise-high": (
        "NETD 0.12-0.25 K (training: 0.015-0.08)",
        lambda rng: (None, {"netd_k": _log_uniform(rng, 0.12, 0.25)}),
    ),
    "noise-low": ("NETD 0.004-0.01 K", lambda rng: (None, {"netd_k": _log_uniform(rng, 0.004, 0.01)})),
    "fpn-banding": (
        "fixed-pattern 0.05-0.15 K, column banding 0.05-0.2 K, row noise 0.02-0.06 K per frame",
        _fpn_banding,
    ),
    "jpeg": ("JPEG quality 10-30 on every frame", lambda rng: (SceneShift(jpeg_quality=int(rng.integers(10, 31))), {})),
    "sky-clouds": (
        "outdoor sky with clouds drifting 0.5-3 px/s",
        lambda rng: (SceneShift(clouds=True, cloud_speed_px_s=float(rng.uniform(0.5, 3.0))), {}),
    ),
    "heat-shimmer": (
        "heat shimmer above hot ground and equipment, 0.1-0.3 px displacement",
        lambda rng: (SceneShift(shimmer_px=float(rng.uniform(0.1, 0.3))), {}),
    ),
    "steam": ("a continuous turbulent steam plume from a vent", lambda rng: (SceneShift(steam_plume=True), {})),
    "people": (
        "2-3 people walking slowly, close and far",
        lambda rng: (SceneShift(people=int(rng.integers(2, 4))), {}),
    ),
    "camera-sway": (
        "camera swaying 0.2-0.6 px (a mast in the wind)",
        lambda rng: (SceneShift(camera_motion_px=float(rng.uniform(0.2, 0.6))), {}),
    ),
    "far-faint": (
        "plumes 25-50 m away at 0.2-1 g/s (training: 3-20 m, 0.3-5 g/s)",
        lambda rng: (None, {"distance_m": float(rng.uniform(25, 50)), "leak_rate_g_s": _log_uniform(rng, 0.2, 1.0)}),
    ),
}


@dataclass(frozen=True)
class SetSpec:
    """How many scenes of a set, and how long each one's baseline and test periods are (frames)."""

    scenes: int = 8
    baseline: int = 32
    test: int = 32
    height: int = 120
    width: int = 160


def scene_params(name: str, purpose: str, index: int, spec: SetSpec) -> SceneParams:
    """Scene ``index`` of set ``name``: leaks on odd indices, from the first test frame on."""
    if name not in SHIFT_SETS:
        raise ValueError(f"unknown shift set {name!r}; choose from {', '.join(SHIFT_SETS)}")
    if purpose not in SEED_BASE:
        raise ValueError(f"unknown purpose {purpose!r}; choose from {', '.join(SEED_BASE)}")
    seed = SEED_BASE[purpose] + 1000 * list(SHIFT_SETS).index(name) + index
    rng = np.random.default_rng([seed, 17])
    shift, overrides = SHIFT_SETS[name][1](rng)
    leak = index % 2 == 1
    values: dict[str, Any] = {
        "height": spec.height,
        "width": spec.width,
        "frames": spec.baseline + spec.test,
        "onset_frame": spec.baseline,
        "shift": shift,
        **overrides,
    }
    if not leak:
        values["leak_rate_g_s"] = 0.0
    params = random_scene(rng, seed, leak_probability=1.0, **values)
    return params
