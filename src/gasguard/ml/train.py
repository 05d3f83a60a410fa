"""``gasguard train sensor``: the shippable gas-type model and its model card.

Only MultimodalGasData (CC BY 4.0) is accepted for a shipped model: the UCI drift set is for research
use only, so no weights trained on it leave this machine.

The card records what a user needs to trust the model: the data and its licence, how it was
measured (the paper protocol and the blocked protocol, each run with the same settings), the
figures, the date and the code version. ``resubstitution_accuracy`` is the accuracy of the final
model on its own training rows; it is labelled as such and is only a regression check for the
shipped file, never a claim about unseen data.
"""

from __future__ import annotations

import datetime as dt
import logging
import subprocess
from pathlib import Path
from typing import Any

import numpy as np

from gasguard.ml import datasets, features
from gasguard.ml.eval_metrics import classification_metrics
from gasguard.ml.eval_models import EvalSettings
from gasguard.ml.eval_sensor import evaluate_sensor_multimodal
from gasguard.ml.models import LightGBMClassifier
from gasguard.ml.registry import CARD_SCHEMA, DEFAULT_GAS_CLASSIFIER, save_artifact

logger = logging.getLogger(__name__)


def code_version() -> str:
    """Package version plus the git commit when run from a checkout."""
    from gasguard import __version__

    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return f"{__version__}+{commit}" if commit else str(__version__)


def train_sensor_classifier(
    data: Path | str,
    out_dir: Path,
    name: str = DEFAULT_GAS_CLASSIFIER,
    settings: EvalSettings | None = None,
    measure: bool = True,
) -> dict[str, Any]:
    """Train the stream-feature LightGBM on all MultimodalGasData rows and write the artifact.

    With ``measure`` the paper and blocked protocols are run first (same model settings) and their
    figures go into the card. Returns the card.
    """
    cfg = settings or EvalSettings(progress=False)
    ds = datasets.load_multimodal(data)
    fcfg = features.FeatureConfig()
    cols = features.group_columns(features.CLASSIFIER_GROUPS, len(ds.sensors))
    names = [features.feature_names(ds.sensors)[i] for i in cols]
    F = features.featurize_streams(ds.X, ds.stream, fcfg)[:, cols]
    model = LightGBMClassifier(names, n_estimators=cfg.lgbm_rounds, params={"seed": cfg.seed})
    model.learn_many(F, ds.labels)
    resub = classification_metrics(ds.labels, model.predict_many(F), ds.classes)

    metrics: dict[str, Any] = {
        "resubstitution_accuracy": resub["accuracy"],
        "resubstitution_note": "final model on its own 6,400 training rows; a check of the file only",
    }
    if measure:
        for protocol in ("paper", "blocked"):
            r = evaluate_sensor_multimodal(data, protocol, cfg)
            metrics[protocol] = {
                "accuracy": r["accuracy"],
                "macro_f1": r["macro_f1"],
                "confusion": r["confusion"],
                **({"per_fold_accuracy": r["per_fold_accuracy"]} if "per_fold_accuracy" in r else {}),
                "baselines": {
                    k: {"accuracy": v["accuracy"], "macro_f1": v["macro_f1"]} for k, v in r["baselines"].items()
                },
            }
    card: dict[str, Any] = {
        "schema": CARD_SCHEMA,
        "name": name,
        "task": "gas type from a stream of 7 MQ sensor readings (one every ~2 s)",
        "model": "LightGBM multiclass on streaming features",
        "classes": list(model.classes),
        "artifact": {"booster": f"{name}.lgbm.txt", "format": "lightgbm text"},
        "features": {
            "sensors": list(ds.sensors),
            "config": fcfg.to_dict(),
            "groups": list(features.CLASSIFIER_GROUPS),
            "names": names,
        },
        "training": {
            "rows": len(ds.labels),
            "rows_per_class": {c: int(np.sum(ds.labels == c)) for c in ds.classes},
            "lgbm_rounds": cfg.lgbm_rounds,
            "params": model.params,
            "seed": cfg.seed,
        },
        "data": {
            "name": "MultimodalGasData (version 2), Gas_Sensors_Measurements.csv",
            "doi": "10.17632/zkwgkjkjn9.2",
            "licence": "CC BY 4.0",
            "attribution": datasets.MULTIMODAL_ATTRIBUTION,
        },
        "protocols": {
            "paper": "stratified random 80/20 split (as in Ahn, Kim, Kim, KIPS Trans. 2024)",
            "blocked": "5 folds of contiguous time blocks per class; features restart at block edges",
        },
        "metrics": metrics,
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "code_version": code_version(),
        "licence": "model weights: CC BY 4.0 (derived from MultimodalGasData); code: Apache-2.0",
        "limitations": (
            "Four classes from one lab recording per class (NoGas, Perfume, Smoke, Mixture) with one "
            "sensor board; raw analog MQ values, no ppm. Expect lower accuracy on other boards, rooms "
            "and gases until retrained on site data. Never a substitute for the %LEL threshold trip."
        ),
    }
    save_artifact(model, card, out_dir, name)
    logger.info("wrote %s to %s", name, out_dir)
    return card
