"""Commands for the vision package: ``vision detect|simulate|preprocess``, ``train vision-classifier|
vision-plume``, ``evaluate vision-classifier|vision-plume`` and ``bench vision``.

Heavy libraries (OpenCV, ONNX Runtime, PyTorch) are imported inside the commands.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Annotated

import typer

from gasguard.commands.apps import CliApps

SENSORS_CSV = "Gas_Sensors_Measurements.csv"

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document (detect: one JSON line per frame).")]


def _emit(obj: object) -> None:
    typer.echo(json.dumps(obj))


def _sensors_csv(data: Path, sensors: Path | None) -> Path:
    """The sensor CSV: given, beside or above the image root, or under ``$GASGUARD_DATA``."""
    candidates = [sensors] if sensors else [data / SENSORS_CSV, data.parent / SENSORS_CSV]
    env = os.environ.get("GASGUARD_DATA")
    if not sensors and env:
        candidates.append(Path(env) / "multimodalgasdata" / SENSORS_CSV)
    for c in candidates:
        if c and c.is_file():
            return c
    raise typer.BadParameter(f"sensor CSV not found (tried {', '.join(map(str, candidates))}); pass --sensors")


def register(apps: CliApps) -> None:
    """Add this module's commands to the shared command groups."""
    vision = typer.Typer(
        help="Thermal / OGI vision: plume detection, simulation, preprocessing.",
        no_args_is_help=True,
        add_completion=False,
    )
    apps.root.add_typer(vision, name="vision")

    @vision.command("detect")
    def detect(
        source: Annotated[
            str, typer.Option(help="Video file, image folder, .npy/.tif, rtsp://, http://, usb:0, or sim:SEED.")
        ],
        out: Annotated[Path | None, typer.Option(help="Write annotated frames (PNG) here.")] = None,
        model: Annotated[Path | None, typer.Option(help="ONNX plume model (default: the shipped one).")] = None,
        threshold: Annotated[float, typer.Option(min=0.0, max=1.0, help="Leak decision threshold on the score.")] = 0.5,
        max_frames: Annotated[int | None, typer.Option(min=1, help="Stop after this many frames.")] = None,
        baseline_frames: Annotated[
            int,
            typer.Option(
                min=0,
                help="Treat the first N frames as the scene's clean baseline (commissioning) and judge the rest "
                "against it; 0: judge every frame by the model's own threshold.",
            ),
        ] = 0,
        json_out: JsonOpt = False,
    ) -> None:
        """Find gas plumes in a fixed camera's frames; one result per frame."""
        import cv2

        from gasguard.vision.detector import PlumeDetector, annotate
        from gasguard.vision.frames import open_source

        try:
            src = open_source(source, max_frames=max_frames)
        except (FileNotFoundError, ValueError) as exc:
            raise typer.BadParameter(str(exc), param_hint="--source") from exc
        det = PlumeDetector(model, threads=1, threshold=threshold)
        if baseline_frames:
            least = det.warmup_frames + 16
            if baseline_frames < least:
                raise typer.BadParameter(
                    f"a baseline needs at least {least} frames ({det.warmup_frames} to settle, 16 to learn)",
                    param_hint="--baseline-frames",
                )
            det.commission(baseline_frames - det.warmup_frames)
        if out:
            out.mkdir(parents=True, exist_ok=True)
        n = leaks = 0
        for frame in src:
            if max_frames is not None and n >= max_frames:
                break
            result = det.process(frame)
            n += 1
            leaks += result.leak
            if json_out:
                _emit(result.as_json())
            if out:
                cv2.imwrite(str(out / f"frame_{frame.index:05d}.png"), annotate(frame.image, result))
        if baseline_frames and det.phase != "commissioned":
            typer.echo(
                f"the source ended after {n} frames, before the {baseline_frames}-frame baseline was complete",
                err=True,
            )
            raise typer.Exit(2)
        if not json_out:
            learnt = f" (the first {baseline_frames} learnt as the scene's baseline)" if baseline_frames else ""
            typer.echo(
                f"{n} frames{learnt}, {leaks} with a visible leak" + (f"; annotated frames in {out}" if out else "")
            )

    @vision.command("simulate")
    def simulate(
        out: Annotated[Path, typer.Option(help="Folder for the clip.")],
        seed: Annotated[int, typer.Option(help="Scene seed (background, plume, wind).")] = 0,
        frames: Annotated[int, typer.Option(min=1, max=2000)] = 32,
        width: Annotated[int, typer.Option(min=32, max=1920)] = 320,
        height: Annotated[int, typer.Option(min=24, max=1080)] = 240,
        leak_rate: Annotated[float | None, typer.Option(min=0.0, help="Methane leak rate, g/s (0: no leak).")] = None,
        distance: Annotated[float | None, typer.Option(min=0.5, help="Camera distance, m.")] = None,
        wind: Annotated[float | None, typer.Option(min=0.0, help="Wind speed, m/s.")] = None,
        json_out: JsonOpt = False,
    ) -> None:
        """Write a simulated clip: grey/ (OGI), thermal/ (colour), mask/, radiometric.npy, labels.json."""
        import cv2
        import numpy as np

        from gasguard.vision.sim import random_scene, simulate_clip

        overrides: dict[str, float] = {}
        if leak_rate is not None:
            overrides["leak_rate_g_s"] = leak_rate
        if distance is not None:
            overrides["distance_m"] = distance
        if wind is not None:
            overrides["wind_speed_m_s"] = wind
        params = random_scene(np.random.default_rng(seed), seed, height=height, width=width, frames=frames, **overrides)
        clip = simulate_clip(params)
        for sub in ("grey", "thermal", "mask"):
            (out / sub).mkdir(parents=True, exist_ok=True)
        grey, colour = clip.grey(), clip.colour()
        for i in range(frames):
            cv2.imwrite(str(out / "grey" / f"{i:05d}.png"), grey[i])
            cv2.imwrite(str(out / "thermal" / f"{i:05d}.png"), colour[i][..., ::-1])
            cv2.imwrite(str(out / "mask" / f"{i:05d}.png"), clip.mask[i].astype(np.uint8) * 255)
        np.save(out / "radiometric.npy", clip.radiometric())
        (out / "labels.json").write_text(json.dumps(clip.labels, indent=2))
        summary = {
            "out": str(out),
            "frames": frames,
            "leak_frames": int(clip.frame_leak.sum()),
            "leak_rate_g_s": params.leak_rate_g_s,
            "distance_m": params.distance_m,
            "wind_speed_m_s": params.wind_speed_m_s,
        }
        _emit(summary) if json_out else typer.echo(
            f"wrote {frames} frames to {out} ({summary['leak_frames']} with a visible plume)"
        )

    @vision.command("preprocess")
    def preprocess(
        source: Annotated[Path, typer.Option(help="Image file or folder (dataset layout or flat).")],
        out: Annotated[Path, typer.Option(help="Output folder (same relative layout).")],
        size: Annotated[int, typer.Option(min=8, max=1024)] = 224,
        overlay: Annotated[str, typer.Option(help="auto | crop | keep")] = "auto",
        json_out: JsonOpt = False,
    ) -> None:
        """Remove the thermal app overlay and resize, as the paper's preprocessing."""
        import cv2
        import numpy as np

        from gasguard.vision.frames import IMAGE_EXTENSIONS
        from gasguard.vision.preprocess import preprocess_thermal

        files = (
            [source]
            if source.is_file()
            else sorted(p for p in source.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS)
        )
        for f in files:
            img = cv2.imread(str(f), cv2.IMREAD_COLOR)
            if img is None:
                raise typer.BadParameter(f"cannot read image {f}", param_hint="--source")
            rel = f.name if source.is_file() else f.relative_to(source)
            dest = out / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(dest), preprocess_thermal(np.asarray(img, dtype=np.uint8), size, overlay))
        _emit({"written": len(files), "out": str(out)}) if json_out else typer.echo(
            f"wrote {len(files)} images to {out}"
        )

    @apps.train.command("vision-classifier")
    def train_classifier(
        data: Annotated[Path, typer.Option(help="Image root in the layout <root>/<Class>/<n>_<Class>.png.")],
        out: Annotated[Path, typer.Option(help="Checkpoint file to write (.pt).")],
        sensors: Annotated[Path | None, typer.Option(help="Sensor CSV (Serial Number, MQ2..MQ135, Gas).")] = None,
        model: Annotated[
            str, typer.Option(help="gasnet | fusion1 | fusion2 | fusion3-max | fusion3-mean | fusion4")
        ] = "fusion1",
        protocol: Annotated[str, typer.Option(help="paper (stratified 80/20) | blocked (contiguous blocks)")] = "paper",
        fold: Annotated[int, typer.Option(min=0, max=4, help="Blocked protocol: which fifth is the test block.")] = 4,
        epochs: Annotated[int, typer.Option(min=1)] = 200,
        patience: Annotated[int, typer.Option(min=1)] = 12,
        image_size: Annotated[int, typer.Option(min=16, max=512)] = 224,
        seed: int = 0,
        onnx: Annotated[Path | None, typer.Option(help="Also export the model to this ONNX file.")] = None,
        json_out: JsonOpt = False,
    ) -> None:
        """Train GasNet or a fusion model (paper hyper-parameters) and report on the held-out test part."""
        from gasguard.vision.torch_models import MODEL_KINDS
        from gasguard.vision.train_cls import ClsTrainConfig, export_classifier_onnx, load_checkpoint, train_classifier

        if model not in MODEL_KINDS:
            raise typer.BadParameter(f"choose one of {', '.join(MODEL_KINDS)}", param_hint="--model")
        cfg = ClsTrainConfig(
            data,
            _sensors_csv(data, sensors),
            out,
            kind=model,
            protocol=protocol,
            fold=fold,
            seed=seed,
            epochs=epochs,
            patience=patience,
            image_size=image_size,
        )
        report = train_classifier(cfg)
        if onnx:
            export_classifier_onnx(load_checkpoint(out)[0], onnx, image_size)
            report["onnx"] = str(onnx)
        if json_out:
            _emit(report)
        else:
            t = report["test"]
            typer.echo(
                f"{model} ({protocol}): test accuracy {t['accuracy']:.4f}, "
                f"macro F1 {t['macro_f1']:.4f} on {t['n']} frames"
            )

    @apps.evaluate.command("vision-classifier")
    def evaluate_classifier(
        checkpoint: Annotated[Path, typer.Option(help="Checkpoint from 'train vision-classifier'.")],
        data: Annotated[Path, typer.Option(help="Image root in the dataset layout.")],
        sensors: Annotated[Path | None, typer.Option(help="Sensor CSV.")] = None,
        protocol: Annotated[str | None, typer.Option(help="Override the checkpoint's protocol.")] = None,
        gradcam: Annotated[Path | None, typer.Option(help="Write Grad-CAM panels (PNG) for test frames here.")] = None,
        gradcam_count: Annotated[int, typer.Option(min=1)] = 8,
        json_out: JsonOpt = False,
    ) -> None:
        """Accuracy, macro F1 and confusion matrix on the test part; optional Grad-CAM overlays."""
        from gasguard.vision.train_cls import evaluate_classifier as run

        report = run(checkpoint, data, _sensors_csv(data, sensors), protocol, gradcam, gradcam_count)
        if json_out:
            _emit(report)
        else:
            t = report["test"]
            typer.echo(
                f"{report['model']} ({report['protocol']}): accuracy {t['accuracy']:.4f}, macro F1 {t['macro_f1']:.4f}"
            )

    @apps.train.command("vision-plume")
    def train_plume(
        out: Annotated[Path, typer.Option(help="Run folder (checkpoints, history, plume_seg.onnx).")],
        minutes: Annotated[
            float, typer.Option(min=0.05, help="Training time budget; resumes from the run folder.")
        ] = 20.0,
        n_train: Annotated[int, typer.Option(min=2)] = 400,
        n_val: Annotated[int, typer.Option(min=2)] = 60,
        n_distractors: Annotated[
            int, typer.Option(min=0, help="Extra training scenes that always show people walking by and steam.")
        ] = 200,
        n_shift: Annotated[
            int,
            typer.Option(
                min=0,
                help="Extra training scenes under camera and scene shift (ranges, seeds apart from the shift sets).",
            ),
        ] = 0,
        frames: Annotated[int, typer.Option(min=6)] = 16,
        width: Annotated[int, typer.Option(min=32)] = 160,
        height: Annotated[int, typer.Option(min=24)] = 120,
        eval_every: Annotated[int, typer.Option(min=1)] = 100,
        lr: Annotated[float, typer.Option(min=1e-6, max=1.0, help="Peak learning rate (cosine decay per run).")] = 2e-3,
        batch_clips: Annotated[int, typer.Option(min=1, help="Clips drawn (and augmented) per step.")] = 8,
        frames_per_clip: Annotated[int, typer.Option(min=1, help="Frames cropped from each drawn clip.")] = 2,
        init_from: Annotated[
            Path | None,
            typer.Option(help="Warm start a fresh run from an exported PlumeNet (ONNX), e.g. the shipped one."),
        ] = None,
        threads: Annotated[int, typer.Option(min=1, help="PyTorch threads (1 on a shared machine).")] = 2,
        snapshot_every: Annotated[
            int, typer.Option(min=0, help="Keep the weights every this many steps in RUN/snapshots (0: never).")
        ] = 0,
        weights: Annotated[
            Path | None,
            typer.Option(help="Export these weights (e.g. a chosen snapshot) instead of the best validation ones."),
        ] = None,
        json_out: JsonOpt = False,
    ) -> None:
        """Train the plume segmentation network on simulated clips, calibrate it, export ONNX."""
        from gasguard.vision.train_seg import SegTrainConfig, finalize, train

        # A run takes minutes to hours: show its progress (simulation, validation scores per step).
        logging.getLogger("gasguard.vision").setLevel(logging.INFO)

        crop = (min(96, height), min(128, width))
        cfg = SegTrainConfig(
            out,
            out / "cache",
            n_train=n_train,
            n_val=n_val,
            n_train_distractors=n_distractors,
            n_train_shift=n_shift,
            frames=frames,
            width=width,
            height=height,
            minutes=minutes,
            eval_every=eval_every,
            crop=crop,
            lr=lr,
            batch_clips=batch_clips,
            frames_per_clip=frames_per_clip,
            init_onnx=init_from,
            threads=threads,
            snapshot_every=snapshot_every,
        )
        if init_from is not None and not init_from.is_file():
            raise typer.BadParameter(f"no such model file: {init_from}", param_hint="--init-from")
        result = train(cfg)
        meta = finalize(cfg, out / "plume_seg.onnx", weights)
        report = {**result, "onnx": str(out / "plume_seg.onnx"), "calibration": meta["calibration"]}
        _emit(report) if json_out else typer.echo(f"trained {result['steps']} steps; model in {report['onnx']}")

    @apps.evaluate.command("vision-plume")
    def evaluate_plume(
        model: Annotated[Path | None, typer.Option(help="ONNX plume model (default: the shipped one).")] = None,
        scenes: Annotated[int, typer.Option(min=1, help="Held-out simulated scenes to score.")] = 60,
        distractors: Annotated[
            bool,
            typer.Option(
                "--distractors",
                help="Score leak-free scenes with people walking by and steam instead: the false-alarm rate.",
            ),
        ] = False,
        json_out: JsonOpt = False,
    ) -> None:
        """IoU, F1 and leak / no-leak accuracy on held-out simulated scenes with unseen backgrounds."""
        from gasguard.vision.plume_eval import evaluate_plume_model

        report = evaluate_plume_model(model, scenes, split="test_distractors" if distractors else "test")
        if json_out:
            _emit(report)
        else:
            p, f = report["pixels"], report["frames"]
            if distractors:
                typer.echo(
                    f"false alarms on {f['false_alarm_rate']:.4f} of {f['n']} leak-free frames "
                    f"({scenes} simulated scenes with people and steam)"
                )
                return
            typer.echo(
                f"IoU {p['iou']:.4f}, pixel F1 {p['f1']:.4f}, frame accuracy {f['accuracy']:.4f} "
                f"({f['n']} frames of {scenes} simulated scenes)"
            )

    @apps.evaluate.command("vision-shift")
    def evaluate_shift(
        sets: Annotated[
            str | None, typer.Option(help="Comma-separated shift sets (default: all); see gasguard.vision.shift_sets.")
        ] = None,
        scenes: Annotated[int, typer.Option(min=2, help="Scenes per set (half of them leak).")] = 8,
        baseline: Annotated[int, typer.Option(min=24, help="Clean baseline frames per scene (15 frames/s).")] = 96,
        test: Annotated[int, typer.Option(min=1, help="Judged frames per scene after the baseline.")] = 48,
        jobs: Annotated[int, typer.Option(min=1, max=16, help="Processes (one set at a time each).")] = 1,
        model: Annotated[Path | None, typer.Option(help="ONNX plume model (default: the shipped one).")] = None,
        calibration: Annotated[
            bool,
            typer.Option("--calibration", help="Score the calibration scenes (where settings may be tuned) instead."),
        ] = False,
        json_out: JsonOpt = False,
    ) -> None:
        """Held-out scene sets under domain shift: the model with and without commissioning, and MOG2."""
        from gasguard.vision.shift_eval import evaluate_shift as run
        from gasguard.vision.shift_eval import format_table
        from gasguard.vision.shift_sets import SetSpec

        names = [s.strip() for s in sets.split(",") if s.strip()] if sets else None
        try:
            report = run(
                names,
                SetSpec(scenes=scenes, baseline=baseline, test=test),
                model,
                "calibration" if calibration else "evaluation",
                jobs,
            )
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--sets") from exc
        _emit(report) if json_out else typer.echo(format_table(report))

    @apps.bench.command("vision")
    def bench_vision(
        seconds: Annotated[float, typer.Option(min=0.2, help="Measuring time per figure.")] = 3.0,
        json_out: JsonOpt = False,
    ) -> None:
        """Frames per second on one CPU core: plume segmentation (320x240) and GasNet (224x224)."""
        from gasguard.vision.bench import bench_vision as run

        report = run(seconds)
        if json_out:
            _emit(report)
        else:
            typer.echo(
                f"segmentation {report['segmentation_fps']} fps (320x240), "
                f"{report['segmentation_commissioned_fps']} fps with commissioning, "
                f"classification {report['classification_fps']} fps (224x224), one core"
            )
