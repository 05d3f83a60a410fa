"""``gasguard db``: schema migrations and retention for the configured database."""

from __future__ import annotations

import json
import time

import typer

from gasguard.commands.apps import CliApps
from gasguard.commands.failures import (
    database_or_exit,
    exit_for_database,
    missing_sqlite_file,
    no_database_message,
    require_existing_database,
)

DatabaseUrlOption = typer.Option(None, "--database-url", help="Overrides GASGUARD_DATABASE_URL.")


def _url(database_url: str | None) -> str:
    from gasguard.settings import ServiceSettings

    settings = ServiceSettings() if database_url is None else ServiceSettings(database_url=database_url)
    return settings.resolved_database_url()


def register(apps: CliApps) -> None:
    db = typer.Typer(help="Database schema and retention.", no_args_is_help=True, add_completion=False)

    @db.command("upgrade")
    def upgrade(
        database_url: str | None = DatabaseUrlOption,
        as_json: bool = typer.Option(False, "--json", help="Print one JSON document."),
    ) -> None:
        """Create or migrate the database schema to the newest version."""
        from sqlalchemy.engine import make_url

        from gasguard.storage.migrate import upgrade_to_head

        url = _url(database_url)
        with database_or_exit(url):
            revision = upgrade_to_head(url)
        shown = make_url(url).render_as_string(hide_password=True)
        if as_json:
            typer.echo(json.dumps({"database": shown, "revision": revision}))
        else:
            typer.echo(f"{shown} is at schema revision {revision}")

    @db.command("current")
    def current(
        database_url: str | None = DatabaseUrlOption,
        as_json: bool = typer.Option(False, "--json", help="Print one JSON document."),
    ) -> None:
        """Show the schema revision of the database and whether it is up to date (exit 1 if not)."""
        from gasguard.storage.engine import create_engine_for
        from gasguard.storage.migrate import current_revision, head_revision

        url = _url(database_url)
        missing = missing_sqlite_file(url)  # reported, not created: `db upgrade` is the command that creates
        revision = None
        if missing is None:
            with database_or_exit(url):
                engine = create_engine_for(url)
                try:
                    revision = current_revision(engine)
                finally:
                    engine.dispose()
        head = head_revision()
        if as_json:
            typer.echo(
                json.dumps(
                    {"revision": revision, "head": head, "up_to_date": revision == head, "exists": missing is None}
                )
            )
        elif missing is not None:
            typer.echo(f"schema revision none: {no_database_message(missing)} (newest {head})")
        else:
            typer.echo(f"schema revision {revision or 'none'} (newest {head})")
        if revision != head:
            raise typer.Exit(1)

    @db.command("purge")
    def purge_old(
        database_url: str | None = DatabaseUrlOption,
        as_json: bool = typer.Option(False, "--json", help="Print one JSON document."),
    ) -> None:
        """Delete readings and events older than GASGUARD_READING/EVENT_RETENTION_DAYS."""
        from gasguard.settings import ServiceSettings
        from gasguard.storage.engine import create_engine_for, make_session_factory
        from gasguard.storage.migrate import SchemaOutOfDateError, check_schema_current
        from gasguard.storage.retention import purge

        settings = ServiceSettings() if database_url is None else ServiceSettings(database_url=database_url)
        url = settings.resolved_database_url()
        require_existing_database(url)
        with database_or_exit(url):
            engine = create_engine_for(url)
            try:
                check_schema_current(engine)
                with make_session_factory(engine)() as session, session.begin():
                    result = purge(
                        session,
                        now=time.time(),
                        reading_retention_days=settings.reading_retention_days,
                        event_retention_days=settings.event_retention_days,
                    )
            except SchemaOutOfDateError as exc:
                raise exit_for_database(exc) from None
            finally:
                engine.dispose()
        if as_json:
            typer.echo(
                json.dumps({"readings_deleted": result.readings_deleted, "events_deleted": result.events_deleted})
            )
        else:
            typer.echo(f"deleted {result.readings_deleted} readings and {result.events_deleted} events")

    apps.root.add_typer(db, name="db")
