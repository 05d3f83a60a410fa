"""Request and response bodies, a small family per resource (``Create``, ``Update``, ``Public``)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from gasguard.auth import Role
from gasguard.storage.writer import ComponentStatus

Reason = Field(min_length=3, max_length=500, description="Why: stored in the audit log.")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LoginRequest(Strict):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class TokenPublic(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_at: float | None
    username: str
    role: Role


class MePublic(BaseModel):
    name: str
    role: Role | None
    device: bool


class UserPublic(BaseModel):
    username: str
    role: Role
    active: bool
    created_at: float


class UserCreate(Strict):
    username: str = Field(min_length=2, max_length=64)
    password: str = Field(min_length=1, max_length=1024)
    role: Role
    reason: str = Reason


class UserUpdate(Strict):
    role: Role | None = None
    active: bool | None = None
    reason: str = Reason


class DeviceTokenCreate(Strict):
    name: str = Field(min_length=1, max_length=64)
    reason: str = Reason


class DeviceTokenPublic(BaseModel):
    id: int
    name: str
    created_at: float
    revoked_at: float | None
    last_used_at: float | None


class DeviceTokenIssued(BaseModel):
    id: int
    name: str
    token: str = Field(description="Shown once; store it on the device now.")


class ComponentPublic(BaseModel):
    status: ComponentStatus
    detail: dict[str, Any]


class HealthPublic(BaseModel):
    status: ComponentStatus
    components: dict[str, ComponentPublic]


class EventPublic(BaseModel):
    id: int | None
    ts: float
    kind: str
    zone: str | None
    source: str | None
    actor: str | None
    reason: str
    payload: dict[str, Any]


class EventPage(BaseModel):
    events: list[EventPublic]
    next_before_id: int | None = Field(description="Pass as before_id to get the next (older) page.")
