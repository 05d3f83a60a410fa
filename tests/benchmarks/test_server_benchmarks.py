"""Benchmarks that need the local servers (PostgreSQL, Mosquitto), at tiny sizes.

Unreachable servers skip these, or fail them under ``CI=true`` (the benchmarks themselves report
such a section as skipped; a test must say so louder).
"""

from __future__ import annotations

import asyncio
import os
import uuid

import pytest
from sqlalchemy import text

from gasguard.benchmarks.databases import BenchUnavailable, bench_database
from gasguard.benchmarks.defaults import DEFAULT_MQTT_URL, DEFAULT_POSTGRES_URL
from gasguard.benchmarks.e2e import bench_e2e_mqtt
from gasguard.benchmarks.load import bench_load
from gasguard.benchmarks.mqtt_util import clear_retained, reachable_broker
from gasguard.ingest.mqtt import BrokerAddress, make_client
from gasguard.storage.engine import create_engine_for

pytestmark = pytest.mark.server

POSTGRES_URL = os.environ.get("GASGUARD_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)
MQTT_URL = os.environ.get("GASGUARD_TEST_MQTT_URL", DEFAULT_MQTT_URL)


def _unavailable(exc: BenchUnavailable) -> None:
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        pytest.fail(str(exc))
    pytest.skip(str(exc))


@pytest.fixture
def broker() -> BrokerAddress:
    try:
        return reachable_broker(MQTT_URL)
    except BenchUnavailable as exc:
        _unavailable(exc)
        raise


def test_the_postgres_benchmark_schema_is_private_and_dropped() -> None:
    try:
        with bench_database("postgres", postgres_url=POSTGRES_URL) as url:
            schema = url.rsplit("search_path%3D", 1)[1]
            engine = create_engine_for(url)
            with engine.connect() as connection:
                tables = connection.execute(
                    text("SELECT table_name FROM information_schema.tables WHERE table_schema = :s"), {"s": schema}
                ).scalars()
                assert {"readings", "events", "alembic_version"} <= set(tables)
            engine.dispose()
    except BenchUnavailable as exc:
        _unavailable(exc)
    admin = create_engine_for(POSTGRES_URL)
    with admin.connect() as connection:
        left = connection.execute(text("SELECT 1 FROM pg_namespace WHERE nspname = :s"), {"s": schema}).first()
    admin.dispose()
    assert left is None


def test_mqtt_trips_reach_the_valve_controller(broker: BrokerAddress) -> None:
    result = bench_e2e_mqtt(trips=2, mqtt_url=MQTT_URL)
    assert (result["trips"], result["n"]) == (2, 2)


@pytest.mark.slow  # about 10 s: a whole service with uvicorn, a generator process, commissioning
def test_a_short_load_run_loses_nothing_and_stores_everything(broker: BrokerAddress) -> None:
    result = bench_load(channels=20, rate=5.0, minutes=0.05, mqtt_url=MQTT_URL, settle_s=0.5)
    assert result["published"] > 0
    assert (result["lost"], result["lost_in_storage"]) == (0, 0)
    assert result["seen_by_safety_core"] == result["stored"] == result["published"]
    assert result["latency_to_decision"]["n"] > 0
    assert result["phases"]["retained_cleared"] > 0


def test_clearing_removes_what_a_run_left_retained(broker: BrokerAddress) -> None:
    prefix = f"ggtest{uuid.uuid4().hex[:10]}"

    async def scenario() -> list[str]:
        async with make_client(broker, client_id=f"{prefix}-w", availability_topic=None) as client:
            await client.publish(f"{prefix}/a/b", "x", qos=1, retain=True)
            await client.publish(f"homeassistant/sensor/{prefix}/c/config", "{}", qos=1, retain=True)
        assert await clear_retained(broker, prefix) == 2
        seen: list[str] = []
        async with make_client(broker, client_id=f"{prefix}-r", availability_topic=None) as client:
            await client.subscribe(f"{prefix}/#")
            await client.subscribe(f"homeassistant/+/{prefix}/#")
            try:
                async with asyncio.timeout(0.5):
                    async for message in client.messages:
                        if message.payload:
                            seen.append(message.topic.value)
            except TimeoutError:
                pass
        return seen

    assert asyncio.run(scenario()) == []
