"""``gasguard users`` and ``gasguard db`` as a user meets them: the documented settings reach the demo's
accounts, and a missing database is an error that creates nothing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from demo_harness import RunningDemo, clean_env


def gasguard(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gasguard", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60
    )


@pytest.mark.timeout(120)
def test_users_list_with_gasguard_data_dir_reaches_the_running_demos_accounts(tmp_path: Path) -> None:
    data, home, cwd = tmp_path / "demo", tmp_path / "home", tmp_path / "cwd"
    home.mkdir()
    cwd.mkdir()
    demo = RunningDemo(["--data-dir", str(data)], clean_env(home), cwd)
    try:
        listed = gasguard(["users", "list", "--json"], clean_env(home, GASGUARD_DATA_DIR=str(data)), cwd)
        assert listed.returncode == 0, listed.stderr
        assert [(u["username"], u["role"], u["active"]) for u in json.loads(listed.stdout)] == [
            ("admin", "admin", True)
        ]
        current = gasguard(["db", "current", "--json"], clean_env(home, GASGUARD_DATA_DIR=str(data)), cwd)
        assert current.returncode == 0, current.stdout + current.stderr
        assert json.loads(current.stdout)["up_to_date"] is True
    finally:
        assert demo.stop() == 0, "".join(demo.output)
    assert sorted(p.name for p in data.glob("*.db")) == ["gasguard.db"]  # one database, no empty twin


@pytest.mark.parametrize(
    "args",
    [
        ["users", "list"],
        ["users", "token", "create", "--name", "boiler-gateway"],
        ["db", "purge"],
    ],
    ids=lambda args: " ".join(args[:3]),
)
def test_a_missing_database_is_an_error_that_creates_nothing(tmp_path: Path, args: list[str]) -> None:
    data, home = tmp_path / "data", tmp_path / "home"
    data.mkdir()
    home.mkdir()
    result = gasguard(args, clean_env(home, GASGUARD_DATA_DIR=str(data)), tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"no database at {data / 'gasguard.db'}" in result.stderr
    assert "gasguard db upgrade" in result.stderr
    assert "Traceback" not in result.stderr
    assert list(data.iterdir()) == []  # no empty database, no secret key


def test_db_current_reports_a_missing_database_without_creating_it(tmp_path: Path) -> None:
    result = gasguard(["db", "current"], clean_env(tmp_path, GASGUARD_DATA_DIR=str(tmp_path / "data")), tmp_path)
    assert result.returncode == 1
    assert "no database at" in result.stdout
    assert not (tmp_path / "data").exists()
