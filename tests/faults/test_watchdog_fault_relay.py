"""The system-failure relay of a running GasGuard: energised while healthy, dropped while storage is down
past its buffer, and what ``Runtime.outputs_view`` shows about it (the dashboard's and HA's source)."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

from faults.helpers import channel, eventually
from gasguard.actuators.simulated import SimulatedOutput, SimulatedValve
from gasguard.benchmarks.live import bench_services, bench_settings, serving
from gasguard.config import parse_site_config
from gasguard.domain import OutputMode
from gasguard.runtime import build_runtime
from gasguard.storage.writer import ComponentStatus

CONFIG = parse_site_config(
    {
        "sites": [
            {
                "id": "plant",
                "zones": [{"id": "kitchen", "channels": [channel("k1")], "valves": [{"id": "kv"}]}],
                "outputs": [
                    {"id": "system-fault", "name": "System fault", "kind": "fault_relay", "normally_energised": True},
                    {"id": "fan", "kind": "fan", "levels": ["A1"], "zones": ["kitchen"]},
                ],
            }
        ]
    }
)


def test_watchdog_fault_relay_drops_while_storage_is_down_past_its_buffer(database_url: str, tmp_path: Path) -> None:
    relay, fan = SimulatedOutput("system-fault"), SimulatedOutput("fan")

    async def scenario() -> None:
        services = bench_services(bench_settings(database_url, tmp_path))
        valves = {"kv": SimulatedValve("kv", travel_time_s=0)}
        rt = build_runtime(CONFIG, services, valves=valves, outputs={"system-fault": relay, "fan": fan}, tick_s=0.05)
        async with serving(services):
            await eventually(lambda: relay.modes[-1:] == [OutputMode.ON], "relay energised (healthy)")
            writer = rt.services.writer
            healthy = writer.health()
            down = dataclasses.replace(healthy, status=ComponentStatus.DOWN, buffered=healthy.capacity)
            writer.health = lambda: down  # type: ignore[method-assign]
            watch = asyncio.create_task(rt._watch_storage(every_s=0.02))
            try:
                await eventually(lambda: relay.modes[-1:] == [OutputMode.OFF], "the relay dropped")
                view = {row["id"]: row for row in rt.services.plant.outputs_view()}
                assert view["system-fault"]["cause"] == (
                    "storage: database unreachable past the outage buffer of 250000 readings"
                )
                writer.health = lambda: healthy  # type: ignore[method-assign]
                await eventually(lambda: relay.modes[-1:] == [OutputMode.ON], "the relay energised again")
            finally:
                watch.cancel()
            plant = rt.services.plant
            # What a driver sees (its device's feedback) reaches the read model within DEVICE_CHECK_S.
            await eventually(
                lambda: any(r["id"] == "system-fault" and r["feedback"] for r in plant.outputs_view()), "feedback shown"
            )
            view = {row["id"]: row for row in plant.outputs_view()}
            assert view["system-fault"] == {
                "id": "system-fault",
                "name": "System fault",
                "kind": "fault_relay",
                "mode": "on",
                "cause": "healthy",
                "silenced": False,
                "latched": False,
                "forced_until": None,
                "zones": ["kitchen"],
                "levels": [],
                "driver": "simulated",
                "feedback": True,
                "reachable": True,
            }
            assert (view["fan"]["mode"], view["fan"]["levels"], view["fan"]["feedback"]) == ("off", ["A1"], False)
        services.dispose()

    asyncio.run(scenario())
