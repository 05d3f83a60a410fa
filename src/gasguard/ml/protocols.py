"""Train/test protocols, written once so every model in a run sees exactly the same split.

* ``paper``: the published stratified 80/20 random split. Neighbouring rows are ~2 s apart, so it
  puts near-duplicates on both sides and flatters every model; it exists to compare with the paper.
* ``blocked``: each stream is cut into ``n_folds`` contiguous time blocks; fold k tests on block k of
  every stream and trains on the rest. Features are computed within each block, so a test row's
  window never reaches into training rows (or the other way round).
* drift ``stratified`` and ``drift``: random split of all batches present, and the honest one:
  train on batches 1-5, test on each later batch present.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]

DRIFT_TRAIN_BATCHES = (1, 2, 3, 4, 5)


def stratified_split(
    labels: npt.NDArray[np.generic], test_size: float = 0.2, seed: int = 0
) -> tuple[IntArray, IntArray]:
    """Stratified random split: (train indices, test indices), sorted."""
    from sklearn.model_selection import train_test_split

    idx = np.arange(len(labels))
    train, test = train_test_split(idx, test_size=test_size, stratify=labels, random_state=seed)
    return np.sort(train).astype(np.int64), np.sort(test).astype(np.int64)


def block_positions(stream: npt.NDArray[np.integer], n_folds: int = 5) -> IntArray:
    """For each row, which of ``n_folds`` contiguous equal blocks of its stream it falls in."""
    pos = np.zeros(len(stream), dtype=np.int64)
    for sid in np.unique(stream):
        rows = np.flatnonzero(stream == sid)
        pos[rows] = np.arange(len(rows)) * n_folds // len(rows)
    return pos


def block_ids(stream: npt.NDArray[np.integer], n_folds: int = 5) -> IntArray:
    """A stream id per (stream, block): feed these to the featurizer so windows stop at block edges."""
    return np.asarray(stream, dtype=np.int64) * n_folds + block_positions(stream, n_folds)


@dataclass(frozen=True)
class Fold:
    name: str
    train: BoolArray
    test: BoolArray


def blocked_folds(stream: npt.NDArray[np.integer], n_folds: int = 5) -> Iterator[Fold]:
    pos = block_positions(stream, n_folds)
    for k in range(n_folds):
        test = pos == k
        yield Fold(name=f"block{k + 1}", train=~test, test=test)


def drift_folds(batch: npt.NDArray[np.integer]) -> Iterator[Fold]:
    """Train on batches 1-5; one fold per later batch present."""
    train = np.isin(batch, DRIFT_TRAIN_BATCHES)
    if not train.any():
        raise ValueError("the drift protocol needs at least one of batches 1-5")
    later = sorted(int(b) for b in np.unique(batch) if b > max(DRIFT_TRAIN_BATCHES))
    if not later:
        raise ValueError("the drift protocol needs a batch after 5 to test on")
    for b in later:
        yield Fold(name=f"batch{b}", train=train, test=batch == b)
