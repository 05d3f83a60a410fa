"""Opaque bearer tokens, stored only as a keyed hash.

A token is 32 random bytes, URL-safe, with a prefix that says what it is (``ggs_`` for a sign-in
session, ``ggd_`` for a device), so a leaked token is easy to recognise in logs or code. The database
keeps HMAC-SHA256(secret key, token): a copy of the database alone does not let anyone sign in, and
changing the secret key invalidates every token at once.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

SESSION_PREFIX = "ggs_"
DEVICE_PREFIX = "ggd_"


class TokenHasher:
    def __init__(self, secret_key: str) -> None:
        if len(secret_key) < 32:
            raise ValueError("secret key must be at least 32 characters")
        self._key = secret_key.encode("utf-8")

    def hash(self, token: str) -> str:
        return hmac.new(self._key, token.encode("utf-8"), hashlib.sha256).hexdigest()


def new_token(prefix: str) -> str:
    return prefix + secrets.token_urlsafe(32)
