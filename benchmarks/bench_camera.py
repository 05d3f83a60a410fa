"""Live simulated camera with a plume model: false leak frames without a leak, and the time from a
leak's start to the camera's ``VISUAL_LEAK`` signal (the figures in ``gasguard/cameras/README.md``).

Each background (seed) is watched at 4 frames/s after a 5 s warm-up. Scene time, not wall time:
the figures do not depend on the machine's speed. ``--commission-s S`` commissions every camera on
S seconds of its (leak-free) scene after the warm-up, before anything is counted.

Usage: python benchmarks/bench_camera.py [--model PLUME.onnx] [--seeds 10] [--frames 100]
       [--rates 1,0.3,0.1,0.05] [--commission-s 60] [--signal-with-distractors] [--json]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from gasguard.cameras import SimulatedThermalCamera
from gasguard.cameras.frame import CameraFrame
from gasguard.cameras.scene import LiveSceneParams
from gasguard.vision.detector import PlumeDetector

FRAME_S = 0.25
WARMUP_S = 5.0
DETECT_WITHIN_S = 30.0


class SceneClock:
    """The camera's clock follows scene time, so its confirmation rule sees 4 frames/s exactly."""

    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def _camera(seed: int, detector: PlumeDetector, distractors: bool) -> tuple[SimulatedThermalCamera, SceneClock]:
    """A fresh camera over background ``seed``; the one detector is reset, not reloaded, per camera."""
    detector.use_baseline(None)
    detector.reset()
    clock = SceneClock()
    scene = LiveSceneParams(people=distractors, steam=distractors)
    cam = SimulatedThermalCamera(
        f"bench-{seed}", "bench", seed=seed, fps=1 / FRAME_S, detector=detector, scene=scene, clock=clock
    )
    return cam, clock


def _advance(cam: SimulatedThermalCamera, clock: SceneClock) -> tuple[CameraFrame, bool]:
    """One frame, and whether the camera would send ``VISUAL_LEAK`` on it."""
    clock.t += FRAME_S
    frame = cam.step(FRAME_S)
    return frame, cam.observe(frame) is not None


def _warm_up(cam: SimulatedThermalCamera, clock: SceneClock, commission_s: float = 0.0) -> None:
    for _ in range(round(WARMUP_S / FRAME_S)):
        _advance(cam, clock)
    if commission_s > 0:
        cam.commission(frames=round(commission_s / FRAME_S))
        while cam.commissioning()["state"] == "commissioning":
            _advance(cam, clock)


def false_leak_frames(
    seeds: int, frames: int, detector: PlumeDetector, distractors: bool, commission_s: float = 0.0
) -> dict[str, Any]:
    """Frames called "leak" with no leak at all, and the backgrounds that sent a false signal."""
    leak_frames, signalled = 0, 0
    for seed in range(seeds):
        cam, clock = _camera(seed, detector, distractors)
        _warm_up(cam, clock, commission_s)
        sent = False
        for _ in range(frames):
            frame, signal = _advance(cam, clock)
            leak_frames += int(frame.leak)
            sent = sent or signal
        signalled += int(sent)
    return {"frames": seeds * frames, "leak_frames": leak_frames, "backgrounds_signalled": signalled}


def time_to_signal(
    rate_g_s: float, seeds: int, detector: PlumeDetector, commission_s: float = 0.0, distractors: bool = False
) -> dict[str, Any]:
    """Seconds from switching a leak on to the first ``VISUAL_LEAK``, per background (None: missed)."""
    times: list[float | None] = []
    for seed in range(seeds):
        cam, clock = _camera(seed, detector, distractors=distractors)
        _warm_up(cam, clock, commission_s)
        cam.set_leak(rate_g_s)
        found = None
        for n in range(1, round(DETECT_WITHIN_S / FRAME_S) + 1):
            if _advance(cam, clock)[1]:
                found = n * FRAME_S
                break
        times.append(found)
    hits = [t for t in times if t is not None]
    return {
        "rate_g_s": rate_g_s,
        "detected": len(hits),
        "backgrounds": seeds,
        "min_s": min(hits) if hits else None,
        "max_s": max(hits) if hits else None,
        "times_s": times,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=None, help="ONNX plume model (default: the shipped one)")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--rates", default="1,0.3,0.1,0.05", help="leak rates in g/s, comma-separated")
    parser.add_argument("--commission-s", type=float, default=0.0, help="commission each camera on this much scene")
    parser.add_argument(
        "--signal-with-distractors", action="store_true", help="time to signal with people and steam in view"
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    detector = PlumeDetector(args.model)
    c = args.commission_s
    report: dict[str, Any] = {
        "commission_s": c,
        "no_leak": false_leak_frames(args.seeds, args.frames, detector, distractors=False, commission_s=c),
        "no_leak_people_and_steam": false_leak_frames(args.seeds, args.frames, detector, True, commission_s=c),
        "time_to_signal": [time_to_signal(float(r), args.seeds, detector, c) for r in args.rates.split(",") if r],
    }
    if args.signal_with_distractors:
        report["time_to_signal_people_and_steam"] = [
            time_to_signal(float(r), args.seeds, detector, c, distractors=True) for r in args.rates.split(",") if r
        ]
    if args.json:
        print(json.dumps(report))
        return
    for key in ("no_leak", "no_leak_people_and_steam"):
        r = report[key]
        signalled = r["backgrounds_signalled"]
        print(f"{key}: {r['leak_frames']} of {r['frames']} frames called leak; {signalled} backgrounds signalled")
    for r in report["time_to_signal"] + report.get("time_to_signal_people_and_steam", []):
        span = f"{r['min_s']}-{r['max_s']} s" if r["detected"] else "-"
        print(f"{r['rate_g_s']} g/s: {r['detected']}/{r['backgrounds']} within {DETECT_WITHIN_S:.0f} s, {span}")


if __name__ == "__main__":
    main()
