"""Train PlumeNet on simulated clips, calibrate its leak score, export ONNX with a metadata file.

Training extra only (PyTorch). Time-bounded and checkpointed: ``train`` stops after ``minutes`` and
resumes from ``checkpoint.pt`` in the output folder, so a long run can be stopped at any time.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gasguard.vision.seg_data import ClipSet, augment_clip, load_or_generate
from gasguard.vision.temporal import CHANNELS, clip_inputs

log = logging.getLogger(__name__)

#: Frames at the start of a stream while the running background settles; not scored.
WARMUP_FRAMES = 4


@dataclass
class SegTrainConfig:
    """What to simulate and how long to train."""

    out_dir: Path
    cache_dir: Path
    n_train: int = 600
    n_val: int = 80
    height: int = 120
    width: int = 160
    frames: int = 16
    minutes: float = 20.0
    max_steps: int = 100_000
    batch_clips: int = 8
    frames_per_clip: int = 2
    crop: tuple[int, int] = (96, 128)
    lr: float = 2e-3
    width_mult: int = 16
    eval_every: int = 200
    threads: int = 2
    seed: int = 0


def _batch(clips: ClipSet, cfg: SegTrainConfig, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    xs, ys = [], []
    ch, cw = cfg.crop
    for idx in rng.integers(0, len(clips), cfg.batch_clips):
        grey, mask = augment_clip(clips.grey[idx], clips.mask[idx], rng)
        inputs = clip_inputs(grey)
        # Random crops: the network is fully convolutional, and crops cut the cost per step.
        y0 = int(rng.integers(0, grey.shape[1] - ch + 1))
        x0 = int(rng.integers(0, grey.shape[2] - cw + 1))
        for t in rng.integers(WARMUP_FRAMES - 1, len(grey), cfg.frames_per_clip):
            xs.append(inputs[t, :, y0 : y0 + ch, x0 : x0 + cw])
            ys.append(mask[t, y0 : y0 + ch, x0 : x0 + cw])
    return np.stack(xs), np.stack(ys)[:, None].astype(np.float32)


def predict_logits(model: Any, clips: ClipSet, batch: int = 32) -> np.ndarray:
    """``[N, T, H, W]`` plume logits of a (non-augmented) clip set, through the torch model."""
    import torch

    model.eval()
    out = np.empty(clips.grey.shape, dtype=np.float32)
    with torch.no_grad():
        for i in range(len(clips)):
            inputs = torch.from_numpy(clip_inputs(clips.grey[i]))
            for s in range(0, len(inputs), batch):
                out[i, s : s + batch] = model(inputs[s : s + batch])[:, 0].numpy()
    model.train()
    return out


def train(cfg: SegTrainConfig) -> dict[str, Any]:
    """Run (or resume) training; returns the final validation metrics and writes the artifacts."""
    import torch
    import torch.nn.functional as F

    from gasguard.vision.torch_seg import PlumeNet

    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    cfg.out_dir.mkdir(parents=True, exist_ok=True)
    train_set = load_or_generate(cfg.cache_dir, "train", cfg.n_train, cfg.height, cfg.width, cfg.frames)
    val_set = load_or_generate(cfg.cache_dir, "val", cfg.n_val, cfg.height, cfg.width, cfg.frames)
    model = PlumeNet(len(CHANNELS), cfg.width_mult)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=1e-4)
    ckpt_path = cfg.out_dir / "checkpoint.pt"
    step, best_iou = 0, -1.0
    if ckpt_path.exists():
        state = torch.load(ckpt_path, weights_only=False)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        step, best_iou = state["step"], state["best_iou"]
        log.info("resumed at step %d (best val IoU %.4f)", step, best_iou)
    deadline = time.monotonic() + cfg.minutes * 60
    history: list[dict[str, float]] = []
    while step < cfg.max_steps and time.monotonic() < deadline:
        x, y = _batch(train_set, cfg, rng)
        xt, yt = torch.from_numpy(x), torch.from_numpy(y)
        logits = model(xt)
        bce = F.binary_cross_entropy_with_logits(logits, yt, pos_weight=torch.tensor(3.0))
        prob = torch.sigmoid(logits)
        inter = (prob * yt).sum()
        dice = 1 - (2 * inter + 1) / (prob.sum() + yt.sum() + 1)
        loss = bce + dice
        opt.zero_grad()
        loss.backward()  # type: ignore[no-untyped-call]
        opt.step()
        step += 1
        if step % cfg.eval_every == 0 or time.monotonic() >= deadline:
            from gasguard.vision.seg_eval import score_logits

            logits_val = predict_logits(model, val_set)
            metrics = score_logits(logits_val, val_set, calibration=None)
            history.append({"step": step, "loss": float(loss.detach()), **metrics["pixels"]})
            log.info("step %d loss %.4f val IoU %.4f", step, float(loss.detach()), metrics["pixels"]["iou"])
            state = {"model": model.state_dict(), "opt": opt.state_dict(), "step": step, "best_iou": best_iou}
            if metrics["pixels"]["iou"] > best_iou:
                best_iou = metrics["pixels"]["iou"]
                state["best_iou"] = best_iou
                torch.save(model.state_dict(), cfg.out_dir / "best.pt")
            torch.save(state, ckpt_path)
    (cfg.out_dir / "history.json").write_text(json.dumps(history, indent=1))
    return {"steps": step, "best_val_iou": best_iou}


def finalize(cfg: SegTrainConfig, onnx_path: Path) -> dict[str, Any]:
    """Load the best weights, fit the leak-score calibration on validation scenes, export to ONNX."""
    import torch

    from gasguard.vision.seg_eval import calibrate, frame_statistic
    from gasguard.vision.torch_seg import PlumeNet

    val_set = load_or_generate(cfg.cache_dir, "val", cfg.n_val, cfg.height, cfg.width, cfg.frames)
    model = PlumeNet(len(CHANNELS), cfg.width_mult)
    model.load_state_dict(torch.load(cfg.out_dir / "best.pt"))
    model.eval()
    logits = predict_logits(model, val_set)
    a, b = calibrate(frame_statistic(logits), val_set.leak, WARMUP_FRAMES)
    export_onnx(model, onnx_path, cfg.height, cfg.width)
    meta = {
        "kind": "plume-segmentation",
        "input": {"channels": list(CHANNELS), "height": cfg.height, "width": cfg.width},
        "calibration": {"a": a, "b": b},
        "warmup_frames": WARMUP_FRAMES,
        "train_config": {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(cfg).items()},
    }
    onnx_path.with_suffix(".json").write_text(json.dumps(meta, indent=2))
    return meta


def export_onnx(model: Any, path: Path, height: int, width: int) -> None:
    """Export with dynamic batch and frame size (opset 17), constant-folded."""
    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    dummy = torch.zeros(1, len(CHANNELS), height, width)
    torch.onnx.export(
        model,
        (dummy,),
        str(path),
        input_names=["input"],
        output_names=["logits"],
        dynamic_axes={"input": {0: "batch", 2: "height", 3: "width"}, "logits": {0: "batch", 2: "height", 3: "width"}},
        opset_version=17,
        do_constant_folding=True,
        dynamo=False,
    )
