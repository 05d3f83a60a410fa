"""Engines for the three supported databases, chosen by URL.

- SQLite (embedded default): WAL journal so readers never block the writer, foreign keys on, a busy
  timeout so short lock waits do not become errors, ``synchronous=NORMAL`` (safe with WAL).
- PostgreSQL through psycopg 3 (``postgresql://`` is read as ``postgresql+psycopg://``).
- MySQL / MariaDB through PyMySQL (``mysql://`` and ``mariadb://`` are read as ``mysql+pymysql://``),
  utf8mb4 so any text round-trips.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session, sessionmaker

logger = logging.getLogger(__name__)

SQLITE_BUSY_TIMEOUT_MS = 5000


def normalise_url(url: str | URL) -> URL:
    """Pick the driver GasGuard ships with for each database family."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    driver = parsed.get_driver_name()
    if backend == "postgresql" and driver != "psycopg":
        parsed = parsed.set(drivername="postgresql+psycopg")
    elif backend in {"mysql", "mariadb"}:
        parsed = parsed.set(drivername="mysql+pymysql")
        if "charset" not in parsed.query:
            parsed = parsed.update_query_dict({"charset": "utf8mb4"})
    return parsed


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()


def create_engine_for(url: str | URL, **kwargs: Any) -> Engine:
    """Create an engine for ``url`` with GasGuard's settings for that database."""
    parsed = normalise_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        connect_args = kwargs.pop("connect_args", {})
        connect_args.setdefault("check_same_thread", False)
        engine = create_engine(parsed, connect_args=connect_args, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("pool_recycle", 1800)
    return create_engine(parsed, **kwargs)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded objects usable after commit (they are returned to callers)."""
    return sessionmaker(bind=engine, expire_on_commit=False)
