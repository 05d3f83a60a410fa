"""``gasguard users``: people and device tokens. There are no default credentials; make the first
admin with ``gasguard users create --role admin --username NAME``.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import typer

from gasguard.commands.apps import CliApps

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from gasguard.settings import ServiceSettings

DatabaseUrlOption = typer.Option(None, "--database-url", help="Overrides GASGUARD_DATABASE_URL.")
JsonOption = typer.Option(False, "--json", help="Print one JSON document.")


def _settings(database_url: str | None) -> ServiceSettings:
    from gasguard.settings import ServiceSettings

    return ServiceSettings() if database_url is None else ServiceSettings(database_url=database_url)


@contextmanager
def _session(settings: ServiceSettings) -> Iterator[Session]:
    """A transaction on the configured database; refuses a missing database (creating nothing) and an
    out-of-date schema with a clear message."""
    from gasguard.commands.failures import database_or_exit, require_existing_database
    from gasguard.storage.engine import create_engine_for, make_session_factory
    from gasguard.storage.migrate import SchemaOutOfDateError, check_schema_current

    url = settings.resolved_database_url()
    require_existing_database(url)
    with database_or_exit(url):  # a damaged file or an unreachable server: one line and exit code 2
        engine = create_engine_for(url)
        try:
            try:
                check_schema_current(engine)
            except SchemaOutOfDateError as exc:
                typer.echo(f"error: {exc}", err=True)
                raise typer.Exit(2) from None
            with make_session_factory(engine)() as session, session.begin():
                yield session
        finally:
            engine.dispose()


def _read_password(password_stdin: bool) -> str:
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return password


def _split_ids(value: str | None) -> list[str]:
    """``kitchen-ch1,kitchen-ch2`` as a list (empty items dropped)."""
    return [] if value is None else [item.strip() for item in value.split(",") if item.strip()]


def _audit(session: Session, *, source: str, reason: str, payload: dict[str, object]) -> None:
    import getpass

    from gasguard.storage.events import EventKind, add_event

    add_event(
        session,
        kind=EventKind.AUDIT,
        ts=time.time(),
        source=source,
        actor=f"cli:{getpass.getuser()}",
        reason=reason,
        payload=payload,
    )


def register(apps: CliApps) -> None:
    users = typer.Typer(help="People and device tokens.", no_args_is_help=True, add_completion=False)
    tokens = typer.Typer(help="Device tokens for ingestion.", no_args_is_help=True, add_completion=False)

    @users.command("create")
    def create(
        username: str = typer.Option(..., "--username", help="2-64 of a-z 0-9 . _ -"),
        role: str = typer.Option(..., "--role", help="viewer, operator or admin"),
        password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password from stdin."),
        database_url: str | None = DatabaseUrlOption,
        as_json: bool = JsonOption,
    ) -> None:
        """Create a user (the password is prompted for, or read from stdin)."""
        from gasguard.auth import AuthError, PasswordPolicyError, Role, create_user

        try:
            parsed_role = Role(role)
        except ValueError:
            typer.echo("error: --role must be viewer, operator or admin", err=True)
            raise typer.Exit(2) from None
        password = _read_password(password_stdin)
        with _session(_settings(database_url)) as session:
            try:
                user = create_user(session, username=username, password=password, role=parsed_role, now=time.time())
            except (AuthError, PasswordPolicyError) as exc:
                typer.echo(f"error: {exc}", err=True)
                raise typer.Exit(1) from None
            _audit(session, source=f"user:{username}", reason="created from the command line", payload={"role": role})
        if as_json:
            typer.echo(json.dumps({"username": user.username, "role": str(user.role)}))
        else:
            typer.echo(f"created {user.role} {user.username}")

    @users.command("list")
    def list_(database_url: str | None = DatabaseUrlOption, as_json: bool = JsonOption) -> None:
        """List users."""
        from gasguard.auth import list_users

        with _session(_settings(database_url)) as session:
            found = list_users(session)
        if as_json:
            typer.echo(
                json.dumps(
                    [
                        {"username": u.username, "role": str(u.role), "active": u.active, "created_at": u.created_at}
                        for u in found
                    ]
                )
            )
            return
        for u in found:
            typer.echo(f"{u.username}\t{u.role}\t{'active' if u.active else 'disabled'}")

    @users.command("set-password")
    def set_password_(
        username: str = typer.Option(..., "--username"),
        password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password from stdin."),
        database_url: str | None = DatabaseUrlOption,
    ) -> None:
        """Set a user's password (for example after a lost password)."""
        from gasguard.auth import AuthError, PasswordPolicyError, set_password

        password = _read_password(password_stdin)
        with _session(_settings(database_url)) as session:
            try:
                set_password(session, username=username, password=password)
            except (AuthError, PasswordPolicyError) as exc:
                typer.echo(f"error: {exc}", err=True)
                raise typer.Exit(1) from None
            _audit(session, source=f"user:{username}", reason="password set from the command line", payload={})
        typer.echo(f"password of {username} changed")

    @tokens.command("create")
    def token_create(
        name: str = typer.Option(..., "--name", help="Device name, e.g. boiler-gateway"),
        channels: str | None = typer.Option(
            None, "--channels", help="Bind the token to these channels (comma-separated): it may post only them."
        ),
        zones: str | None = typer.Option(
            None, "--zones", help="Bind the token to these zones (comma-separated): any channel in them."
        ),
        database_url: str | None = DatabaseUrlOption,
        as_json: bool = JsonOption,
    ) -> None:
        """Create a device token; it is printed once and only its hash is stored.

        Bind a device's token to its own channels or zone, so a token copied off one detector cannot post
        readings ("no gas") for another.
        """
        from gasguard.auth import AuthError, TokenHasher, create_device_token
        from gasguard.auth.tokens import ScopeError, TokenScope

        scope: TokenScope | None = None
        if channels is not None or zones is not None:
            try:
                scope = TokenScope.of(channels=_split_ids(channels), zones=_split_ids(zones))
            except ScopeError as exc:
                typer.echo(f"error: {exc}", err=True)
                raise typer.Exit(2) from None
        settings = _settings(database_url)
        with _session(settings) as session:  # first: a missing database must not leave a new key behind
            hasher = TokenHasher(settings.resolved_secret_key())
            try:
                issued = create_device_token(session, name=name, hasher=hasher, now=time.time(), scope=scope)
            except AuthError as exc:
                typer.echo(f"error: {exc}", err=True)
                raise typer.Exit(1) from None
            scope_json = None if scope is None else scope.to_json()
            _audit(
                session,
                source=f"token:{name}",
                reason="created from the command line",
                payload={"id": issued.id, "scope": scope_json},
            )
        if as_json:
            typer.echo(json.dumps({"id": issued.id, "name": name, "token": issued.token, "scope": scope_json}))
        else:
            typer.echo(issued.token)

    @tokens.command("list")
    def token_list(
        database_url: str | None = DatabaseUrlOption,
        include_revoked: bool = typer.Option(False, "--all", help="Include revoked tokens."),
        as_json: bool = JsonOption,
    ) -> None:
        """List device tokens (never the tokens themselves)."""
        from gasguard.auth import list_device_tokens

        with _session(_settings(database_url)) as session:
            found = list_device_tokens(session, include_revoked=include_revoked)
        if as_json:
            typer.echo(
                json.dumps(
                    [
                        {
                            "id": t.id,
                            "name": t.name,
                            "created_at": t.created_at,
                            "revoked_at": t.revoked_at,
                            "scope": None if t.scope is None else t.scope.to_json(),
                        }
                        for t in found
                    ]
                )
            )
            return
        for t in found:
            bound = t.scope.describe() if t.scope is not None else "any channel"
            typer.echo(f"{t.id}\t{t.name}\t{'revoked' if t.revoked_at else 'active'}\t{bound}")

    @tokens.command("revoke")
    def token_revoke(
        name: str | None = typer.Option(None, "--name"),
        token_id: int | None = typer.Option(None, "--id"),
        database_url: str | None = DatabaseUrlOption,
        as_json: bool = JsonOption,
    ) -> None:
        """Revoke a device token by name or id; the device is refused from then on."""
        from gasguard.auth import AuthError, revoke_token

        if (name is None) == (token_id is None):
            typer.echo("error: give exactly one of --name or --id", err=True)
            raise typer.Exit(2)
        with _session(_settings(database_url)) as session:
            try:
                revoked = revoke_token(session, now=time.time(), token_id=token_id, name=name)
            except AuthError as exc:
                typer.echo(f"error: {exc}", err=True)
                raise typer.Exit(1) from None
            _audit(
                session,
                source=f"token:{revoked.name}",
                reason="revoked from the command line",
                payload={"id": revoked.id},
            )
        if as_json:
            typer.echo(json.dumps({"id": revoked.id, "name": revoked.name, "revoked": True}))
        else:
            typer.echo(f"revoked {revoked.name} (id {revoked.id})")

    users.add_typer(tokens, name="token")
    apps.root.add_typer(users, name="users")
