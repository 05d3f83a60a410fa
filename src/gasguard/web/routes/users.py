"""User administration (admins only); every change is audited with who and why."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status

from gasguard.auth import AuthError, PasswordPolicyError, User, create_user, get_user, list_users, update_user
from gasguard.services import Services
from gasguard.web.deps import AdminUser, ServicesDep, SessionDep
from gasguard.web.routes.ws import REASON_ROLE_CHANGED
from gasguard.web.schemas import UserCreate, UserPublic, UserUpdate

router = APIRouter(prefix="/api/v1/users", tags=["users"])


def _end_live_feeds(services: Services, before: User | None, after: User) -> None:
    """Close the user's live feeds in this process now when they may no longer watch as before.

    A disabled account's sessions are revoked; a new role keeps the sessions but the open dashboards
    were built for the old role. Feeds in other processes see the same change at their next recheck.
    """
    if not after.active:
        services.live_sessions.end_user(after.id, "account disabled")
    elif before is not None and before.role != after.role:
        services.live_sessions.end_user(after.id, REASON_ROLE_CHANGED)


@router.get("")
def get_users(_admin: AdminUser, session: SessionDep) -> list[UserPublic]:
    return [
        UserPublic(username=u.username, role=u.role, active=u.active, created_at=u.created_at)
        for u in list_users(session)
    ]


@router.post("", status_code=status.HTTP_201_CREATED, responses={409: {"description": "Username taken"}})
def post_user(body: UserCreate, admin: AdminUser, services: ServicesDep, session: SessionDep) -> UserPublic:
    now = services.clock()
    try:
        user = create_user(session, username=body.username, password=body.password, role=body.role, now=now)
    except PasswordPolicyError as exc:
        raise HTTPException(422, detail=str(exc)) from None
    except AuthError as exc:
        code = status.HTTP_409_CONFLICT if "exists" in str(exc) else 422
        raise HTTPException(code, detail=str(exc)) from None
    services.record_audit(
        session,
        ts=now,
        source=f"user:{user.username}",
        actor=admin.name,
        reason=body.reason,
        payload={"action": "user.create", "role": str(user.role)},
    )
    return UserPublic(username=user.username, role=user.role, active=user.active, created_at=user.created_at)


@router.patch(
    "/{username}",
    responses={404: {"description": "No such user"}, 409: {"description": "Would leave no active admin"}},
)
def patch_user(
    username: str, body: UserUpdate, admin: AdminUser, services: ServicesDep, session: SessionDep
) -> UserPublic:
    now = services.clock()
    before = get_user(session, username=username)
    try:
        user = update_user(session, username=username, now=now, role=body.role, active=body.active)
    except AuthError as exc:
        session.rollback()
        code = status.HTTP_404_NOT_FOUND if str(exc).startswith("no user") else status.HTTP_409_CONFLICT
        raise HTTPException(code, detail=str(exc)) from None
    changes = body.model_dump(exclude={"reason"}, exclude_none=True)
    services.record_audit(
        session,
        ts=now,
        source=f"user:{username}",
        actor=admin.name,
        reason=body.reason,
        payload={"action": "user.update", **{k: str(v) if not isinstance(v, bool) else v for k, v in changes.items()}},
    )
    _end_live_feeds(services, before, user)  # after the commit in record_audit: never for a change not stored
    return UserPublic(username=user.username, role=user.role, active=user.active, created_at=user.created_at)
