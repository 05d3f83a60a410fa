"""How the commands report a database they cannot use: one line on stderr and exit code 2.

A damaged SQLite file, an unreachable PostgreSQL or MySQL server or a missing driver is a problem with
the installation, not a bug: the operator needs to be told what to do, not shown a traceback.
SQLAlchemy is imported only when a command runs, like everywhere else in the CLI (``--help`` stays fast).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

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
