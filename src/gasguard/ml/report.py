"""Evaluation reports for people: a markdown summary with PNG confusion matrices and plots.

Matplotlib (``train`` extra) is imported lazily with the Agg backend, so reports render on headless
machines and the serving path never imports it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_confusion(confusion: Sequence[Sequence[int]], classes: Sequence[str], title: str, path: Path) -> Path:
    """Confusion matrix (rows true, columns predicted) with counts in the cells."""
    plt = _pyplot()
    n = len(classes)
    fig, ax = plt.subplots(figsize=(1.2 * n + 2.5, 1.2 * n + 2))
    ax.imshow(confusion, cmap="Blues")
    ax.set_xticks(range(n), classes, rotation=45, ha="right")
    ax.set_yticks(range(n), classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    peak = max(max(row) for row in confusion) or 1
    for i in range(n):
        for j in range(n):
            v = confusion[i][j]
            ax.text(j, i, str(v), ha="center", va="center", color="white" if v > peak / 2 else "black")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_bars(
    values: Mapping[str, Mapping[str, float]], ylabel: str, title: str, path: Path, floor: float | None = None
) -> Path:
    """Grouped bars: ``{model: {group: value}}`` (per fold, per batch or per gas). With ``floor``, lower
    values are drawn at the floor (an R² of -18 would flatten every other bar) and the axis says so."""
    plt = _pyplot()
    models = list(values)
    groups = sorted({g for v in values.values() for g in v})
    width = 0.8 / max(len(models), 1)
    fig, ax = plt.subplots(figsize=(max(6, 1.2 * len(groups) + 2), 4.5))
    for k, m in enumerate(models):
        xs = [i + k * width for i in range(len(groups))]
        ys = [values[m].get(g, float("nan")) for g in groups]
        if floor is not None:
            ys = [max(y, floor) for y in ys]
        ax.bar(xs, ys, width=width, label=m)
    ax.set_xticks([i + width * (len(models) - 1) / 2 for i in range(len(groups))], groups)
    ax.set_ylabel(ylabel if floor is None else f"{ylabel} (values below {floor:g} drawn at {floor:g})")
    ax.set_title(title)
    ax.legend(fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=min(3, len(models)))
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)
    return path


def plot_predicted_vs_true(
    truth: Sequence[float], predicted: Mapping[str, Sequence[float]], title: str, path: Path
) -> Path:
    """Predicted against true ppm (log axes: concentrations span two decades), one colour per model."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 6))
    lo = max(min(truth), 1.0)
    hi = max(truth)
    for name, values in predicted.items():
        ax.scatter(truth, [max(v, lo / 2) for v in values], s=6, alpha=0.4, label=name)
    ax.plot([lo, hi], [lo, hi], color="black", linewidth=1)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("true ppm")
    ax.set_ylabel("predicted ppm")
    ax.set_title(title)
    ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _fmt(v: Any) -> str:
    return f"{v:.4f}" if isinstance(v, float) else str(v)


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    return [
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
        *("| " + " | ".join(_fmt(v) for v in row) + " |" for row in rows),
        "",
    ]


#: Facts about the split that a reader needs next to the figures, in this order.
_FACTS = ("n_train", "n_test", "n_folds", "train_batches", "test_batches", "elapsed_s")


def write_report(
    result: Mapping[str, Any],
    out_dir: Path,
    kind: str = "sensor",
    predictions: Mapping[str, Sequence[Any]] | None = None,
) -> Path:
    """Write ``report.md``, ``result.json`` and PNG figures for one evaluation result; returns the md path.

    For a concentration result, ``predictions`` (``ppm_true``, ``gas`` and one column per model, as
    returned by the evaluation with ``keep_predictions``) adds ``predictions.csv`` and a predicted
    against true plot.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "result.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    title = f"{kind} evaluation: dataset {result['dataset']}, protocol {result['protocol']}"
    lines = [f"# {title}", "", f"Data: `{result.get('data', '')}`", ""]
    if "batches_present" in result:
        lines += [f"Batches present: {result['batches_present']}; missing: {result['batches_missing']}", ""]
    facts = [f"{k}: {result[k]}" for k in _FACTS if k in result]
    if facts:
        lines += ["; ".join(facts), ""]
    models = {str(result["model"]): dict(result), **{k: dict(v) for k, v in result["baselines"].items()}}
    if kind == "sensor":
        lines += _table(
            ["model", "accuracy", "macro F1"], [[n, r["accuracy"], r["macro_f1"]] for n, r in models.items()]
        )
        fold_key = next((k for k in ("per_fold_accuracy", "per_batch_accuracy") if k in result), None)
        if fold_key:
            folds = list(result[fold_key])
            lines += [f"Accuracy per {'fold' if fold_key == 'per_fold_accuracy' else 'test batch'}:", ""]
            lines += _table(["model", *folds], [[n, *(r[fold_key].get(f) for f in folds)] for n, r in models.items()])
            png = plot_bars(
                {n: r.get(fold_key, {}) for n, r in models.items()}, "accuracy", fold_key, out_dir / "folds.png"
            )
            lines += [f"![{fold_key}]({png.name})", ""]
        for name, r in models.items():
            png = plot_confusion(r["confusion"], r["classes"], name, out_dir / f"confusion_{name}.png")
            lines += [f"![confusion matrix of {name}]({png.name})", ""]
    else:
        models["gasguard_with_true_gas"] = dict(result["with_true_gas"])
        rows = [[n, r["r2"], r["rmse_ppm"], r["mae_ppm"]] for n, r in models.items()]
        lines += _table(["model", "R²", "RMSE ppm", "MAE ppm"], rows)
        main = str(result["model"])
        lines += [f"Per gas, {main}:", ""]
        rows = [[g, v["r2"], v["rmse_ppm"], v["mae_ppm"], v["n"]] for g, v in result["per_gas"].items()]
        lines += _table(["gas", "R²", "RMSE ppm", "MAE ppm", "rows"], rows)
        per_gas = {n: {g: v["r2"] for g, v in r["per_gas"].items()} for n, r in models.items()}
        png = plot_bars(per_gas, "R²", "R² per gas", out_dir / "r2_per_gas.png", floor=-1.0)
        lines += [f"![R² per gas]({png.name})", ""]
        if "per_batch_r2" in result:
            per_batch = {n: r.get("per_batch_r2", {}) for n, r in models.items()}
            png = plot_bars(per_batch, "R²", "R² per test batch", out_dir / "r2_per_batch.png", floor=-1.0)
            lines += [f"![R² per test batch]({png.name})", ""]
        if predictions is not None:
            lines += _write_predictions(predictions, out_dir, main)
    if "notes" in result:
        lines += [f"Notes: {result['notes']}", ""]
    lines += [f"Settings: `{json.dumps(result.get('settings', {}))}`", ""]
    md = out_dir / "report.md"
    md.write_text("\n".join(lines), encoding="utf-8")
    logger.info("report written to %s", md)
    return md


def _write_predictions(predictions: Mapping[str, Sequence[Any]], out_dir: Path, main: str) -> list[str]:
    """``predictions.csv`` (one row per test row) and the predicted-vs-true plot of the main model and
    the plain baseline; returns the markdown lines that show them."""
    import csv

    columns = list(predictions)
    with (out_dir / "predictions.csv").open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(columns)
        writer.writerows(zip(*(predictions[c] for c in columns), strict=True))
    truth = [float(v) for v in predictions["ppm_true"]]
    shown = {n: [float(v) for v in predictions[n]] for n in (main, "plain_xgboost_raw_ppm") if n in predictions}
    png = plot_predicted_vs_true(truth, shown, "predicted vs true ppm", out_dir / "predicted_vs_true.png")
    return [f"![predicted vs true ppm]({png.name})", "", "Every test row: `predictions.csv`.", ""]


def model_card_markdown(card: Mapping[str, Any]) -> str:
    """The model card as markdown, for people (the JSON beside it is for programs)."""
    m = card.get("metrics", {})
    lines = [
        f"# Model card: {card['name']}",
        "",
        f"- Task: {card['task']}",
        f"- Model: {card['model']}; classes: {', '.join(card['classes'])}",
        f"- Date: {card['date']}; code version: {card['code_version']}",
        f"- Licence: {card['licence']}",
        "",
        "## Data",
        "",
        f"{card['data']['name']} (doi:{card['data']['doi']}), licence {card['data']['licence']}.",
        "",
        f"Attribution: {card['data']['attribution']}",
        "",
        "## Measured",
        "",
        "| protocol | accuracy | macro F1 |",
        "|---|---|---|",
    ]
    for protocol in ("paper", "blocked"):
        if protocol in m:
            lines.append(
                f"| {protocol}: {card['protocols'][protocol]} | {_fmt(m[protocol]['accuracy'])} "
                f"| {_fmt(m[protocol]['macro_f1'])} |"
            )
    lines += [
        "",
        f"Resubstitution accuracy (training rows, a file check only): {_fmt(m.get('resubstitution_accuracy'))}",
        "",
        "## Limitations",
        "",
        card["limitations"],
        "",
    ]
    return "\n".join(lines)
