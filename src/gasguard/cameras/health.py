"""Camera faults a picture shows: a blocked lens, a camera that moved, a frozen or blank stream.

A camera in FAULT cannot be trusted to see gas, so it sends no ``VISUAL_LEAK`` and its scene
baseline stops adapting; the fault is shown in its health. It never trips a zone by itself: the
gas detectors keep protecting the zone, and cameras stay an early-trip aid only.

Each check looks at the detector's greyscale picture, shrunk to ``WATCH_SIZE``, and must hold for a
while before it is a fault (people walking by, steam, a passing cloud must not raise one):

- **frozen**: the picture has not changed by a single grey level for ``frozen_after_s`` (a live
  sensor always shows some noise; a stalled encoder or player repeats its last frame);
- **blank**: the picture is flat black or white (dead sensor, lost video signal);
- **blocked**: the picture has lost its detail: its edge energy fell below ``blocked_ratio`` of the
  commissioned scene's (or, before commissioning, its spread is under ``BLANK_SPREAD`` grey levels);
- **moved**: the view no longer matches the commissioned scene: phase correlation finds it shifted
  by more than ``moved_px`` pixels (at ``WATCH_SIZE``), or the edges no longer line up
  (correlation of the edge maps below ``moved_correlation``).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

FaultKind = Literal["frozen", "blank", "blocked", "moved"]
#: Faults in the order they are reported when several hold at once.
FAULT_ORDER: tuple[FaultKind, ...] = ("frozen", "blank", "blocked", "moved")
#: Size (width, height) the checks work at.
WATCH_SIZE = (80, 60)
#: Grey levels: a picture whose spread is below this shows nothing.
BLANK_SPREAD = 2.0


@dataclass(frozen=True)
class CameraFault:
    kind: FaultKind
    detail: str
    since: float

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "detail": self.detail, "since": self.since}


def _small(grey: NDArray[Any]) -> NDArray[np.float32]:
    import cv2

    g = np.asarray(grey)
    if g.ndim == 3:
        g = cv2.cvtColor(g.astype(np.uint8), cv2.COLOR_BGR2GRAY)
    if g.dtype != np.uint8:
        from gasguard.vision.preprocess import unit_grey

        g = np.round(unit_grey(g) * 255)
    return np.asarray(cv2.resize(g.astype(np.float32), WATCH_SIZE, interpolation=cv2.INTER_AREA), dtype=np.float32)


def _edges(small: NDArray[np.float32]) -> NDArray[np.float32]:
    """Gradient magnitude after a light blur (sensor noise is not detail)."""
    import cv2

    b = cv2.GaussianBlur(small, (3, 3), 0)
    gx = cv2.Sobel(b, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(b, cv2.CV_32F, 0, 1, ksize=3)
    return np.asarray(np.hypot(gx, gy), dtype=np.float32)


def _correlation(a: NDArray[np.float32], b: NDArray[np.float32]) -> float:
    a = a - a.mean()
    b = b - b.mean()
    den = float(np.sqrt((a * a).sum() * (b * b).sum()))
    return float((a * b).sum() / den) if den > 0 else 0.0


@dataclass(frozen=True)
class SceneReference:
    """What the commissioned view looks like: its mean picture at ``WATCH_SIZE`` and its edge energy."""

    mean: NDArray[np.float32]
    edge_energy: float

    def to_json(self) -> dict[str, Any]:
        data = np.ascontiguousarray(np.round(self.mean).clip(0, 255).astype(np.uint8))
        return {
            "size": list(WATCH_SIZE),
            "mean_u8_b64": base64.b64encode(data.tobytes()).decode("ascii"),
            "edge_energy": self.edge_energy,
        }

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> SceneReference:
        w, h = obj["size"]
        mean = np.frombuffer(base64.b64decode(obj["mean_u8_b64"]), dtype=np.uint8).reshape(h, w)
        return cls(mean.astype(np.float32), float(obj["edge_energy"]))


class ReferenceLearner:
    """Averages the commissioning frames into a ``SceneReference``."""

    def __init__(self) -> None:
        self._sum: NDArray[np.float64] | None = None
        self.n = 0

    def add(self, grey: NDArray[Any]) -> None:
        small = _small(grey).astype(np.float64)
        self._sum = small if self._sum is None else self._sum + small
        self.n += 1

    def finish(self) -> SceneReference:
        if self._sum is None:
            raise ValueError("no frame to learn the scene reference from")
        mean = (self._sum / self.n).astype(np.float32)
        return SceneReference(mean, float(_edges(mean).mean()))


class SceneWatch:
    """Watches one camera's pictures for faults; ``observe`` once per picture."""

    def __init__(
        self,
        *,
        frozen_after_s: float = 5.0,
        blank_after_s: float = 3.0,
        blocked_after_s: float = 5.0,
        moved_after_s: float = 10.0,
        blocked_ratio: float = 0.25,
        moved_px: float = 2.0,
        moved_correlation: float = 0.5,
    ) -> None:
        self.hold = {
            "frozen": frozen_after_s,
            "blank": blank_after_s,
            "blocked": blocked_after_s,
            "moved": moved_after_s,
        }
        self.blocked_ratio = blocked_ratio
        self.moved_px = moved_px
        self.moved_correlation = moved_correlation
        self.reference: SceneReference | None = None
        self._since: dict[str, float] = {}
        self._detail: dict[str, str] = {}
        self._previous: NDArray[Any] | None = None
        self.fault: CameraFault | None = None
        self.last: dict[str, float] = {}

    def reset(self) -> None:
        """Forget the stream (a reconnect); the reference is kept."""
        self._since.clear()
        self._previous = None
        self.fault = None

    def _condition(self, kind: str, present: bool, detail: str, now: float) -> None:
        if present:
            self._since.setdefault(kind, now)
            self._detail[kind] = detail
        else:
            self._since.pop(kind, None)

    def observe(self, grey: NDArray[Any], now: float) -> CameraFault | None:
        import cv2

        picture = np.asarray(grey)
        frozen = (
            self._previous is not None
            and picture.shape == self._previous.shape
            and np.array_equal(picture, self._previous)
        )
        self._previous = picture.copy()
        held = now - self._since["frozen"] if frozen and "frozen" in self._since else 0.0
        self._condition("frozen", frozen, f"the picture has not changed for {held:.0f} s (frozen stream)", now)

        small = _small(picture)
        spread = float(small.std())
        mean = float(small.mean())
        blank = spread < BLANK_SPREAD and (mean < 8 or mean > 247)
        self._condition("blank", blank, f"blank {'black' if mean < 128 else 'white'} picture (no video signal)", now)

        edges = float(_edges(small).mean())
        self.last = {"spread": round(spread, 2), "edge_energy": round(edges, 3)}
        ref = self.reference
        if ref is not None:
            blocked = edges < self.blocked_ratio * ref.edge_energy
            detail = f"the picture lost its detail ({edges:.2f} of {ref.edge_energy:.2f} commissioned edge energy)"
        else:
            blocked = spread < BLANK_SPREAD
            detail = f"the picture is flat (spread {spread:.1f} grey levels)"
        self._condition("blocked", blocked and not blank, f"blocked lens? {detail}", now)

        if ref is not None and not blocked and not blank:
            window = cv2.createHanningWindow(WATCH_SIZE, cv2.CV_32F)
            (dx, dy), _ = cv2.phaseCorrelate(ref.mean, small, window)
            shift = float(np.hypot(dx, dy))
            corr = _correlation(_edges(ref.mean), _edges(small))
            self.last.update({"shift_px": round(shift, 2), "edge_correlation": round(corr, 3)})
            moved = shift > self.moved_px or corr < self.moved_correlation
            self._condition(
                "moved",
                moved,
                f"the view no longer matches its commissioned scene (shifted {shift:.1f} px at "
                f"{WATCH_SIZE[0]}x{WATCH_SIZE[1]}, edge correlation {corr:.2f}); "
                "re-commission it if it was moved on purpose",
                now,
            )
        else:
            self._since.pop("moved", None)

        self.fault = None
        for kind in FAULT_ORDER:
            since = self._since.get(kind)
            if since is not None and now - since >= self.hold[kind]:
                self.fault = CameraFault(kind, self._detail[kind], since)
                break
        return self.fault
