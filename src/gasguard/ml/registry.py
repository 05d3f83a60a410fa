"""Model artifacts: write, load, and the runtime gas-type classifier the service calls per zone.

An artifact is three files side by side: ``<name>.lgbm.txt`` (the LightGBM booster in its text
format), ``<name>.json`` (the model card and everything needed to rebuild features: sensors, window
lengths, feature groups, classes) and ``<name>.md`` (the card for people). Loading needs LightGBM and
NumPy only, never PyTorch, so a controller install can run it.

>>> from gasguard.ml.registry import load_default_gas_classifier
>>> clf = load_default_gas_classifier()
>>> p = clf.update({"MQ2": 555, "MQ3": 515, "MQ5": 377, "MQ6": 338, "MQ7": 666, "MQ8": 451,
...                 "MQ135": 416}, ts=0.0)
>>> sorted(p.probabilities) == sorted(clf.classes)
True
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from gasguard.ml.features import FeatureConfig, StreamFeaturizer, featurize_streams, group_columns
from gasguard.ml.lgbm_fast import SingleRowPredictor, single_row_predictor
from gasguard.ml.models import LightGBMClassifier

logger = logging.getLogger(__name__)

ARTIFACT_DIR = Path(__file__).resolve().parent / "artifacts"
DEFAULT_GAS_CLASSIFIER = "gas_classifier_multimodal"
CARD_SCHEMA = "gasguard.model_card/1"


@dataclass(frozen=True, slots=True)
class GasPrediction:
    """What the gas-type model says about the latest reading of one stream."""

    gas: str
    confidence: float
    probabilities: dict[str, float]


class GasClassifierArtifact:
    """A loaded gas-type model with its card; makes one :class:`GasStreamClassifier` per stream."""

    def __init__(self, model: LightGBMClassifier, card: Mapping[str, Any]) -> None:
        self.model = model
        self.card = dict(card)
        spec = self.card["features"]
        self.sensors: tuple[str, ...] = tuple(spec["sensors"])
        self.feature_config = FeatureConfig(**spec["config"])
        self.groups: tuple[str, ...] = tuple(spec["groups"])
        self.columns = group_columns(self.groups, len(self.sensors))
        self.classes: tuple[str, ...] = model.classes

    def stream(self, max_gap_s: float = 30.0) -> GasStreamClassifier:
        """A fresh per-stream (per-zone) classifier sharing this model."""
        return GasStreamClassifier(self, max_gap_s=max_gap_s)

    def predict_proba_streams(self, X: npt.NDArray[np.float64], stream: npt.NDArray[np.integer]) -> Any:
        """Batch path: readings ``[n, sensors]`` of one or more streams in time order -> ``[n, classes]``."""
        F = featurize_streams(np.asarray(X, dtype=np.float64), stream, self.feature_config)
        return self.model.predict_proba_many(F[:, self.columns])


class GasStreamClassifier:
    """Gas type for one zone's sensor array, one reading at a time.

    A gap longer than ``max_gap_s`` or a timestamp going backwards restarts the feature history (the
    windows would otherwise mix two unrelated stretches of readings).
    """

    def __init__(self, artifact: GasClassifierArtifact, max_gap_s: float = 30.0) -> None:
        self.artifact = artifact
        self.max_gap_s = max_gap_s
        cfg = artifact.feature_config
        self._featurizer = StreamFeaturizer(
            len(artifact.sensors), window=cfg.window, baseline_window=cfg.baseline_window
        )
        self._last_ts: float | None = None
        self._row = np.empty(len(artifact.sensors), dtype=np.float64)
        self._columns = np.asarray(artifact.columns, dtype=np.intp)
        # one C-API predictor per stream: it owns its buffers, so streams never share state
        self._predictor = single_row_predictor(
            artifact.model.booster, len(self._columns), len(artifact.classes), num_threads=1
        )

    @property
    def classes(self) -> tuple[str, ...]:
        return self.artifact.classes

    @property
    def card(self) -> dict[str, Any]:
        return self.artifact.card

    @property
    def single_row_path(self) -> str:
        """How one reading reaches the trees: LightGBM's fast C API, or the ``Booster.predict`` fallback."""
        return "lightgbm_c_api_fast" if isinstance(self._predictor, SingleRowPredictor) else "booster_predict"

    def reset(self) -> None:
        self._featurizer.reset()
        self._last_ts = None

    def update(self, values: Mapping[str, float], ts: float) -> GasPrediction:
        """Add one reading (``{"MQ2": 555.0, ...}``; extra keys are ignored) and classify the stream."""
        row = self._row
        for i, name in enumerate(self.artifact.sensors):
            try:
                v = float(values[name])
            except KeyError:
                raise KeyError(f"reading lacks sensor {name!r}") from None
            if not math.isfinite(v):
                raise ValueError(f"sensor {name!r} value is not finite: {v}")
            row[i] = v
        if self._last_ts is not None and (ts < self._last_ts or ts - self._last_ts > self.max_gap_s):
            logger.debug("stream gap at ts=%s: restarting feature history", ts)
            self._featurizer.reset()
        self._last_ts = ts
        features = self._featurizer.update(row)[self._columns]
        proba = self._predictor.predict(features)
        best = int(np.argmax(proba))
        classes = self.artifact.classes
        return GasPrediction(
            gas=classes[best],
            confidence=float(proba[best]),
            probabilities={c: float(p) for c, p in zip(classes, proba, strict=True)},
        )


def save_artifact(model: LightGBMClassifier, card: Mapping[str, Any], out_dir: Path, name: str) -> list[Path]:
    """Write booster, JSON card and markdown card; returns the paths written."""
    from gasguard.ml.report import model_card_markdown

    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / f"{name}.lgbm.txt", out_dir / f"{name}.json", out_dir / f"{name}.md"]
    paths[0].write_text(model.to_string(), encoding="utf-8")
    paths[1].write_text(json.dumps(card, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    paths[2].write_text(model_card_markdown(card), encoding="utf-8")
    return paths


def load_artifact(path: Path | str, name: str | None = None) -> GasClassifierArtifact:
    """Load from a folder (with ``name``, default the shipped model's name) or a ``.json`` card path."""
    p = Path(path)
    card_path = p if p.suffix == ".json" else p / f"{name or DEFAULT_GAS_CLASSIFIER}.json"
    card = json.loads(card_path.read_text(encoding="utf-8"))
    if card.get("schema") != CARD_SCHEMA:
        raise ValueError(f"{card_path}: not a GasGuard model card (schema {card.get('schema')!r})")
    booster_path = card_path.with_name(card["artifact"]["booster"])
    model = LightGBMClassifier.from_string(
        booster_path.read_text(encoding="utf-8"),
        feature_names=card["features"]["names"],
        classes=card["classes"],
        num_threads=1,
    )
    return GasClassifierArtifact(model, card)


@lru_cache(maxsize=1)
def _default_artifact() -> GasClassifierArtifact:
    return load_artifact(ARTIFACT_DIR, DEFAULT_GAS_CLASSIFIER)


def load_default_gas_classifier(max_gap_s: float = 30.0) -> GasStreamClassifier:
    """The shipped gas-type model (trained on MultimodalGasData, CC BY 4.0), as a fresh per-stream
    classifier. The booster is loaded once and shared; call this once per zone stream."""
    return _default_artifact().stream(max_gap_s=max_gap_s)
