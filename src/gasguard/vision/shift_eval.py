"""What commissioning does under domain shift: the shipped model with and without a scene baseline,
beside classic background subtraction, on held-out simulated scene sets (``shift_sets``).

Every scene is one fixed camera: ``baseline`` leak-free frames, then ``test`` frames that are judged
(a leak starts at the first test frame in every other scene). Per set and method: balanced frame
accuracy (mean of the leak-frame recall and the clear-frame specificity), false-alarm rate (clear
test frames called "leak"), recall. Ground truth per frame is the simulator's: at least 12 pixels
where the gas changes the picture by more than 2.5 times the camera's noise floor (temporal noise,
display step and, with compression, the JPEG error).

Methods, all on the same frames:

- ``model``: the shipped plume model, its own threshold (score >= 0.5), no commissioning;
- ``commissioned``: the same model after learning the baseline frames (``vision.commissioning``,
  default settings, adapting during the test frames as on a live camera);
- ``mog2``: OpenCV's MOG2 background subtraction (history 500, variance threshold 16, no shadows,
  3x3 opening) learning the baseline frames, then adapting slowly (rate 0.001); a frame is "leak"
  when its foreground pixel count exceeds the baseline's largest by 3 robust units (median absolute
  deviation; at least 12 pixels): its threshold is set from the baseline too.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from gasguard.vision.shift_sets import SHIFT_SETS, SetSpec, scene_params

METHODS = ("model", "commissioned", "mog2")
MOG2_HISTORY = 500
MOG2_VAR_THRESHOLD = 16.0
MOG2_TEST_RATE = 0.001
MOG2_MARGIN = 3.0
MOG2_MIN_PIXELS = 12
#: MOG2's first frames only fill its model; its baseline statistics start here.
MOG2_SETTLE_FRAMES = 16


def _mog2_counts(grey: NDArray[np.uint8], baseline: int) -> NDArray[np.float64]:
    import cv2

    mog = cv2.createBackgroundSubtractorMOG2(history=MOG2_HISTORY, varThreshold=MOG2_VAR_THRESHOLD, detectShadows=False)
    kernel = np.ones((3, 3), np.uint8)
    counts = np.empty(len(grey))
    for t, frame in enumerate(grey):
        fg = mog.apply(frame, learningRate=-1 if t < baseline else MOG2_TEST_RATE)
        counts[t] = np.count_nonzero(cv2.morphologyEx(fg, cv2.MORPH_OPEN, kernel))
    return counts


def mog2_decisions(grey: NDArray[np.uint8], baseline: int) -> NDArray[np.bool_]:
    """MOG2's leak verdict on the test frames, its count threshold set from the baseline frames."""
    counts = _mog2_counts(grey, baseline)
    base = counts[min(MOG2_SETTLE_FRAMES, baseline - 1) : baseline]
    mad = 1.4826 * float(np.median(np.abs(base - np.median(base))))
    threshold = max(float(base.max()) + MOG2_MARGIN * max(mad, 1.0), MOG2_MIN_PIXELS)
    return np.asarray(counts[baseline:] > threshold)


def model_decisions(
    grey: NDArray[np.uint8], baseline: int, detector: Any
) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
    """The model's own verdicts and the commissioned ones on the test frames (one network pass)."""
    detector.use_baseline(None)
    detector.reset()
    detector.commission(baseline - detector.warmup_frames)
    own, commissioned = [], []
    for t, frame in enumerate(grey):
        det = detector.process(frame, index=t)
        if t >= baseline:
            own.append(det.model_score >= detector.threshold)
            commissioned.append(det.leak)
    if detector.phase != "commissioned":
        raise RuntimeError("the baseline did not finish within the baseline frames")
    return np.asarray(own), np.asarray(commissioned)


def _rates(decided: NDArray[np.bool_], truth: NDArray[np.bool_]) -> dict[str, Any]:
    pos, neg = truth, ~truth
    recall = float(decided[pos].mean()) if pos.any() else None
    false_alarm = float(decided[neg].mean()) if neg.any() else None
    parts = [v for v in (recall, None if false_alarm is None else 1.0 - false_alarm) if v is not None]
    return {
        "balanced_accuracy": round(float(np.mean(parts)), 4) if parts else None,
        "false_alarm_rate": None if false_alarm is None else round(false_alarm, 4),
        "recall": None if recall is None else round(recall, 4),
    }


def evaluate_set(name: str, spec: SetSpec, detector: Any, purpose: str = "evaluation") -> dict[str, Any]:
    """One set's scenes simulated, judged by every method, and scored."""
    from gasguard.vision.sim import simulate_clip

    truth, verdicts = [], {m: [] for m in METHODS}  # type: ignore[var-annotated]
    for i in range(spec.scenes):
        clip = simulate_clip(scene_params(name, purpose, i, spec))
        grey = clip.grey()
        own, commissioned = model_decisions(grey, spec.baseline, detector)
        verdicts["model"].append(own)
        verdicts["commissioned"].append(commissioned)
        verdicts["mog2"].append(mog2_decisions(grey, spec.baseline))
        truth.append(clip.frame_leak[spec.baseline :])
    t = np.concatenate(truth)
    out: dict[str, Any] = {
        "description": SHIFT_SETS[name][0],
        "scenes": spec.scenes,
        "test_frames": int(t.size),
        "leak_frames": int(t.sum()),
    }
    for m in METHODS:
        out[m] = _rates(np.concatenate(verdicts[m]), t)
    return out


def _evaluate_sets(names: list[str], spec: SetSpec, model_path: Path | None, purpose: str) -> dict[str, Any]:
    from gasguard.vision.detector import PlumeDetector

    detector = PlumeDetector(model_path, threads=1)
    return {name: evaluate_set(name, spec, detector, purpose) for name in names}


def evaluate_shift(
    sets: Iterable[str] | None = None,
    spec: SetSpec | None = None,
    model_path: Path | None = None,
    purpose: str = "evaluation",
    jobs: int = 1,
) -> dict[str, Any]:
    """The table of ``gasguard evaluate vision-shift``: every set (or ``sets``), every method.

    ``jobs`` > 1 scores sets in that many processes (each with its own one-thread detector).
    """
    from gasguard.vision.detector import PlumeDetector, model_id

    spec = spec or SetSpec()
    names = list(sets) if sets is not None else list(SHIFT_SETS)
    for name in names:
        if name not in SHIFT_SETS:
            raise ValueError(f"unknown shift set {name!r}; choose from {', '.join(SHIFT_SETS)}")
    started = time.perf_counter()
    if jobs <= 1 or len(names) <= 1:
        results = _evaluate_sets(names, spec, model_path, purpose)
    else:
        from concurrent.futures import ProcessPoolExecutor

        chunks = [names[i::jobs] for i in range(min(jobs, len(names)))]
        found: dict[str, Any] = {}
        with ProcessPoolExecutor(max_workers=len(chunks)) as pool:
            for part in pool.map(
                _evaluate_sets, chunks, [spec] * len(chunks), [model_path] * len(chunks), [purpose] * len(chunks)
            ):
                found.update(part)
        results = {name: found[name] for name in names}
    path = Path(model_path) if model_path else None
    model = model_id(path) if path else PlumeDetector.default_model_id()
    summary: dict[str, Any] = {}
    for m in METHODS:
        bal = [r[m]["balanced_accuracy"] for r in results.values() if r[m]["balanced_accuracy"] is not None]
        summary[m] = {
            "mean_balanced_accuracy": round(float(np.mean(bal)), 4) if bal else None,
            "min_balanced_accuracy": round(float(np.min(bal)), 4) if bal else None,
            "sets_at_or_above_0.90": int(sum(b >= 0.90 for b in bal)),
        }
    worse = [
        n
        for n, r in results.items()
        if r["commissioned"]["balanced_accuracy"] is not None
        and r["model"]["balanced_accuracy"] is not None
        and r["commissioned"]["balanced_accuracy"] < r["model"]["balanced_accuracy"]
    ]
    return {
        "model": model,
        "purpose": purpose,
        "spec": {
            "scenes_per_set": spec.scenes,
            "baseline_frames": spec.baseline,
            "test_frames": spec.test,
            "frame_size": [spec.width, spec.height],
            "fps": 15.0,
            "leak_scenes": "every other scene, leak from the first test frame",
        },
        "sets": results,
        "summary": summary,
        "sets_where_commissioning_is_worse": worse,
        "seconds": round(time.perf_counter() - started, 1),
    }


def format_table(report: dict[str, Any]) -> str:
    """The report as a Markdown table (balanced accuracy / false-alarm rate per method)."""
    lines = [
        "| set | test frames (leak) | model: bal. acc. / false alarms | commissioned | MOG2, commissioned threshold |",
        "|---|---|---|---|---|",
    ]

    def cell(r: dict[str, Any]) -> str:
        bal, fa = r["balanced_accuracy"], r["false_alarm_rate"]
        return f"{'-' if bal is None else f'{bal:.3f}'} / {'-' if fa is None else f'{fa:.3f}'}"

    for name, r in report["sets"].items():
        lines.append(
            f"| {name} | {r['test_frames']} ({r['leak_frames']}) | {cell(r['model'])} | "
            f"{cell(r['commissioned'])} | {cell(r['mog2'])} |"
        )
    s = report["summary"]
    lines.append(
        "| **mean (min)** | | "
        + " | ".join(f"{s[m]['mean_balanced_accuracy']:.3f} ({s[m]['min_balanced_accuracy']:.3f})" for m in METHODS)
        + " |"
    )
    return "\n".join(lines)
