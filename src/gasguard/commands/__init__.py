"""Command-line modules: each registers its own commands on the shared Typer apps."""
