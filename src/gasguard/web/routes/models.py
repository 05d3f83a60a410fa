"""The ML models the runtime loaded: name, kind, version, whether it loaded (and why not) and its card."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from gasguard.web.deps import CurrentUser, RuntimeDep
from gasguard.web.routes.operate import UNAVAILABLE
from gasguard.web.schemas import ModelPublic

router = APIRouter(prefix="/api/v1/models", tags=["models"])


@router.get("", response_model=list[ModelPublic], responses={**UNAVAILABLE})
async def get_models(_user: CurrentUser, runtime: RuntimeDep) -> list[dict[str, Any]]:
    """A model that failed to load is listed with its error: the threshold path runs without it."""
    return [model.to_json() for model in runtime.models]
