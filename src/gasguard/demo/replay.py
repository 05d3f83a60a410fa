"""Stream the real MultimodalGasData CSV as the demo's sensor-array zone, with the gas-type model live."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from gasguard.domain import Reading
from gasguard.identify import ZoneGasIdentifier
from gasguard.ingest.replay import replay_csv
from gasguard.runtime import Runtime

log = logging.getLogger(__name__)

ROW_INTERVAL_S = 2.0
"""The dataset's rows are two seconds apart."""


def add_replay(runtime: Runtime, path: Path, *, speed: float) -> ZoneGasIdentifier:
    from gasguard.demo import ARRAY_ZONE, REPLAY_SENSORS

    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file (expected MultimodalGasData's Gas_Sensors_Measurements.csv)")
    identifier = ZoneGasIdentifier(runtime)
    progress: dict[str, int] = {"rows": 0}
    labels: dict[str, str | None] = {"true_label": None}

    async def stream(rt: Runtime) -> None:
        async for row in replay_csv(path, channel=ARRAY_ZONE, speed=speed, interval_s=ROW_INTERVAL_S, loop=True):
            now = time.time()
            for name in REPLAY_SENSORS:
                rt.submit_reading(Reading(f"{ARRAY_ZONE}-{name.lower()}", row.sample.values.get(name), now))
            identifier.observe(ARRAY_ZONE, row.sample.values, row.sample.ts)
            progress["rows"] += 1
            labels["true_label"] = row.label

    runtime.add_source(
        "replay",
        stream,
        lambda: {"file": str(path), **progress, **labels, "errors": identifier.errors},
    )
    return identifier
