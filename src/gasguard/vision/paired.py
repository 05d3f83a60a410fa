"""Thermal frames paired with sensor rows by serial number, and the two evaluation protocols.

MultimodalGasData names each frame ``<serial>_<Class>.png`` and the sensor CSV has ``Serial Number``
and ``Gas`` columns; serials restart at 0 in each class, so ``(class, serial)`` is the key.

Protocols:
- ``paper``: stratified random 80/20 train/test, then 80/20 train/validation (Ahn et al.). Rows are
  ~2 s apart, so near-duplicate neighbours land on both sides: optimistic.
- ``blocked``: per class, the recording is cut into five contiguous blocks; one block (``fold``) is
  the test set and the block before it the validation set. Closer to "a new recording".
"""

from __future__ import annotations

import csv
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from gasguard.vision.frames import dataset_items
from gasguard.vision.preprocess import preprocess_thermal

log = logging.getLogger(__name__)

#: The paper's label order: 'Mixture':0, 'NoGas':1, 'Perfume':2, 'Smoke':3.
CLASSES = ("Mixture", "NoGas", "Perfume", "Smoke")
SENSOR_COLUMNS = ("MQ2", "MQ3", "MQ5", "MQ6", "MQ7", "MQ8", "MQ135")
PROTOCOLS = ("paper", "blocked")


@dataclass
class PairedSet:
    """``images [N, S, S, 3]`` uint8 BGR, ``sensors [N, 7]`` raw, ``labels [N]``, ``serials [N]``."""

    images: NDArray[np.uint8]
    sensors: NDArray[np.float32]
    labels: NDArray[np.int64]
    serials: NDArray[np.int64]
    paths: list[str]
    classes: tuple[str, ...] = CLASSES

    def __len__(self) -> int:
        return len(self.labels)


def read_sensor_rows(csv_path: Path) -> dict[tuple[str, int], NDArray[np.float32]]:
    """``(class, serial) -> [7]`` sensor values from the measurements CSV."""
    rows: dict[tuple[str, int], NDArray[np.float32]] = {}
    with open(csv_path, newline="") as fh:
        for row in csv.DictReader(fh):
            key = (row["Gas"].strip(), int(row["Serial Number"]))
            rows[key] = np.array([float(row[c]) for c in SENSOR_COLUMNS], dtype=np.float32)
    return rows


def load_paired(root: Path, csv_path: Path, image_size: int = 224, overlay: str = "auto") -> PairedSet:
    """Load and preprocess every frame under ``root`` that has a sensor row; skip (and log) the rest."""
    import cv2

    sensors_by_key = read_sensor_rows(csv_path)
    images, sensors, labels, serials, paths = [], [], [], [], []
    missing = 0
    for label, serial, path in dataset_items(Path(root)):
        if label not in CLASSES:
            log.warning("skipping unknown class folder %s", label)
            continue
        key = (label, serial)
        if key not in sensors_by_key:
            missing += 1
            continue
        img = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if img is None:
            raise ValueError(f"cannot read {path}")
        images.append(preprocess_thermal(np.asarray(img, dtype=np.uint8), image_size, overlay))
        sensors.append(sensors_by_key[key])
        labels.append(CLASSES.index(label))
        serials.append(serial)
        paths.append(str(path))
    if missing:
        log.warning("%d frames had no sensor row with the same class and serial; skipped", missing)
    if not images:
        raise ValueError(f"no paired frames under {root}")
    return PairedSet(
        np.stack(images), np.stack(sensors), np.array(labels, dtype=np.int64), np.array(serials, dtype=np.int64), paths
    )


@dataclass(frozen=True)
class Split:
    train: NDArray[np.int64]
    val: NDArray[np.int64]
    test: NDArray[np.int64]


def split_indices(
    labels: NDArray[np.int64],
    serials: NDArray[np.int64],
    protocol: str,
    seed: int = 0,
    fold: int = 4,
    n_blocks: int = 5,
) -> Split:
    """Indices for train/validation/test under ``protocol`` (see the module docstring)."""
    if protocol == "paper":
        from sklearn.model_selection import train_test_split

        idx = np.arange(len(labels))
        counts = np.bincount(labels)
        strat = labels if counts[counts > 0].min() >= 2 else None
        trval, test = train_test_split(idx, test_size=0.2, stratify=strat, random_state=seed)
        strat2 = (
            labels[trval]
            if strat is not None and np.bincount(labels[trval])[np.bincount(labels[trval]) > 0].min() >= 2
            else None
        )
        train, val = train_test_split(trval, test_size=0.2, stratify=strat2, random_state=seed)
        return Split(np.sort(train), np.sort(val), np.sort(test))
    if protocol == "blocked":
        train_l: list[NDArray[np.int64]] = []
        val_l: list[NDArray[np.int64]] = []
        test_l: list[NDArray[np.int64]] = []
        for c in np.unique(labels):
            members = np.nonzero(labels == c)[0]
            ordered = members[np.argsort(serials[members], kind="stable")]
            blocks = np.array_split(ordered, n_blocks)
            test_b = fold % n_blocks
            val_b = (test_b - 1) % n_blocks
            for b, block in enumerate(blocks):
                (test_l if b == test_b else val_l if b == val_b else train_l).append(block)
        return Split(*(np.sort(np.concatenate(x)).astype(np.int64) for x in (train_l, val_l, test_l)))
    raise ValueError(f"unknown protocol {protocol!r}; choose one of {', '.join(PROTOCOLS)}")
