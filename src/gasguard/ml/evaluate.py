"""Evaluations behind ``gasguard evaluate``: every model of a run sees the same split.

Each function returns one JSON-ready dict: the GasGuard model's figures at the top level and the
baselines (the paper's 1D CNN, DNN and LSTM and a plain LightGBM, on the raw values; any subset)
under ``baselines``, trained in the same run on the same rows. Multi-fold protocols pool the test
predictions of all folds for the headline figures and list each fold too; folds that share their
training rows (the drift protocol's test batches) share one trained model.

The work is split by job: ``eval_models`` (settings, the models of a run and the baselines),
``eval_metrics`` (figures), ``eval_splits`` (drift-set folds and feature views), ``eval_sensor`` (gas
type) and ``eval_concentration`` (ppm). This module keeps the public names in one place.
"""

from __future__ import annotations

from gasguard.ml.eval_concentration import evaluate_concentration_drift
from gasguard.ml.eval_metrics import classification_metrics, regression_metrics
from gasguard.ml.eval_models import (
    MAIN_DRIFT_MODEL,
    MAIN_SENSOR_MODEL,
    SENSOR_BASELINES,
    EvalSettings,
    baseline_candidates,
    drift_ensemble_factory,
    lightgbm_factory,
    torch_factory,
)
from gasguard.ml.eval_sensor import evaluate_sensor_drift, evaluate_sensor_multimodal
from gasguard.ml.eval_splits import drift_matrices

__all__ = [
    "MAIN_DRIFT_MODEL",
    "MAIN_SENSOR_MODEL",
    "SENSOR_BASELINES",
    "EvalSettings",
    "baseline_candidates",
    "classification_metrics",
    "drift_ensemble_factory",
    "drift_matrices",
    "evaluate_concentration_drift",
    "evaluate_sensor_drift",
    "evaluate_sensor_multimodal",
    "lightgbm_factory",
    "regression_metrics",
    "torch_factory",
]
