"""The shipped gas-type model: small, loads without PyTorch, and still scores what its card says."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from gasguard.ml import datasets
from gasguard.ml.registry import (
    ARTIFACT_DIR,
    DEFAULT_GAS_CLASSIFIER,
    GasPrediction,
    load_artifact,
    load_default_gas_classifier,
)

CARD = ARTIFACT_DIR / f"{DEFAULT_GAS_CLASSIFIER}.json"
FIRST = {"MQ2": 555, "MQ3": 515, "MQ5": 377, "MQ6": 338, "MQ7": 666, "MQ8": 451, "MQ135": 416}


def test_artifact_is_small_and_has_a_complete_card() -> None:
    card = json.loads(CARD.read_text())
    total = sum(p.stat().st_size for p in ARTIFACT_DIR.glob(f"{DEFAULT_GAS_CLASSIFIER}.*"))
    assert total <= 10 * 1024 * 1024
    assert card["data"]["licence"] == "CC BY 4.0"
    assert "Narkhede" in card["data"]["attribution"]
    assert "drift" not in card["data"]["name"].lower()
    for key in ("date", "code_version", "licence", "protocols"):
        assert card[key]
    assert {"paper", "blocked", "resubstitution_accuracy"} <= set(card["metrics"])
    assert (ARTIFACT_DIR / f"{DEFAULT_GAS_CLASSIFIER}.md").read_text().startswith("# Model card")


def test_default_model_loads_without_torch() -> None:
    code = (
        "import sys\n"
        "class NoTorch:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'torch' or name.startswith('torch.'):\n"
        "            raise ImportError('torch is not installed')\n"
        "sys.meta_path.insert(0, NoTorch())\n"
        "from gasguard.ml.registry import load_default_gas_classifier\n"
        f"p = load_default_gas_classifier().update({FIRST!r}, ts=0.0)\n"
        "assert 'torch' not in sys.modules\n"
        "print(p.gas)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() in {"NoGas", "Perfume", "Smoke", "Mixture"}


def test_shipped_model_reproduces_its_card_on_the_shared_data(shared_data: Path) -> None:
    """Stream every MultimodalGasData recording through the runtime API, one reading at a time."""
    card = json.loads(CARD.read_text())
    ds = datasets.load_multimodal(shared_data)
    correct = 0
    streams: dict[int, object] = {}
    for i, (row, sid) in enumerate(zip(ds.X, ds.stream, strict=True)):
        clf = streams.setdefault(int(sid), load_default_gas_classifier())
        pred = clf.update(dict(zip(ds.sensors, row.tolist(), strict=True)), ts=2.0 * i)  # type: ignore[attr-defined]
        correct += pred.gas == ds.labels[i]
    accuracy = correct / len(ds.labels)
    assert accuracy >= card["metrics"]["resubstitution_accuracy"] - 1e-9


def test_batch_path_matches_one_reading_path_exactly(shared_data: Path) -> None:
    ds = datasets.load_multimodal(shared_data)
    X, stream = ds.X[1500:1700], ds.stream[1500:1700]  # crosses from NoGas into Perfume
    batch = load_artifact(ARTIFACT_DIR).predict_proba_streams(X, stream)
    online = {s: load_default_gas_classifier() for s in np.unique(stream)}
    for i, (row, sid) in enumerate(zip(X, stream, strict=True)):
        p = online[sid].update(dict(zip(ds.sensors, row.tolist(), strict=True)), ts=2.0 * i)
        np.testing.assert_array_equal(list(p.probabilities.values()), batch[i])
    assert {c.single_row_path for c in online.values()} == {"lightgbm_c_api_fast"}


def test_prediction_shape_and_refusals() -> None:
    clf = load_default_gas_classifier()
    p = clf.update(FIRST, ts=0.0)
    assert isinstance(p, GasPrediction)
    assert sum(p.probabilities.values()) == pytest.approx(1.0)
    assert p.confidence == max(p.probabilities.values()) and p.gas == max(p.probabilities, key=p.probabilities.get)
    with pytest.raises(KeyError, match="MQ135"):
        clf.update({k: v for k, v in FIRST.items() if k != "MQ135"}, ts=2.0)
    with pytest.raises(ValueError, match="not finite"):
        clf.update({**FIRST, "MQ2": float("nan")}, ts=2.0)


def test_gap_restarts_the_stream_history() -> None:
    a, b = load_default_gas_classifier(max_gap_s=10.0), load_default_gas_classifier(max_gap_s=10.0)
    for i in range(20):
        a.update({k: v + 3 * i for k, v in FIRST.items()}, ts=2.0 * i)
    after_gap = a.update(FIRST, ts=1000.0)
    assert after_gap == b.update(FIRST, ts=5.0)


def test_streams_in_parallel_threads_match_one_at_a_time() -> None:
    """Each stream owns its LightGBM single-row predictor, so zones served from different threads
    never share buffers: the answers are those of running the streams one after the other."""
    from concurrent.futures import ThreadPoolExecutor

    rng = np.random.default_rng(5)
    walks = [np.asarray(list(FIRST.values())) + np.cumsum(rng.normal(0, 3, size=(300, 7)), axis=0) for _ in range(4)]

    def run(walk: np.ndarray) -> list[tuple[float, ...]]:
        clf = load_default_gas_classifier()
        out = []
        for i, row in enumerate(walk):
            p = clf.update(dict(zip(FIRST, row.tolist(), strict=True)), ts=2.0 * i)
            out.append(tuple(p.probabilities.values()))
        return out

    sequential = [run(w) for w in walks]
    with ThreadPoolExecutor(max_workers=4) as pool:
        parallel = list(pool.map(run, walks))
    assert parallel == sequential
