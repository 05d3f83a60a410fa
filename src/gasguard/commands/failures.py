"""How the commands report a database they cannot use: one line on stderr and exit code 2.

A damaged SQLite file, an unreachable PostgreSQL or MySQL server or a missing driver is a problem with
the installation, not a bug: the operator needs to be told what to do, not shown a traceback.
SQLAlchemy is imported only when a command runs, like everywhere else in the CLI (``--help`` stays fast).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import typer

DATABASE_EXIT_CODE = 2
"""The exit code for "the database cannot be used", the same as for other set-up errors (bad settings)."""


def exit_for_database(message: object) -> typer.Exit:
    """Print the one line and return the ``typer.Exit`` to raise."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(DATABASE_EXIT_CODE)


@contextmanager
def database_or_exit(url: str) -> Iterator[None]:
    """Run the block; if the database at ``url`` fails, print one line and exit with code 2."""
    from gasguard.storage.engine import DatabaseUnavailableError, explained_database_failures

    try:
        with explained_database_failures(url):
            yield
    except DatabaseUnavailableError as exc:
        raise exit_for_database(exc) from None


def missing_sqlite_file(url: str) -> Path | None:
    """The SQLite file ``url`` names when that file does not exist; ``None`` otherwise (a server, memory,
    or a file that is there)."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    database = parsed.database
    if parsed.get_backend_name() != "sqlite" or not database or database == ":memory:" or database.startswith("file:"):
        return None
    path = Path(database).expanduser().resolve()
    return None if path.exists() else path


def no_database_message(path: Path) -> str:
    return (
        f"no database at {path}: run `gasguard db upgrade` to create it, or point GASGUARD_DATA_DIR "
        "(or GASGUARD_DATABASE_URL) at the folder that holds it"
    )


def require_existing_database(url: str) -> None:
    """Exit with code 2 when ``url`` is a SQLite file that does not exist.

    Opening it would create an empty file (SQLite's way), which then sits beside the database the
    operator meant, with "schema missing" as the only clue; the commands that only read or change
    accounts and events must never create a database. ``gasguard db upgrade`` and ``serve`` do.
    """
    path = missing_sqlite_file(url)
    if path is not None:
        raise exit_for_database(no_database_message(path))
