"""Throw-away databases for the benchmarks: a SQLite file, or a private schema on a PostgreSQL server.

On PostgreSQL the benchmark gets its own schema (``gasguard_bench_<random>``) in the given database,
selected through ``search_path``, migrated to the newest revision and dropped afterwards, so a run
never touches other tables in that database.
"""

from __future__ import annotations

import contextlib
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

from sqlalchemy import text
from sqlalchemy.engine import make_url

from gasguard.benchmarks.defaults import DEFAULT_POSTGRES_URL
from gasguard.storage.engine import create_engine_for
from gasguard.storage.migrate import upgrade_to_head

DatabaseKind = Literal["sqlite", "postgres"]


class BenchUnavailable(RuntimeError):
    """A benchmark cannot run here (no database server, no broker); the message says what is missing."""


@contextlib.contextmanager
def bench_database(kind: DatabaseKind, *, postgres_url: str = DEFAULT_POSTGRES_URL) -> Iterator[str]:
    """Yield the URL of a fresh, migrated database of ``kind``; removed afterwards."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory(prefix="gasguard-bench-") as folder:
            url = f"sqlite:///{Path(folder) / 'bench.db'}"
            upgrade_to_head(url)
            yield url
        return
    admin = create_engine_for(postgres_url, isolation_level="AUTOCOMMIT")
    schema = f"gasguard_bench_{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:
        admin.dispose()
        where = make_url(postgres_url).render_as_string()
        raise BenchUnavailable(f"PostgreSQL at {where} unusable: {type(exc).__name__}: {exc}"[:400]) from None
    try:
        url = (
            make_url(postgres_url)
            .update_query_dict({"options": f"-csearch_path={schema}"})
            .render_as_string(hide_password=False)
        )
        upgrade_to_head(url)
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


def count_readings(url: str) -> int:
    """Rows in the readings table of the database at ``url``."""
    engine = create_engine_for(url)
    try:
        with engine.connect() as connection:
            return int(connection.execute(text("SELECT count(*) FROM readings")).scalar_one())
    finally:
        engine.dispose()
