"""A database that fails is reported plainly: a 503 in the API, one line and exit code 2 on the command line.

Found with a SQLite file damaged mid-file: the service started and kept its valves safe, but sign-in
answered 500 (so nobody could operate) and anonymous ``GET /api/v1/health`` showed the failing SQL
statement and its parameters. And a file that could not be opened at all printed a long traceback.
Here the same damage is made for real (a page of the ``users`` table overwritten, or the file's header),
plus an unreachable PostgreSQL/MySQL server and a missing driver.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from gasguard.cli import build_app
from gasguard.config import example_config_path
from gasguard.services.health import ComponentHealth
from gasguard.storage.writer import ComponentStatus
from gasguard.web.testing import PASSWORD, ApiHarness

SQL_MARKS = ("[SQL", "SELECT", "[parameters", "sqlalche.me")


def damage_table(path: Path, table: str) -> None:
    """Overwrite the first page of ``table`` in the SQLite file at ``path`` (the rest of the file is intact)."""
    with sqlite3.connect(path) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        (root,) = connection.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (table,)).fetchone()
        (page_size,) = connection.execute("PRAGMA page_size").fetchone()
    connection.close()
    with path.open("r+b") as file:
        file.seek((root - 1) * page_size)
        file.write(b"\xde\xad\xbe\xef" * (page_size // 4))


def damage_header(path: Path) -> None:
    """A file that is not a SQLite database at all any more (its first page overwritten)."""
    path.write_bytes(os.urandom(8192))


@pytest.fixture
def damaged_users(api: ApiHarness, tmp_path: Path) -> ApiHarness:
    """The running API after a page of its ``users`` table was damaged on disk."""
    vera = api.headers("vera")  # signed in before the damage: the token rows are intact
    api.services.engine.dispose()
    damage_table(tmp_path / "api.db", "users")
    api.vera = vera  # type: ignore[attr-defined]
    return api


def test_sign_in_on_a_damaged_database_is_a_plain_503(damaged_users: ApiHarness) -> None:
    response = damaged_users.client.post("/api/v1/auth/login", json={"username": "otto", "password": PASSWORD})
    assert response.status_code == 503
    assert response.json()["detail"].startswith("the database cannot be used right now")
    assert not any(mark in response.text for mark in SQL_MARKS)
    assert "otto" not in response.text


def test_any_api_route_on_a_damaged_database_is_a_plain_503(damaged_users: ApiHarness) -> None:
    response = damaged_users.client.get("/api/v1/auth/me", headers=damaged_users.vera)  # type: ignore[attr-defined]
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "10"
    assert not any(mark in response.text for mark in SQL_MARKS)


def _failing_query(api: ApiHarness) -> Callable[[], ComponentHealth]:
    def check() -> ComponentHealth:
        with api.services.engine.connect() as connection:
            connection.execute(text("SELECT * FROM no_such_table WHERE secret = :s"), {"s": "param-7731"})
        return ComponentHealth(ComponentStatus.OK)

    return check


def test_health_shows_anonymous_callers_no_error_and_nobody_sql(api: ApiHarness) -> None:
    vera = api.headers("vera")
    api.services.health_checks["archive"] = _failing_query(api)
    try:
        _failing_query(api)()
    except Exception as exc:  # what a component that stored its last error would report
        raw = f"{type(exc).__name__}: {exc}"
    api.services.health_checks["writer2"] = lambda: ComponentHealth(ComponentStatus.DEGRADED, {"last_error": raw})

    anonymous = api.client.get("/api/v1/health")
    assert anonymous.status_code == 503
    assert anonymous.json()["components"]["archive"] == {"status": "down"}
    assert anonymous.json()["components"]["writer2"] == {"status": "degraded"}
    assert "no_such_table" not in anonymous.text

    signed_in = api.client.get("/api/v1/health", headers=vera)
    components = signed_in.json()["components"]
    assert (
        components["archive"]["detail"]["error"]
        == "OperationalError: (sqlite3.OperationalError) no such table: no_such_table"
    )
    assert components["writer2"]["detail"]["last_error"] == components["archive"]["detail"]["error"]
    assert "param-7731" not in signed_in.text
    assert not any(mark in signed_in.text for mark in SQL_MARKS)


# ----------------------------------------------------------------------------- command line


@pytest.fixture
def damaged_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "gasguard.db"
    damage_header(path)
    monkeypatch.setenv("GASGUARD_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("GASGUARD_DATABASE_URL", f"sqlite:///{path}")
    monkeypatch.setenv("GASGUARD_SECRET_KEY", "s" * 40)
    for key in ("GASGUARD_MQTT_URL", "GASGUARD_SITE_CONFIG"):
        monkeypatch.delenv(key, raising=False)
    return path


def _one_line_and_exit_2(args: list[str], expected: str, stdin: str | None = None) -> str:
    result = CliRunner().invoke(build_app(), args, input=stdin)
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith("error: ") and expected in lines[0]
    assert "Traceback" not in result.output
    return lines[0]


@pytest.mark.parametrize(
    "args",
    [
        ["users", "list"],
        ["users", "create", "--username", "nina", "--role", "operator", "--password-stdin"],
        ["users", "set-password", "--username", "nina", "--password-stdin"],
        ["db", "upgrade"],
        ["db", "current"],
        ["db", "purge"],
        ["serve", "--config", str(example_config_path())],
    ],
    ids=lambda args: " ".join(args[:2]),
)
def test_a_damaged_file_is_one_line_and_exit_code_2(damaged_file: Path, args: list[str]) -> None:
    line = _one_line_and_exit_2(args, "is damaged: restore it from a backup or move it away", stdin=PASSWORD + "\n")
    assert str(damaged_file) in line


def test_the_demo_on_a_damaged_file_is_one_line_and_exit_code_2(tmp_path: Path) -> None:
    damage_header(tmp_path / "gasguard.db")
    _one_line_and_exit_2(["demo", "--data-dir", str(tmp_path)], "gasguard.db is damaged")


@pytest.mark.parametrize("url", ["postgresql://gg:hunter22@127.0.0.1:1/gasguard", "mysql://gg:hunter22@127.0.0.1:1/gg"])
def test_an_unreachable_server_is_one_line_without_the_password(url: str, tmp_path: Path) -> None:
    for args in (["db", "upgrade"], ["users", "list"]):
        line = _one_line_and_exit_2([*args, "--database-url", url], "cannot use the database at")
        assert "127.0.0.1" in line
        assert "hunter22" not in line


@pytest.mark.parametrize(
    ("module", "url", "extra"), [("psycopg", "postgresql://h/db", "postgres"), ("pymysql", "mysql://h/db", "mysql")]
)
def test_a_missing_driver_says_which_extra_to_install(
    module: str, url: str, extra: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # importing it now fails as if it were not installed
    _one_line_and_exit_2(["db", "upgrade", "--database-url", url], f"install gasguard[{extra}]")


def test_serve_on_a_damaged_file_prints_no_traceback(damaged_file: Path) -> None:
    """The real process: what an operator sees in the terminal or the service log."""
    done = subprocess.run(
        [sys.executable, "-m", "gasguard", "serve", "--config", str(example_config_path()), "--log-level", "warning"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ},
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith(f"error: database file {damaged_file} is damaged")
    assert len(done.stderr.strip().splitlines()) <= 3, done.stderr
