"""Gas-type evaluations behind ``gasguard evaluate sensor``: the GasGuard classifier against the
baselines, every model on the same split (MultimodalGasData and the UCI drift set)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from gasguard.ml import datasets, features, protocols
from gasguard.ml.eval_models import (
    MAIN_DRIFT_MODEL,
    MAIN_SENSOR_MODEL,
    Candidate,
    EvalSettings,
    assemble,
    baseline_candidates,
    drift_ensemble_factory,
    footer,
    lightgbm_factory,
    progress_bar,
)
from gasguard.ml.eval_splits import drift_header, drift_matrices, drift_splits, shared_training


def evaluate_sensor_multimodal(data: Path | str, protocol: str, settings: EvalSettings | None = None) -> dict[str, Any]:
    """GasGuard's stream-feature LightGBM vs the selected baselines (the paper's 1D CNN, DNN and LSTM,
    and LightGBM) on the raw 7 values."""
    cfg = settings or EvalSettings()
    t0 = time.perf_counter()
    ds = datasets.load_multimodal(data)
    y = ds.labels
    fcfg = features.FeatureConfig()
    feat_cols = features.group_columns(features.CLASSIFIER_GROUPS, len(ds.sensors))
    feat_names = [features.feature_names(ds.sensors)[i] for i in feat_cols]
    candidates = [
        Candidate.new(MAIN_SENSOR_MODEL, lightgbm_factory(cfg), feat_names),
        *baseline_candidates(cfg, ds.sensors),
    ]
    header: dict[str, Any] = {"dataset": "multimodal", "protocol": protocol, "data": str(ds.path)}
    if protocol == "paper":
        F = features.featurize_streams(ds.X, ds.stream, fcfg)[:, feat_cols]
        train, test = protocols.stratified_split(y, 0.2, cfg.seed)
        bar = progress_bar(len(candidates), cfg, "multimodal paper")
        for c in candidates:
            bar.set_postfix_str(c.name)
            X = F if c is candidates[0] else ds.X
            c.run(X[train], y[train], X[test], y[test], None)
            bar.update()
        bar.close()
        header.update(n_train=len(train), n_test=len(test))
    elif protocol == "blocked":
        # features restart at every block edge, so no window spans train and test rows
        F = features.featurize_streams(ds.X, protocols.block_ids(ds.stream, cfg.n_folds), fcfg)[:, feat_cols]
        bar = progress_bar(cfg.n_folds * len(candidates), cfg, "multimodal blocked")
        for fold in protocols.blocked_folds(ds.stream, cfg.n_folds):
            for c in candidates:
                bar.set_postfix_str(f"{fold.name} {c.name}")
                X = F if c is candidates[0] else ds.X
                c.run(X[fold.train], y[fold.train], X[fold.test], y[fold.test], fold.name)
                bar.update()
        bar.close()
        header.update(n_folds=cfg.n_folds)
    else:
        raise ValueError(f"unknown protocol {protocol!r} for multimodal (paper or blocked)")
    result = assemble(candidates, ds.classes, "per_fold_accuracy", header)
    result.update(footer(cfg, t0, fcfg.to_dict()))
    return result


def evaluate_sensor_drift(data: Path | str, protocol: str, settings: EvalSettings | None = None) -> dict[str, Any]:
    """Gas type on the UCI drift set: GasGuard's drift features + SVM/extra-trees vote vs the selected
    baselines (the paper's networks and LightGBM) on the raw 128 values, all on the same split."""
    cfg = settings or EvalSettings()
    t0 = time.perf_counter()
    ds = datasets.load_drift(data)
    y = ds.gas
    F, names = drift_matrices(ds, protocol)
    raw_names = [f"f{i + 1}" for i in range(ds.X.shape[1])]
    candidates = [
        Candidate.new(MAIN_DRIFT_MODEL, drift_ensemble_factory(cfg), names),
        *baseline_candidates(cfg, raw_names),
    ]
    folds = drift_splits(ds, protocol, cfg.seed)
    runs = shared_training(folds)
    bar = progress_bar(len(runs) * len(candidates), cfg, f"drift {protocol}")
    for train, test, fold_names in runs:
        for c in candidates:
            bar.set_postfix_str(c.name)
            X = F if c is candidates[0] else ds.X
            c.run(X[train], y[train], X[test], y[test], fold_names if protocol == "drift" else None)
            bar.update()
    bar.close()
    header = drift_header(ds, protocol, folds)
    classes = sorted(set(y.tolist()))
    result = assemble(candidates, classes, "per_batch_accuracy", header)
    result.update(footer(cfg, t0))
    return result
