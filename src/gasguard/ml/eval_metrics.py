"""Figures every ``gasguard evaluate`` result reports: classification and ppm regression metrics.

Kept apart from the evaluations so a training run (``ml.train``) and a report can score predictions
the same way without loading the evaluation machinery.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


def classification_metrics(
    y_true: Sequence[str] | npt.NDArray[Any], y_pred: Sequence[str] | npt.NDArray[Any], classes: Sequence[str]
) -> dict[str, Any]:
    """Accuracy, macro F1 and the confusion matrix (rows: true class, columns: predicted)."""
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score

    yt = np.asarray(y_true).astype(str)
    yp = np.asarray(y_pred).astype(str)
    labels = list(classes)
    return {
        "accuracy": float(accuracy_score(yt, yp)),
        "macro_f1": float(f1_score(yt, yp, labels=labels, average="macro", zero_division=0)),
        "confusion": confusion_matrix(yt, yp, labels=labels).astype(int).tolist(),
        "classes": labels,
        "n": len(yt),
    }


def regression_scores(y: FloatArray, yhat: FloatArray) -> dict[str, float]:
    from sklearn.metrics import r2_score

    err = yhat - y
    return {
        "r2": float(r2_score(y, yhat)) if len(y) > 1 else float("nan"),
        "rmse_ppm": float(np.sqrt(np.mean(err**2))),
        "mae_ppm": float(np.mean(np.abs(err))),
        "n": len(y),
    }


def regression_metrics(y: FloatArray, yhat: FloatArray, gas: npt.NDArray[np.str_]) -> dict[str, Any]:
    """R^2, RMSE and MAE in ppm, pooled and per gas."""
    out: dict[str, Any] = regression_scores(y, yhat)
    out["per_gas"] = {str(g): regression_scores(y[gas == g], yhat[gas == g]) for g in sorted(set(gas.tolist()))}
    return out
