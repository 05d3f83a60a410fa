"""Databases for storage tests: a fresh SQLite file, and fresh databases on the PostgreSQL and
MariaDB servers of this machine (created with a unique name, dropped afterwards).

Server URLs come from ``GASGUARD_TEST_POSTGRES_URL`` / ``GASGUARD_TEST_MYSQL_URL`` (defaults: the
local servers with trust auth). An unreachable server skips its tests, or fails them under ``CI=true``.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from gasguard.storage.engine import create_engine_for

POSTGRES_URL = os.environ.get("GASGUARD_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
MYSQL_URL = os.environ.get("GASGUARD_TEST_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306/test")


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def _server_admin(url: str) -> Engine:
    engine = create_engine_for(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:
        engine.dispose()
        message = f"database server at {make_url(url).render_as_string()} unreachable: {type(exc).__name__}: {exc}"
        if _in_ci():
            pytest.fail(message)
        pytest.skip(message)
    return engine


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'store.db'}"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    admin = _server_admin(POSTGRES_URL)
    name = f"gasguard_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def mysql_url() -> Iterator[str]:
    admin = _server_admin(MYSQL_URL)
    name = f"gasguard_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.execute(text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
    try:
        yield make_url(MYSQL_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
        admin.dispose()


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgresql", marks=pytest.mark.server),
        pytest.param("mysql", marks=pytest.mark.server),
    ]
)
def any_database_url(request: pytest.FixtureRequest) -> str:
    """The same test on SQLite, PostgreSQL and MariaDB."""
    fixture = {"sqlite": "sqlite_url", "postgresql": "postgres_url", "mysql": "mysql_url"}[request.param]
    url: str = request.getfixturevalue(fixture)
    return url
