"""Request and response bodies, a small family per resource (``Create``, ``Update``, ``Public``)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, field_validator

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


ScopeIds = Field(None, max_length=1000, description="Channel or zone ids (as in the site file).")


class DeviceTokenCreate(Strict):
    name: str = Field(min_length=1, max_length=64)
    reason: str = Reason
    channels: list[str] | None = ScopeIds
    zones: list[str] | None = ScopeIds


class TokenScopePublic(BaseModel):
    """A device token's binding: it may post these channels and any channel in these zones."""

    channels: list[str]
    zones: list[str]


class DeviceTokenPublic(BaseModel):
    id: int
    name: str
    created_at: float
    revoked_at: float | None
    last_used_at: float | None
    scope: TokenScopePublic | None = Field(None, description="Channels and zones it is bound to; null: any channel.")


class DeviceTokenIssued(BaseModel):
    id: int
    name: str
    token: str = Field(description="Shown once; store it on the device now.")
    scope: TokenScopePublic | None = None


class ComponentPublic(BaseModel):
    status: ComponentStatus
    detail: dict[str, Any] | None = Field(
        default=None, description="Counts, states and errors; only for signed-in callers (left out otherwise)."
    )


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
    next_before_ts: float | None = Field(None, description="Pass as before_ts with next_before_id.")
    next_after_id: int | None = Field(None, description="Pass as after_id to get the newer page; null on the newest.")
    next_after_ts: float | None = Field(None, description="Pass as after_ts with next_after_id.")


# --------------------------------------------------------------------------- live plant view
# The live view is built by the runtime as plain JSON; these models document it in OpenAPI and let
# through any field the runtime adds later (``extra="allow"``) rather than silently dropping it.

ZoneStatus = Literal["normal", "warning", "alarm", "fault", "tripped"]


class LiveModel(BaseModel):
    model_config = ConfigDict(extra="allow")


class ChannelView(LiveModel):
    id: str
    name: str
    gas: str
    unit: str
    lel_pct: float | None = Field(description="Latest value in %LEL; null before the first reading.")
    value: float | None = Field(description="Latest value in the channel's own unit.")
    ts: float | None
    health: str
    in_service: bool
    over_range: bool = Field(
        default=False,
        description="Latched over range (gas above the sensor's span): A3 until a reset after a sensor check.",
    )
    test_until: float | None = Field(
        default=None, description="In TEST (bump test or calibration) until then: it does not vote; null: not."
    )
    levels: dict[str, bool] = Field(description="Which of A1, A2, A3 are active now.")
    setpoints: dict[str, float] = Field(description="a1, a2, a3 in %LEL.")


class ValveView(LiveModel):
    id: str
    name: str
    state: str
    open_permitted: bool = Field(description="False until the zone has been reset after a trip.")
    detail: str
    travel_time_s: float


class ValvePublic(ValveView):
    zone: str


class OutputPublic(LiveModel):
    id: str
    name: str
    kind: str = Field(description="sounder, beacon, fan, relay or fault_relay.")
    mode: str = Field(description="off, on or pulsed; for the fault relay on = energised (healthy).")
    cause: str = Field(description="Why it is in this mode (the first driving alarm, or the fault).")
    silenced: bool
    latched: bool
    forced_until: float | None = Field(description="End of an admin's test, or null.")
    zones: list[str]
    levels: list[str] = Field(description="The alarm levels that drive it (empty for the fault relay).")
    driver: str = Field(description="simulated, modbus or mqtt.")
    feedback: bool | None = Field(
        default=None, description="Energised or not, as the device reports it; null without feedback."
    )
    reachable: bool = Field(default=True, description="False while its driver cannot reach the device.")


class StrippedReason(Strict):
    """A body whose ``reason`` is trimmed before it is checked, so blanks count as missing."""

    @field_validator("reason", mode="before", check_fields=False)
    @classmethod
    def _stripped(cls, value: Any) -> Any:
        return value.strip() if isinstance(value, str) else value


class ChannelTestBody(StrippedReason):
    reason: str = Field(min_length=1, max_length=500, description="Why the channel is tested (audited).")
    minutes: int = Field(ge=1, le=30, description="A test always ends: at most 30 minutes.")


class OutputTestBody(StrippedReason):
    reason: str = Field(min_length=1, max_length=500, description="Why the output is tested (audited).")
    minutes: int = Field(ge=1, le=10, description="A test always ends: at most 10 minutes.")


class AlarmView(LiveModel):
    id: str = Field(description="zone/source/LEVEL, e.g. kitchen/kitchen-ch1/A2.")
    zone: str
    level: str
    source: str
    state: str
    active: bool
    acked: bool
    latched: bool
    value: float | None
    test: bool = Field(default=False, description="Raised while its channel is in TEST: a test alarm, driving nothing.")


class IdentificationView(LiveModel):
    gas: str
    confidence: float
    ts: float
    model: str


class ZoneView(LiveModel):
    id: str
    name: str
    site: str
    tripped: bool
    trip_cause: str
    status: ZoneStatus = Field(description="Worst wins: tripped > alarm > fault > warning > normal.")
    votes: int
    vote_k: int
    channels: list[ChannelView]
    valves: list[ValveView]
    alarms: list[AlarmView]
    identification: IdentificationView | None
    cameras: list[str]


class SiteView(LiveModel):
    id: str
    name: str
    zones: list[ZoneView]


class PlantView(LiveModel):
    ts: float
    sites: list[SiteView]


# --------------------------------------------------------------------------- operator requests

OperatorReason = Field("", max_length=500, description="Why: stored in the audit log with your name.")


class ReasonBody(Strict):
    """Body of acknowledge, reset, close, unshelve and uninhibit (the reason may be empty)."""

    reason: str = OperatorReason


class ResetBody(StrippedReason):
    """A reset needs a reason: a missing one is a 422 like any other missing field (not a refusal)."""

    reason: str = Field(min_length=1, max_length=500, description="Why the zone is reset (required, audited).")


class ValveOpenBody(StrippedReason):
    reason: str = Field(min_length=3, max_length=500, description="Why the valve is reopened (required, audited).")


class ShelveBody(StrippedReason):
    reason: str = Field(min_length=1, max_length=500, description="Why the alarm is shelved (required, audited).")
    minutes: int = Field(ge=1, le=1440, description="Shelving always expires; the safety core allows at most 8 h.")


class InhibitBody(StrippedReason):
    """Take the alarm's channel out of service for ``minutes``: its faults and warnings stop voting, never
    gas at or above A2, and it always expires. Longer than 8 h (the longest shelve) needs an admin."""

    reason: str = Field(min_length=1, max_length=500, description="Why the channel is out of service (audited).")
    minutes: int = Field(
        ge=1, le=7 * 24 * 60, description="Out of service always expires: at most 8 h, or 7 days for an admin."
    )


class OperatorResponse(BaseModel):
    accepted: bool
    message: str = Field(description="The safety core's answer.")


# --------------------------------------------------------------------------- readings and ingest


class LatestReading(LiveModel):
    channel: str
    zone: str
    ts: float | None
    value: float | None
    lel_pct: float | None
    unit: str


class HistoryPoint(BaseModel):
    ts: float = Field(description="Start of the bucket (epoch s).")
    value: float | None = Field(description="Mean of the valid readings in the bucket; null if all were invalid.")
    min: float | None
    max: float | None


class ReadingHistory(BaseModel):
    channel: str
    start: float
    end: float
    bucket_s: float = Field(description="Width of each bucket; empty buckets are left out (gaps stay gaps).")
    points: list[HistoryPoint]


class IngestReading(Strict):
    channel: str = Field(min_length=1, max_length=64)
    ts: float | str | None = Field(
        None, description="Epoch seconds (milliseconds recognised) or ISO-8601; default: time of receipt."
    )
    value: float | None = Field(description="In the channel's unit; null, NaN or infinity put the channel in FAULT.")

    @field_validator("ts", "value", mode="before")
    @classmethod
    def _not_a_boolean(cls, raw: Any) -> Any:
        # JSON true/false would otherwise become 1.0/0.0: a gas switch posting true would read "no gas".
        if isinstance(raw, bool):
            raise ValueError("must be a number, not true/false")
        return raw


class IngestBatch(Strict):
    readings: list[IngestReading] = Field(min_length=1, max_length=1000)


def _ingest_kind(value: Any) -> str:
    return "batch" if isinstance(value, dict) and "readings" in value else "one"


IngestBody = Annotated[
    Annotated[IngestReading, Tag("one")] | Annotated[IngestBatch, Tag("batch")],
    Discriminator(_ingest_kind),
]


class IngestAccepted(BaseModel):
    accepted: int


# --------------------------------------------------------------------------- models and cameras


class ModelPublic(LiveModel):
    name: str
    kind: str
    version: str
    loaded: bool
    error: str | None
    card: dict[str, Any]


class CameraPublic(BaseModel):
    id: str
    zone: str
    name: str
    leak_score: float | None = Field(description="0..1 from the latest frame; null before the first frame.")
    leak: bool | None
    ts: float | None
