"""Signed one-time acknowledge links: ``<public url>/api/v1/notifications/ack/<token>``.

A token names the incident, the route whose message carried it, the GasGuard user it acts as, a random
nonce and an expiry, and is signed with HMAC-SHA256 under a key derived from the service's secret key
(so it cannot be mistaken for, or turned into, a bearer token). The web tier checks the signature and
the expiry, then stores the nonce: a second use finds it and is refused. The link can only
acknowledge; nothing in it can reset a zone or open a valve.

>>> signer = LinkSigner("k" * 40)
>>> token = signer.sign(AckClaim("inc1", "on-call-1", "ana", "n0", 1000.0))
>>> signer.verify(token)
AckClaim(incident='inc1', route='on-call-1', user='ana', nonce='n0', expires_at=1000.0)
>>> signer.verify(token[:-2] + "xx") is None
True
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass

_PURPOSE = b"gasguard notification acknowledge link v1"
MAX_TOKEN_LENGTH = 1000


@dataclass(frozen=True, slots=True)
class AckClaim:
    """What an acknowledge link says: who may acknowledge which incident, until when, once."""

    incident: str
    route: str
    user: str
    nonce: str
    expires_at: float


def new_nonce() -> str:
    return secrets.token_urlsafe(16)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class LinkSigner:
    """Signs and checks acknowledge tokens with a key derived from the service secret."""

    def __init__(self, secret_key: str) -> None:
        self._key = hmac.new(secret_key.encode("utf-8"), _PURPOSE, hashlib.sha256).digest()

    def _mac(self, body: str) -> str:
        return _b64(hmac.new(self._key, body.encode("ascii"), hashlib.sha256).digest())

    def sign(self, claim: AckClaim) -> str:
        data = {"i": claim.incident, "r": claim.route, "u": claim.user, "n": claim.nonce, "e": claim.expires_at}
        body = _b64(json.dumps(data, separators=(",", ":"), sort_keys=True).encode("utf-8"))
        return f"{body}.{self._mac(body)}"

    def verify(self, token: str) -> AckClaim | None:
        """The claim of a token signed by this key, or ``None`` for anything else (expiry is the caller's)."""
        if len(token) > MAX_TOKEN_LENGTH or token.count(".") != 1 or not token.isascii():
            return None  # a signed token is base64url: anything else is not one of ours
        body, mac = token.split(".")
        if not hmac.compare_digest(mac, self._mac(body)):
            return None
        try:
            data = json.loads(_unb64(body))
            return AckClaim(
                incident=str(data["i"]),
                route=str(data["r"]),
                user=str(data["u"]),
                nonce=str(data["n"]),
                expires_at=float(data["e"]),
            )
        except (ValueError, KeyError, TypeError):
            return None
