"""``gasguard simulate --scenario NAME [--json]``: a scenario through the real safety core."""

from __future__ import annotations

import json
from typing import Any

import typer

from gasguard.commands.apps import CliApps

JSON_KINDS = frozenset({"reading", "alarm", "command", "valve", "fault", "operator", "output"})
_STYLE = {
    "alarm": "yellow",
    "command": "bold red",
    "valve": "cyan",
    "fault": "magenta",
    "operator": "green",
    "trip": "bold red",
    "reading": "dim",
    "output": "bold blue",
}


def register(apps: CliApps) -> None:
    @apps.root.command("simulate")
    def simulate(
        scenario: str | None = typer.Option(
            None, "--scenario", "-s", help="Scenario name (see --list) or a YAML file."
        ),
        as_json: bool = typer.Option(False, "--json", help="One JSON object per line instead of a timeline."),
        every: float = typer.Option(30.0, "--readings-every", help="Timeline: show a reading line this often (s)."),
        list_only: bool = typer.Option(False, "--list", help="List the shipped scenarios and exit."),
    ) -> None:
        """Run a simulated plant (gas, sensors, valves) through the safety core on simulated time."""
        from gasguard.config import ConfigError
        from gasguard.sim.runner import ScenarioRunner
        from gasguard.sim.scenario import ScenarioError, list_scenarios, load_scenario

        if list_only:
            for name in list_scenarios():
                typer.echo(name)
            return
        if scenario is None:
            typer.echo(
                "error: give --scenario NAME or a YAML file (gasguard simulate --list shows the names)", err=True
            )
            raise typer.Exit(2)
        try:
            runner = ScenarioRunner(load_scenario(scenario))
        except (ScenarioError, ConfigError, FileNotFoundError) as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None
        if as_json:
            for record in runner.run():
                if record["kind"] in JSON_KINDS:
                    typer.echo(json.dumps(record))
            return
        _print_timeline(runner, every)


ACTIVE_ALARM_STATES = frozenset({"unacknowledged", "acknowledged"})
"""Alarm states whose condition is present (the others have cleared or are suppressed)."""
UNIT_LABELS = {"ppm": "ppm", "lel_pct": "%LEL", "raw": "raw"}
"""How a channel's configured unit is printed after its value."""


def _print_timeline(runner: Any, every: float) -> None:
    from rich.console import Console

    console = Console(highlight=False)
    scenario = runner.scenario
    units = {cid: UNIT_LABELS.get(ch.unit, ch.unit) for cid, ch in scenario.layout.channels.items()}
    console.print(f"[bold]{scenario.name}[/bold]: {' '.join(scenario.description.split())}")
    last_shown: dict[str, float] = {}
    for r in runner.run():
        kind = r["kind"]
        if kind == "reading":
            if r["t"] - last_shown.get(r["channel"], -1e9) < every:
                continue
            last_shown[r["channel"]] = r["t"]
        elif kind == "command" and r["reason"].startswith("re-assert"):
            continue  # the core re-sends close every few seconds while tripped; --json shows each one
        console.print(f"[{_STYLE[kind]}]{r['t']:8.1f}s  {r['zone']:<10} {_describe(r, units)}[/]")


def _describe(r: dict[str, Any], units: dict[str, str]) -> str:
    """One timeline line; every number carries its unit (the channel's own, then %LEL)."""
    kind = r["kind"]
    if kind == "reading":
        lel = "n/a" if r["lel_pct"] is None else f"{r['lel_pct']:.1f} %LEL"
        value = "no value" if r["value"] is None else f"{r['value']} {units.get(r['channel'], '')}".rstrip()
        return f"reading   {r['channel']}: {value} -> {lel}"
    if kind == "alarm":
        # The value an alarm carries is the one at its last condition change: where it was raised while
        # the condition is present, where it cleared afterwards (a reset does not change it).
        if r["lel_pct"] is None:
            lel = ""
        elif r["state"] in ACTIVE_ALARM_STATES:
            lel = f" at {r['lel_pct']:.1f} %LEL"
        else:
            lel = f" (cleared at {r['lel_pct']:.1f} %LEL)"
        return f"alarm     {r['channel']} {r['level']} {r['state']}{lel} {r['detail']}".rstrip()
    if kind == "command":
        return f"COMMAND   {r['action'].upper()} {r['valve']} ({r['reason']})"
    if kind == "valve":
        return f"valve     {r['valve']} {r['state']} {r['detail']}".rstrip()
    if kind == "fault":
        return f"fault     {r['channel'] or 'power'}: {r['health']} ({r['detail']})"
    if kind == "operator":
        verdict = "ACCEPTED" if r["accepted"] else "REFUSED"
        return f"operator  {r['user']} {r['action']} {r['target']} '{r['reason']}': {verdict}: {r['message']}"
    if kind == "output":
        extra = " (silenced)" if r["silenced"] else ""
        return f"OUTPUT    {r['output']} {r['mode'].upper()}{extra} ({r['reason']})"
    state = "TRIPPED" if r["tripped"] else "reset"
    return f"zone      {state}: {r['cause']}"
