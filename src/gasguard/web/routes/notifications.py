"""Notifications: incidents with who was told when, acknowledge, test messages, and the one-time
acknowledge link from a message.

The link is the only credential its page needs, so it can do only one thing: acknowledge. ``GET``
shows what would be acknowledged and a button (mail scanners fetch links; fetching changes nothing);
``POST`` acknowledges once, as the user the route names, and is audited as that person. A used,
expired or altered link is refused (410, 410, 400); an incident already acknowledged or ended is 409.
The page is plain HTML with no inline script or style, under the app's Content-Security-Policy.
"""

from __future__ import annotations

import html
import logging
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, status
from fastapi.responses import HTMLResponse
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool

from gasguard.auth import Role
from gasguard.domain import OperatorAction, OperatorCommand
from gasguard.notifications.incidents import ACK_DASHBOARD_SOURCE, ACK_LINK_SOURCE, Incident
from gasguard.notifications.links import AckClaim, LinkSigner
from gasguard.notifications.messages import clock_text
from gasguard.notifications.registry import notifier_for
from gasguard.notifications.store import get_incident, list_deliveries, list_incidents, nonce_used, use_nonce
from gasguard.services import Services
from gasguard.storage.models import UserRow
from gasguard.web.deps import AdminUser, CurrentUser, OperatorUser, ServicesDep

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/api/v1/notifications", tags=["notifications"])

LINK_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"description": "Not a valid acknowledge link (damaged, or not made by this GasGuard)"},
    403: {"description": "The user the link acts as may not acknowledge (disabled, or not an operator)"},
    404: {"description": "No such incident"},
    409: {"description": "The incident is already acknowledged, or has ended"},
    410: {"description": "The link was used already, or has expired"},
}


@dataclass(frozen=True)
class _Verdict:
    """What a link may do now: ``status`` 200 and the claim and incident, or an error status and message."""

    status: int
    message: str
    claim: AckClaim | None = None
    incident: Incident | None = None


def _signer(services: Services) -> LinkSigner:
    return LinkSigner(services.settings.resolved_secret_key())


def _judge(services: Services, token: str) -> _Verdict:
    claim = _signer(services).verify(token)
    if claim is None:
        return _Verdict(400, "This acknowledge link is not valid: it was altered, cut short, or not made here.")
    now = services.clock()
    with services.session_factory() as session:
        used = nonce_used(session, nonce=claim.nonce)
        if used is not None:
            return _Verdict(410, f"This link was used already, by {used.username} at {clock_text(used.used_at)}.")
        if claim.expires_at <= now:
            return _Verdict(410, f"This link expired at {clock_text(claim.expires_at)}. Acknowledge in the dashboard.")
        incident = get_incident(session, incident_id=claim.incident)
        if incident is None:
            return _Verdict(404, "There is no such incident.")
        if incident.acked_at is not None:
            return _Verdict(
                409, f"Already acknowledged by {incident.acked_by} at {clock_text(incident.acked_at)}.", claim, incident
            )
        if incident.closed_at is not None:
            return _Verdict(409, f"This incident has ended: {incident.close_note}.", claim, incident)
        user = session.scalar(select(UserRow).where(UserRow.username == claim.user))
        if user is None or not user.active or not Role(user.role).allows(Role.OPERATOR):
            return _Verdict(403, f"The user {claim.user} may not acknowledge alarms (disabled or not an operator).")
    return _Verdict(200, "", claim, incident)


def _page(title: str, paragraphs: list[str], *, form_action: str | None = None, status_code: int = 200) -> HTMLResponse:
    body = "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
    if form_action is not None:
        body += (
            f'<form method="post" action="{html.escape(form_action)}">'
            '<button type="submit">Acknowledge</button></form>'
            "<p>Acknowledging tells the others that you have seen this and stops the repeats. "
            "It does not reset the zone or open a valve.</p>"
        )
    page = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)} · GasGuard</title></head>"
        f"<body><main><h1>{html.escape(title)}</h1>{body}</main></body></html>"
    )
    return HTMLResponse(page, status_code=status_code, headers={"Cache-Control": "no-store"})


def _summary(incident: Incident) -> list[str]:
    where = incident.zone or "GasGuard"
    lines = [f"Incident {incident.id}: {incident.kind} in {where}, since {clock_text(incident.opened_at)}."]
    if incident.cause:
        lines.append(f"Cause: {incident.cause}")
    if incident.highest_lel is not None:
        lines.append(f"Highest: {incident.highest_lel:.1f} %LEL")
    return lines


@router.get("/ack/{token}", response_class=HTMLResponse, responses=LINK_RESPONSES)
async def confirm_ack_link(token: str, services: ServicesDep) -> HTMLResponse:
    """The page a link in a message opens: what it acknowledges, and a button. Changes nothing."""
    verdict = await run_in_threadpool(_judge, services, token)
    if verdict.status != 200 or verdict.claim is None or verdict.incident is None:
        return _page("Cannot acknowledge", [verdict.message], status_code=verdict.status)
    return _page(
        "Acknowledge this alarm?",
        [*_summary(verdict.incident), f"You acknowledge as {verdict.claim.user}."],
        form_action=f"/api/v1/notifications/ack/{token}",
    )


def _use_link(services: Services, claim: AckClaim, incident: Incident) -> bool:
    """Record the nonce and the audit event in one commit; ``False`` if the nonce was taken meanwhile."""
    now = services.clock()
    with services.session_factory() as session:
        try:
            use_nonce(session, nonce=claim.nonce, incident_id=claim.incident, username=claim.user, now=now)
            services.record_audit(
                session,
                ts=now,
                source=ACK_LINK_SOURCE,
                actor=claim.user,
                reason=f"acknowledged incident {incident.id} in {incident.zone or 'GasGuard'} with the link "
                f"in a message of route {claim.route}",
                payload={"incident": incident.id, "route": claim.route, "zone": incident.zone},
            )
        except IntegrityError:
            session.rollback()
            return False
    return True


async def _ack_zone_alarms(services: Services, zone: str | None, user: str, reason: str) -> int:
    """Acknowledge the zone's unacknowledged alarms in the safety core as ``user`` (never reset or open)."""
    runtime, plant = services.runtime, services.plant
    if runtime is None or plant is None or zone is None:
        return 0
    count = 0
    for alarm in plant.alarms_view(zone):
        if alarm.get("acked"):
            continue
        result = await runtime.operate(OperatorCommand(OperatorAction.ACK, str(alarm["id"]), user=user, reason=reason))
        count += int(result.accepted)
    return count


@router.post("/ack/{token}", response_class=HTMLResponse, responses=LINK_RESPONSES)
async def use_ack_link(token: str, services: ServicesDep) -> HTMLResponse:
    """Acknowledge once, as the link's user: the incident (repeats and escalation stop) and the zone's alarms."""
    verdict = await run_in_threadpool(_judge, services, token)
    claim, incident = verdict.claim, verdict.incident
    if verdict.status != 200 or claim is None or incident is None:
        return _page("Cannot acknowledge", [verdict.message], status_code=verdict.status)
    if not await run_in_threadpool(_use_link, services, claim, incident):
        return _page("Cannot acknowledge", ["This link was used already."], status_code=status.HTTP_410_GONE)
    logger.info("incident %s acknowledged by %s with a notification link", incident.id, claim.user)
    await _ack_zone_alarms(services, incident.zone, claim.user, "acknowledged with the link in a notification")
    return _page(
        "Acknowledged",
        [
            *_summary(incident),
            f"Acknowledged as {claim.user}. The others are told; the repeats stop.",
            "The zone stays tripped and its valves closed until an operator resets it in the dashboard.",
        ],
    )


def _incident_json(incident: Incident, deliveries: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": incident.id,
        "kind": str(incident.kind),
        "zone": incident.zone,
        "cause": incident.cause,
        "opened_at": incident.opened_at,
        "closed_at": incident.closed_at,
        "close_note": incident.close_note or None,
        "acked_at": incident.acked_at,
        "acked_by": incident.acked_by,
        "acked_via": incident.acked_via,
        "highest_lel": incident.highest_lel,
        "valves": incident.valves,
        "routes": {name: state.to_json() for name, state in incident.routes.items()},
        "timeline": incident.timeline,
    }
    if deliveries is not None:
        data["deliveries"] = deliveries
    return data


@router.get("/incidents")
async def get_incidents(
    _user: CurrentUser,
    services: ServicesDep,
    open_only: Annotated[bool, Query(alias="open")] = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[dict[str, Any]]:
    """Incidents, newest first, each with its timeline ("sent to on-call-1 ..., repeated ..., escalated
    to on-call-2 ..., acknowledged by ana ...")."""

    def read() -> list[dict[str, Any]]:
        with services.session_factory() as session:
            return [_incident_json(i) for i in list_incidents(session, limit=limit, open_only=open_only)]

    return await run_in_threadpool(read)


@router.get("/incidents/{incident_id}", responses={404: {"description": "No such incident"}})
async def get_one_incident(incident_id: str, _user: CurrentUser, services: ServicesDep) -> dict[str, Any]:
    """One incident with every delivery attempt (route, URL with secrets masked, time, result, error)."""

    def read() -> dict[str, Any] | None:
        with services.session_factory() as session:
            incident = get_incident(session, incident_id=incident_id)
            if incident is None:
                return None
            attempts = [a.to_json() for a in list_deliveries(session, incident_id=incident_id, limit=500)]
            return _incident_json(incident, attempts)

    found = await run_in_threadpool(read)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no incident {incident_id!r}")
    return found


@router.post(
    "/incidents/{incident_id}/ack",
    responses={404: {"description": "No such incident"}, 409: {"description": "Acknowledged already, or ended"}},
)
async def ack_incident(incident_id: str, user: OperatorUser, services: ServicesDep) -> dict[str, Any]:
    """Acknowledge an incident from the dashboard: repeats and escalation stop; the zone's alarms are
    acknowledged too. Acknowledge is not reset."""

    def record() -> tuple[int, str, Incident | None]:
        with services.session_factory() as session:
            incident = get_incident(session, incident_id=incident_id)
            if incident is None:
                return 404, f"no incident {incident_id!r}", None
            if incident.acked_at is not None:
                return 409, f"already acknowledged by {incident.acked_by}", incident
            if incident.closed_at is not None:
                return 409, f"the incident has ended: {incident.close_note}", incident
            services.record_audit(
                session,
                ts=services.clock(),
                source=ACK_DASHBOARD_SOURCE,
                actor=user.name,
                reason=f"acknowledged incident {incident.id} in {incident.zone or 'GasGuard'}",
                payload={"incident": incident.id, "zone": incident.zone},
            )
            return 200, "", incident

    code, message, incident = await run_in_threadpool(record)
    if code != 200 or incident is None:
        raise HTTPException(code, detail=message)
    await _ack_zone_alarms(services, incident.zone, user.name, "acknowledged with the notification incident")
    return {"accepted": True, "message": f"incident {incident.id} acknowledged by {user.name}"}


@router.post("/test", responses={404: {"description": "No such route"}, 409: {"description": "No notification routes"}})
async def send_test_message(
    _admin: AdminUser, services: ServicesDep, route: Annotated[str | None, Query(max_length=64)] = None
) -> list[dict[str, Any]]:
    """Send a test message to every URL of each route (or one route) now; per-URL results."""
    notifier = notifier_for(services)
    if notifier is None:
        # Not a server fault: the site simply has nothing to send to, so it is a conflict with its state.
        raise HTTPException(status.HTTP_409_CONFLICT, detail="no notification routes are configured")
    try:
        return await notifier.send_test(route)
    except KeyError:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no route {route!r}") from None
