"""Users and tokens in the database: keyword-only functions on a ``Session`` (flushed, not committed)."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gasguard.auth.passwords import hash_password, needs_rehash, rehash_password, verify_password
from gasguard.auth.roles import Principal, Role
from gasguard.auth.tokens import DEVICE_PREFIX, SESSION_PREFIX, TokenHasher, TokenScope, new_token
from gasguard.storage.models import ApiTokenRow, UserRow

USERNAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
TOKEN_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
SESSION_KIND = "session"
DEVICE_KIND = "device"
LAST_USED_RESOLUTION_S = 60.0  # write last_used_at at most once a minute per token


class AuthError(ValueError):
    """A user or token request that cannot be done (bad name, duplicate, not found)."""


@dataclass(frozen=True, slots=True)
class User:
    id: int
    username: str
    role: Role
    active: bool
    created_at: float


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A token as handed out: ``token`` is shown this once and never stored."""

    id: int
    token: str
    expires_at: float | None


@dataclass(frozen=True, slots=True)
class DeviceToken:
    id: int
    name: str
    created_at: float
    revoked_at: float | None
    last_used_at: float | None
    scope: TokenScope | None = None


def _user(row: UserRow) -> User:
    return User(id=row.id, username=row.username, role=Role(row.role), active=row.active, created_at=row.created_at)


def _check_username(username: str) -> str:
    if not USERNAME_PATTERN.fullmatch(username):
        raise AuthError(
            "username must be 2-64 characters: lower-case letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return username


def create_user(session: Session, *, username: str, password: str, role: Role, now: float) -> User:
    _check_username(username)
    if session.scalar(select(UserRow.id).where(UserRow.username == username)) is not None:
        raise AuthError(f"user {username!r} already exists")
    password_hash = hash_password(password, username=username)
    row = UserRow(username=username, password_hash=password_hash, role=str(role), active=True, created_at=now)
    session.add(row)
    session.flush()
    return _user(row)


def get_user(session: Session, *, username: str) -> User | None:
    row = session.scalar(select(UserRow).where(UserRow.username == username))
    return None if row is None else _user(row)


def list_users(session: Session) -> list[User]:
    return [_user(row) for row in session.scalars(select(UserRow).order_by(UserRow.username))]


def count_admins(session: Session) -> int:
    statement = select(func.count()).select_from(UserRow).where(UserRow.role == str(Role.ADMIN), UserRow.active)
    return int(session.execute(statement).scalar_one())


def update_user(
    session: Session, *, username: str, now: float, role: Role | None = None, active: bool | None = None
) -> User:
    """Change a user's role or active flag. Refuses to leave the system without an active admin.

    Deactivating a user also revokes their sessions.
    """
    row = session.scalar(select(UserRow).where(UserRow.username == username))
    if row is None:
        raise AuthError(f"no user {username!r}")
    was_active_admin = row.active and row.role == str(Role.ADMIN)
    if role is not None:
        row.role = str(role)
    if active is not None:
        row.active = active
    still_admin = row.active and row.role == str(Role.ADMIN)
    session.flush()
    if was_active_admin and not still_admin and count_admins(session) == 0:
        raise AuthError("refused: this would leave no active admin")
    if active is False:
        for token in session.scalars(
            select(ApiTokenRow).where(ApiTokenRow.user_id == row.id, ApiTokenRow.revoked_at.is_(None))
        ):
            token.revoked_at = now
    session.flush()
    return _user(row)


def set_password(session: Session, *, username: str, password: str, now: float | None = None) -> None:
    """Change a password and end the user's open sessions (a stolen session must not outlive a reset)."""
    row = session.scalar(select(UserRow).where(UserRow.username == username))
    if row is None:
        raise AuthError(f"no user {username!r}")
    row.password_hash = hash_password(password, username=username)
    revoked_at = time.time() if now is None else now
    for token in session.scalars(
        select(ApiTokenRow).where(ApiTokenRow.user_id == row.id, ApiTokenRow.revoked_at.is_(None))
    ):
        token.revoked_at = revoked_at
    session.flush()


def authenticate_password(session: Session, *, username: str, password: str) -> User | None:
    """The user if the password is right and the user is active; ``None`` otherwise (same timing)."""
    row = session.scalar(select(UserRow).where(UserRow.username == username))
    ok = verify_password(None if row is None else row.password_hash, password)
    if row is None or not ok or not row.active:
        return None
    if needs_rehash(row.password_hash):
        row.password_hash = rehash_password(password)
        session.flush()
    return _user(row)


def create_session(session: Session, *, user: User, hasher: TokenHasher, now: float, ttl_s: float) -> IssuedToken:
    token = new_token(SESSION_PREFIX)
    row = ApiTokenRow(
        kind=SESSION_KIND,
        name="login",
        token_hash=hasher.hash(token),
        user_id=user.id,
        created_at=now,
        expires_at=now + ttl_s,
    )
    session.add(row)
    session.flush()
    return IssuedToken(id=row.id, token=token, expires_at=row.expires_at)


def revoke_session(session: Session, *, token_id: int, now: float) -> None:
    row = session.get(ApiTokenRow, token_id)
    if row is not None and row.revoked_at is None:
        row.revoked_at = now
        session.flush()


def create_device_token(
    session: Session, *, name: str, hasher: TokenHasher, now: float, scope: TokenScope | None = None
) -> IssuedToken:
    """A device token (for ingestion); names are unique among tokens that are not revoked.

    With ``scope`` the token may only post readings of those channels or zones.
    """
    if not TOKEN_NAME_PATTERN.fullmatch(name):
        raise AuthError("token name must be 1-64 characters: letters, digits, '.', '_' or '-'")
    existing = select(ApiTokenRow.id).where(
        ApiTokenRow.kind == DEVICE_KIND, ApiTokenRow.name == name, ApiTokenRow.revoked_at.is_(None)
    )
    if session.scalar(existing) is not None:
        raise AuthError(f"a device token named {name!r} exists; revoke it first")
    token = new_token(DEVICE_PREFIX)
    row = ApiTokenRow(kind=DEVICE_KIND, name=name, token_hash=hasher.hash(token), user_id=None, created_at=now)
    row.scope = None if scope is None else scope.to_json()
    session.add(row)
    session.flush()
    return IssuedToken(id=row.id, token=token, expires_at=None)


def list_device_tokens(session: Session, *, include_revoked: bool = False) -> list[DeviceToken]:
    statement = select(ApiTokenRow).where(ApiTokenRow.kind == DEVICE_KIND).order_by(ApiTokenRow.id)
    if not include_revoked:
        statement = statement.where(ApiTokenRow.revoked_at.is_(None))
    return [
        DeviceToken(
            id=r.id,
            name=r.name,
            created_at=r.created_at,
            revoked_at=r.revoked_at,
            last_used_at=r.last_used_at,
            scope=TokenScope.from_json(r.scope),
        )
        for r in session.scalars(statement)
    ]


def revoke_token(session: Session, *, now: float, token_id: int | None = None, name: str | None = None) -> DeviceToken:
    """Revoke a device token by id or by name."""
    statement = select(ApiTokenRow).where(ApiTokenRow.kind == DEVICE_KIND, ApiTokenRow.revoked_at.is_(None))
    if token_id is not None:
        statement = statement.where(ApiTokenRow.id == token_id)
    elif name is not None:
        statement = statement.where(ApiTokenRow.name == name)
    else:
        raise AuthError("give a token id or name")
    row = session.scalar(statement)
    if row is None:
        raise AuthError("no such active device token")
    row.revoked_at = now
    session.flush()
    return DeviceToken(
        id=row.id, name=row.name, created_at=row.created_at, revoked_at=now, last_used_at=row.last_used_at
    )


def authenticate_token(session: Session, *, token: str, hasher: TokenHasher, now: float) -> Principal | None:
    """The principal behind a bearer token, or ``None`` if it is unknown, expired, revoked or disabled."""
    if not token.startswith((SESSION_PREFIX, DEVICE_PREFIX)) or len(token) > 200:
        return None
    row = session.scalar(select(ApiTokenRow).where(ApiTokenRow.token_hash == hasher.hash(token)))
    if row is None or row.revoked_at is not None or (row.expires_at is not None and row.expires_at <= now):
        return None
    if row.last_used_at is None or now - row.last_used_at >= LAST_USED_RESOLUTION_S:
        row.last_used_at = now
        session.flush()
    if row.kind == DEVICE_KIND:
        scope = TokenScope.from_json(row.scope)
        return Principal(name=f"device:{row.name}", role=None, user_id=None, token_id=row.id, device=True, scope=scope)
    user = session.get(UserRow, row.user_id) if row.user_id is not None else None
    if user is None or not user.active:
        return None
    return Principal(name=user.username, role=Role(user.role), user_id=user.id, token_id=row.id)


def recheck_session(
    session: Session, *, token_id: int, token: str, hasher: TokenHasher, now: float
) -> Principal | None:
    """The person behind a sign-in session that was accepted earlier, read again; ``None`` once it is
    revoked, expired, its user disabled, or its stored hash no longer matches under the current secret key.

    For connections that outlive one request (the live feed re-checks every fraction of a second): one
    primary-key read joined to the user, and no ``last_used_at`` write, unlike ``authenticate_token``.
    Device tokens give ``None``: they hold no such connection.
    """
    statement = (
        select(ApiTokenRow, UserRow)
        .outerjoin(UserRow, UserRow.id == ApiTokenRow.user_id)
        .where(ApiTokenRow.id == token_id, ApiTokenRow.token_hash == hasher.hash(token))
    )
    found = session.execute(statement).one_or_none()
    if found is None:
        return None
    row, user = found
    if row.revoked_at is not None or (row.expires_at is not None and row.expires_at <= now):
        return None
    if row.kind != SESSION_KIND or user is None or not user.active:
        return None
    return Principal(name=user.username, role=Role(user.role), user_id=user.id, token_id=row.id)
