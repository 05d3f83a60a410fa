"""``benchmarks/bench_camera.py``: the live-camera figures of the cameras README come from it."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from gasguard.vision.detector import PlumeDetector

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_camera.py"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_camera", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_strong_leak_is_signalled_within_seconds_of_scene_time(bench: ModuleType) -> None:
    r = bench.time_to_signal(1.0, seeds=1, detector=PlumeDetector())
    assert r["detected"] == 1
    # Three confirming frames at 4 frames/s is the fastest a signal can come.
    assert 0.75 <= r["times_s"][0] <= 5.0


def test_an_empty_scene_is_not_called_a_leak(bench: ModuleType) -> None:
    r = bench.false_leak_frames(seeds=1, frames=20, detector=PlumeDetector(), distractors=False)
    assert r == {"frames": 20, "leak_frames": 0, "backgrounds_signalled": 0}


def test_script_prints_json(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, str(SCRIPT), "--seeds", "1", "--frames", "4", "--rates", "1", "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    report = json.loads(out.stdout)
    assert set(report) == {"commission_s", "no_leak", "no_leak_people_and_steam", "time_to_signal"}
    assert report["time_to_signal"][0]["rate_g_s"] == 1.0
