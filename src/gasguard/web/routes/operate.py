"""Hand an operator's request to the safety core and turn its answer into an HTTP response.

The core decides (accepted or refused, and why); the runtime stores its ``OperatorResult`` as the audit
event with the user and the reason. A refusal is a 409 carrying the core's own message, so the
operator reads exactly why (for example "condition still present: kitchen-ch1 at 23.0 %LEL").
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import HTTPException, status

from gasguard.auth import Principal, Role
from gasguard.domain import OperatorAction, OperatorCommand
from gasguard.web.schemas import OperatorResponse

if TYPE_CHECKING:
    from gasguard.runtime import Runtime

Responses = dict[int | str, dict[str, Any]]
"""Extra responses for OpenAPI (FastAPI's ``responses=`` argument)."""

REFUSED: Responses = {409: {"description": "Refused by the safety core; `detail` says why."}}
UNAVAILABLE: Responses = {503: {"description": "The live runtime is not running in this service."}}


async def run_command(
    runtime: Runtime,
    principal: Principal,
    action: OperatorAction,
    target: str,
    reason: str,
    *,
    until: float | None = None,
) -> OperatorResponse:
    command = OperatorCommand(
        action=action,
        target=target,
        user=principal.name,
        reason=reason.strip(),
        until=until,
        admin=principal.role is Role.ADMIN,
    )
    result = await runtime.operate(command)
    if not result.accepted:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=result.message)
    return OperatorResponse(accepted=True, message=result.message)
