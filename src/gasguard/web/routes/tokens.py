"""Device tokens for ingestion (admins only). The token is shown once, when it is created.

A token may be bound to channels or zones (``channels``/``zones`` in the request): ingest then refuses,
with 403, a reading it posts for any other channel.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Response, status

from gasguard.auth import AuthError, create_device_token, list_device_tokens, revoke_token
from gasguard.auth.tokens import ScopeError, TokenScope
from gasguard.web.deps import AdminUser, ServicesDep, SessionDep
from gasguard.web.schemas import DeviceTokenCreate, DeviceTokenIssued, DeviceTokenPublic, Reason, TokenScopePublic

router = APIRouter(prefix="/api/v1/tokens", tags=["tokens"])


def _scope_public(scope: TokenScope | None) -> TokenScopePublic | None:
    return None if scope is None else TokenScopePublic(channels=list(scope.channels), zones=list(scope.zones))


@router.get("")
def get_tokens(_admin: AdminUser, session: SessionDep, include_revoked: bool = False) -> list[DeviceTokenPublic]:
    return [
        DeviceTokenPublic(
            id=t.id,
            name=t.name,
            created_at=t.created_at,
            revoked_at=t.revoked_at,
            last_used_at=t.last_used_at,
            scope=_scope_public(t.scope),
        )
        for t in list_device_tokens(session, include_revoked=include_revoked)
    ]


@router.post("", status_code=status.HTTP_201_CREATED, responses={409: {"description": "Name in use"}})
def post_token(
    body: DeviceTokenCreate, admin: AdminUser, services: ServicesDep, session: SessionDep
) -> DeviceTokenIssued:
    now = services.clock()
    scope: TokenScope | None = None
    try:
        if body.channels is not None or body.zones is not None:
            scope = TokenScope.of(channels=body.channels or (), zones=body.zones or ())
        issued = create_device_token(session, name=body.name, hasher=services.hasher, now=now, scope=scope)
    except ScopeError as exc:
        raise HTTPException(422, detail=str(exc)) from None
    except AuthError as exc:
        code = status.HTTP_409_CONFLICT if "exists" in str(exc) else 422
        raise HTTPException(code, detail=str(exc)) from None
    services.record_audit(
        session,
        ts=now,
        source=f"token:{body.name}",
        actor=admin.name,
        reason=body.reason,
        payload={"action": "token.create", "token_id": issued.id, "scope": None if scope is None else scope.to_json()},
    )
    return DeviceTokenIssued(id=issued.id, name=body.name, token=issued.token, scope=_scope_public(scope))


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
