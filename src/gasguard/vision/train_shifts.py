"""Training scenes under camera and scene shift: the families of ``shift_sets``, other ranges, other seeds.

The held-out shift sets (``shift_sets``) showed the network answering heat shimmer, a steam plume,
a swaying camera or drifting clouds as strongly as gas, so its own threshold calls every frame of
such a scene a leak and even a commissioned camera loses most of its recall there. Training on
scenes that carry the same kinds of shift teaches it that those changes are not gas, while the
simulator's ground truth (where the gas changes the picture by more than the noise floor, counting
JPEG error and the display step) keeps the masks honest.

To keep the held-out evaluation meaningful, nothing here reuses its draws: every family's range
differs from the evaluation's (``shift_sets.SHIFT_SETS``), and the scene seeds come from their own
range (``seg_data.SPLIT_SEED_BASE["train_shift"]``), apart from the evaluation and calibration seeds.

Each scene mixes up to two families. Half the leak scenes start leak-free and the leak begins a few
frames in, so the network also sees the moment the scene changes, as it does on a commissioned
camera, and not only a plume that was there from the first frame.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from gasguard.vision.sim import SceneParams, random_scene
from gasguard.vision.sim.shift import SceneShift

#: A family's draw: fields of ``SceneShift`` and overrides of ``random_scene``.
FamilyDraw = Callable[[np.random.Generator], tuple[dict[str, Any], dict[str, Any]]]

#: Chance that a training scene has no shift at all, and that it has two families rather than one.
NO_SHIFT_PROBABILITY = 0.1
TWO_FAMILIES_PROBABILITY = 0.35
#: Chance that a scene has a leak, and that a leak scene starts leak-free (onset a few frames in).
LEAK_PROBABILITY = 0.5
LATE_ONSET_PROBABILITY = 0.5
#: Earliest and latest leak onset frame of a late-onset scene (16-frame clips: room for settled frames
#: before, and for plume frames after).
ONSET_FRAMES = (4, 11)


def _log_uniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))


def _gain_offset(rng: np.random.Generator) -> tuple[dict[str, Any], dict[str, Any]]:
    gain = float(rng.uniform(0.4, 0.65)) if rng.random() < 0.5 else float(rng.uniform(1.5, 2.2))
    return {"display_gain": gain, "display_offset": float(rng.uniform(-0.2, 0.2))}, {}


def _fpn(rng: np.random.Generator) -> tuple[dict[str, Any], dict[str, Any]]:
    return {
        "fixed_pattern_k": float(rng.uniform(0.03, 0.12)),
        "column_banding_k": float(rng.uniform(0.03, 0.15)),
        "row_noise_k": float(rng.uniform(0.01, 0.05)),
    }, {}


#: Training ranges per family (the evaluation's are in ``shift_sets.SHIFT_SETS``).
FAMILIES: dict[str, FamilyDraw] = {
    "gain-offset": _gain_offset,
    "noise-high": lambda rng: ({}, {"netd_k": _log_uniform(rng, 0.08, 0.18)}),
    "noise-low": lambda rng: ({}, {"netd_k": _log_uniform(rng, 0.005, 0.015)}),
    "fpn-banding": _fpn,
    "jpeg": lambda rng: ({"jpeg_quality": int(rng.integers(15, 41))}, {}),
    "sky-clouds": lambda rng: ({"clouds": True, "cloud_speed_px_s": float(rng.uniform(0.3, 2.5))}, {}),
    "heat-shimmer": lambda rng: ({"shimmer_px": float(rng.uniform(0.05, 0.25))}, {}),
    "steam": lambda rng: ({"steam_plume": True}, {}),
    "people": lambda rng: ({"people": int(rng.integers(1, 4))}, {}),
    "camera-sway": lambda rng: ({"camera_motion_px": float(rng.uniform(0.1, 0.5))}, {}),
    "far-faint": lambda rng: (
        {},
        {"distance_m": float(rng.uniform(18, 40)), "leak_rate_g_s": _log_uniform(rng, 0.25, 1.5)},
    ),
}


def draw_shift(rng: np.random.Generator) -> tuple[SceneShift | None, dict[str, Any], list[str]]:
    """A training scene's shift: ``(shift or None, random_scene overrides, family names)``."""
    if rng.random() < NO_SHIFT_PROBABILITY:
        return None, {}, []
    k = 2 if rng.random() < TWO_FAMILIES_PROBABILITY else 1
    names = [str(n) for n in rng.choice(list(FAMILIES), size=k, replace=False)]
    fields: dict[str, Any] = {}
    overrides: dict[str, Any] = {}
    for name in names:
        f, o = FAMILIES[name](rng)
        fields.update(f)
        overrides.update(o)
    return (SceneShift(**fields) if fields else None), overrides, names


def training_scene(seed: int, height: int, width: int, frames: int) -> SceneParams:
    """Scene ``seed`` of the shifted training split (deterministic for a seed and size)."""
    rng = np.random.default_rng([seed, 23])
    shift, overrides, _ = draw_shift(rng)
    leak = rng.random() < LEAK_PROBABILITY
    values: dict[str, Any] = {"height": height, "width": width, "frames": frames, "shift": shift, **overrides}
    if not leak:
        values["leak_rate_g_s"] = 0.0
    elif rng.random() < LATE_ONSET_PROBABILITY:
        values["onset_frame"] = int(rng.integers(ONSET_FRAMES[0], min(ONSET_FRAMES[1], frames - 2) + 1))
    else:
        values["onset_frame"] = 0
    return random_scene(rng, seed, leak_probability=1.0, **values)
