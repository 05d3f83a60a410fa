"""Commands for the sensor ML package: ``evaluate sensor|concentration``, ``train sensor``, ``bench sensor``.

Heavy libraries are imported inside the command functions so ``gasguard --help`` stays fast.
"""

from __future__ import annotations

import json
import logging
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from gasguard.commands.apps import CliApps

logger = logging.getLogger(__name__)


class SensorDataset(StrEnum):
    multimodal = "multimodal"
    drift = "drift"


class Protocol(StrEnum):
    paper = "paper"
    blocked = "blocked"
    stratified = "stratified"
    drift = "drift"


class DriftProtocol(StrEnum):
    stratified = "stratified"
    drift = "drift"


DataOpt = Annotated[
    Path | None,
    typer.Option(
        "--data", help="Data root (holds multimodalgasdata/, gas-sensor-array-drift/); default $GASGUARD_DATA."
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]
ReportOpt = Annotated[
    Path | None, typer.Option("--report", help="Write report.md, result.json and PNG figures to this folder.")
]
EpochsOpt = Annotated[
    int,
    typer.Option("--epochs", min=1, max=200, help="Epochs for the paper's networks (1D CNN, DNN, LSTM; paper: 200)."),
]
BaselinesOpt = Annotated[
    str,
    typer.Option(
        "--baselines",
        help="Comma-separated baselines trained beside GasGuard on the same split: cnn1d, dnn, lstm, lightgbm, "
        "or 'none'.",
    ),
]
ALL_BASELINES = "cnn1d,dnn,lstm,lightgbm"


def _parse_baselines(text: str) -> tuple[str, ...]:
    """``"cnn1d, lstm"`` -> ``("cnn1d", "lstm")``; unknown names are a usage error naming the choices."""
    from gasguard.ml.eval_models import SENSOR_BASELINES

    names = tuple(dict.fromkeys(n.strip().lower() for n in text.split(",") if n.strip()))
    if names == ("none",):
        return ()
    unknown = [n for n in names if n not in SENSOR_BASELINES]
    if unknown:
        raise typer.BadParameter(
            f"unknown baseline(s) {', '.join(unknown)}; choose from {', '.join(SENSOR_BASELINES)} or none",
            param_hint="--baselines",
        )
    return names


SeedOpt = Annotated[int, typer.Option("--seed", help="Seed of splits and models.")]


def _emit(result: dict[str, Any], as_json: bool, summary: list[str]) -> None:
    if as_json:
        typer.echo(json.dumps(result))
    else:
        for line in summary:
            typer.echo(line)


def _sensor_summary(r: dict[str, Any]) -> list[str]:
    lines = [
        f"{r['dataset']} / {r['protocol']}: {r['model']} accuracy {r['accuracy']:.4f} macro F1 {r['macro_f1']:.4f}"
    ]
    for key in ("per_fold_accuracy", "per_batch_accuracy"):
        if key in r:
            lines.append(f"  {key}: " + ", ".join(f"{k} {v:.4f}" for k, v in r[key].items()))
    for name, b in r["baselines"].items():
        lines.append(f"  baseline {name}: accuracy {b['accuracy']:.4f} macro F1 {b['macro_f1']:.4f}")
    return lines


def evaluate_sensor(
    dataset: Annotated[SensorDataset, typer.Option("--dataset", help="multimodal or drift")] = SensorDataset.multimodal,
    protocol: Annotated[
        Protocol, typer.Option("--protocol", help="multimodal: paper|blocked; drift: stratified|drift")
    ] = Protocol.paper,
    data: DataOpt = None,
    as_json: JsonOpt = False,
    report: ReportOpt = None,
    epochs: EpochsOpt = 8,
    baselines: BaselinesOpt = ALL_BASELINES,
    seed: SeedOpt = 0,
) -> None:
    """Gas-type accuracy, macro F1 and confusion, with the paper's networks and a raw-value model beside it."""
    from gasguard.ml.datasets import DatasetError, data_root
    from gasguard.ml.eval_models import EvalSettings
    from gasguard.ml.eval_sensor import evaluate_sensor_drift, evaluate_sensor_multimodal

    settings = EvalSettings(seed=seed, torch_epochs=epochs, baselines=_parse_baselines(baselines))
    valid = {"multimodal": ("paper", "blocked"), "drift": ("stratified", "drift")}[dataset.value]
    if protocol.value not in valid:
        raise typer.BadParameter(f"dataset {dataset.value} takes --protocol {' or '.join(valid)}")
    try:
        root = data_root(data)
        fn = evaluate_sensor_multimodal if dataset is SensorDataset.multimodal else evaluate_sensor_drift
        result = fn(root, protocol.value, settings)
    except DatasetError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    if report is not None:
        from gasguard.ml.report import write_report

        result["report"] = str(write_report(result, report, kind="sensor"))
    _emit(result, as_json, _sensor_summary(result))


def evaluate_concentration(
    dataset: Annotated[
        SensorDataset, typer.Option("--dataset", help="only drift has ppm labels")
    ] = SensorDataset.drift,
    protocol: Annotated[DriftProtocol, typer.Option("--protocol")] = DriftProtocol.stratified,
    data: DataOpt = None,
    as_json: JsonOpt = False,
    report: ReportOpt = None,
    seed: SeedOpt = 0,
) -> None:
    """Concentration (ppm) R², RMSE and MAE, pooled and per gas, with baselines side by side."""
    from gasguard.ml.datasets import DatasetError, data_root
    from gasguard.ml.eval_concentration import evaluate_concentration_drift
    from gasguard.ml.eval_models import EvalSettings

    if dataset is not SensorDataset.drift:
        raise typer.BadParameter("only --dataset drift has concentration labels")
    try:
        result = evaluate_concentration_drift(
            data_root(data), protocol.value, EvalSettings(seed=seed), keep_predictions=report is not None
        )
    except DatasetError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    predictions = result.pop("predictions", None)
    if report is not None:
        from gasguard.ml.report import write_report

        result["report"] = str(write_report(result, report, kind="concentration", predictions=predictions))
    lines = [
        f"drift / {protocol.value}: R² {result['r2']:.4f} RMSE {result['rmse_ppm']:.1f} ppm "
        f"MAE {result['mae_ppm']:.1f} ppm"
    ]
    for name, b in result["baselines"].items():
        lines.append(f"  baseline {name}: R² {b['r2']:.4f} RMSE {b['rmse_ppm']:.1f} ppm")
    _emit(result, as_json, lines)


def train_sensor(
    out: Annotated[Path, typer.Option("--out", help="Folder for the artifact and its model card.")] = Path("artifacts"),
    name: Annotated[str, typer.Option("--name", help="Artifact base name.")] = "gas_classifier_multimodal",
    data: DataOpt = None,
    measure: Annotated[
        bool, typer.Option("--measure/--no-measure", help="Run the paper and blocked protocols for the card.")
    ] = True,
    epochs: EpochsOpt = 8,
    baselines: BaselinesOpt = ALL_BASELINES,
    seed: SeedOpt = 0,
    as_json: JsonOpt = False,
) -> None:
    """Train the gas-type model on MultimodalGasData (CC BY 4.0) and write artifact + model card.

    Only MultimodalGasData is accepted: the UCI drift set is research-only, so no shippable weights
    are trained on it.
    """
    from gasguard.ml.datasets import DatasetError, data_root
    from gasguard.ml.eval_models import EvalSettings
    from gasguard.ml.train import train_sensor_classifier

    try:
        card = train_sensor_classifier(
            data_root(data),
            out,
            name=name,
            settings=EvalSettings(seed=seed, torch_epochs=epochs, baselines=_parse_baselines(baselines)),
            measure=measure,
        )
    except DatasetError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    summary = {"artifact": str(out / f"{name}.json"), "metrics": card["metrics"], "code_version": card["code_version"]}
    _emit(summary, as_json, [f"wrote {out / name}.* ({json.dumps(card['metrics'])[:200]})"])


def bench_sensor(
    readings: Annotated[int, typer.Option("--readings", min=100, help="Readings in the batched run.")] = 20_000,
    single: Annotated[int, typer.Option("--single", min=100, help="One-reading calls timed for p99.")] = 2_000,
    as_json: JsonOpt = False,
) -> None:
    """Inference speed of the shipped gas-type model: batched readings/s and one-reading p99 latency."""
    from gasguard.ml.bench import bench_gas_classifier

    result = bench_gas_classifier(n_batch=readings, n_single=single)
    _emit(
        result,
        as_json,
        [
            f"batched: {result['readings_per_s']:.0f} readings/s",
            f"one reading: p50 {result['p50_ms']:.3f} ms, p99 {result['p99_ms']:.3f} ms ({result['single_row_path']})",
            f"machine: {result['cpu_count']} CPUs, load average {result['load_avg_1m']:.2f}",
        ],
    )


def register(apps: CliApps) -> None:
    """Add this module's commands to the shared command groups."""
    apps.evaluate.command("sensor")(evaluate_sensor)
    apps.evaluate.command("concentration")(evaluate_concentration)
    apps.train.command("sensor")(train_sensor)
    apps.bench.command("sensor")(bench_sensor)
