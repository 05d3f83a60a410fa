"""The MQTT broker goes away: channels go stale, then FAULT, then the zone trips per its fault policy.

GasGuard reaches the local Mosquitto through a TCP proxy the test cuts and restores (the shared
broker itself cannot be stopped). The detectors keep publishing to the broker directly, ten times a
second, the whole time: only GasGuard's side of the broker is lost. Channels go stale after 1 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from pathlib import Path

import pytest

from faults.helpers import alarm, channel, channel_health, commission, eventually, operate, running, site, valve_state
from faults.helpers import zone as zone_view
from faults.tcp_proxy import CuttableProxy
from gasguard.actuators.simulated import SimulatedValve
from gasguard.benchmarks.mqtt_util import clear_retained
from gasguard.domain import OperatorAction
from gasguard.ingest.mqtt import BrokerAddress, make_client
from gasguard.runtime import Runtime
from gasguard.serving import attach_mqtt

pytestmark = pytest.mark.server

STALE_S = 1.0


def _source_connected(runtime: Runtime) -> bool:
    detail = runtime.sources["mqtt"].detail
    return bool(detail and detail().get("connected"))


def test_broker_lost_stale_fault_trip_then_recovery(broker: BrokerAddress, database_url: str, tmp_path: Path) -> None:
    config = site(
        {
            "boiler": {  # fault_policy trip (the default): a FAULT channel votes to trip
                "channels": [channel("b1", stale_timeout_s=STALE_S)],
                "valves": [{"id": "bv"}],
            },
            "lab": {  # fault_policy alarm: a FAULT only raises an alarm
                "fault_policy": "alarm",
                "channels": [channel("l1", stale_timeout_s=STALE_S)],
                "valves": [{"id": "lv"}],
            },
        }
    )
    valves = {vid: SimulatedValve(vid, travel_time_s=0.0) for vid in ("bv", "lv")}
    prefix = f"ggtest{uuid.uuid4().hex[:10]}"

    async def detectors(stop: asyncio.Event) -> None:
        client = make_client(broker, client_id=f"{prefix}-detectors", availability_topic=None)
        async with client:
            while not stop.is_set():
                for zone_id, cid in (("boiler", "b1"), ("lab", "l1")):
                    payload = json.dumps({"ts": time.time(), "ppm": 500.0})
                    await client.publish(f"{prefix}/plant/{zone_id}/{cid}/reading", payload, qos=1)
                await asyncio.sleep(0.1)

    async def scenario() -> None:
        proxy = CuttableProxy(broker.host, broker.port)
        await proxy.start()
        stop = asyncio.Event()
        publishing = asyncio.create_task(detectors(stop))
        try:
            async with running(
                config,
                database_url,
                tmp_path,
                valves=valves,
                mqtt_url=f"mqtt://127.0.0.1:{proxy.port}",
                mqtt_topic_prefix=prefix,
                prepare=lambda rt: attach_mqtt(rt, rt.services.settings),
            ) as runtime:
                await eventually(lambda: _source_connected(runtime), "the MQTT source connected")
                await commission(runtime)
                await asyncio.sleep(2 * STALE_S)  # readings arrive through the broker: nothing goes stale
                assert [channel_health(runtime, c) for c in ("b1", "l1")] == ["ok", "ok"]
                assert not zone_view(runtime, "boiler")["tripped"]

                await proxy.cut()
                await eventually(lambda: not _source_connected(runtime), "the source to notice")
                await eventually(lambda: channel_health(runtime, "b1") == "stale", "b1 stale")
                await eventually(lambda: zone_view(runtime, "boiler")["tripped"], "the boiler trip")
                await eventually(lambda: valve_state(runtime, "bv") == "closed", "the boiler valve closed")
                assert zone_view(runtime, "boiler")["trip_cause"] == "1 of 1 required votes: b1 FAULT (stale)"
                await eventually(lambda: channel_health(runtime, "l1") == "stale", "l1 stale")
                lab = zone_view(runtime, "lab")
                assert (lab["tripped"], lab["status"], valve_state(runtime, "lv")) == (False, "fault", "open")
                assert alarm(runtime, "lab/l1/FAULT")["active"] is True  # type: ignore[index]
                sources = runtime.services.health_checks["sources"]
                assert sources().detail["mqtt"]["connected"] is False
                await eventually(lambda: sources().status == "degraded", "health to show the broker lost")

                await proxy.restore()
                await eventually(lambda: _source_connected(runtime), "the source to reconnect", 15)
                await eventually(lambda: channel_health(runtime, "b1") == "ok", "b1 healthy again")
                await eventually(lambda: channel_health(runtime, "l1") == "ok", "l1 healthy again")
                assert zone_view(runtime, "lab")["status"] == "normal"
                assert alarm(runtime, "lab/l1/FAULT")["active"] is False  # type: ignore[index]
                # the boiler trip stays latched until an operator resets it; then the valve may reopen
                assert (zone_view(runtime, "boiler")["tripped"], valve_state(runtime, "bv")) == (True, "closed")
                assert (await operate(runtime, OperatorAction.RESET, "boiler")).accepted
                assert (await operate(runtime, OperatorAction.OPEN, "bv")).accepted
                await eventually(lambda: valve_state(runtime, "bv") == "open", "the boiler valve reopened")
        finally:
            stop.set()
            with contextlib.suppress(Exception):
                await publishing
            await proxy.close()
            await clear_retained(broker, prefix)

    asyncio.run(scenario())
