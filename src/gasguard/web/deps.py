"""Request dependencies as ``Annotated`` aliases: ``SessionDep``, ``CurrentUser``, ``require_role``.

Anonymous requests to protected routes get 401 (with ``WWW-Authenticate: Bearer``); authenticated
callers without the needed role get 403. Device tokens are only good for device routes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from gasguard.auth import Principal, Role, authenticate_token
from gasguard.services import Services

if TYPE_CHECKING:
    from gasguard.runtime import Runtime

from gasguard.readmodel import PlantReadModel

_bearer = HTTPBearer(auto_error=False, description="A session token from /api/v1/auth/login or a device token.")

OptionalCredentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
"""The bearer token if one was sent, unchecked: for public routes that show more to signed-in callers."""


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def get_session(services: ServicesDep) -> Iterator[Session]:
    with services.session_factory() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, detail=detail, headers={"WWW-Authenticate": "Bearer"})


def get_principal(
    services: ServicesDep,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise _unauthorized("sign in first: send Authorization: Bearer <token>")
    principal = authenticate_token(session, token=credentials.credentials, hasher=services.hasher, now=services.clock())
    if principal is None:
        session.rollback()
        raise _unauthorized("token is invalid, expired or revoked")
    session.commit()  # last-used time
    return principal


Authenticated = Annotated[Principal, Depends(get_principal)]


def require_role(role: Role) -> Callable[[Principal], Principal]:
    """A dependency that lets through people with at least ``role``."""

    def dependency(principal: Authenticated) -> Principal:
        if not principal.allows(role):
            raise HTTPException(status.HTTP_403_FORBIDDEN, detail=f"needs the {role} role or higher")
        return principal

    dependency.__name__ = f"require_{role}"
    return dependency


def require_device(principal: Authenticated) -> Principal:
    """Device tokens (and admins, for testing a device setup by hand)."""
    if not (principal.device or principal.allows(Role.ADMIN)):
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="needs a device token")
    return principal


CurrentUser = Annotated[Principal, Depends(require_role(Role.VIEWER))]
OperatorUser = Annotated[Principal, Depends(require_role(Role.OPERATOR))]
AdminUser = Annotated[Principal, Depends(require_role(Role.ADMIN))]
DeviceCaller = Annotated[Principal, Depends(require_device)]


def client_address(request: Request) -> str:
    """The client's address as seen by this server (put a trusted proxy's address rules in front)."""
    return request.client.host if request.client else "unknown"


def get_runtime(services: ServicesDep) -> Runtime:
    """The live runtime; 503 when this app was built without one (for example a read-only web tier)."""
    if services.runtime is None:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, detail="the live runtime is not running in this service"
        )
    runtime: Runtime = services.runtime
    return runtime


# Declare it after the caller's role (``CurrentUser`` ...) so an anonymous call gets 401, not 503. A web
# tier hands in its command client instead of a ``Runtime`` (``workers.remote``), so at run time the
# dependency is not checked against the class.
if TYPE_CHECKING:
    RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
else:
    RuntimeDep = Annotated[Any, Depends(get_runtime)]


def get_plant(services: ServicesDep) -> PlantReadModel:
    """The plant's read model (live zones, valves, alarms, readings, outputs); 503 when there is none."""
    if services.plant is None:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, detail="the live runtime is not running in this service"
        )
    return services.plant


PlantDep = Annotated[PlantReadModel, Depends(get_plant)]
"""Declare it after the caller's role, like ``RuntimeDep``."""
