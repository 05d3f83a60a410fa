"""Inference speed of the shipped gas-type model (``gasguard bench sensor``).

Readings are synthetic but realistic: a random walk around the MultimodalGasData NoGas levels, so the
timing covers the real feature code and the real trees. Batched: vectorised features for a whole
stream, then one LightGBM call. One reading: :meth:`GasStreamClassifier.update`, exactly what the
service calls (streaming features, then LightGBM's single-row C API).
"""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np

from gasguard.ml.registry import load_default_gas_classifier

_LEVELS = np.array([555.0, 515.0, 377.0, 338.0, 666.0, 451.0, 416.0])


def synthetic_readings(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return _LEVELS + np.cumsum(rng.normal(0.0, 2.0, size=(n, len(_LEVELS))), axis=0)


def bench_gas_classifier(n_batch: int = 20_000, n_single: int = 2_000, seed: int = 0) -> dict[str, Any]:
    """Batched readings/s and one-reading latency percentiles, with the machine's load beside them
    (a shared machine's p99 says as much about its neighbours as about the model)."""
    clf = load_default_gas_classifier()
    artifact = clf.artifact
    X = synthetic_readings(n_batch, seed)
    stream = np.zeros(n_batch, dtype=np.int64)
    artifact.predict_proba_streams(X[:100], stream[:100])  # warm-up
    t0 = time.perf_counter()
    artifact.predict_proba_streams(X, stream)
    batch_s = time.perf_counter() - t0

    readings = [
        dict(zip(artifact.sensors, row.tolist(), strict=True)) for row in synthetic_readings(n_single, seed + 1)
    ]
    for i in range(50):
        clf.update(readings[i], ts=float(i) * 2.0)
    clf.reset()
    lat = np.empty(n_single)
    for i, r in enumerate(readings):
        t = time.perf_counter()
        clf.update(r, ts=float(i) * 2.0)
        lat[i] = time.perf_counter() - t
    return {
        "model": artifact.card["name"],
        "single_row_path": clf.single_row_path,
        "cpu_count": os.cpu_count(),
        "load_avg_1m": os.getloadavg()[0],
        "readings": n_batch,
        "readings_per_s": n_batch / batch_s,
        "single_calls": n_single,
        "p50_ms": float(np.percentile(lat, 50) * 1e3),
        "p99_ms": float(np.percentile(lat, 99) * 1e3),
        "max_ms": float(lat.max() * 1e3),
    }
