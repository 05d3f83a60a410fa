"""Segmentation and detection metrics (NumPy): IoU, F1, frame accuracy, calibration error."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray


def pixel_scores(pred: NDArray[np.bool_], truth: NDArray[np.bool_]) -> dict[str, float]:
    """Pooled IoU and F1 (Dice) over every pixel given; 1.0 when both are empty."""
    tp = float(np.logical_and(pred, truth).sum())
    fp = float(np.logical_and(pred, ~truth).sum())
    fn = float(np.logical_and(~pred, truth).sum())
    union = tp + fp + fn
    iou = tp / union if union else 1.0
    f1 = 2 * tp / (2 * tp + fp + fn) if union else 1.0
    return {"iou": iou, "f1": f1}


def binary_scores(pred: NDArray[np.bool_], truth: NDArray[np.bool_]) -> dict[str, float]:
    """Accuracy, precision, recall and F1 of leak / no-leak decisions."""
    pred = np.asarray(pred, dtype=bool)
    truth = np.asarray(truth, dtype=bool)
    tp = float((pred & truth).sum())
    fp = float((pred & ~truth).sum())
    fn = float((~pred & truth).sum())
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"accuracy": float((pred == truth).mean()), "precision": precision, "recall": recall, "f1": f1}


def expected_calibration_error(scores: NDArray[np.float64], truth: NDArray[np.bool_], bins: int = 10) -> float:
    """Mean |confidence - observed rate| over equal-width score bins, weighted by bin size."""
    scores = np.asarray(scores, dtype=np.float64)
    truth = np.asarray(truth, dtype=np.float64)
    edges = np.linspace(0, 1, bins + 1)
    idx = np.clip(np.digitize(scores, edges[1:-1]), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        sel = idx == b
        if sel.any():
            total += sel.mean() * abs(scores[sel].mean() - truth[sel].mean())
    return float(total)


def fit_platt(raw: NDArray[np.float64], truth: NDArray[np.bool_], iterations: int = 100) -> tuple[float, float]:
    """Platt scaling: ``p = sigmoid(a * raw + b)`` fitted by damped Newton steps on the log loss."""
    x = np.asarray(raw, dtype=np.float64)
    y = np.asarray(truth, dtype=np.float64)
    # Platt's smoothed targets keep the fit finite when the classes separate perfectly.
    n_pos, n_neg = y.sum(), (1 - y).sum()
    t = np.where(y > 0, (n_pos + 1) / (n_pos + 2), 1 / (n_neg + 2))

    def loss(a: float, b: float) -> float:
        z = a * x + b
        return float(np.mean(np.logaddexp(0, z) - t * z))

    a, b = 1.0, 0.0
    current = loss(a, b)
    for _ in range(iterations):
        p = 1 / (1 + np.exp(-np.clip(a * x + b, -50, 50)))
        g = np.array([((p - t) * x).mean(), (p - t).mean()])
        w = p * (1 - p) + 1e-9
        hess = np.array([[(w * x * x).mean(), (w * x).mean()], [(w * x).mean(), w.mean()]]) + 1e-9 * np.eye(2)
        step = np.linalg.solve(hess, g)
        scale = 1.0
        while scale > 1e-6 and loss(a - scale * step[0], b - scale * step[1]) > current:
            scale /= 2
        a, b = a - scale * step[0], b - scale * step[1]
        new = loss(a, b)
        if current - new < 1e-12:
            break
        current = new
    return float(a), float(b)


def summary(values: dict[str, Any], digits: int = 4) -> dict[str, Any]:
    """Round floats for reports."""
    return {k: round(v, digits) if isinstance(v, float) else v for k, v in values.items()}
