"""One-row LightGBM prediction without the per-call overhead of ``Booster.predict``.

``Booster.predict`` re-checks its input, converts it and sets up a predictor on every call: about
50 µs before a single tree is walked, which dominates the service's per-reading latency. LightGBM's
C API has a path made for this (``LGBM_BoosterPredictForMatSingleRowFastInit`` once, then
``LGBM_BoosterPredictForMatSingleRowFast`` per row) that runs the same trees with the same code, so
the probabilities are the same. :class:`SingleRowPredictor` calls it through ``ctypes`` with input and
output buffers allocated once.

The C handles are reached through the lightgbm package's loaded library; if a LightGBM version
moves them, :func:`single_row_predictor` falls back to ``Booster.predict`` (slower, same numbers)
and logs why, rather than failing the service.
"""

from __future__ import annotations

import ctypes
import logging
from typing import Any

import numpy as np
import numpy.typing as npt

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]

_PREDICT_NORMAL = 0  # C_API_PREDICT_NORMAL: probabilities for a multiclass model
_DTYPE_FLOAT64 = 1  # C_API_DTYPE_FLOAT64


class RowPredictor:
    """Fallback: ``Booster.predict`` on one row. Same interface as :class:`SingleRowPredictor`."""

    def __init__(self, booster: Any, n_features: int, n_outputs: int, num_threads: int = 1) -> None:
        self._booster = booster
        self.n_features = n_features
        self.n_outputs = n_outputs
        self._num_threads = num_threads

    def predict(self, row: FloatArray) -> FloatArray:
        """Model output for one feature row (``n_features`` floats); the array may be reused by the next call."""
        out = self._booster.predict(np.asarray(row, dtype=np.float64).reshape(1, -1), num_threads=self._num_threads)
        return np.asarray(out, dtype=np.float64).reshape(self.n_outputs)


class SingleRowPredictor(RowPredictor):
    """LightGBM's fast single-row C API for one booster. Not thread-safe: one per stream."""

    def __init__(self, booster: Any, n_features: int, n_outputs: int, num_threads: int = 1) -> None:
        super().__init__(booster, n_features, n_outputs, num_threads)
        from lightgbm.basic import _LIB  # type: ignore[attr-defined]

        self._lib = _LIB
        self._config = ctypes.c_void_p()
        self._check(
            _LIB.LGBM_BoosterPredictForMatSingleRowFastInit(
                booster._handle,
                ctypes.c_int(_PREDICT_NORMAL),
                ctypes.c_int(0),
                ctypes.c_int(-1),
                ctypes.c_int(_DTYPE_FLOAT64),
                ctypes.c_int32(n_features),
                ctypes.c_char_p(f"num_threads={num_threads}".encode()),
                ctypes.byref(self._config),
            )
        )
        self._in = np.zeros(n_features, dtype=np.float64)
        self._out = np.zeros(n_outputs, dtype=np.float64)
        self._in_ptr = self._in.ctypes.data_as(ctypes.c_void_p)
        self._out_ptr = self._out.ctypes.data_as(ctypes.POINTER(ctypes.c_double))
        self._out_len = ctypes.c_int64(0)
        self._out_len_ref = ctypes.byref(self._out_len)
        self._fast = _LIB.LGBM_BoosterPredictForMatSingleRowFast

    def _check(self, ret: int) -> None:
        if ret != 0:
            message = self._lib.LGBM_GetLastError().decode(errors="replace") if self._lib else "unknown error"
            raise RuntimeError(f"LightGBM single-row prediction failed: {message}")

    def predict(self, row: FloatArray) -> FloatArray:
        np.copyto(self._in, row)
        self._check(self._fast(self._config, self._in_ptr, self._out_len_ref, self._out_ptr))
        if self._out_len.value != self.n_outputs:
            raise RuntimeError(f"LightGBM returned {self._out_len.value} values, expected {self.n_outputs}")
        return self._out

    def __del__(self) -> None:
        config = getattr(self, "_config", None)
        lib = getattr(self, "_lib", None)
        if config is not None and config.value and lib is not None:
            lib.LGBM_FastConfigFree(config)
            config.value = None


def single_row_predictor(booster: Any, n_features: int, n_outputs: int, num_threads: int = 1) -> RowPredictor:
    """The fast C-API predictor, or the plain ``Booster.predict`` one where the C API is out of reach."""
    try:
        return SingleRowPredictor(booster, n_features, n_outputs, num_threads)
    except (ImportError, AttributeError, OSError, RuntimeError) as exc:
        logger.warning("LightGBM fast single-row prediction unavailable (%s); using Booster.predict", exc)
        return RowPredictor(booster, n_features, n_outputs, num_threads)
