"""How the UCI drift set is split and seen by an evaluation: folds, shared training rows, feature views.

Shared by the gas-type (``eval_sensor``) and the ppm (``eval_concentration``) evaluations, so both use
exactly the same folds and the same classifier view of the rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from gasguard.ml import datasets, features, protocols

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


def drift_splits(ds: datasets.DriftData, protocol: str, seed: int) -> list[protocols.Fold]:
    if protocol == "stratified":
        train, _test = protocols.stratified_split(ds.gas_code, 0.2, seed)
        tr = np.zeros(len(ds.gas_code), dtype=bool)
        tr[train] = True
        return [protocols.Fold(name="stratified", train=tr, test=~tr)]
    if protocol == "drift":
        return list(protocols.drift_folds(ds.batch))
    raise ValueError(f"unknown protocol {protocol!r} for drift (stratified or drift)")


def _batch_standardize(F: FloatArray, batch: npt.NDArray[np.integer]) -> FloatArray:
    """Standardise each batch with its own mean and spread (no labels used): removes most of the
    slow gain drift between batches, but also shifts with each batch's mix of gases."""
    out = np.empty_like(F)
    for b in np.unique(batch):
        m = batch == b
        out[m] = (F[m] - F[m].mean(axis=0)) / (F[m].std(axis=0) + 1e-9)
    return out


def drift_matrices(ds: datasets.DriftData, protocol: str) -> tuple[FloatArray, list[str]]:
    """Features of the drift rows for a protocol, with their names.

    Under ``drift`` two views side by side: ``batchz/...`` standardised per batch (label-free, as a
    deployed system would re-centre on its own recent readings) and ``plain/...`` as they are. Per-batch
    standardisation removes gain drift but is thrown off when a batch's gas mix differs from training;
    the plain view is not, so the classifier averages one model per view.
    """
    F = features.drift_features(ds.X)
    names = features.drift_feature_names()
    if protocol != "drift":
        return F, names
    both = np.hstack([_batch_standardize(F, ds.batch), F])
    return both, [f"batchz/{n}" for n in names] + [f"plain/{n}" for n in names]


def shared_training(folds: Sequence[protocols.Fold]) -> list[tuple[BoolArray, BoolArray, npt.NDArray[np.str_]]]:
    """Folds that train on the same rows (all of the drift protocol's) merged into one run: train once,
    test every fold's rows, and keep each test row's fold name for the per-fold figures."""
    runs: list[tuple[BoolArray, BoolArray, npt.NDArray[np.str_]]] = []
    for fold in folds:
        for i, (train, test, names) in enumerate(runs):
            if np.array_equal(train, fold.train):
                names = names.copy()
                names[fold.test] = fold.name
                runs[i] = (train, test | fold.test, names)
                break
        else:
            names = np.full(len(fold.test), "", dtype=object)
            names[fold.test] = fold.name
            runs.append((fold.train, fold.test.copy(), names))
    return [(train, test, names[test].astype(str)) for train, test, names in runs]


def drift_header(ds: datasets.DriftData, protocol: str, folds: list[protocols.Fold]) -> dict[str, Any]:
    header: dict[str, Any] = {
        "dataset": "drift",
        "protocol": protocol,
        "data": str(ds.root),
        "batches_present": list(ds.batches_present),
        "batches_missing": list(ds.batches_missing),
    }
    if protocol == "drift":
        header["train_batches"] = [b for b in ds.batches_present if b in protocols.DRIFT_TRAIN_BATCHES]
        header["test_batches"] = [int(f.name.removeprefix("batch")) for f in folds]
    else:
        header.update(n_train=int(folds[0].train.sum()), n_test=int(folds[0].test.sum()))
    return header
