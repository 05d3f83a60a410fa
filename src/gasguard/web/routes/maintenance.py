"""Maintenance: records, guided tests, due dates, drift, alarm KPIs, the auditor's report and what-if replay.

Records (calibration, bump, stroke and proof tests) are stored with an audit event in one commit; bad
input is a 422 whose ``detail`` names the field (``channel: no channel 'x' ...``, ``as_left_span: 120 ppm
is outside the range of ...``, ``from: the report period starts in the future``). Guided tests go
through the safety core (TEST for a channel, close for a valve) and are measured by the test recorder
from the live readings; the core's refusal is a 409 with its reason, as for every operator action.
"""

from __future__ import annotations

import asyncio
import io
import math
import uuid
import zipfile
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field

from gasguard.config import ConfigError, parse_site_config
from gasguard.domain import OperatorAction
from gasguard.maintenance.drift import channel_drift
from gasguard.maintenance.due import load_due
from gasguard.maintenance.guided import TestKind, TestSession
from gasguard.maintenance.kpis import alarm_kpis, weekly_kpis
from gasguard.maintenance.plant import PlantDirectory
from gasguard.maintenance.records import (
    BumpInput,
    CalibrationInput,
    ProofInput,
    RecordError,
    RecordInput,
    RecordKind,
    StrokeInput,
    get_record,
    list_records,
    store_record,
)
from gasguard.maintenance.registry import maintenance_for
from gasguard.maintenance.replay import run_replay
from gasguard.maintenance.report import check_period, csv_files, gather, pdf_bytes, utc
from gasguard.services import Services
from gasguard.web.deps import AdminUser, CurrentUser, OperatorUser, ServicesDep, get_plant
from gasguard.web.routes.operate import REFUSED, UNAVAILABLE, Responses, run_command
from gasguard.web.schemas import StrippedReason

if TYPE_CHECKING:
    from gasguard.maintenance.service import Maintenance

router = APIRouter(prefix="/api/v1/maintenance", tags=["maintenance"])

DAY_S = 86400.0
BAD_INPUT: Responses = {422: {"description": "Bad input; `detail` starts with the field at fault."}}
NOT_FOUND: Responses = {404: {"description": "No such record or test"}}
MAX_REPLAY_S = 31 * DAY_S


# --------------------------------------------------------------------------- schemas


class _Body(StrippedReason):
    pass


Note = Field("", max_length=2000, description="Free text kept with the record.")
PerformedBy = Field(None, min_length=1, max_length=128, description="Who did it (default: the caller).")
When = Field(None, description="When it was done (ISO-8601 or epoch seconds; default: now). Not in the future.")


class CalibrationCreate(_Body):
    """A calibration as done on the detector, values in the channel's unit (ppm, %LEL or raw)."""

    channel: str = Field(min_length=1, max_length=128)
    gas: str = Field(min_length=1, max_length=64, description="Test gas, e.g. methane.")
    concentration: float = Field(gt=0, description="Span gas concentration, channel unit.")
    as_found_zero: float | None = Field(None, description="Zero reading before adjustment.")
    as_found_span: float | None = Field(None, description="Span reading before adjustment.")
    as_left_zero: float = Field(description="Zero reading after adjustment.")
    as_left_span: float = Field(description="Span reading after adjustment.")
    instrument: str = Field("", max_length=128, description="Calibration kit / gas cylinder lot.")
    performed_by: str | None = PerformedBy
    ts: datetime | None = When
    note: str = Note


class BumpTestCreate(_Body):
    """A bump test done without GasGuard measuring it (GasGuard's own are made by a guided test)."""

    channel: str = Field(min_length=1, max_length=128)
    gas: str = Field(min_length=1, max_length=64)
    applied_lel_pct: float = Field(gt=0, le=100, description="Test gas applied, %LEL.")
    peak_lel_pct: float = Field(description="Highest reading, %LEL.")
    t50_s: float | None = Field(None, ge=0, le=3600)
    t90_s: float | None = Field(None, ge=0, le=3600)
    performed_by: str | None = PerformedBy
    ts: datetime | None = When
    note: str = Note


class StrokeTestCreate(_Body):
    valve: str = Field(min_length=1, max_length=128)
    close_s: float = Field(ge=0, le=3600, description="Seconds from the close command to closed.")
    open_s: float | None = Field(None, ge=0, le=3600, description="Seconds from the open command to open.")
    performed_by: str | None = PerformedBy
    ts: datetime | None = When
    note: str = Note


class ProofTestCreate(_Body):
    zone: str = Field(min_length=1, max_length=64)
    channel: str | None = Field(None, max_length=128, description="The detector the gas was applied to.")
    gas: str = Field("", max_length=64)
    alarm_s: float | None = Field(None, ge=0, le=3600, description="Seconds from gas applied to the first alarm.")
    trip_s: float | None = Field(None, ge=0, le=3600, description="Seconds from gas applied to the trip.")
    closed_s: float | None = Field(None, ge=0, le=3600, description="Seconds from gas applied to valves closed.")
    performed_by: str | None = PerformedBy
    ts: datetime | None = When
    note: str = Note


class _RecordBase(BaseModel):
    id: int
    ts: float = Field(description="When it was done (epoch seconds).")
    zone: str
    target: str = Field(description="The channel, valve or zone the record is about.")
    performed_by: str
    passed: bool
    note: str


class CalibrationPublic(_RecordBase):
    kind: Literal["calibration"]
    channel: str
    recorded_by: str
    gas: str
    concentration: float = Field(description="Test gas, channel unit.")
    unit: str = Field(description="The channel's unit: ppm, lel_pct or raw.")
    as_found_zero: float | None
    as_found_span: float | None
    as_left_zero: float
    as_left_span: float
    instrument: str
    as_found_passed: bool | None = Field(description="As found within tolerance; null when not given.")


class _Measured(_RecordBase):
    measured: bool = Field(description="Measured by GasGuard from live readings (a guided test), or entered.")
    detail: dict[str, Any] = Field(description="How: the problems found, and for a measured test its samples.")


class BumpTestPublic(_Measured):
    kind: Literal["bump"]
    channel: str
    ended_at: float | None
    gas: str
    applied_lel_pct: float | None
    peak_lel_pct: float | None
    t50_s: float | None
    t90_s: float | None


class StrokeTestPublic(_Measured):
    kind: Literal["stroke"]
    valve: str
    travel_time_s: float
    close_s: float | None
    open_s: float | None


class ProofTestPublic(_Measured):
    kind: Literal["proof_test"]
    channel: str | None
    gas: str
    alarm_s: float | None = Field(description="Seconds from the gas reaching the detector to the first alarm.")
    trip_s: float | None
    closed_s: float | None = Field(description="Seconds from the gas to the last valve reporting closed.")


RecordPublic = Annotated[
    CalibrationPublic | BumpTestPublic | StrokeTestPublic | ProofTestPublic, Field(discriminator="kind")
]


TestReason = Field(min_length=1, max_length=500, description="Why (audited).")


class BumpTestStart(_Body):
    channel: str = Field(min_length=1, max_length=128)
    applied_lel_pct: float = Field(gt=0, le=100, description="The test gas concentration, %LEL.")
    gas: str = Field("", max_length=64, description="Test gas (default: the channel's gas).")
    minutes: int = Field(10, ge=1, le=30, description="TEST lasts at most this long (at most 30).")
    reason: str = TestReason
    note: str = Note


class CalibrationTestStart(_Body):
    channel: str = Field(min_length=1, max_length=128)
    minutes: int = Field(30, ge=1, le=30)
    reason: str = TestReason


class StrokeTestStart(_Body):
    valve: str = Field(min_length=1, max_length=128)
    reason: str = TestReason
    note: str = Note


class ProofTestStart(_Body):
    zone: str = Field(min_length=1, max_length=64)
    channel: str | None = Field(None, max_length=128, description="Detector the gas will be applied to (any).")
    gas: str = Field("", max_length=64)
    reason: str = TestReason
    note: str = Note


class TestEnd(_Body):
    reason: str = Field("test done", min_length=1, max_length=500)


class TestPublic(BaseModel):
    """A guided test: in progress (``ended_at`` null) or finished (``record_id`` once stored)."""

    __test__ = False
    id: str
    kind: str
    target: str
    zone: str
    user: str
    started_at: float
    deadline: float
    gas: str
    applied_lel_pct: float | None
    active: bool = Field(description="A channel test is active once the safety core put the channel in TEST.")
    samples: int
    alarms: dict[str, float] = Field(description="Alarm levels seen (test alarms for a channel test) and when.")
    marks: dict[str, float]
    ended_at: float | None
    ended_by: str
    record_id: int | None
    result: dict[str, Any] = Field(description="What was measured: baseline, onset, peak, T50, T90, times, problems.")
    restarts: list[list[float]] = Field(
        [],
        description="Restarts of the service during the test: [last saved, taken over]; readings between not seen.",
    )


class TestsPublic(BaseModel):
    active: list[TestPublic]
    finished: list[TestPublic]


class DueItemPublic(BaseModel):
    kind: Literal["bump", "calibration", "proof_test"]
    target: str
    zone: str
    site: str
    interval_days: float
    status: Literal["failed", "overdue", "never", "due_soon", "ok"]
    due_at: float | None
    last_at: float | None
    last_passed: bool | None
    last_kind: str | None
    last_id: int | None


class DriftWarnings(BaseModel):
    computed_at: float | None
    warnings: list[str]


class ReplayStart(_Body):
    config: str = Field(min_length=1, max_length=1_000_000, description="The proposed site file (YAML text).")
    start: datetime = Field(alias="from", description="Start of the period (ISO-8601 or epoch seconds).")
    end: datetime = Field(alias="to", description="End of the period.")
    tick_s: float = Field(1.0, ge=0.1, le=60)

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class ReplayJob(BaseModel):
    id: str
    status: Literal["running", "done", "failed"]
    started_at: float
    error: str | None = None
    result: dict[str, Any] | None = None


# --------------------------------------------------------------------------- helpers


def _epoch(value: datetime | None) -> float | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.timestamp()


def _unprocessable(exc: RecordError | str) -> HTTPException:
    """A 422 whose ``detail`` starts with the field at fault: ``channel: no channel 'x' ...``."""
    return HTTPException(422, detail=str(exc))


def _maintenance(services: Services) -> Maintenance | None:
    return maintenance_for(services)


def _plant(services: Services) -> PlantDirectory:
    running = _maintenance(services)
    if running is not None:
        return running.plant
    if services.runtime is not None:
        return PlantDirectory(services.runtime.site)
    raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, detail="no site configuration is loaded in this service")


def _running(services: Services) -> Maintenance:
    running = _maintenance(services)
    if running is None or services.runtime is None:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, detail="the live runtime and test recorder are not running here"
        )
    return running


def _store(services: Services, record: RecordInput, user: str) -> dict[str, Any]:
    plant = _plant(services)
    with services.session_factory() as session:
        data, event = store_record(session, plant=plant, record=record, recorded_by=user, now=services.clock())
        session.commit()
    services.publish_stored([event])
    running = _maintenance(services)
    if running is not None:
        running.watcher.refresh_soon()
    return data


async def _create(services: Services, record: RecordInput, user: str) -> Any:
    try:
        data = await asyncio.to_thread(_store, services, record, user)
    except RecordError as exc:
        raise _unprocessable(exc) from None
    return data


def _period(services: Services, start: datetime | None, end: datetime | None, days: float) -> tuple[float, float]:
    now = services.clock()
    to = _epoch(end) or now
    return (_epoch(start) or to - days * DAY_S), to


# --------------------------------------------------------------------------- records


@router.post("/calibrations", status_code=201, response_model=CalibrationPublic, responses={**BAD_INPUT})
async def create_calibration(body: CalibrationCreate, user: OperatorUser, services: ServicesDep) -> Any:
    """Record a calibration; pass/fail is judged from as-left zero and span against the site's tolerances."""
    record = CalibrationInput(
        channel=body.channel,
        gas=body.gas,
        concentration=body.concentration,
        as_left_zero=body.as_left_zero,
        as_left_span=body.as_left_span,
        as_found_zero=body.as_found_zero,
        as_found_span=body.as_found_span,
        instrument=body.instrument,
        note=body.note,
        performed_by=body.performed_by,
        ts=_epoch(body.ts),
    )
    return await _create(services, record, user.name)


@router.post("/bump-tests", status_code=201, response_model=BumpTestPublic, responses={**BAD_INPUT})
async def create_bump_test(body: BumpTestCreate, user: OperatorUser, services: ServicesDep) -> Any:
    """Record a bump test measured elsewhere (``measured: false``); a guided test measures its own."""
    record = BumpInput(
        channel=body.channel,
        gas=body.gas,
        applied_lel_pct=body.applied_lel_pct,
        peak_lel_pct=body.peak_lel_pct,
        t50_s=body.t50_s,
        t90_s=body.t90_s,
        note=body.note,
        performed_by=body.performed_by,
        ts=_epoch(body.ts),
    )
    return await _create(services, record, user.name)


@router.post("/stroke-tests", status_code=201, response_model=StrokeTestPublic, responses={**BAD_INPUT})
async def create_stroke_test(body: StrokeTestCreate, user: OperatorUser, services: ServicesDep) -> Any:
    record = StrokeInput(
        valve=body.valve,
        close_s=body.close_s,
        open_s=body.open_s,
        note=body.note,
        performed_by=body.performed_by,
        ts=_epoch(body.ts),
    )
    return await _create(services, record, user.name)


@router.post("/proof-tests", status_code=201, response_model=ProofTestPublic, responses={**BAD_INPUT})
async def create_proof_test(body: ProofTestCreate, user: OperatorUser, services: ServicesDep) -> Any:
    record = ProofInput(
        zone=body.zone,
        channel=body.channel,
        gas=body.gas,
        alarm_s=body.alarm_s,
        trip_s=body.trip_s,
        closed_s=body.closed_s,
        note=body.note,
        performed_by=body.performed_by,
        ts=_epoch(body.ts),
    )
    return await _create(services, record, user.name)


def _list(
    services: Services,
    kinds: list[RecordKind],
    start: float | None,
    end: float | None,
    target: str | None,
    zone: str | None,
    limit: int,
) -> list[dict[str, Any]]:
    with services.session_factory() as session:
        rows = [
            r
            for kind in kinds
            for r in list_records(session, kind=kind, start=start, end=end, target=target, zone=zone, limit=limit)
        ]
    rows.sort(key=lambda r: (r["ts"], r["id"]), reverse=True)
    for row in rows:  # a list stays light: a measured test's samples come with the single record
        if isinstance(row.get("detail"), dict) and "samples" in row["detail"]:
            row["detail"] = {k: v for k, v in row["detail"].items() if k != "samples"}
    return rows[:limit]


@router.get("/records", response_model=list[RecordPublic])
async def get_records(
    _user: CurrentUser,
    services: ServicesDep,
    kind: RecordKind | None = None,
    start: Annotated[datetime | None, Query(alias="from")] = None,
    end: Annotated[datetime | None, Query(alias="to")] = None,
    target: str | None = None,
    zone: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[dict[str, Any]]:
    """Records, newest first: one kind or all, by time, by target (channel, valve, zone) or zone."""
    kinds = [kind] if kind is not None else list(RecordKind)
    return await asyncio.to_thread(_list, services, kinds, _epoch(start), _epoch(end), target, zone, limit)


@router.get("/records/{kind}/{record_id}", response_model=RecordPublic, responses={**NOT_FOUND})
async def get_one_record(
    kind: RecordKind,
    record_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
    _user: CurrentUser,
    services: ServicesDep,
) -> Any:
    """One record with every field, including ``detail`` (a measured test's samples and timeline)."""

    def load() -> dict[str, Any] | None:
        with services.session_factory() as session:
            return get_record(session, kind=kind, record_id=record_id)

    record = await asyncio.to_thread(load)
    if record is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no {kind.value} record {record_id}")
    return record


# --------------------------------------------------------------------------- guided tests


@router.get("/tests", response_model=TestsPublic, responses={**UNAVAILABLE})
def get_tests(_user: CurrentUser, services: ServicesDep) -> dict[str, Any]:
    """Guided tests in progress and the recently finished ones, with what was measured."""
    return _running(services).recorder.book.view()


def _session_json(session: TestSession) -> dict[str, Any]:
    return session.to_json()


def _channel_or_422(running: Maintenance, channel: str) -> None:
    if channel not in running.plant.channels:
        raise _unprocessable(f"channel: no channel {channel!r} in the site configuration")


async def _channel_test(
    services: Services,
    user: Any,
    kind: TestKind,
    channel: str,
    minutes: int,
    reason: str,
    *,
    applied: float | None = None,
    gas: str = "",
    note: str = "",
) -> Any:
    running = _running(services)
    _channel_or_422(running, channel)
    book = running.recorder.book
    busy = book.active_for(channel)
    if busy is not None:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=f"{channel} already has a test running ({busy.id})")
    runtime = services.runtime
    now = runtime.clock()
    until = now + minutes * 60.0
    session = book.plan_channel_test(
        kind, channel, user=user.name, now=now, until=until, applied_lel_pct=applied, gas=gas, note=note
    )
    try:
        await run_command(runtime, user, OperatorAction.TEST_CHANNEL, channel, reason, until=until)
    except HTTPException:
        book.cancel(session.id)
        raise
    session.active = True  # the core accepted TEST; saved so that a restart takes the test over
    await running.recorder.checkpoint(force=True)
    return _session_json(session)


TEST_RESPONSES: Responses = {**BAD_INPUT, **REFUSED, **UNAVAILABLE}


@router.post("/tests/bump", status_code=201, response_model=TestPublic, responses=TEST_RESPONSES)
async def start_bump_test(body: BumpTestStart, user: OperatorUser, services: ServicesDep) -> Any:
    """Put the channel in TEST and measure its answer to the test gas; the record is made when the test ends.

    The zone's other channels keep protecting (a zone with no other voting channel keeps its valves
    closed for the test); the channel's alarms are test alarms that drive nothing."""
    return await _channel_test(
        services,
        user,
        TestKind.BUMP,
        body.channel,
        body.minutes,
        body.reason,
        applied=body.applied_lel_pct,
        gas=body.gas,
        note=body.note,
    )


@router.post("/tests/calibration", status_code=201, response_model=TestPublic, responses=TEST_RESPONSES)
async def start_calibration_test(body: CalibrationTestStart, user: OperatorUser, services: ServicesDep) -> Any:
    """Put the channel in TEST while it is calibrated; its response is measured (not recorded as a bump)."""
    return await _channel_test(services, user, TestKind.CALIBRATION, body.channel, body.minutes, body.reason)


@router.post("/tests/stroke", status_code=201, response_model=TestPublic, responses=TEST_RESPONSES)
async def start_stroke_test(body: StrokeTestStart, user: OperatorUser, services: ServicesDep) -> Any:
    """Close the valve and time it; reopen it (reset the zone, then open) within 30 minutes to time the opening."""
    running = _running(services)
    runtime = services.runtime
    if body.valve not in running.plant.valves:
        raise _unprocessable(f"valve: no valve {body.valve!r} in the site configuration")
    state = next((v["state"] for v in get_plant(services).valves_view() if v["id"] == body.valve), None)
    if state != "open":
        raise HTTPException(
            status.HTTP_409_CONFLICT, detail=f"{body.valve} is {state}: a stroke test starts from an open valve"
        )
    book = running.recorder.book
    if book.active_for(body.valve) is not None:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=f"{body.valve} already has a stroke test running")
    session = book.start_stroke(body.valve, user=user.name, now=runtime.clock(), note=body.note)
    try:
        await run_command(runtime, user, OperatorAction.CLOSE, body.valve, f"stroke test: {body.reason}")
    except HTTPException:
        book.cancel(session.id)
        raise
    await running.recorder.checkpoint(force=True)
    return _session_json(session)


@router.post("/tests/proof", status_code=201, response_model=TestPublic, responses=TEST_RESPONSES)
async def start_proof_test(body: ProofTestStart, user: OperatorUser, services: ServicesDep) -> Any:
    """Start timing a proof test of the zone: apply gas to a detector in normal service; GasGuard times the
    alarm, the trip and every valve closing. The trip is real (valves close, people are told); reset and
    reopen afterwards as after any trip."""
    running = _running(services)
    runtime = services.runtime
    zone = running.plant.zones.get(body.zone)
    if zone is None:
        raise _unprocessable(f"zone: no zone {body.zone!r} in the site configuration")
    if body.channel is not None and body.channel not in zone.channels:
        raise _unprocessable(f"channel: no channel {body.channel!r} in zone {body.zone}")
    view = get_plant(services).zone_view(body.zone)
    if view is not None and view["tripped"]:
        raise HTTPException(
            status.HTTP_409_CONFLICT, detail=f"{body.zone} is tripped: reset it first, a proof test starts in service"
        )
    book = running.recorder.book
    if book.active_for(body.zone) is not None:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=f"{body.zone} already has a proof test running")
    now = runtime.clock()
    session = book.start_proof(body.zone, user=user.name, now=now, channel=body.channel, gas=body.gas, note=body.note)

    def audit() -> None:
        with services.session_factory() as db:
            services.record_audit(
                db,
                ts=now,
                source="maintenance.proof_test",
                actor=user.name,
                reason=f"proof test of {body.zone} started: {body.reason}",
                payload={"test": session.id, "zone": body.zone, "channel": body.channel},
            )

    await asyncio.to_thread(audit)
    await running.recorder.checkpoint(force=True)
    return _session_json(session)


@router.post("/tests/{test_id}/end", response_model=TestPublic, responses={**NOT_FOUND, **REFUSED, **UNAVAILABLE})
async def end_test(test_id: str, user: OperatorUser, services: ServicesDep, body: TestEnd | None = None) -> Any:
    """End a guided test now: a channel leaves TEST (through the core), a stroke or proof test stops timing.
    The record is made from what was measured."""
    running = _running(services)
    book = running.recorder.book
    session = book.sessions.get(test_id)
    if session is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no test {test_id!r} in progress")
    reason = (body or TestEnd()).reason
    if session.kind in (TestKind.BUMP, TestKind.CALIBRATION):
        await run_command(services.runtime, user, OperatorAction.END_TEST, session.target, reason)
        await running.recorder.step()  # the core's answer is on the bus: finish and store now
    else:
        record = book.end(test_id, now=services.runtime.clock(), by=user.name)
        if record is not None:
            await running.recorder.store([record])
    return _session_json(session)


# --------------------------------------------------------------------------- due, drift, KPIs


@router.get("/due", response_model=list[DueItemPublic], responses={**UNAVAILABLE})
async def get_due(
    _user: CurrentUser,
    services: ServicesDep,
    zone: str | None = None,
    status_in: Annotated[list[str] | None, Query(alias="status")] = None,
) -> list[dict[str, Any]]:
    """Every channel's next bump test and calibration and every zone's proof test, most urgent first."""
    plant = _plant(services)

    def load() -> list[dict[str, Any]]:
        with services.session_factory() as session:
            items = load_due(session, plant=plant, now=services.clock())
        return [
            i.to_json() for i in items if (zone is None or i.zone == zone) and (not status_in or i.status in status_in)
        ]

    return await asyncio.to_thread(load)


@router.get("/drift", response_model=DriftWarnings, responses={**UNAVAILABLE})
def get_drift_warnings(_user: CurrentUser, services: ServicesDep) -> dict[str, Any]:
    """Drift warnings of every channel, as last computed in the background (daily)."""
    watcher = _running(services).watcher
    return {"computed_at": watcher.drift_at, "warnings": watcher.drift_warnings}


@router.get("/drift/{channel}", responses={**NOT_FOUND, **UNAVAILABLE})
async def get_channel_drift(
    channel: str,
    _user: CurrentUser,
    services: ServicesDep,
    days: Annotated[float | None, Query(gt=1, le=730)] = None,
) -> dict[str, Any]:
    """The channel's daily clean-air zero and bump-test span response, their fitted trends and warnings:
    the series for the Maintenance view's chart."""
    plant = _plant(services)
    if channel not in plant.channels:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no channel {channel!r}")
    now = services.clock()

    def load() -> dict[str, Any]:
        with services.session_factory() as session:
            start = None if days is None else now - days * DAY_S
            return channel_drift(session, plant=plant, channel=channel, end=now, start=start).to_json()

    return await asyncio.to_thread(load)


def _sites(plant: PlantDirectory) -> tuple[dict[str, list[str]], dict[str, int]]:
    zones_by_site: dict[str, list[str]] = {}
    for zone in plant.zones.values():
        zones_by_site.setdefault(zone.site, []).append(zone.id)
    return zones_by_site, {site: plan.operator_positions for site, plan in plant.plans.items()}


@router.get("/kpis", responses={**UNAVAILABLE})
async def get_kpis(
    _user: CurrentUser,
    services: ServicesDep,
    start: Annotated[datetime | None, Query(alias="from")] = None,
    end: Annotated[datetime | None, Query(alias="to")] = None,
) -> dict[str, Any]:
    """Alarm KPIs (ISA-18.2 / EEMUA 191) per site and zone; default: the last 7 days."""
    plant = _plant(services)
    a, b = _period(services, start, end, 7)
    if b <= a:
        raise _unprocessable("to: the period must end after it starts")
    zones_by_site, positions = _sites(plant)

    def load() -> dict[str, Any]:
        with services.session_factory() as session:
            return alarm_kpis(session, start=a, end=b, zones_by_site=zones_by_site, operator_positions=positions)

    return await asyncio.to_thread(load)


@router.get("/kpis/weekly", responses={**UNAVAILABLE})
async def get_weekly_kpis(
    _user: CurrentUser, services: ServicesDep, weeks: Annotated[int, Query(ge=1, le=52)] = 4
) -> list[dict[str, Any]]:
    """One site-level summary per week, oldest first, the newest ending now."""
    plant = _plant(services)
    zones_by_site, positions = _sites(plant)

    def load() -> list[dict[str, Any]]:
        with services.session_factory() as session:
            return weekly_kpis(
                session, end=services.clock(), weeks=weeks, zones_by_site=zones_by_site, operator_positions=positions
            )

    return await asyncio.to_thread(load)


# --------------------------------------------------------------------------- report


@router.get(
    "/report",
    responses={
        **BAD_INPUT,
        200: {"content": {"application/pdf": {}, "application/zip": {}}, "description": "PDF, or a zip of CSVs"},
    },
    response_class=Response,
)
async def get_report(
    _user: CurrentUser,
    services: ServicesDep,
    start: Annotated[datetime, Query(alias="from")],
    end: Annotated[datetime, Query(alias="to")],
    format: Literal["pdf", "csv"] = "pdf",
) -> Response:
    """The auditor's report for the period: records, due list, proof tests, trips with timelines, KPIs."""
    plant = _plant(services)
    a, b = _epoch(start), _epoch(end)
    assert a is not None and b is not None
    now = services.clock()
    try:
        check_period(a, b, now)
    except RecordError as exc:
        raise _unprocessable(exc) from None

    def build() -> bytes:
        with services.session_factory() as session:
            data = gather(session, plant=plant, start=a, end=b, now=now)
        if format == "pdf":
            return pdf_bytes(data)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, text in csv_files(data).items():
                archive.writestr(name, text)
        return buffer.getvalue()

    content = await asyncio.to_thread(build)
    day = datetime.fromtimestamp(a, UTC).strftime("%Y%m%d")
    if format == "pdf":
        headers = {"Content-Disposition": f'attachment; filename="gasguard-maintenance-{day}.pdf"'}
        return Response(content, media_type="application/pdf", headers=headers)
    headers = {"Content-Disposition": f'attachment; filename="gasguard-maintenance-{day}.zip"'}
    return Response(content, media_type="application/zip", headers=headers)


# --------------------------------------------------------------------------- what-if replay


_jobs: dict[int, dict[str, dict[str, Any]]] = {}


def _jobs_of(services: Services) -> dict[str, dict[str, Any]]:
    return _jobs.setdefault(id(services), {})


@router.post("/replay", status_code=202, response_model=ReplayJob, responses={**BAD_INPUT})
async def start_replay(body: ReplayStart, user: AdminUser, services: ServicesDep) -> Any:
    """Replay the stored readings of the period through the safety core with the proposed site file, in the
    background; poll ``GET /replay/{id}`` for the alarms and trips added, removed and moved. Admins only."""
    try:
        spec = parse_site_config(_yaml(body.config), "proposed configuration").plant_spec()
    except (ConfigError, ValueError) as exc:
        raise _unprocessable(f"config: {exc}") from None
    a, b = _epoch(body.start), _epoch(body.end)
    assert a is not None and b is not None
    now = services.clock()
    if a > now:
        raise _unprocessable("from: the period starts in the future")
    if not (b > a and math.isfinite(b)):
        raise _unprocessable("to: the period must end after it starts")
    if b - a > MAX_REPLAY_S:
        raise _unprocessable("to: at most 31 days through the API; use gasguard replay for longer")
    job_id = uuid.uuid4().hex[:12]
    job: dict[str, Any] = {"id": job_id, "status": "running", "started_at": now, "error": None, "result": None}
    jobs = _jobs_of(services)
    jobs[job_id] = job
    while len(jobs) > 20:
        jobs.pop(next(iter(jobs)))

    async def run() -> None:
        try:
            result = await asyncio.to_thread(run_replay, services.engine, spec, start=a, end=min(b, now))
        except Exception as exc:
            job.update(status="failed", error=f"{type(exc).__name__}: {exc}"[:300])
            return
        job.update(status="done", result=result.to_json())

    task = asyncio.get_running_loop().create_task(run(), name=f"replay-{job_id}")
    job["_task"] = task

    def audit() -> None:
        with services.session_factory() as session:
            services.record_audit(
                session,
                ts=now,
                source="maintenance.replay",
                actor=user.name,
                reason=f"what-if replay of {utc(a)} to {utc(b)} UTC with a proposed configuration",
                payload={"job": job_id, "from": a, "to": b},
            )

    await asyncio.to_thread(audit)
    return {k: v for k, v in job.items() if not k.startswith("_")}


def _yaml(text: str) -> Any:
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValueError(f"not valid YAML: {exc}") from None


@router.get("/replay/{job_id}", response_model=ReplayJob, responses={**NOT_FOUND})
def get_replay(job_id: str, _user: AdminUser, services: ServicesDep) -> dict[str, Any]:
    job = _jobs_of(services).get(job_id)
    if job is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no replay {job_id!r}")
    return {k: v for k, v in job.items() if not k.startswith("_")}
