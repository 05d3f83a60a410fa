"""The ppm evaluation behind ``gasguard evaluate concentration``: per-gas regressors on the UCI drift
set, the gas taken from the GasGuard classifier trained on the same rows, beside the baselines."""

from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from gasguard.ml import datasets, features
from gasguard.ml.eval_metrics import regression_metrics, regression_scores
from gasguard.ml.eval_models import EvalSettings, drift_ensemble_factory, progress_bar
from gasguard.ml.eval_splits import drift_header, drift_matrices, drift_splits, shared_training
from gasguard.ml.models import ConcentrationRegressor

FloatArray = npt.NDArray[np.float64]


def evaluate_concentration_drift(
    data: Path | str, protocol: str, settings: EvalSettings | None = None, keep_predictions: bool = False
) -> dict[str, Any]:
    """ppm on the UCI drift set.

    GasGuard: per-gas XGBoost on ppm from the drift features, the gas taken from the GasGuard
    classifier trained on the same rows (what the service would do). Baselines side by side: the
    LightGBM alternative with the same design, and a plain pooled XGBoost on ppm from the raw values
    with no gas information.
    ``with_true_gas`` shows the GasGuard regressor given the true gas, to separate the two errors.
    With ``keep_predictions`` the result also holds every test row's truth and predictions under
    ``predictions`` (for reports; too long for a summary).
    """
    cfg = settings or EvalSettings()
    t0 = time.perf_counter()
    ds = datasets.load_drift(data)
    F, names = drift_matrices(ds, protocol)  # the classifier's view(s)
    # The regressors read the features as they are: per-batch standardisation would subtract each
    # batch's mean response, which depends on the concentrations measured in that batch.
    R, reg_names = features.drift_features(ds.X), features.drift_feature_names()
    raw_names = [f"f{i + 1}" for i in range(ds.X.shape[1])]
    gas = ds.gas
    folds = drift_splits(ds, protocol, cfg.seed)
    keys = ("main", "true_gas", "lightgbm", "plain")
    preds: dict[str, list[FloatArray]] = {k: [] for k in keys}
    truth: list[FloatArray] = []
    gases: list[npt.NDArray[np.str_]] = []
    per_batch: dict[str, dict[str, float]] = {k: {} for k in keys}
    runs = shared_training(folds)
    bar = progress_bar(len(runs), cfg, f"concentration {protocol}")
    for tr, te, fold_names in runs:
        clf = drift_ensemble_factory(cfg)(names).learn_many(F[tr], gas[tr])
        gas_hat = clf.predict_many(F[te])
        xgb = ConcentrationRegressor(reg_names, backend="xgboost", seed=cfg.seed)
        xgb.learn_many(R[tr], ds.ppm[tr], gas[tr])
        lgbm = ConcentrationRegressor(reg_names, backend="lightgbm", seed=cfg.seed)
        lgbm.learn_many(R[tr], ds.ppm[tr], gas[tr])
        plain = ConcentrationRegressor(
            raw_names, backend="xgboost", per_gas=False, log_target=False, seed=cfg.seed
        ).learn_many(ds.X[tr], ds.ppm[tr])
        fold_preds = {
            "main": xgb.predict_many(R[te], gas_hat),
            "true_gas": xgb.predict_many(R[te], gas[te]),
            "lightgbm": lgbm.predict_many(R[te], gas_hat),
            "plain": plain.predict_many(ds.X[te]),
        }
        for k, p in fold_preds.items():
            preds[k].append(p)
            if protocol == "drift":
                for name in dict.fromkeys(fold_names.tolist()):
                    rows = fold_names == name
                    per_batch[k][name] = regression_scores(ds.ppm[te][rows], p[rows])["r2"]
        truth.append(ds.ppm[te])
        gases.append(gas[te])
        bar.update()
    bar.close()
    y = np.concatenate(truth)
    g = np.concatenate(gases)

    def summary(k: str) -> dict[str, Any]:
        out = regression_metrics(y, np.concatenate(preds[k]), g)
        if protocol == "drift":
            out["per_batch_r2"] = per_batch[k]
        return out

    result: dict[str, Any] = {
        **drift_header(ds, protocol, folds),
        "model": "gasguard_xgboost_per_gas_ppm",
        "gas_source": "predicted by the GasGuard classifier trained on the same rows (with_true_gas: the true gas)",
        **summary("main"),
        "with_true_gas": summary("true_gas"),
        "baselines": {
            "gasguard_lightgbm_per_gas_ppm": summary("lightgbm"),
            "plain_xgboost_raw_ppm": summary("plain"),
        },
    }
    if keep_predictions:
        result["predictions"] = {
            "ppm_true": y.tolist(),
            "gas": g.tolist(),
            "batch": np.concatenate([ds.batch[te] for _tr, te, _names in runs]).tolist(),
            result["model"]: np.concatenate(preds["main"]).tolist(),
            "gasguard_with_true_gas": np.concatenate(preds["true_gas"]).tolist(),
            "gasguard_lightgbm_per_gas_ppm": np.concatenate(preds["lightgbm"]).tolist(),
            "plain_xgboost_raw_ppm": np.concatenate(preds["plain"]).tolist(),
        }
    result.update({"settings": asdict(cfg), "elapsed_s": round(time.perf_counter() - t0, 2)})
    return result
