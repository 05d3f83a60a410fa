"""The small types a runtime is assembled from: models, cameras, identifications and sources."""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

from gasguard.domain import MlSignal, Output, Reading

if TYPE_CHECKING:
    from gasguard.runtime.core import Runtime


class UnknownChannelError(KeyError):
    """A reading names a channel the site configuration does not have."""

    def __str__(self) -> str:
        return f"unknown channel {self.args[0]!r}: not in the site configuration"


@dataclass(frozen=True)
class ModelInfo:
    """A model the runtime loaded (or failed to load), as shown by ``GET /api/v1/models``."""

    name: str
    kind: str
    version: str
    loaded: bool
    error: str | None = None
    card: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "version": self.version,
            "loaded": self.loaded,
            "error": self.error,
            "card": dict(self.card),
        }


class CameraFrameLike(Protocol):
    @property
    def ts(self) -> float: ...
    @property
    def leak_score(self) -> float: ...
    @property
    def leak(self) -> bool: ...
    @property
    def mask_fraction(self) -> float: ...

    def jpeg(self, overlay: Literal["none", "mask", "gradcam"]) -> bytes | None: ...


class Camera(Protocol):
    """A camera watching a zone (``gasguard.cameras``): frames, plume detection, early-trip signals."""

    id: str
    zone: str
    name: str

    def latest(self) -> CameraFrameLike | None: ...

    async def run(
        self,
        on_signal: Callable[[MlSignal], None],
        on_frame: Callable[[CameraFrameLike], None] | None = None,
    ) -> None: ...

    def health(self) -> dict[str, Any]: ...


@dataclass
class GasIdentification:
    zone: str
    gas: str
    confidence: float
    ts: float
    model: str

    def to_json(self) -> dict[str, Any]:
        return {
            "zone": self.zone,
            "gas": self.gas,
            "confidence": round(self.confidence, 4),
            "ts": self.ts,
            "model": self.model,
        }


SourceFactory = Callable[["Runtime"], Coroutine[Any, Any, None]]
"""A reading source: a coroutine that runs for ever, calling ``runtime.submit_reading``."""


@dataclass
class SourceStatus:
    name: str
    running: bool = False
    restarts: int = 0
    last_error: str | None = None
    detail: Callable[[], Mapping[str, Any]] | None = None


Observer = Callable[[Reading | Output], None]
"""Sees every reading and every safety-core output, in order (e.g. Home Assistant state messages)."""
