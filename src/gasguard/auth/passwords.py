"""Password hashing with Argon2id (argon2-cffi defaults, RFC 9106 low-memory profile) and the strength rule.

A password is refused when it is shorter than ``MIN_PASSWORD_LENGTH``, longer than
``MAX_PASSWORD_LENGTH``, or easy to guess by zxcvbn's estimate (see ``check_password_strength``).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from zxcvbn import zxcvbn

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 1024
MIN_PASSWORD_SCORE = 3
"""zxcvbn's score runs 0-4. 3 means "safely unguessable: moderate protection from an offline slow-hash
scenario" (about 10^8 guesses or more), the lowest level that still holds against someone who got a copy
of the Argon2 hashes; 2 only holds against online guessing, which the login limit slows anyway. A control
system that can reopen gas valves should not be protected by a password that falls to an offline attack."""

STRENGTH_CHECK_CHARS = 72
"""zxcvbn's running time grows quickly with length (0.02 s at 72 characters, 0.4 s at 256) and it refuses
longer input, so only the first 72 characters are judged. A password whose first 72 characters are strong
is strong; one whose first 72 are weak (a long run of one letter) is refused, which is what we want."""

_hasher = PasswordHasher()
# Verified against when the user does not exist, so a wrong username costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash("gasguard-timing-equaliser")
# zxcvbn keeps the ``user_inputs`` dictionary in a module-level table while it scores, so two requests
# scoring at once (FastAPI runs sync routes in a thread pool) could judge against each other's username.
_zxcvbn_lock = threading.Lock()


class PasswordPolicyError(ValueError):
    """The password is too short, too long or too easy to guess; the message says why, never the password."""


def check_password_strength(password: str, *, user_inputs: Iterable[str] = ()) -> None:
    """Refuse a password zxcvbn scores below ``MIN_PASSWORD_SCORE``, with its warning and suggestions.

    ``user_inputs`` (the username, the site name, ...) are words an attacker would try first: a password
    built from them scores low. Length rules alone let ten spaces or "aaaaaaaaaa" through.
    """
    words = [word for word in user_inputs if word]
    with _zxcvbn_lock:
        result = zxcvbn(password[:STRENGTH_CHECK_CHARS], user_inputs=words)
    if int(result["score"]) >= MIN_PASSWORD_SCORE:
        return
    feedback = result.get("feedback") or {}
    warning = str(feedback.get("warning") or "").strip().rstrip(".")
    suggestions = [str(s).strip() for s in feedback.get("suggestions") or () if str(s).strip()]
    advice = " ".join(suggestions) or "Use a longer passphrase of several uncommon words."
    reason = f": {warning}" if warning else ""
    raise PasswordPolicyError(f"password is too easy to guess{reason}. {advice}")


def check_password_policy(password: str, *, username: str | None = None) -> None:
    """Length first (cheap, and bounds the strength check), then strength against the username."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise PasswordPolicyError(f"password must be at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise PasswordPolicyError(f"password must be at most {MAX_PASSWORD_LENGTH} characters")
    check_password_strength(password, user_inputs=[username] if username else [])


def hash_password(password: str, *, username: str | None = None) -> str:
    """Hash a new password after the policy check: for creating a user or setting a password."""
    check_password_policy(password, username=username)
    return _hasher.hash(password)


def rehash_password(password: str) -> str:
    """Hash a password that was just verified, with today's Argon2 parameters.

    No policy check: the password was accepted when it was set, and a sign-in must not fail because
    the rules grew stricter since (the user is asked to change it through the normal paths instead).
    """
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Constant-work check; ``password_hash=None`` (no such user) still spends one verification."""
    if len(password) > MAX_PASSWORD_LENGTH:
        return False
    try:
        ok = _hasher.verify(password_hash or _DUMMY_HASH, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
    return ok and password_hash is not None


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)
