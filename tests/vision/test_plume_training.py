"""Plume training helpers: distractor scenes, score smoothing, warm start from an export, LR schedule."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from gasguard.vision.detector import DEFAULT_SEG_MODEL, PlumeDetector, artifact_path
from gasguard.vision.seg_data import generate
from gasguard.vision.seg_eval import frame_statistic, leak_probability, smooth_scores
from gasguard.vision.sim import random_scene, simulate_clip
from gasguard.vision.sim.background import make_background


def test_default_backgrounds_are_drawn_as_before_and_distractors_can_be_forced() -> None:
    plain = make_background(np.random.default_rng(11), 60, 80, 293.0)
    same = make_background(np.random.default_rng(11), 60, 80, 293.0, min_people=0, min_steam_vents=0)
    assert np.array_equal(plain.temperature_k, same.temperature_k)
    busy = make_background(np.random.default_rng(11), 60, 80, 293.0, min_people=2, min_steam_vents=1)
    assert len(busy.people) >= 2 and len(busy.vents) >= 1


def test_distractor_test_scenes_have_no_gas() -> None:
    clips = generate("test_distractors", 3, height=48, width=64, frames=8)
    assert clips.grey.shape == (3, 8, 48, 64)
    assert not clips.mask.any() and not clips.leak.any()
    training = generate("train_distractors", 12, height=48, width=64, frames=8)
    assert training.leak.any() and not training.leak.all()  # half of the training scenes leak


def test_unknown_split_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown split"):
        generate("holdout", 1, height=24, width=32, frames=6)


def test_smoothing_pools_evidence_over_frames() -> None:
    stat = np.array([[0.0, 4.0, 0.0, 0.0]])
    assert np.array_equal(smooth_scores(stat, 1.0), stat)
    assert smooth_scores(stat, 0.5).tolist() == [[0.0, 2.0, 1.0, 0.5]]
    assert smooth_scores(np.full((2, 5), 3.0), 0.35) == pytest.approx(np.full((2, 5), 3.0))
    with pytest.raises(ValueError, match="smoothing rate"):
        smooth_scores(stat, 0.0)


def test_detector_smooths_its_score_like_the_evaluation(tmp_path: Path) -> None:
    model = tmp_path / "plume.onnx"
    shutil.copy(artifact_path(DEFAULT_SEG_MODEL), model)
    meta = json.loads(artifact_path(DEFAULT_SEG_MODEL).with_suffix(".json").read_text())
    meta["score_smoothing"] = 0.5
    model.with_suffix(".json").write_text(json.dumps(meta))
    params = random_scene(np.random.default_rng(21), 21, leak_probability=1.0, frames=6, leak_rate_g_s=3.0)
    frames = simulate_clip(params).grey()
    det = PlumeDetector(model)
    logits = [det.logits(f.astype(np.float32) / 255.0) for f in frames]
    expected = leak_probability(smooth_scores(frame_statistic(np.stack(logits))[None], 0.5)[0], *det.calibration)
    det.reset()
    scores = [det.process(f, index=i).leak_score for i, f in enumerate(frames)]
    assert scores == pytest.approx(expected.tolist(), abs=1e-5)


def test_cosine_learning_rate_runs_from_peak_to_floor() -> None:
    from gasguard.vision.train_seg import SegTrainConfig, cosine_lr

    cfg = SegTrainConfig(Path("out"), Path("cache"), lr=1e-3, lr_floor=0.1)
    assert cosine_lr(cfg, 0.0) == pytest.approx(1e-3)
    assert cosine_lr(cfg, 0.5) == pytest.approx(0.55e-3)
    assert cosine_lr(cfg, 1.0) == cosine_lr(cfg, 3.0) == pytest.approx(1e-4)


def test_warm_start_from_an_export_reproduces_it(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnx")
    from gasguard.vision.plume_eval import onnx_logits
    from gasguard.vision.seg_data import ClipSet
    from gasguard.vision.temporal import CHANNELS, clip_inputs, network_input
    from gasguard.vision.torch_seg import PlumeNet
    from gasguard.vision.train_seg import export_onnx, load_onnx_weights, predict_logits

    torch.manual_seed(0)
    trained = PlumeNet(3, 4)
    with torch.no_grad():  # non-trivial batch-norm statistics, as after training
        for m in trained.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
    trained.eval()
    path = tmp_path / "small.onnx"
    export_onnx(trained, path, 48, 64)
    clips = generate("val", 2, height=48, width=64, frames=6)
    probe = network_input(clip_inputs(clips.grey[0]), 3)
    warm = PlumeNet(3, 4)
    load_onnx_weights(warm, path, probe)
    assert warm.training  # ready to train on
    got = predict_logits(warm, ClipSet(clips.grey, clips.mask, clips.leak))
    expected = onnx_logits(path, clips)
    assert got == pytest.approx(expected, abs=1e-4)
    # A network reading every context channel starts from the export's function exactly: the
    # appended channels get zero weights until training moves them.
    wider = PlumeNet(len(CHANNELS), 4)
    load_onnx_weights(wider, path, network_input(clip_inputs(clips.grey[0]), len(CHANNELS)))
    assert predict_logits(wider, ClipSet(clips.grey, clips.mask, clips.leak)) == pytest.approx(expected, abs=1e-4)
    assert float(wider.enc1[0][0].weight.detach()[:, 3:].abs().sum()) == 0.0
    with pytest.raises(ValueError, match="does not fit"):
        load_onnx_weights(PlumeNet(3, 8), path, probe)


def test_served_mask_uses_the_threshold_chosen_for_the_model(tmp_path: Path) -> None:
    model = tmp_path / "plume.onnx"
    shutil.copy(artifact_path(DEFAULT_SEG_MODEL), model)
    meta = json.loads(artifact_path(DEFAULT_SEG_MODEL).with_suffix(".json").read_text())
    params = random_scene(np.random.default_rng(21), 21, leak_probability=1.0, frames=6, leak_rate_g_s=4.0)
    frames = simulate_clip(params).grey()
    fractions = {}
    for threshold in (-1e9, 1e9):  # every pixel / no pixel of a leak frame
        meta["mask_logit_threshold"] = threshold
        model.with_suffix(".json").write_text(json.dumps(meta))
        results = [PlumeDetector(model, threshold=0.0).process(f, index=i) for i, f in enumerate(frames[:1])]
        fractions[threshold] = results[0].mask_fraction
    assert fractions == {-1e9: 1.0, 1e9: 0.0}


def test_evaluation_mask_threshold_moves_the_pixel_scores() -> None:
    from gasguard.vision.seg_data import ClipSet
    from gasguard.vision.seg_eval import score_logits

    mask = np.zeros((1, 6, 4, 4), bool)
    mask[:, :, :2] = True
    clips = ClipSet(np.zeros((1, 6, 4, 4), np.uint8), mask, np.ones((1, 6), bool))
    logits = np.where(mask, 1.0, -0.5).astype(np.float32)
    assert score_logits(logits, clips, None, mask_threshold=0.0)["pixels"]["iou"] == 1.0
    assert score_logits(logits, clips, None, mask_threshold=-1.0)["pixels"]["iou"] == 0.5
