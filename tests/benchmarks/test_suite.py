"""``gasguard bench all``: sections run in turn, a missing server skips one, a failure does not stop the rest."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from gasguard.benchmarks import suite
from gasguard.benchmarks.databases import BenchUnavailable
from gasguard.benchmarks.figures import Figure
from gasguard.cli import build_app


def _fake_runners(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    ran: list[str] = []

    def ok(_sizes: suite.Sizes, _opts: dict[str, str]) -> tuple[dict[str, Any], list[Figure]]:
        ran.append("ok")
        return {"x": 1}, [Figure("ok.x", "x", 1.0, "ms", 2.0, "lower")]

    def unavailable(_sizes: suite.Sizes, _opts: dict[str, str]) -> tuple[dict[str, Any], list[Figure]]:
        ran.append("unavailable")
        raise BenchUnavailable("PostgreSQL at postgresql://db unusable: refused")

    def broken(_sizes: suite.Sizes, _opts: dict[str, str]) -> tuple[dict[str, Any], list[Figure]]:
        ran.append("broken")
        raise RuntimeError("boom")

    monkeypatch.setattr(suite, "RUNNERS", {"a": broken, "b": unavailable, "c": ok})
    return ran


def test_a_skipped_or_failed_section_is_reported_and_the_others_still_run(monkeypatch: pytest.MonkeyPatch) -> None:
    ran = _fake_runners(monkeypatch)
    results = suite.run_all(only=["a", "b", "c"])
    assert ran == ["broken", "unavailable", "ok"]
    assert results["sections"]["a"] == {"status": "failed", "error": "RuntimeError: boom"}
    assert results["sections"]["b"] == {
        "status": "skipped",
        "reason": "PostgreSQL at postgresql://db unusable: refused",
    }
    assert results["sections"]["c"]["status"] == "ok"
    assert [f["key"] for f in results["figures"]] == ["ok.x"]
    assert results["machine"]["logical_cpus"] >= 1
    assert results["mode"] == "quick"


def test_unknown_sections_are_refused_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_runners(monkeypatch)
    with pytest.raises(ValueError, match="unknown section\\(s\\): nope"):
        suite.run_all(only=["c", "nope"])


def test_bench_all_writes_the_results_file_and_prints_json(tmp_path: Path) -> None:
    out = tmp_path / "results" / "run.json"
    result = CliRunner().invoke(build_app(), ["bench", "all", "--only", "safety", "--json", "--out", str(out)])
    assert result.exit_code == 0, result.output
    printed = json.loads(result.output)
    assert json.loads(out.read_text()) == printed
    assert [f["key"] for f in printed["figures"]] == ["safety.throughput", "safety.p99"]
    throughput = printed["figures"][0]
    assert (throughput["unit"], throughput["target"], throughput["reference"]["kind"]) == (
        "readings/s",
        200_000,
        "requirement",
    )


def test_bench_all_names_the_sections_when_given_a_wrong_one(tmp_path: Path) -> None:
    result = CliRunner().invoke(build_app(), ["bench", "all", "--only", "nope", "--out", str(tmp_path / "r.json")])
    assert result.exit_code == 2
    assert "unknown section(s): nope" in result.output
    assert not (tmp_path / "r.json").exists()
