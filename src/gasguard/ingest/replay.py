"""Replay a MultimodalGasData-style CSV as a live source.

The CSV has one row per sample (``Serial Number``, one column per sensor such as ``MQ2``..``MQ135``,
and ``Gas``), recorded about every 2 s, without timestamps. Each row becomes a ``SensorArraySample``
stamped ``start_ts + i * interval_s`` and is yielded at ``speed`` times real time (``speed=0``: as
fast as possible). The ``Gas`` label travels along for evaluation; the pipeline must not use it.
"""

from __future__ import annotations

import asyncio
import csv
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from gasguard.ingest.payloads import SensorArraySample

NON_SENSOR_COLUMNS = frozenset({"Serial Number", "Gas"})
DEFAULT_INTERVAL_S = 2.0


class ReplayError(ValueError):
    """The file is not in the expected layout."""


@dataclass(frozen=True, slots=True)
class ReplayRow:
    sample: SensorArraySample
    label: str | None
    row: int


def _float_or_none(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def read_rows(
    path: Path, *, channel: str, start_ts: float, interval_s: float = DEFAULT_INTERVAL_S, gas: str | None = None
) -> Iterator[ReplayRow]:
    """The file's rows as samples (optionally only those labelled ``gas``), without waiting."""
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames is None:
            raise ReplayError(f"{path} is empty")
        sensors = [name for name in reader.fieldnames if name not in NON_SENSOR_COLUMNS]
        if not sensors:
            raise ReplayError(f"{path} has no sensor columns (expected e.g. MQ2, MQ3, ...)")
        index = 0
        for number, row in enumerate(reader):
            label = row.get("Gas")
            if gas is not None and label != gas:
                continue
            values = {name: _float_or_none(row.get(name) or "") for name in sensors}
            ts = start_ts + index * interval_s
            index += 1
            yield ReplayRow(SensorArraySample(channel=channel, ts=ts, values=values), label, number)


async def replay_csv(
    path: Path,
    *,
    channel: str,
    speed: float = 1.0,
    interval_s: float = DEFAULT_INTERVAL_S,
    start_ts: float | None = None,
    gas: str | None = None,
    loop: bool = False,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> AsyncIterator[ReplayRow]:
    """Yield the rows at ``speed`` times the recorded pace; ``loop`` starts over at the end."""
    if speed < 0 or interval_s <= 0:
        raise ValueError("speed must be >= 0 and interval_s > 0")
    base = time.time() if start_ts is None else start_ts
    first = True
    while True:
        emitted = 0
        for item in read_rows(path, channel=channel, start_ts=base, interval_s=interval_s, gas=gas):
            if speed > 0 and not first:
                await sleep(interval_s / speed)
            first = False
            emitted += 1
            yield item
        if not loop or emitted == 0:
            return
        base += emitted * interval_s
