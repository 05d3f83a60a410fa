"""Train and evaluate GasNet and the fusion models on a MultimodalGasData-style folder.

Paper hyper-parameters: Adam, learning rate 0.001, batch 32, dropout 0.3, early stopping with
patience 12 on the validation loss. A checkpoint (``.pt``) carries everything evaluation needs: model
kind, classes, image size, overlay mode, sensor standardization and the split that was used, so
``evaluate`` scores exactly the held-out part. Training extra only.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from gasguard.vision.paired import PairedSet, Split, load_paired, split_indices

log = logging.getLogger(__name__)


@dataclass
class ClsTrainConfig:
    data_root: Path
    sensors_csv: Path
    out: Path
    kind: str = "fusion1"
    protocol: str = "paper"
    fold: int = 4
    seed: int = 0
    epochs: int = 200
    patience: int = 12
    batch_size: int = 32
    lr: float = 1e-3
    image_size: int = 224
    overlay: str = "auto"
    threads: int = 2


def _tensors(
    ps: PairedSet, idx: NDArray[np.int64], mean: NDArray[np.float32], std: NDArray[np.float32]
) -> tuple[Any, Any, Any]:
    import torch

    x = torch.from_numpy(ps.images[idx]).permute(0, 3, 1, 2).float().div_(255.0)
    s = torch.from_numpy((ps.sensors[idx] - mean) / std)
    y = torch.from_numpy(ps.labels[idx])
    return x, s, y


def _predict(model: Any, x: Any, s: Any, batch: int = 64) -> NDArray[np.float32]:
    import torch

    model.eval()
    out = []
    with torch.no_grad():
        for i in range(0, len(x), batch):
            out.append(torch.softmax(model(x[i : i + batch], s[i : i + batch]), 1).numpy())
    return np.concatenate(out) if out else np.zeros((0, 4), dtype=np.float32)


def classification_report(
    probs: NDArray[np.float32], labels: NDArray[np.int64], classes: tuple[str, ...]
) -> dict[str, Any]:
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score

    pred = probs.argmax(1)
    return {
        "n": len(labels),
        "accuracy": round(float(accuracy_score(labels, pred)), 4),
        "macro_f1": round(
            float(f1_score(labels, pred, average="macro", labels=list(range(len(classes))), zero_division=0)), 4
        ),
        "confusion_matrix": confusion_matrix(labels, pred, labels=list(range(len(classes)))).tolist(),
        "classes": list(classes),
    }


def train_classifier(cfg: ClsTrainConfig) -> dict[str, Any]:
    """Train one model kind; write the checkpoint to ``cfg.out`` and return its test report."""
    import torch

    from gasguard.vision.torch_models import build_model

    torch.manual_seed(cfg.seed)
    torch.set_num_threads(cfg.threads)
    ps = load_paired(cfg.data_root, cfg.sensors_csv, cfg.image_size, cfg.overlay)
    split = split_indices(ps.labels, ps.serials, cfg.protocol, cfg.seed, cfg.fold)
    mean = ps.sensors[split.train].mean(0)
    std = ps.sensors[split.train].std(0) + 1e-6
    x, s, y = _tensors(ps, split.train, mean, std)
    xv, sv, yv = _tensors(ps, split.val, mean, std)
    model = build_model(cfg.kind, len(ps.classes), ps.sensors.shape[1])
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    gen = torch.Generator().manual_seed(cfg.seed)
    best_loss, best_state, bad = float("inf"), None, 0
    epochs_run = 0
    for epoch in range(cfg.epochs):
        model.train()
        order = torch.randperm(len(y), generator=gen)
        for i in range(0, len(order), cfg.batch_size):
            b = order[i : i + cfg.batch_size]
            if len(b) < 2:  # batch normalisation needs two samples
                continue
            loss = model.loss(x[b], s[b], y[b])  # type: ignore[operator]
            opt.zero_grad()
            loss.backward()
            opt.step()
        epochs_run = epoch + 1
        if len(yv):
            probs = _predict(model, xv, sv)
            val_loss = float(-np.log(probs[np.arange(len(yv)), yv.numpy()] + 1e-9).mean())
        else:
            val_loss = float(loss.detach())
        log.info("epoch %d val loss %.4f", epoch + 1, val_loss)
        if val_loss < best_loss - 1e-4:
            best_loss, bad = val_loss, 0
            best_state = {k: v.clone() for k, v in model.state_dict().items()}
        else:
            bad += 1
            if bad >= cfg.patience:
                break
    if best_state is not None:
        model.load_state_dict(best_state)
    checkpoint = {
        "model": model.state_dict(),
        "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(cfg).items()},
        "classes": list(ps.classes),
        "sensor_mean": mean.tolist(),
        "sensor_std": std.tolist(),
        "epochs_run": epochs_run,
    }
    cfg.out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(checkpoint, cfg.out)
    report = evaluate_classifier(cfg.out, cfg.data_root, cfg.sensors_csv, ps=ps, split=split)
    report["epochs_run"] = epochs_run
    return report


def load_checkpoint(path: Path) -> tuple[Any, dict[str, Any]]:
    import torch

    from gasguard.vision.torch_models import build_model

    ckpt = torch.load(path, weights_only=False)
    cfg = ckpt["config"]
    model = build_model(cfg["kind"], len(ckpt["classes"]), len(ckpt["sensor_mean"]))
    model.load_state_dict(ckpt["model"])
    model.eval()
    return model, ckpt


def evaluate_classifier(
    checkpoint: Path,
    data_root: Path,
    sensors_csv: Path,
    protocol: str | None = None,
    gradcam_dir: Path | None = None,
    gradcam_count: int = 8,
    ps: PairedSet | None = None,
    split: Split | None = None,
) -> dict[str, Any]:
    """Score a checkpoint on the test part of ``data_root`` (the checkpoint's protocol unless given);
    optionally write Grad-CAM panels for the first ``gradcam_count`` test frames."""
    model, ckpt = load_checkpoint(checkpoint)
    cfg = ckpt["config"]
    protocol = protocol or cfg["protocol"]
    if ps is None:
        ps = load_paired(data_root, sensors_csv, cfg["image_size"], cfg["overlay"])
    if split is None:
        split = split_indices(ps.labels, ps.serials, protocol, cfg["seed"], cfg["fold"])
    mean = np.asarray(ckpt["sensor_mean"], dtype=np.float32)
    std = np.asarray(ckpt["sensor_std"], dtype=np.float32)
    xt, st, _ = _tensors(ps, split.test, mean, std)
    report = {
        "model": cfg["kind"],
        "protocol": protocol,
        "data_root": str(data_root),
        "split_sizes": {"train": len(split.train), "val": len(split.val), "test": len(split.test)},
        "test": classification_report(_predict(model, xt, st), ps.labels[split.test], ps.classes),
    }
    if gradcam_dir is not None:
        from gasguard.vision.gradcam import grad_cam, save_panel

        written = []
        for i in split.test[:gradcam_count]:
            heat, cls = grad_cam(model, ps.images[i], (ps.sensors[i] - mean) / std)
            name = f"{Path(ps.paths[i]).stem}_pred-{ps.classes[cls]}.png"
            save_panel(gradcam_dir / name, ps.images[i], heat)
            written.append(str(gradcam_dir / name))
        report["gradcam"] = written
    return report


def export_classifier_onnx(model: Any, path: Path, image_size: int = 224) -> None:
    """Export the image classifier (GasNet) for serving; fusion models need sensors too (2 inputs)."""
    import torch

    from gasguard.vision.torch_models import GasNet

    path.parent.mkdir(parents=True, exist_ok=True)
    image = torch.zeros(1, 3, image_size, image_size)
    if isinstance(model, GasNet):
        args: tuple[Any, ...] = (image,)
        names = ["image"]
    else:
        args = (image, torch.zeros(1, 7))
        names = ["image", "sensors"]
    torch.onnx.export(
        model.eval(),
        args,
        str(path),
        input_names=names,
        output_names=["scores"],
        dynamic_axes={n: {0: "batch"} for n in [*names, "scores"]},
        opset_version=17,
        dynamo=False,
    )


def write_report(report: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2))
