"""Models: what the runtime loaded, with versions, cards, and the error of one that failed to load."""

from __future__ import annotations

from gasguard.runtime import ModelInfo
from live_harness import LiveHarness


def test_models_are_listed_with_their_cards_and_errors(live: LiveHarness) -> None:
    vera = live.headers("vera")
    assert live.client.get("/api/v1/models", headers=vera).json() == []
    live.runtime.models.extend(
        [
            ModelInfo("gas-type", "sensor", "1.2.0", True, card={"data": "MultimodalGasData", "licence": "CC BY 4.0"}),
            ModelInfo("plume", "vision", "0.3.1", False, error="FileNotFoundError: plume.onnx"),
        ]
    )
    assert live.client.get("/api/v1/models", headers=vera).json() == [
        {
            "name": "gas-type",
            "kind": "sensor",
            "version": "1.2.0",
            "loaded": True,
            "error": None,
            "card": {"data": "MultimodalGasData", "licence": "CC BY 4.0"},
        },
        {
            "name": "plume",
            "kind": "vision",
            "version": "0.3.1",
            "loaded": False,
            "error": "FileNotFoundError: plume.onnx",
            "card": {},
        },
    ]
    assert live.client.get("/api/v1/models").status_code == 401
