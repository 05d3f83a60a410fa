"""Commissioning: a camera learns its scene's normal, then judges against it; adaptation never learns a leak."""

from __future__ import annotations

import numpy as np
import pytest

from gasguard.vision.commissioning import BaselineLearner, BaselineSettings, SceneBaseline
from gasguard.vision.detector import PlumeDetector
from gasguard.vision.shift_sets import SetSpec, scene_params
from gasguard.vision.sim import simulate_clip

H, W = 120, 160


def _noise_logits(rng: np.random.Generator, level: float = 4.0) -> np.ndarray:
    """Logits of a scene the model finds gas-like everywhere (as on real footage): high, noisy."""
    return (level + rng.normal(0, 0.6, (H, W))).astype(np.float32)


def _blob(strength: float) -> np.ndarray:
    yy, xx = np.mgrid[0:H, 0:W]
    return (strength * np.exp(-((yy - 60) ** 2 + (xx - 80) ** 2) / (2 * 8.0**2))).astype(np.float32)


def _learn(rng: np.random.Generator, frames: int = 60, **settings: float) -> SceneBaseline:
    learner = BaselineLearner(frames, BaselineSettings(**settings))  # type: ignore[arg-type]
    while not learner.add(_noise_logits(rng)):
        pass
    return learner.finish()


def test_a_scene_the_model_calls_gas_everywhere_is_clear_once_commissioned_and_a_plume_still_shows() -> None:
    rng = np.random.default_rng(0)
    baseline = _learn(rng)
    clean = [baseline.judge(_noise_logits(rng)) for _ in range(100)]
    assert sum(j.leak for j in clean) <= 2  # the model alone would call all 100 frames "leak"
    plume = [baseline.judge(_noise_logits(rng) + _blob(5.0)) for _ in range(10)]
    assert all(j.leak for j in plume[2:]) and plume[-1].score > 0.9
    assert plume[-1].excess[60, 80] > 2 and plume[-1].excess[5, 5] < 2  # the mask is where the plume is


def test_a_slowly_growing_leak_is_never_learnt_as_normal() -> None:
    rng = np.random.default_rng(1)
    baseline = _learn(rng, adapt_rate=0.05)  # adapting 25x faster than the default, to make the point
    found_at = None
    for t in range(3000):  # the plume grows by 0.003 logits a frame: 10 logits after 3000 frames
        logits = _noise_logits(rng) + _blob(0.003 * t)
        verdict = baseline.judge(logits)
        if not verdict.elevated:
            baseline.adapt(logits)
        if verdict.leak and found_at is None:
            found_at = t
    assert found_at is not None
    # Adaptation moved the normal by at most max_drift at the plume, however long it grew.
    assert float(np.max(baseline.model.mean_raw - baseline.commissioned_mean)) <= 2.0 + 1e-5
    assert baseline.judge(_noise_logits(rng) + _blob(9.0)).leak


def test_adaptation_follows_a_changing_scene_while_all_is_calm() -> None:
    rng = np.random.default_rng(2)
    baseline = _learn(rng, adapt_rate=0.02)
    for t in range(2000):  # the scene's logits rise slowly by one logit (weather, time of day)
        logits = _noise_logits(rng, level=4.0 + t / 2000)
        verdict = baseline.judge(logits)
        if not verdict.elevated:
            baseline.adapt(logits)
    assert baseline.adapted_frames > 1500
    assert baseline.drift() == pytest.approx(1.0, abs=0.15)
    assert not baseline.judge(_noise_logits(rng, level=5.0)).leak


def test_a_baseline_is_stored_and_restored_exactly() -> None:
    rng = np.random.default_rng(3)
    baseline = _learn(rng)
    again = SceneBaseline.from_json(baseline.to_json())
    frame = _noise_logits(rng) + _blob(3.0)
    a, b = baseline.judge(frame), again.judge(frame)
    # float16 storage: the same verdict, the score within a hair.
    assert (a.leak, round(a.score, 2)) == (b.leak, round(b.score, 2))
    assert again.threshold == baseline.threshold and again.frames == 60


def test_long_commissioning_runs_keep_a_bounded_sample() -> None:
    learner = BaselineLearner(2000, BaselineSettings(max_stored_frames=100))
    rng = np.random.default_rng(4)
    for _ in range(2000):
        learner.add(_noise_logits(rng))
    assert learner.done and len(learner._stored) <= 100 and learner.finish().frames == 2000
    with pytest.raises(ValueError, match="at least 16 frames"):
        BaselineLearner(8)


def test_the_detector_learns_then_judges_and_reports_both_scores() -> None:
    """A swaying camera: the model alone calls clean frames leaks; commissioned, they are clear."""
    spec = SetSpec(scenes=2, baseline=64, test=24)
    clean = simulate_clip(scene_params("camera-sway", "calibration", 2, spec)).grey()
    det = PlumeDetector()
    det.commission(64 - det.warmup_frames)
    results = [det.process(f, index=i) for i, f in enumerate(clean)]
    learning, judged = results[:64], results[64:]
    assert {r.phase for r in learning} == {"commissioning"} and not any(r.leak for r in learning)
    assert det.phase == "commissioned" and {r.phase for r in judged} == {"commissioned"}
    assert all(r.model_score is not None for r in results)
    own = sum(r.model_score >= 0.5 for r in judged)  # type: ignore[operator]
    assert own > 12 and sum(r.leak for r in judged) <= 2
    assert judged[0].as_json()["phase"] == "commissioned"
    det.use_baseline(None)
    assert det.phase == "uncommissioned" and "phase" not in det.process(clean[0]).as_json()
