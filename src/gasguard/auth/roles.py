"""Roles and the authenticated principal.

People have one of three ordered roles: a viewer watches, an operator also acknowledges, resets,
shelves and drives valves, an admin also manages users and tokens. Devices authenticate with device
tokens and may only send readings; they hold no person role.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from gasguard.auth.tokens import TokenScope


class Role(StrEnum):
    VIEWER = "viewer"
    OPERATOR = "operator"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return _RANK[self]

    def allows(self, required: Role) -> bool:
        """Whether this role may do what ``required`` may do."""
        return self.rank >= required.rank


_RANK = {Role.VIEWER: 1, Role.OPERATOR: 2, Role.ADMIN: 3}


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: a signed-in user (``role`` set) or a device (``device`` True, ``role`` None)."""

    name: str
    role: Role | None
    user_id: int | None
    token_id: int
    device: bool = False
    scope: TokenScope | None = None
    """A device token's binding to channels or zones; ``None``: not bound."""

    def allows(self, required: Role) -> bool:
        return self.role is not None and self.role.allows(required)
