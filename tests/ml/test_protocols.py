"""Splits: blocked folds are contiguous and disjoint; the drift protocol trains on batches 1-5 only."""

from __future__ import annotations

import numpy as np
import pytest

from gasguard.ml.protocols import block_ids, block_positions, blocked_folds, drift_folds, stratified_split


def test_blocks_are_contiguous_per_stream() -> None:
    stream = np.array([0] * 10 + [1] * 5)
    assert block_positions(stream, 5).tolist() == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 0, 1, 2, 3, 4]
    assert len(set(block_ids(stream, 5).tolist())) == 10


def test_blocked_folds_partition_every_row_once() -> None:
    stream = np.repeat([0, 1, 2], 50)
    folds = list(blocked_folds(stream, 5))
    assert [f.name for f in folds] == ["block1", "block2", "block3", "block4", "block5"]
    assert np.array_equal(sum(f.test.astype(int) for f in folds), np.ones(150, dtype=int))
    assert all(not (f.train & f.test).any() for f in folds)
    assert np.flatnonzero(folds[0].test[:50]).tolist() == list(range(10))


def test_drift_folds_train_on_1_to_5_and_test_each_later_batch() -> None:
    batch = np.array([1, 2, 5, 6, 6, 8, 9])
    folds = list(drift_folds(batch))
    assert [f.name for f in folds] == ["batch6", "batch8", "batch9"]
    assert folds[0].train.tolist() == [True, True, True, False, False, False, False]
    assert folds[0].test.tolist() == [False, False, False, True, True, False, False]


def test_drift_protocol_needs_a_later_batch() -> None:
    with pytest.raises(ValueError, match="needs a batch after 5"):
        list(drift_folds(np.array([1, 2, 3])))


def test_stratified_split_keeps_class_ratio() -> None:
    labels = np.repeat(["a", "b"], [80, 20])
    train, test = stratified_split(labels, 0.2, seed=0)
    assert len(test) == 20 and (labels[test] == "b").sum() == 4
    assert not set(train) & set(test)
