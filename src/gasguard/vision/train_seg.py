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
from gasguard.vision.temporal import CHANNELS, clip_inputs, network_input

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
    n_train_distractors: int = 0  # extra training scenes that always show people and a steam vent
    n_train_shift: int = 0  # extra training scenes under camera and scene shift (``train_shifts``)
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
    lr_floor: float = 0.05  # each run's learning rate follows a cosine from lr down to lr * lr_floor
    init_onnx: Path | None = None  # warm start from an exported PlumeNet (fresh runs only)
    in_channels: int = len(CHANNELS)  # the first this many ``temporal.CHANNELS`` are the network's input
    # Keep the weights every this many steps (0: never) in ``snapshots/``, so a checkpoint can be chosen
    # afterwards on data the validation score does not cover (the shift calibration scenes).
    snapshot_every: int = 0


def _batch(clips: ClipSet, cfg: SegTrainConfig, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    xs, ys = [], []
    ch, cw = cfg.crop
    for idx in rng.integers(0, len(clips), cfg.batch_clips):
        grey, mask = augment_clip(clips.grey[idx], clips.mask[idx], rng)
        inputs = network_input(clip_inputs(grey), cfg.in_channels)
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
            inputs = torch.from_numpy(network_input(clip_inputs(clips.grey[i]), model.in_channels))
            for s in range(0, len(inputs), batch):
                out[i, s : s + batch] = model(inputs[s : s + batch])[:, 0].numpy()
    model.train()
    return out


def training_set(cfg: SegTrainConfig) -> ClipSet:
    """The plain training scenes plus, if asked, the distractor-heavy ones and the shifted ones."""
    sets = [load_or_generate(cfg.cache_dir, "train", cfg.n_train, cfg.height, cfg.width, cfg.frames)]
    for split, n in (("train_distractors", cfg.n_train_distractors), ("train_shift", cfg.n_train_shift)):
        if n > 0:
            sets.append(load_or_generate(cfg.cache_dir, split, n, cfg.height, cfg.width, cfg.frames))
    return sets[0] if len(sets) == 1 else ClipSet.concat(sets)


def cosine_lr(cfg: SegTrainConfig, elapsed_fraction: float) -> float:
    """Learning rate at a point of a time-bounded run: cosine from ``lr`` to ``lr * lr_floor``."""
    frac = min(max(elapsed_fraction, 0.0), 1.0)
    return float(cfg.lr * (cfg.lr_floor + (1 - cfg.lr_floor) * 0.5 * (1 + np.cos(np.pi * frac))))


def _widened(w: np.ndarray, shape: tuple[int, ...], source: Path) -> np.ndarray:
    """``w`` as a conv weight of ``shape``: the same, or with zero weights for appended input channels."""
    w = np.array(w)
    if w.shape == shape:
        return w
    if w.ndim == 4 and w.shape[0] == shape[0] and w.shape[2:] == shape[2:] and w.shape[1] < shape[1]:
        out = np.zeros(shape, dtype=w.dtype)
        out[:, : w.shape[1]] = w
        return out
    raise ValueError(f"{source}: weight {w.shape} does not fit {shape}")


def load_onnx_weights(model: Any, onnx_path: Path, probe: np.ndarray) -> None:
    """Warm-start a PlumeNet from its ONNX export, where each batch norm was folded into its conv.

    The folded conv weight and bias are loaded as they are; each batch norm is then set so that it
    passes the conv output through unchanged, in training mode as well as in eval mode: its running
    statistics (and its scale and shift) are the per-channel mean and variance of that conv's output
    on ``probe`` (network inputs, ``[N, C, H, W]``), so batch statistics start where the export was.

    A model with more input channels than the export (new ``temporal.CHANNELS`` appended) starts with
    zero weights on the new ones, so it computes exactly what the export did until training moves them.
    """
    import onnx
    import torch
    from onnx import numpy_helper

    graph = onnx.load(str(onnx_path)).graph
    weights = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    convs = [n for n in graph.node if n.op_type == "Conv"]
    pairs: list[tuple[torch.nn.Conv2d, torch.nn.BatchNorm2d, torch.Tensor, torch.Tensor]] = []
    for block in model.modules():  # each _block is Sequential(conv, batch norm, ReLU)
        if isinstance(block, torch.nn.Sequential) and len(block) == 3:
            conv, bn = block[0], block[1]
            if isinstance(conv, torch.nn.Conv2d) and isinstance(bn, torch.nn.BatchNorm2d):
                assert bn.running_mean is not None and bn.running_var is not None
                pairs.append((conv, bn, bn.running_mean, bn.running_var))
    if len(convs) != len(pairs) + 1:
        raise ValueError(f"{onnx_path} has {len(convs)} convolutions; this PlumeNet needs {len(pairs) + 1}")
    biases: list[np.ndarray] = []
    with torch.no_grad():
        for node, (conv, bn, running_mean, running_var) in zip(convs[:-1], pairs, strict=True):
            w = _widened(weights[node.input[1]], tuple(conv.weight.shape), onnx_path)
            conv.weight.copy_(torch.from_numpy(w))
            biases.append(np.array(weights[node.input[2]]))
            running_mean.zero_()
            running_var.fill_(1.0 - bn.eps)
            bn.weight.fill_(1.0)
            bn.bias.copy_(torch.from_numpy(biases[-1]))
        head = convs[-1]
        model.head.weight.copy_(
            torch.from_numpy(_widened(weights[head.input[1]], tuple(model.head.weight.shape), onnx_path))
        )
        model.head.bias.copy_(torch.from_numpy(np.array(weights[head.input[2]])))
        # Eval mode now reproduces the export; record each conv's output statistics on the probe.
        stats: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
        hooks = [
            conv.register_forward_hook(
                lambda _m, _i, out, k=k: stats.__setitem__(k, (out.mean((0, 2, 3)), out.var((0, 2, 3))))
            )
            for k, (conv, *_) in enumerate(pairs)
        ]
        model.eval()
        model(torch.from_numpy(probe))
        for h in hooks:
            h.remove()
        for k, (_conv, bn, running_mean, running_var) in enumerate(pairs):
            mean, var = stats[k]
            running_mean.copy_(mean)
            running_var.copy_(var)
            bn.weight.copy_(torch.sqrt(var + bn.eps))
            bn.bias.copy_(torch.from_numpy(biases[k]) + mean)
    model.train()


def train(cfg: SegTrainConfig) -> dict[str, Any]:
    """Run (or resume) training; returns the final validation metrics and writes the artifacts."""
    import torch
    import torch.nn.functional as F

    from gasguard.vision.torch_seg import PlumeNet

    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    cfg.out_dir.mkdir(parents=True, exist_ok=True)
    train_set = training_set(cfg)
    val_set = load_or_generate(cfg.cache_dir, "val", cfg.n_val, cfg.height, cfg.width, cfg.frames)
    model = PlumeNet(cfg.in_channels, cfg.width_mult)
    model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]  # ~12 % faster steps on CPU
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=1e-4)
    ckpt_path = cfg.out_dir / "checkpoint.pt"
    step, best_iou = 0, -1.0
    if ckpt_path.exists():
        state = torch.load(ckpt_path, weights_only=False)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        step, best_iou = state["step"], state["best_iou"]
        log.info("resumed at step %d (best validation score, mean of IoU and frame accuracy: %.4f)", step, best_iou)
    elif cfg.init_onnx is not None:
        probe_cfg = SegTrainConfig(**{**asdict(cfg), "batch_clips": 16, "frames_per_clip": 4})
        load_onnx_weights(model, cfg.init_onnx, _batch(train_set, probe_cfg, np.random.default_rng(cfg.seed + 1))[0])
        log.info("warm start from %s", cfg.init_onnx)
    start = time.monotonic()
    deadline = start + cfg.minutes * 60
    history: list[dict[str, float]] = []
    while step < cfg.max_steps and time.monotonic() < deadline:
        for group in opt.param_groups:
            group["lr"] = cosine_lr(cfg, (time.monotonic() - start) / (cfg.minutes * 60))
        x, y = _batch(train_set, cfg, rng)
        xt, yt = torch.from_numpy(x).contiguous(memory_format=torch.channels_last), torch.from_numpy(y)
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
            # Checkpoint choice weighs the mask and the leak / no-leak decision alike.
            score = (metrics["pixels"]["iou"] + metrics["frames"]["accuracy"]) / 2
            history.append(
                {
                    "step": step,
                    "loss": float(loss.detach()),
                    **metrics["pixels"],
                    "frame_accuracy": metrics["frames"]["accuracy"],
                }
            )
            log.info(
                "step %d loss %.4f val IoU %.4f frame accuracy %.4f",
                step,
                float(loss.detach()),
                metrics["pixels"]["iou"],
                metrics["frames"]["accuracy"],
            )
            state = {"model": model.state_dict(), "opt": opt.state_dict(), "step": step, "best_iou": best_iou}
            if score > best_iou:
                best_iou = score
                state["best_iou"] = best_iou
                torch.save(model.state_dict(), cfg.out_dir / "best.pt")
            torch.save(state, ckpt_path)
        if cfg.snapshot_every > 0 and step % cfg.snapshot_every == 0:
            (cfg.out_dir / "snapshots").mkdir(exist_ok=True)
            torch.save(model.state_dict(), cfg.out_dir / "snapshots" / f"step_{step:06d}.pt")
            log.info("snapshot at step %d", step)
    (cfg.out_dir / "history.json").write_text(json.dumps(history, indent=1))
    return {"steps": step, "best_val_score": best_iou}


#: Candidate rates of the running average of the frame statistic, tried on the validation scenes.
SMOOTHING_RATES = (1.0, 0.7, 0.5, 0.35)


def choose_smoothing(logits: np.ndarray, val_set: ClipSet) -> tuple[float, tuple[float, float]]:
    """The score smoothing rate (and its Platt calibration) with the best validation frame accuracy.

    Validation scenes only: the test scenes are never used to choose anything.
    """
    from gasguard.vision.seg_eval import calibrate, frame_statistic, score_logits, smooth_scores

    best: tuple[float, float, tuple[float, float]] | None = None
    for rate in SMOOTHING_RATES:
        cal = calibrate(smooth_scores(frame_statistic(logits), rate), val_set.leak, WARMUP_FRAMES)
        acc = score_logits(logits, val_set, cal, WARMUP_FRAMES, rate)["frames"]["accuracy"]
        log.info("score smoothing %.2f: validation frame accuracy %.4f", rate, acc)
        if best is None or acc > best[0]:
            best = (acc, rate, cal)
    assert best is not None
    return best[1], best[2]


#: Candidate pixel logit thresholds for the served mask, tried on the validation scenes.
MASK_THRESHOLDS = (-1.0, -0.5, 0.0, 0.5)


def choose_mask_threshold(
    logits: np.ndarray, val_set: ClipSet, calibration: tuple[float, float], smoothing: float
) -> float:
    """The pixel logit threshold with the best validation IoU (BCE with a positive weight and Dice
    do not put the IoU-optimal cut exactly at logit 0). Validation scenes only."""
    from gasguard.vision.seg_eval import score_logits

    scores = {
        th: score_logits(logits, val_set, calibration, WARMUP_FRAMES, smoothing, th)["pixels"]["iou"]
        for th in MASK_THRESHOLDS
    }
    log.info("validation IoU by mask threshold: %s", scores)
    return max(MASK_THRESHOLDS, key=lambda th: (scores[th], -abs(th)))


def finalize(cfg: SegTrainConfig, onnx_path: Path, weights: Path | None = None) -> dict[str, Any]:
    """Load the best weights (or ``weights``, e.g. a snapshot chosen on other held-out scenes), fit the
    leak-score calibration on validation scenes, export to ONNX."""
    import torch

    from gasguard.vision.torch_seg import PlumeNet

    val_set = load_or_generate(cfg.cache_dir, "val", cfg.n_val, cfg.height, cfg.width, cfg.frames)
    model = PlumeNet(cfg.in_channels, cfg.width_mult)
    model.load_state_dict(torch.load(weights or cfg.out_dir / "best.pt"))
    model.eval()
    logits = predict_logits(model, val_set)
    smoothing, (a, b) = choose_smoothing(logits, val_set)
    mask_threshold = choose_mask_threshold(logits, val_set, (a, b), smoothing)
    export_onnx(model, onnx_path, cfg.height, cfg.width)
    meta = {
        "kind": "plume-segmentation",
        "input": {"channels": list(CHANNELS[: cfg.in_channels]), "height": cfg.height, "width": cfg.width},
        "calibration": {"a": a, "b": b},
        "score_smoothing": smoothing,
        "mask_logit_threshold": mask_threshold,
        "warmup_frames": WARMUP_FRAMES,
        "train_config": {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(cfg).items()},
        "weights": (weights or cfg.out_dir / "best.pt").name,
    }
    onnx_path.with_suffix(".json").write_text(json.dumps(meta, indent=2))
    return meta


def export_onnx(model: Any, path: Path, height: int, width: int) -> None:
    """Export with dynamic batch and frame size (opset 17), constant-folded."""
    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    dummy = torch.zeros(1, model.in_channels, height, width)
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
