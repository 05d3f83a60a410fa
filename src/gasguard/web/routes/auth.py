"""Sign in and out: ``POST /api/v1/auth/login`` returns a bearer token; logins are rate-limited and audited."""

from __future__ import annotations

import math

from fastapi import APIRouter, HTTPException, Request, Response, status

from gasguard.auth import authenticate_password, create_session, revoke_session
from gasguard.web.deps import Authenticated, ServicesDep, SessionDep, client_address
from gasguard.web.schemas import LoginRequest, MePublic, TokenPublic

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


@router.post(
    "/login",
    responses={
        401: {"description": "Wrong username or password"},
        429: {"description": "Too many failures"},
        503: {"description": "The database cannot be used"},
    },
)
def login(body: LoginRequest, request: Request, services: ServicesDep, session: SessionDep) -> TokenPublic:
    """Sign in with a username and password; 429 while that username is locked for this client or overall.

    A database failure here is a 503 with a plain message (the app's database error handler), never a 500.
    """
    client = client_address(request)
    limiter = services.rate_limiter
    now = services.clock()
    wait = limiter.retry_after(session, username=body.username, client=client, now=now)
    if wait > 0:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            detail="too many failed sign-ins; try again later",
            headers={"Retry-After": str(math.ceil(wait))},
        )
    user = authenticate_password(session, username=body.username, password=body.password)
    if user is None:
        limiter.record_failure(session, username=body.username, client=client, now=now)
        services.record_audit(
            session,
            ts=now,
            source="auth.login",
            actor=body.username[:64],
            reason="sign-in failed",
            payload={"client": client, "accepted": False},
        )
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, detail="wrong username or password")
    limiter.record_success(session, username=body.username, client=client)
    issued = create_session(session, user=user, hasher=services.hasher, now=now, ttl_s=services.settings.session_ttl_s)
    services.record_audit(
        session,
        ts=now,
        source="auth.login",
        actor=user.username,
        reason="signed in",
        payload={"client": client, "accepted": True},
    )
    return TokenPublic(access_token=issued.token, expires_at=issued.expires_at, username=user.username, role=user.role)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
def logout(principal: Authenticated, services: ServicesDep, session: SessionDep) -> Response:
    """End this session: the token stops working at once, and its live feeds in this process close now
    (in other processes, at their next recheck, within a second)."""
    if not principal.device:
        revoke_session(session, token_id=principal.token_id, now=services.clock())
        session.commit()
        services.live_sessions.end_token(principal.token_id, "signed out")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/me")
def me(principal: Authenticated) -> MePublic:
    return MePublic(name=principal.name, role=principal.role, device=principal.device)
