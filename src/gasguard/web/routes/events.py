"""The event and audit log: filtered, paged JSON, or a streamed CSV export."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import StreamingResponse

from gasguard.storage.events import EventFilter, EventKind, export_events_csv, list_events
from gasguard.web.deps import CurrentUser, ServicesDep, SessionDep
from gasguard.web.schemas import EventPage, EventPublic

router = APIRouter(prefix="/api/v1/events", tags=["events"])


@router.get(
    "",
    response_model=EventPage,
    responses={200: {"content": {"text/csv": {}}, "description": "JSON page, or CSV with format=csv"}},
)
def get_events(
    _user: CurrentUser,
    services: ServicesDep,
    session: SessionDep,
    start: float | None = None,
    end: float | None = None,
    kind: Annotated[list[EventKind] | None, Query()] = None,
    zone: str | None = None,
    source: str | None = None,
    actor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    before_id: Annotated[int | None, Query(ge=1, le=2**63 - 1, description="Page below this event id.")] = None,
    format: Literal["json", "csv"] = "json",
) -> EventPage | StreamingResponse:
    """Newest first. ``format=csv`` streams every matching event, oldest first, as CSV."""
    if start is not None and end is not None and end <= start:
        raise HTTPException(422, detail="end must be after start")
    flt = EventFilter(start=start, end=end, kinds=kind, zone=zone, source=source, actor=actor)
    if format == "csv":

        def stream() -> Iterator[str]:
            with services.session_factory() as export_session:
                yield from export_events_csv(export_session, flt=flt)

        return StreamingResponse(
            stream(),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="gasguard-events.csv"'},
        )
    events = list_events(session, flt=flt, limit=limit, before_id=before_id)
    next_before = events[-1].id if len(events) == limit else None
    return EventPage(events=[EventPublic(**e.to_json()) for e in events], next_before_id=next_before)
