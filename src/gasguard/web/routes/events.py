"""The event and audit log: filtered, paged JSON, or a streamed CSV export."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import StreamingResponse

from gasguard.storage.events import EventCursor, EventFilter, EventKind, export_events_csv, page_events
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
    before_id: Annotated[
        int | None,
        Query(ge=1, le=2**63 - 1, description="Older page: below this event (with before_ts; alone: smaller ids)."),
    ] = None,
    before_ts: Annotated[float | None, Query(description="With before_id: the ts of the event to page below.")] = None,
    after_id: Annotated[
        int | None, Query(ge=1, le=2**63 - 1, description="Newer page: above this event (with after_ts).")
    ] = None,
    after_ts: Annotated[float | None, Query(description="With after_id: the ts of the event to page above.")] = None,
    format: Literal["json", "csv"] = "json",
) -> EventPage | StreamingResponse:
    """Newest first, a page at a time: pass a page's ``next_before_id`` and ``next_before_ts`` as
    ``before_id`` and ``before_ts`` for the older page, its ``next_after_id`` and ``next_after_ts`` as
    ``after_id`` and ``after_ts`` for the newer one. ``format=csv`` streams every matching event,
    oldest first, as CSV."""
    if start is not None and end is not None and end <= start:
        raise HTTPException(422, detail="end must be after start")
    if before_ts is not None and before_id is None:
        raise HTTPException(422, detail="before_ts needs before_id")
    if (after_id is None) != (after_ts is None):
        raise HTTPException(422, detail="after_id and after_ts go together")
    if before_id is not None and after_id is not None:
        raise HTTPException(422, detail="give before_id or after_id, not both")
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
    page = page_events(
        session,
        flt=flt,
        limit=limit,
        before=EventCursor(before_ts, before_id) if before_id is not None and before_ts is not None else None,
        before_id=before_id if before_ts is None else None,
        after=EventCursor(after_ts, after_id) if after_id is not None and after_ts is not None else None,
    )
    older, newer = page.older, page.newer
    return EventPage(
        events=[EventPublic(**e.to_json()) for e in page.events],
        next_before_id=older.id if older else None,
        next_before_ts=older.ts if older else None,
        next_after_id=newer.id if newer else None,
        next_after_ts=newer.ts if newer else None,
    )
