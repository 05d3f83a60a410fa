"""Run the packaged Alembic migrations from code (``gasguard db upgrade`` and the service start-up)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine
from sqlalchemy.engine import URL

from gasguard.storage.engine import create_engine_for, normalise_url

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


class SchemaOutOfDateError(RuntimeError):
    """The database is not at the schema this version of GasGuard needs."""


def alembic_config(url: str | URL) -> Config:
    """An Alembic configuration pointing at the packaged migrations (no alembic.ini needed)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # Alembic's config is ConfigParser-based: a literal % must be doubled.
    rendered = normalise_url(url).render_as_string(hide_password=False)
    config.set_main_option("sqlalchemy.url", rendered.replace("%", "%%"))
    return config


def head_revision() -> str:
    """The newest migration shipped with this version."""
    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    if head is None:  # pragma: no cover - the package always ships migrations
        raise RuntimeError("no migrations found")
    return head


def upgrade_to_head(url: str | URL) -> str:
    """Bring the database at ``url`` to the newest schema; returns the revision it is now at."""
    command.upgrade(alembic_config(url), "head")
    return head_revision()


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or ``None`` for an empty database."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def check_schema_current(engine: Engine) -> None:
    """Raise a clear error unless the database is at the newest schema."""
    current = current_revision(engine)
    head = head_revision()
    if current != head:
        raise SchemaOutOfDateError(
            f"database schema is at {current or 'nothing (empty database)'}, this GasGuard needs {head}: "
            "run `gasguard db upgrade`"
        )


def engine_at_head(url: str | URL) -> Engine:
    """Upgrade the database and return an engine for it (handy for tests and first start)."""
    upgrade_to_head(url)
    return create_engine_for(url)
