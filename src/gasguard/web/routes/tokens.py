"""Device tokens for ingestion (admins only). The token is shown once, when it is created."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Response, status

from gasguard.auth import AuthError, create_device_token, list_device_tokens, revoke_token
from gasguard.web.deps import AdminUser, ServicesDep, SessionDep
from gasguard.web.schemas import DeviceTokenCreate, DeviceTokenIssued, DeviceTokenPublic, Reason

router = APIRouter(prefix="/api/v1/tokens", tags=["tokens"])


@router.get("")
def get_tokens(_admin: AdminUser, session: SessionDep, include_revoked: bool = False) -> list[DeviceTokenPublic]:
    return [
        DeviceTokenPublic(
            id=t.id, name=t.name, created_at=t.created_at, revoked_at=t.revoked_at, last_used_at=t.last_used_at
        )
        for t in list_device_tokens(session, include_revoked=include_revoked)
    ]


@router.post("", status_code=status.HTTP_201_CREATED, responses={409: {"description": "Name in use"}})
def post_token(
    body: DeviceTokenCreate, admin: AdminUser, services: ServicesDep, session: SessionDep
) -> DeviceTokenIssued:
    now = services.clock()
    try:
        issued = create_device_token(session, name=body.name, hasher=services.hasher, now=now)
    except AuthError as exc:
        code = status.HTTP_409_CONFLICT if "exists" in str(exc) else 422
        raise HTTPException(code, detail=str(exc)) from None
    services.record_audit(
        session,
        ts=now,
        source=f"token:{body.name}",
        actor=admin.name,
        reason=body.reason,
        payload={"action": "token.create", "token_id": issued.id},
    )
    return DeviceTokenIssued(id=issued.id, name=body.name, token=issued.token)


@router.delete("/{token_id}", status_code=status.HTTP_204_NO_CONTENT, responses={404: {"description": "No such token"}})
def delete_token(
    token_id: Annotated[int, Path(ge=1, le=2**63 - 1, description="Token id (a 64-bit database key).")],
    admin: AdminUser,
    services: ServicesDep,
    session: SessionDep,
    reason: Annotated[str, Query(min_length=3, max_length=500, description=Reason.description)],
) -> Response:
    now = services.clock()
    try:
        revoked = revoke_token(session, now=now, token_id=token_id)
    except AuthError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=str(exc)) from None
    services.record_audit(
        session,
        ts=now,
        source=f"token:{revoked.name}",
        actor=admin.name,
        reason=reason,
        payload={"action": "token.revoke", "token_id": token_id},
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)
