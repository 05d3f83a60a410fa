"""A fresh PostgreSQL database per test (``gasguard_failover_<random>``, dropped afterwards), so the
workers' leases and snapshots never meet another test's."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from conftest import in_ci

ADMIN_URL = os.environ.get("GASGUARD_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@pytest.fixture
def fresh_postgres() -> Iterator[str]:
    """URL of a new, empty database on the test PostgreSQL server; skipped (failed under CI) without it."""
    try:
        admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
        with admin.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:
        message = f"PostgreSQL at {make_url(ADMIN_URL).render_as_string(hide_password=True)} unusable: {exc}"
        if in_ci():
            pytest.fail(message)
        pytest.skip(message)
    name = f"gasguard_failover_{uuid.uuid4().hex[:10]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
