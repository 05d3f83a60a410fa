"""Throughput of the serving path on one CPU core (ONNX Runtime, ``intra_op_num_threads=1``)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from gasguard.vision.detector import ClassifierRuntime, PlumeDetector


def _rate(fn: Any, seconds: float, warmup: int = 5) -> float:
    for _ in range(warmup):
        fn()
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        fn()
        n += 1
    return n / (time.perf_counter() - start)


def bench_vision(seconds: float = 3.0, seg_model: Path | None = None, cls_model: Path | None = None) -> dict[str, Any]:
    """Frames per second: plume detection on 320x240 greyscale frames end to end (resize, temporal
    context, network, calibrated score, mask back at 320x240), the same with a commissioned scene
    baseline (judging each frame against it and adapting it), the same network run natively at
    320x240, and GasNet classification of preprocessed 224x224 frames."""
    from gasguard.vision.sim import random_scene, simulate_clip

    clip = simulate_clip(
        random_scene(np.random.default_rng(5), 5, height=240, width=320, frames=8, leak_probability=1.0)
    )
    frames = clip.grey()
    det = PlumeDetector(seg_model, threads=1)
    i = [0]

    def seg() -> None:
        det.process(frames[i[0] % len(frames)], index=i[0])
        i[0] += 1

    seg_fps = _rate(seg, seconds)
    det.reset()
    learn = 24  # the benchmark clip's frames, cycled; what matters here is the cost per judged frame
    det.commission(learn)
    for k in range(learn + det.warmup_frames + 1):
        det.process(frames[k % len(frames)], index=k)
    if det.phase != "commissioned":
        raise RuntimeError("the benchmark's scene baseline did not finish")
    commissioned_fps = _rate(seg, seconds)

    native = np.random.default_rng(0).random((1, det.channels, 240, 320), dtype=np.float32)

    def seg_native() -> None:
        det.session.run(None, {det.input_name: native})

    cls = ClassifierRuntime(cls_model, threads=1)
    image = np.random.default_rng(1).integers(0, 255, (224, 224, 3), dtype=np.uint8)
    return {
        "segmentation_fps": round(seg_fps, 1),
        "segmentation_commissioned_fps": round(commissioned_fps, 1),
        "segmentation_native_320x240_fps": round(_rate(seg_native, seconds), 1),
        "classification_fps": round(_rate(lambda: cls.scores(image), seconds), 1),
        "threads": 1,
        "segmentation_input": f"320x240 greyscale, network at its working size {det.work_size[0]}x{det.work_size[1]}",
        "classification_input": "224x224 BGR (GasNet)",
    }
