"""Opaque bearer tokens, stored only as a keyed hash.

A token is 32 random bytes, URL-safe, with a prefix that says what it is (``ggs_`` for a sign-in
session, ``ggd_`` for a device), so a leaked token is easy to recognise in logs or code. The database
keeps HMAC-SHA256(secret key, token): a copy of the database alone does not let anyone sign in, and
changing the secret key invalidates every token at once.

A device token may be bound to channels or zones (``TokenScope``): the token of the hob's detector
then cannot post readings for the boiler room, so a token lifted from one device cannot be used to
report "no gas" for another.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

SESSION_PREFIX = "ggs_"
DEVICE_PREFIX = "ggd_"
SCOPE_ID_PATTERN = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")  # channel and zone ids, as in the site file
MAX_SCOPE_ENTRIES = 1000


class ScopeError(ValueError):
    """A token binding that cannot be stored (bad id, too many, nothing named)."""


@dataclass(frozen=True, slots=True)
class TokenScope:
    """What a bound device token may post: readings of the listed channels and of any channel in the
    listed zones. An unbound token (no scope) may post any channel.

    >>> scope = TokenScope.of(channels=["kitchen-ch1"], zones=["boiler"])
    >>> scope.allows("kitchen-ch1", zone="kitchen"), scope.allows("kitchen-ch2", zone="kitchen")
    (True, False)
    >>> scope.allows("boiler-ch7", zone="boiler")
    True
    """

    channels: tuple[str, ...] = ()
    zones: tuple[str, ...] = ()

    @classmethod
    def of(cls, *, channels: Iterable[str] = (), zones: Iterable[str] = ()) -> TokenScope:
        """A checked scope (ids as in the site file, sorted, no duplicates); ``ScopeError`` if it is empty."""
        clean: dict[str, tuple[str, ...]] = {}
        for what, ids in (("channel", channels), ("zone", zones)):
            unique = sorted({item.strip() for item in ids if item.strip()})
            for item in unique:
                if not SCOPE_ID_PATTERN.fullmatch(item):
                    raise ScopeError(f"{what} id {item[:80]!r} must be 1-64 of A-Z a-z 0-9 _ . -")
            if len(unique) > MAX_SCOPE_ENTRIES:
                raise ScopeError(f"at most {MAX_SCOPE_ENTRIES} {what}s per token")
            clean[what] = tuple(unique)
        if not clean["channel"] and not clean["zone"]:
            raise ScopeError("name at least one channel or zone to bind the token to")
        return cls(channels=clean["channel"], zones=clean["zone"])

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> TokenScope | None:
        """The scope as stored in ``api_tokens.scope``; ``None`` (unbound) for a null column."""
        if data is None:
            return None
        return cls(channels=tuple(data.get("channels") or ()), zones=tuple(data.get("zones") or ()))

    def to_json(self) -> dict[str, list[str]]:
        return {"channels": list(self.channels), "zones": list(self.zones)}

    def allows(self, channel: str, *, zone: str | None) -> bool:
        """Whether a reading of ``channel`` (which lies in ``zone``, ``None`` if unknown) may be posted."""
        return channel in self.channels or (zone is not None and zone in self.zones)

    def describe(self) -> str:
        """``channels kitchen-ch1, kitchen-ch2; zones boiler`` for listings."""
        parts = [
            f"{what} {', '.join(ids)}" for what, ids in (("channels", self.channels), ("zones", self.zones)) if ids
        ]
        return "; ".join(parts)


class TokenHasher:
    def __init__(self, secret_key: str) -> None:
        if len(secret_key) < 32:
            raise ValueError("secret key must be at least 32 characters")
        self._key = secret_key.encode("utf-8")

    def hash(self, token: str) -> str:
        return hmac.new(self._key, token.encode("utf-8"), hashlib.sha256).hexdigest()


def new_token(prefix: str) -> str:
    return prefix + secrets.token_urlsafe(32)
