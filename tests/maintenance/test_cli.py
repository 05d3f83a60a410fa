"""``gasguard maintenance``, ``gasguard report maintenance`` and ``gasguard replay`` on a SQLite file."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from gasguard.cli import build_app
from gasguard.storage.migrate import upgrade_to_head
from maintenance.conftest import LAB_SITE


def _run(args: list[str], tmp_path: Path) -> tuple[int, str]:
    env = {"GASGUARD_DATA_DIR": str(tmp_path), "GASGUARD_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}"}
    result = CliRunner().invoke(build_app(), args, env=env)
    return result.exit_code, result.output


def _site(tmp_path: Path) -> Path:
    upgrade_to_head(f"sqlite:///{tmp_path / 'cli.db'}")
    path = tmp_path / "site.yaml"
    path.write_text(LAB_SITE)
    return path


def test_cli_records_a_calibration_and_a_stroke_test_and_lists_them(tmp_path: Path) -> None:
    site = str(_site(tmp_path))
    code, out = _run(
        [
            "maintenance", "record", "calibration", "--config", site, "--channel", "kitchen-ch1", "--gas", "methane",
            "--concentration", "25000", "--as-left-zero", "0", "--as-left-span", "24900", "--by", "Kim", "--json",
        ],
        tmp_path,
    )  # fmt: skip
    assert code == 0, out
    calibration = json.loads(out)
    assert calibration["passed"] is True and calibration["performed_by"] == "Kim"
    assert calibration["recorded_by"].endswith("(cli)")
    code, out = _run(
        ["maintenance", "record", "stroke", "--config", site, "--valve", "lab-valve", "--close-s", "2.5"], tmp_path
    )
    assert code == 0 and out.startswith("stroke ") and out.strip().endswith("lab-valve: pass")
    code, out = _run(["maintenance", "list", "--json"], tmp_path)
    assert code == 0 and [r["kind"] for r in json.loads(out)] == ["stroke", "calibration"]


def test_cli_calibration_as_left_out_of_range_names_the_field(tmp_path: Path) -> None:
    site = str(_site(tmp_path))
    code, out = _run(
        [
            "maintenance", "record", "calibration", "--config", site, "--channel", "kitchen-ch1", "--gas", "methane",
            "--concentration", "25000", "--as-left-zero", "0", "--as-left-span", "70000",
        ],
        tmp_path,
    )  # fmt: skip
    assert code == 1
    assert "error: as_left_span: 70000 ppm is outside the range of kitchen-ch1" in out


def test_cli_bump_due_list_exits_1_when_something_is_overdue(tmp_path: Path) -> None:
    site = str(_site(tmp_path))
    code, out = _run(
        [
            "maintenance", "record", "bump", "--config", site, "--channel", "lab-ch2", "--gas", "methane",
            "--applied", "50", "--peak", "48", "--t90", "20", "--at", "2020-01-01T00:00:00Z",
        ],
        tmp_path,
    )  # fmt: skip
    assert code == 0, out
    code, out = _run(["maintenance", "due", "--config", site, "--zone", "lab", "--json"], tmp_path)
    assert code == 1
    bump = next(i for i in json.loads(out) if i["kind"] == "bump" and i["target"] == "lab-ch2")
    assert bump["status"] == "overdue" and bump["last_kind"] == "bump"


def test_cli_report_maintenance_writes_pdf_and_csv_and_refuses_the_future(tmp_path: Path) -> None:
    site = str(_site(tmp_path))
    pdf, csv_dir = tmp_path / "report.pdf", tmp_path / "csv"
    code, out = _run(
        [
            "report", "maintenance", "--config", site, "--from", "2026-01-01", "--to", "2026-02-01",
            "--out", str(pdf), "--csv", str(csv_dir), "--json",
        ],
        tmp_path,
    )  # fmt: skip
    assert code == 0, out
    assert pdf.read_bytes().startswith(b"%PDF-")
    assert (csv_dir / "proof_tests.csv").read_text().startswith("id,ts,zone,channel,performed_by,gas,alarm_s")
    assert len(json.loads(out)["files"]) == 8
    code, out = _run(
        ["report", "maintenance", "--config", site, "--from", "2999-01-01", "--to", "2999-02-01", "--out", str(pdf)],
        tmp_path,
    )
    assert code == 1 and "error: from: the report period starts in the future (2999-01-01 00:00:00 UTC)" in out


def test_cli_replay_prints_json(tmp_path: Path) -> None:
    site = str(_site(tmp_path))
    code, out = _run(["replay", "--config", site, "--from", "2026-01-01", "--to", "2026-01-02", "--json"], tmp_path)
    assert code == 0, out
    data = json.loads(out)
    # No stored readings at all: with the settings replayed, every channel goes stale and trips its zone.
    assert data["readings"] == 0 and data["summary"]["trip"]["added"] == 2
    assert {o["detail"] for o in data["added"] if o["kind"] == "trip"} == {
        "1 of 1 required votes: lab-mq5 FAULT (stale)",
        "1 of 1 required votes: kitchen-ch1 FAULT (stale)",
    }
    assert "valves reach a commanded position at once" in data["assumptions"]
