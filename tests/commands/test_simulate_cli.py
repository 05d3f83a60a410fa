import json
import os

from typer.testing import CliRunner

from gasguard.cli import build_app

KINDS = {"reading", "alarm", "command", "valve", "fault", "operator"}


def test_simulate_json_lines_have_the_documented_fields() -> None:
    result = CliRunner().invoke(build_app(), ["simulate", "--scenario", "methane-kitchen", "--json"])
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert {r["kind"] for r in records} == KINDS - {"fault"}
    required = {
        "reading": {"channel", "lel_pct"},
        "alarm": {"channel", "level", "state"},
        "command": {"action", "valve"},
        "valve": {"valve", "state"},
        "operator": {"action", "accepted"},
    }
    for r in records:
        assert {"t", "zone", "kind"} <= r.keys()
        assert required[r["kind"]] <= r.keys()
    closes = [r for r in records if r["kind"] == "command" and r["action"] == "close"]
    assert closes[0]["valve"] == "kitchen-valve"
    refused = [r for r in records if r["kind"] == "operator" and r["action"] == "reset" and not r["accepted"]]
    assert len(refused) == 1


def test_simulate_timeline_is_readable() -> None:
    result = CliRunner().invoke(build_app(), ["simulate", "--scenario", "valve-stuck"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "COMMAND   CLOSE kitchen-valve" in result.stdout
    assert "VALVE_FAULT unacknowledged" in result.stdout


def test_unknown_scenario_is_a_clear_error() -> None:
    result = CliRunner().invoke(build_app(), ["simulate", "--scenario", "no-such-scenario"])
    assert result.exit_code == 2
    assert "no-such-scenario" in result.output


def test_bench_safety_prints_figures() -> None:
    result = CliRunner().invoke(build_app(), ["bench", "safety", "--json", "--readings", "2000"])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)
    assert figures["readings"] == 2000
    assert figures["readings_per_s"] > 0 and figures["p99_us"] > 0


def test_list_needs_no_scenario_and_a_missing_scenario_says_how_to_find_one() -> None:
    import subprocess
    import sys

    listed = subprocess.run(
        [sys.executable, "-m", "gasguard", "simulate", "--list"], capture_output=True, text=True, timeout=60
    )
    assert listed.returncode == 0, listed.stderr
    assert "methane-kitchen" in listed.stdout.split()
    missing = subprocess.run([sys.executable, "-m", "gasguard", "simulate"], capture_output=True, text=True, timeout=60)
    assert missing.returncode == 2
    assert "gasguard simulate --list shows the names" in missing.stderr


def test_config_check_names_zones_and_channels_and_suggests_the_key(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import subprocess
    import sys

    import yaml

    from gasguard.config import example_config_path

    data = yaml.safe_load(example_config_path().read_text())
    data["sites"][0]["zones"][0]["channels"][0]["hysteresys"] = 3
    path = tmp_path / "site.yaml"
    path.write_text(yaml.safe_dump(data))
    checked = subprocess.run(
        [sys.executable, "-m", "gasguard", "config", "check", str(path)], capture_output=True, text=True, timeout=60
    )
    assert checked.returncode == 1
    assert "zone kitchen, channel kitchen-ch1: unknown key 'hysteresys' (did you mean 'hysteresis'?)" in checked.stderr


def test_methane_kitchen_timeline_agrees_with_its_description_and_prints_units() -> None:
    """Every time the scenario's description names ("resets at 700 s", "~175 s") is a moment of its
    timeline (or of its leak), and the timeline's values say what they are (ppm, %LEL)."""
    import re
    import subprocess
    import sys

    from gasguard.sim.scenario import load_scenario

    scenario = load_scenario("methane-kitchen")
    description = " ".join(scenario.description.split())
    run = [sys.executable, "-m", "gasguard", "simulate", "--scenario", "methane-kitchen"]
    records = [
        json.loads(line)
        for line in subprocess.run([*run, "--json"], capture_output=True, text=True, timeout=60).stdout.splitlines()
    ]
    moments = {r["t"] for r in records if r["kind"] != "reading"}
    moments |= {leak.start_s for leak in scenario.leaks}
    for approx, seconds in re.findall(r"(~?)(\d+) s\b", description):
        tolerance = 5.0 if approx else 0.0
        assert any(abs(t - float(seconds)) <= tolerance for t in moments), f"{approx}{seconds} s: nothing happens then"

    def at(kind: str, **fields: object) -> list[float]:
        return [r["t"] for r in records if r["kind"] == kind and all(r[k] == v for k, v in fields.items())]

    refused = at("operator", action="reset", accepted=False)
    accepted = at("operator", action="reset", accepted=True)
    reopened = at("operator", action="open", accepted=True)
    assert len(refused) == 1 and f"tries a reset at {refused[0]:.0f} s" in description
    assert len(accepted) == 1 and f"resets at {accepted[0]:.0f} s" in description
    assert len(reopened) == 1 and f"reason at {reopened[0]:.0f} s" in description

    timeline = subprocess.run(run, capture_output=True, text=True, timeout=60, env={**os.environ, "COLUMNS": "200"})
    assert timeline.returncode == 0, timeline.stderr
    assert re.search(r"reading   kitchen-ch1: [\d.]+ ppm -> [\d.]+ %LEL", timeline.stdout)
    assert re.search(r"A2 unacknowledged at 20\.\d %LEL", timeline.stdout)
    assert re.search(r"A1 normal \(cleared at 8\.0 %LEL\)", timeline.stdout)
