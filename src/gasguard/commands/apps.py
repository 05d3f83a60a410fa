"""The shared Typer command groups that every command module registers into.

Command modules never import each other; ``gasguard.cli`` builds one ``CliApps`` and hands it to
each module's ``register`` function. Heavy libraries (LightGBM, PyTorch, OpenCV) are imported inside
the command functions so ``gasguard --help`` stays fast.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import typer


def _group(help_text: str) -> typer.Typer:
    return typer.Typer(help=help_text, no_args_is_help=True, add_completion=False)


@dataclass(frozen=True)
class CliApps:
    """The root app and the command groups shared between modules."""

    root: typer.Typer
    bench: typer.Typer = field(default_factory=lambda: _group("Benchmarks: print measured figures."))
    train: typer.Typer = field(default_factory=lambda: _group("Train models and write artifacts."))
    evaluate: typer.Typer = field(default_factory=lambda: _group("Evaluate models on a dataset."))

    def attach_groups(self) -> None:
        self.root.add_typer(self.bench, name="bench")
        self.root.add_typer(self.train, name="train")
        self.root.add_typer(self.evaluate, name="evaluate")
