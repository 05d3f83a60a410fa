"""``gasguard bench safety``: safety-core throughput and latency. Other modules add their benchmarks."""

from __future__ import annotations

import json

import typer

from gasguard.commands.apps import CliApps


def register(apps: CliApps) -> None:
    @apps.bench.command("safety")
    def bench_safety(
        as_json: bool = typer.Option(False, "--json", help="Print the figures as JSON."),
        readings: int = typer.Option(300_000, min=1000, help="Readings pushed through step()."),
    ) -> None:
        """Readings per second and per-reading p99 latency through the safety core (one core)."""
        from gasguard.safety_bench import run_safety_bench

        result = run_safety_bench(readings=readings, latency_samples=min(readings, 100_000))
        if as_json:
            typer.echo(json.dumps(result))
            return
        typer.echo(
            f"safety core: {result['readings_per_s']:,} readings/s (target >= 200,000); "
            f"p50 {result['p50_us']} us, p99 {result['p99_us']} us (target <= 50 us), max {result['max_us']} us"
        )
