"""Simulated training and test sets for plume segmentation, and the augmentations that make them
look less like one simulator and more like any greyscale OGI camera.

Every clip has its own procedurally generated background, so a split by seed range is a split by
scene: the test scenes' backgrounds were never seen in training.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from gasguard.vision.sim import random_scene, simulate_clip

log = logging.getLogger(__name__)

#: Seed offsets: train, validation (calibration, early stopping) and test scenes never share a seed.
#: The ``*_distractors`` splits force people walking by and a steam vent into every scene; their
#: ``test`` set has no leak at all and measures false alarms on moving warm objects. ``train_shift``
#: draws camera and scene shifts (``train_shifts``) from seeds apart from the held-out shift sets'.
SPLIT_SEED_BASE = {
    "train": 0,
    "val": 1_000_000,
    "test": 2_000_000,
    "train_distractors": 3_000_000,
    "val_distractors": 4_000_000,
    "test_distractors": 5_000_000,
    "train_shift": 8_000_000,
}
#: Chance that a scene of a split has a leak (the plain splits use ``random_scene``'s default).
DISTRACTOR_LEAK_PROBABILITY = {"train_distractors": 0.5, "val_distractors": 0.5, "test_distractors": 0.0}


@dataclass
class ClipSet:
    """``grey [N, T, H, W]`` uint8 frames, ``mask [N, T, H, W]`` bool, ``leak [N, T]`` bool per frame."""

    grey: NDArray[np.uint8]
    mask: NDArray[np.bool_]
    leak: NDArray[np.bool_]

    def save(self, path: Path) -> None:
        np.savez_compressed(path, grey=self.grey, mask=self.mask, leak=self.leak)

    @classmethod
    def load(cls, path: Path) -> ClipSet:
        data = np.load(path)
        return cls(data["grey"], data["mask"], data["leak"])

    def __len__(self) -> int:
        return len(self.grey)

    @classmethod
    def concat(cls, sets: list[ClipSet]) -> ClipSet:
        """One set holding the clips of several (same frame size and length)."""
        return cls(
            np.concatenate([s.grey for s in sets]),
            np.concatenate([s.mask for s in sets]),
            np.concatenate([s.leak for s in sets]),
        )


def generate(split: str, n_clips: int, height: int = 120, width: int = 160, frames: int = 16) -> ClipSet:
    """Simulate ``n_clips`` clips of one split (deterministic for a split and size)."""
    if split not in SPLIT_SEED_BASE:
        raise ValueError(f"unknown split {split!r}; choose one of {', '.join(SPLIT_SEED_BASE)}")
    base = SPLIT_SEED_BASE[split]
    rng = np.random.default_rng(base + 7)
    extra: dict[str, float | int] = {}
    if split in DISTRACTOR_LEAK_PROBABILITY:
        extra = {"leak_probability": DISTRACTOR_LEAK_PROBABILITY[split], "min_people": 1, "min_steam_vents": 1}
    greys, masks, leaks = [], [], []
    for i in range(n_clips):
        if split == "train_shift":
            from gasguard.vision.train_shifts import training_scene

            params = training_scene(base + i, height, width, frames)
        else:
            params = random_scene(rng, base + i, height=height, width=width, frames=frames, **extra)
        clip = simulate_clip(params)
        greys.append(clip.grey())
        masks.append(clip.mask)
        leaks.append(clip.frame_leak)
        if (i + 1) % 50 == 0:
            log.info("simulated %d/%d %s clips", i + 1, n_clips, split)
    return ClipSet(np.stack(greys), np.stack(masks), np.stack(leaks))


def load_or_generate(cache_dir: Path, split: str, n_clips: int, height: int, width: int, frames: int) -> ClipSet:
    """Simulated sets are cached as ``.npz`` so training can be restarted without re-simulating."""
    path = cache_dir / f"{split}_{n_clips}_{width}x{height}x{frames}.npz"
    if path.exists():
        return ClipSet.load(path)
    clips = generate(split, n_clips, height, width, frames)
    cache_dir.mkdir(parents=True, exist_ok=True)
    clips.save(path)
    return clips


def augment_clip(
    grey: NDArray[np.uint8], mask: NDArray[np.bool_], rng: np.random.Generator
) -> tuple[NDArray[np.float32], NDArray[np.bool_]]:
    """Photometric and geometric changes a real camera and codec bring, applied alike to every frame.

    Polarity (white-hot / black-hot), gain, offset and gamma (other AGC), slow gain drift, extra sensor
    noise, defocus blur, JPEG compression, mirror. Returns float frames in 0..1 and the matching masks.
    """
    import cv2

    frames = grey.astype(np.float32) / 255.0
    if rng.random() < 0.5:
        frames = 1.0 - frames
    gamma = float(np.exp(rng.uniform(np.log(0.7), np.log(1.4))))
    frames = frames**gamma
    centre = float(frames.mean())
    gain = rng.uniform(0.6, 1.5)
    offset = rng.uniform(-0.15, 0.15)
    drift = 1.0 + np.linspace(0, rng.uniform(-0.05, 0.05), len(frames))[:, None, None]
    frames = (frames - centre) * gain * drift + centre + offset
    sigma = rng.uniform(0, 1.2)
    if sigma > 0.3:
        frames = np.stack([cv2.GaussianBlur(f, (0, 0), sigma) for f in frames])
    noise = rng.uniform(0, 0.02)
    frames = frames + rng.normal(0, noise, frames.shape).astype(np.float32)
    frames = np.clip(frames, 0, 1)
    if rng.random() < 0.3:
        quality = int(rng.integers(40, 95))
        out = []
        for f in frames:
            ok, buf = cv2.imencode(".jpg", np.round(f * 255).astype(np.uint8), [cv2.IMWRITE_JPEG_QUALITY, quality])
            decoded = cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE) if ok else None
            out.append(decoded.astype(np.float32) / 255.0 if decoded is not None else f)
        frames = np.stack(out)
    if rng.random() < 0.5:
        frames = frames[:, :, ::-1]
        mask = mask[:, :, ::-1]
    return np.ascontiguousarray(frames, dtype=np.float32), np.ascontiguousarray(mask)
