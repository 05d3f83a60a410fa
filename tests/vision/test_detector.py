"""Serving: the shipped ONNX plume model, ``vision detect``, ``vision simulate``, ``bench vision``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from gasguard.vision.detector import DEFAULT_SEG_MODEL, PlumeDetector, artifact_path
from gasguard.vision.sim import random_scene, simulate_clip
from gasguard.vision.temporal import CHANNELS


def _clip(seed: int, **kw: float) -> np.ndarray:
    params = random_scene(np.random.default_rng(seed), seed, frames=12, height=120, width=160, **kw)
    return simulate_clip(params).grey()


def test_shipped_model_is_small_and_carries_its_calibration() -> None:
    path = artifact_path(DEFAULT_SEG_MODEL)
    assert path.is_file() and path.stat().st_size < 3_000_000
    meta = json.loads(path.with_suffix(".json").read_text())
    assert meta["input"]["channels"] == list(CHANNELS)
    assert set(meta["calibration"]) == {"a", "b"}
    assert (path.parent / "MODEL_CARD.md").is_file()


@pytest.mark.slow
def test_shipped_model_still_scores_what_its_card_says() -> None:
    """The card's held-out figures (60 simulated test scenes: IoU 0.585, frame accuracy 0.924, false
    alarms 1.9 %), re-measured; the small margins allow for float differences between CPUs, not for a
    worse model."""
    from gasguard.vision.plume_eval import evaluate_plume_model

    report = evaluate_plume_model(None, 60)
    assert report["data"]["scenes"] == 60 and report["frames"]["n"] == 720
    assert report["pixels"]["iou"] >= 0.580
    assert report["frames"]["accuracy"] >= 0.920
    assert report["frames"]["false_alarm_rate"] <= 0.025


def test_serving_path_imports_and_runs_without_torch(tmp_path: Path) -> None:
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "import numpy as np\n"
        "from gasguard.vision.detector import PlumeDetector\n"
        "from gasguard.vision.frames import open_source\n"
        "d = PlumeDetector()\n"
        "r = [d.process(f) for f in open_source('sim://seed=1,frames=3,height=120,width=160')]\n"
        "print(len(r), 'torch' in sys.modules and sys.modules['torch'] is not None)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.split() == ["3", "False"]


def test_strong_close_leak_is_found_and_empty_scene_is_clear() -> None:
    leak = _clip(
        21,
        leak_probability=1.0,
        leak_rate_g_s=4.0,
        distance_m=5.0,
        wind_speed_m_s=1.5,
        gas_temperature_delta_k=-8.0,
        air_temperature_k=285.0,
        onset_frame=0,
        netd_k=0.02,
    )
    clear = _clip(22, leak_probability=0.0)
    det = PlumeDetector()
    leak_results = [det.process(f, index=i) for i, f in enumerate(leak)]
    det.reset()
    clear_results = [det.process(f, index=i) for i, f in enumerate(clear)]
    assert sum(r.leak for r in leak_results[4:]) >= 7  # of 8 frames after the background settles
    assert sum(r.leak for r in clear_results[4:]) <= 1
    assert min(r.leak_score for r in leak_results[4:]) > max(r.leak_score for r in clear_results[4:]) - 0.5
    assert all(r.mask.shape == (120, 160) for r in leak_results)
    assert all(r.mask_fraction == 0.0 for r in clear_results if not r.leak)


def test_detect_cli_prints_one_json_line_per_frame_and_draws_the_mask(run_cli, tmp_path: Path) -> None:
    r = run_cli(
        "vision",
        "simulate",
        "--out",
        str(tmp_path / "clip"),
        "--seed",
        "21",
        "--frames",
        "6",
        "--leak-rate",
        "4",
        "--distance",
        "5",
        "--json",
    )
    assert r.exit_code == 0, r.output
    sim = json.loads(r.stdout)
    assert sim["frames"] == 6 and sim["leak_rate_g_s"] == 4.0
    assert len(list((tmp_path / "clip" / "grey").glob("*.png"))) == 6
    assert np.load(tmp_path / "clip" / "radiometric.npy").shape == (6, 240, 320)
    labels = json.loads((tmp_path / "clip" / "labels.json").read_text())
    assert labels["distance_m"] == 5.0 and len(labels["frame_leak"]) == 6

    out = tmp_path / "annotated"
    r = run_cli("vision", "detect", "--source", str(tmp_path / "clip" / "grey"), "--json", "--out", str(out))
    assert r.exit_code == 0, r.output
    lines = [json.loads(line) for line in r.stdout.splitlines()]
    assert [line["frame"] for line in lines] == list(range(6))
    assert all(set(line) == {"frame", "leak_score", "leak", "mask_fraction"} for line in lines)
    assert all(isinstance(line["leak"], bool) and 0.0 <= line["leak_score"] <= 1.0 for line in lines)
    pngs = sorted(out.glob("*.png"))
    assert len(pngs) == 6 and cv2.imread(str(pngs[0])).shape == (240, 320, 3)


def test_detect_reads_radiometric_arrays(run_cli, tmp_path: Path) -> None:
    clip = simulate_clip(random_scene(np.random.default_rng(3), 3, frames=3, height=60, width=80))
    np.save(tmp_path / "r.npy", clip.radiometric())
    r = run_cli("vision", "detect", "--source", str(tmp_path / "r.npy"), "--json")
    assert r.exit_code == 0, r.output
    assert len(r.stdout.splitlines()) == 3


def test_detect_refuses_a_missing_source(run_cli) -> None:
    r = run_cli("vision", "detect", "--source", "/no/such/clip.mp4")
    assert r.exit_code != 0


def test_bench_reports_both_rates_on_one_thread(run_cli) -> None:
    r = run_cli("bench", "vision", "--seconds", "0.2", "--json")
    assert r.exit_code == 0, r.output
    report = json.loads(r.stdout)
    assert report["threads"] == 1
    assert report["segmentation_fps"] > 0 and report["classification_fps"] > 0
    assert report["segmentation_commissioned_fps"] > 0


@pytest.mark.slow
def test_train_and_evaluate_plume_model_end_to_end(run_cli, tmp_path: Path) -> None:
    run = tmp_path / "run"
    r = run_cli(
        "train",
        "vision-plume",
        "--out",
        str(run),
        "--minutes",
        "0.05",
        "--n-train",
        "3",
        "--n-val",
        "2",
        "--n-distractors",
        "2",
        "--frames",
        "6",
        "--width",
        "64",
        "--height",
        "48",
        "--eval-every",
        "2",
        "--batch-clips",
        "2",
        "--frames-per-clip",
        "3",
        "--json",
    )
    assert r.exit_code == 0, r.output
    report = json.loads(r.stdout)
    assert report["steps"] >= 1 and Path(report["onnx"]).is_file()
    meta = json.loads(Path(report["onnx"]).with_suffix(".json").read_text())
    train_config = meta["train_config"]
    assert (train_config["batch_clips"], train_config["frames_per_clip"]) == (2, 3)
    assert meta["input"]["channels"] == list(CHANNELS)  # a fresh model reads every context channel
    r = run_cli("evaluate", "vision-plume", "--model", report["onnx"], "--scenes", "2", "--json")
    assert r.exit_code == 0, r.output
    ev = json.loads(r.stdout)
    assert ev["data"]["scenes"] == 2 and ev["data"]["frame_size"] == [64, 48]
    assert ev["frames"]["n"] == 2 * (16 - 4)
    assert 0.0 <= ev["pixels"]["iou"] <= 1.0
    r = run_cli("evaluate", "vision-plume", "--model", report["onnx"], "--scenes", "2", "--distractors", "--json")
    assert r.exit_code == 0, r.output
    fp = json.loads(r.stdout)
    assert fp["frames"]["n_leak"] == 0 and "people" in fp["data"]["split"]
    assert fp["frames"]["false_alarm_rate"] == pytest.approx(1 - fp["frames"]["accuracy"], abs=1e-4)


def test_evaluate_reports_false_alarms_on_scenes_with_people_and_steam(run_cli) -> None:
    r = run_cli("evaluate", "vision-plume", "--scenes", "1", "--distractors")
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith("false alarms on ") and "of 12 leak-free frames" in r.stdout


def test_detect_learns_the_first_frames_as_the_baseline_and_judges_the_rest(run_cli, tmp_path: Path) -> None:
    from gasguard.vision.shift_sets import SetSpec, scene_params

    # A swaying camera, clean throughout: the model alone calls many of its frames leaks.
    grey = simulate_clip(scene_params("camera-sway", "calibration", 4, SetSpec(baseline=40, test=20))).grey()
    (tmp_path / "clip").mkdir()
    for i, frame in enumerate(grey):
        cv2.imwrite(str(tmp_path / "clip" / f"{i:05d}.png"), frame)
    plain = run_cli("vision", "detect", "--source", str(tmp_path / "clip"), "--json")
    assert plain.exit_code == 0, plain.output
    own = [json.loads(line) for line in plain.stdout.splitlines()]
    assert all(set(line) == {"frame", "leak_score", "leak", "mask_fraction"} for line in own)
    r = run_cli("vision", "detect", "--source", str(tmp_path / "clip"), "--json", "--baseline-frames", "40")
    assert r.exit_code == 0, r.output
    lines = [json.loads(line) for line in r.stdout.splitlines()]
    assert [line["phase"] for line in lines] == ["commissioning"] * 40 + ["commissioned"] * 20
    assert not any(line["leak"] for line in lines[:40])
    assert [line["model_score"] for line in lines] == [line["leak_score"] for line in own]  # same model, same frames
    assert sum(line["leak"] for line in own[40:]) > 5 and sum(line["leak"] for line in lines[40:]) <= 1
    short = run_cli("vision", "detect", "--source", str(tmp_path / "clip"), "--baseline-frames", "10")
    assert short.exit_code != 0 and "at least 20 frames" in short.output
    too_long = run_cli("vision", "detect", "--source", str(tmp_path / "clip"), "--baseline-frames", "100")
    assert too_long.exit_code == 2 and "before the 100-frame baseline was complete" in too_long.output
