"""Engines for the three supported databases, chosen by URL.

- SQLite (embedded default): WAL journal so readers never block the writer, foreign keys on, a busy
  timeout so short lock waits do not become errors, ``synchronous=NORMAL`` (safe with WAL).
- PostgreSQL through psycopg 3 (``postgresql://`` is read as ``postgresql+psycopg://``).
- MySQL / MariaDB through PyMySQL (``mysql://`` and ``mariadb://`` are read as ``mysql+pymysql://``),
  utf8mb4 so any text round-trips.

When the database cannot be used at all (a damaged SQLite file, a server that cannot be reached, a
driver that is not installed), ``explained_database_failures`` turns the error into a
``DatabaseUnavailableError`` whose message is one line saying what to do, for the command line.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError
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


class DatabaseUnavailableError(RuntimeError):
    """The configured database cannot be used at all; the message is one line that says what to do."""


_DRIVERS = {
    "psycopg": ("PostgreSQL", "postgres"),
    "psycopg2": ("PostgreSQL", "postgres"),
    "pymysql": ("MySQL/MariaDB", "mysql"),
    "MySQLdb": ("MySQL/MariaDB", "mysql"),
}
"""Driver modules by import name: the database family and the extra that installs the driver."""

_DAMAGED_SQLITE = ("not a database", "malformed", "disk image", "file is encrypted")


def _first_line(error: object) -> str:
    text = str(error).strip()
    return text.splitlines()[0].strip() if text else type(error).__name__


def explain_database_failure(exc: BaseException, url: str | URL) -> str | None:
    """One line for an operator about why the database at ``url`` cannot be used; ``None`` if ``exc`` is
    not a database failure. It never carries SQL text, parameters or the URL's password."""
    parsed = normalise_url(url)
    if isinstance(exc, ModuleNotFoundError):
        driver = _DRIVERS.get((exc.name or "").split(".")[0])
        if driver is None:
            return None
        family, extra = driver
        return f"the {family} driver is not installed: install gasguard[{extra}] (pip install 'gasguard[{extra}]')"
    if not isinstance(exc, DBAPIError):
        return None
    reason = _first_line(exc.orig)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ":memory:"
        path = database if database == ":memory:" or database.startswith("file:") else str(Path(database).resolve())
        lowered = reason.lower()
        if any(mark in lowered for mark in _DAMAGED_SQLITE):
            return f"database file {path} is damaged: restore it from a backup or move it away ({reason})"
        if "unable to open" in lowered:
            return f"database file {path} cannot be opened: check that its folder exists and GasGuard may write there"
        return f"database file {path} cannot be used: {reason}"
    shown = parsed.render_as_string(hide_password=True)
    return (
        f"cannot use the database at {shown}: {reason} "
        "(check GASGUARD_DATABASE_URL and that the database server is running and reachable)"
    )


@contextmanager
def explained_database_failures(url: str | URL) -> Iterator[None]:
    """Turn a database failure inside the block into a ``DatabaseUnavailableError`` with one clear line.

    For start-up and the command line, where a 500-line traceback helps nobody: the cause stays chained
    (and is logged at debug level) for whoever needs it.
    """
    try:
        yield
    except (DBAPIError, ModuleNotFoundError) as exc:
        message = explain_database_failure(exc, url)
        if message is None:
            raise
        logger.debug("database failure: %s", message, exc_info=exc)
        raise DatabaseUnavailableError(message) from exc
