"""Gas identification for zones with a sensor array: the shipped gas-type model, one stream per zone.

Advisory only: what it says is shown to operators next to the %LEL figures and trips nothing (the
model was trained on one public dataset's classes, see its card). Loading is lazy and a failure is
reported as a model that did not load, never as a crash of the service.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from gasguard.runtime import GasIdentification, ModelInfo, Runtime

log = logging.getLogger(__name__)

MODEL_NAME = "gas_classifier_multimodal"


class ZoneGasIdentifier:
    """Per-zone streaming gas-type classification feeding ``runtime.identify``."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self._streams: dict[str, Any] = {}
        self._artifact: Any = None
        self.errors = 0
        self.info = self._load()
        runtime.models.append(self.info)

    def _load(self) -> ModelInfo:
        try:
            from gasguard.ml.registry import load_default_gas_classifier

            self._artifact = load_default_gas_classifier().artifact
        except Exception as exc:
            log.exception("the gas-type model could not be loaded; identification is off")
            return ModelInfo(MODEL_NAME, "gas_classifier", "unknown", False, f"{type(exc).__name__}: {exc}"[:300])
        card = dict(self._artifact.card)
        version = str(card.get("code_version") or card.get("version") or "unknown")
        return ModelInfo(MODEL_NAME, "gas_classifier", version, True, None, card)

    def observe(self, zone: str, values: Mapping[str, float | None], ts: float) -> GasIdentification | None:
        """Classify the zone's newest array sample; ``None`` when the model is off or the sample unusable."""
        if self._artifact is None:
            return None
        stream = self._streams.get(zone)
        if stream is None:
            stream = self._streams[zone] = self._artifact.stream()
        try:
            clean = {k: float(v) for k, v in values.items() if v is not None}
            prediction = stream.update(clean, ts)
        except (KeyError, ValueError) as exc:
            self.errors += 1
            self._runtime.model_errors += 1
            if self.errors <= 10:
                log.warning("gas identification skipped a sample for %s: %s", zone, exc)
            return None
        identification = GasIdentification(zone, prediction.gas, prediction.confidence, ts, MODEL_NAME)
        self._runtime.identify(identification)
        return identification
