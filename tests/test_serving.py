"""The served runtime over the real Mosquitto: readings in, gas identification from an array, Home
Assistant discovery and state out, and a close request from Home Assistant through the safety core."""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from gasguard.auth import Role, create_user
from gasguard.config import parse_site_config
from gasguard.ingest.discovery import discovery_messages
from gasguard.ingest.mqtt import BrokerAddress, make_client
from gasguard.runtime import Runtime
from gasguard.services import Services
from gasguard.serving import build_live_app
from gasguard.web.testing import PASSWORD, make_settings

pytestmark = pytest.mark.server

BROKER_URL = os.environ.get("GASGUARD_TEST_MQTT_URL", "mqtt://127.0.0.1:1883")

SITE = {
    "sites": [
        {
            "id": "plant",
            "zones": [
                {
                    "id": "kitchen",
                    "channels": [{"id": "k1", "gas": "methane", "warmup_s": 0, "stale_timeout_s": 3600}],
                    "valves": [{"id": "kv", "travel_time_s": 0.2}],
                },
                {
                    "id": "array",
                    "channels": [{"id": "a1", "gas": "methane", "warmup_s": 0, "stale_timeout_s": 3600}],
                },
            ],
        }
    ]
}


@pytest.fixture
def served(tmp_path: Path, broker: BrokerAddress) -> Iterator[tuple[TestClient, Services, Runtime, str]]:
    prefix = f"ggserve-{uuid.uuid4().hex[:8]}"
    settings = make_settings(tmp_path, mqtt_url=BROKER_URL, mqtt_topic_prefix=prefix)
    app, services, runtime = build_live_app(parse_site_config(SITE), settings)
    with services.session_factory() as session, session.begin():
        create_user(session, username="vera", password=PASSWORD, role=Role.VIEWER, now=time.time())
    with TestClient(app) as client:  # type: ignore[arg-type]
        # health details (the MQTT source's state, the models) are for signed-in people
        login = client.post("/api/v1/auth/login", json={"username": "vera", "password": PASSWORD})
        client.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
        deadline = time.monotonic() + 15
        while not client.get("/api/v1/health").json()["components"]["sources"]["detail"]["mqtt"]["connected"]:
            assert time.monotonic() < deadline, "the MQTT source did not connect"
            time.sleep(0.05)
        time.sleep(0.5)  # connected comes just before the subscription is acknowledged
        yield client, services, runtime, prefix
    services.dispose()


def on_loop(client: TestClient, call: Any) -> Any:
    async def run() -> Any:
        return call()

    assert client.portal is not None
    return client.portal.call(run)


def wait_until(client: TestClient, predicate: Any, timeout_s: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = on_loop(client, predicate)
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition not reached in time")


def publish(broker: BrokerAddress, topic: str, payload: Any, *, retain: bool = False) -> None:
    async def send() -> None:
        async with make_client(broker, client_id=f"test-{uuid.uuid4().hex[:8]}", availability_topic=None) as c:
            await c.publish(topic, json.dumps(payload), qos=1, retain=retain)

    asyncio.run(send())


def publish_raw(broker: BrokerAddress, topic: str, payload: bytes, *, retain: bool) -> None:
    async def send() -> None:
        async with make_client(broker, client_id=f"test-{uuid.uuid4().hex[:8]}", availability_topic=None) as c:
            await c.publish(topic, payload, qos=1, retain=retain)

    asyncio.run(send())


def retained(broker: BrokerAddress, topic: str, timeout_s: float = 10.0) -> dict[str, Any]:
    async def read() -> dict[str, Any]:
        async with make_client(broker, client_id=f"test-{uuid.uuid4().hex[:8]}", availability_topic=None) as c:
            await c.subscribe(topic, qos=1)
            async with asyncio.timeout(timeout_s):
                async for message in c.messages:
                    data: dict[str, Any] = json.loads(bytes(message.payload))  # type: ignore[arg-type]
                    return data
        raise AssertionError("no message")

    return asyncio.run(read())


def test_an_mqtt_reading_reaches_the_safety_core_and_trips_the_zone(served: Any, broker: BrokerAddress) -> None:
    client, _services, runtime, prefix = served
    publish(broker, f"{prefix}/plant/kitchen/k1/reading", {"ppm": 15000})
    reading = wait_until(client, lambda: runtime.services.plant.channel_reading("k1")["value"] == 15000.0)
    assert reading
    zone = on_loop(client, lambda: runtime.services.plant.zone_view("kitchen"))
    assert zone["tripped"] is True
    assert zone["channels"][0]["lel_pct"] == pytest.approx(30.0)


def test_a_sensor_array_message_is_classified_by_the_gas_model(served: Any, broker: BrokerAddress) -> None:
    client, _services, runtime, prefix = served
    sample = {"MQ2": 555, "MQ3": 515, "MQ5": 377, "MQ6": 338, "MQ7": 666, "MQ8": 451, "MQ135": 416}
    publish(broker, f"{prefix}/plant/array/a1/reading", {"values": sample})
    identification = wait_until(client, lambda: runtime.identifications.get("array"))
    assert identification.model == "gas_classifier_multimodal"
    assert identification.gas in {"NoGas", "Perfume", "Smoke", "Mixture"}
    models = client.get("/api/v1/health").json()["components"]["models"]["detail"]
    assert models["gas_classifier_multimodal"]["loaded"] is True


def test_home_assistant_discovery_and_state_are_published(served: Any, broker: BrokerAddress) -> None:
    client, _services, runtime, prefix = served
    publish(broker, f"{prefix}/plant/kitchen/k1/reading", {"ppm": 2500})  # 5 %LEL
    wait_until(client, lambda: runtime.services.plant.channel_reading("k1")["value"] == 2500.0)
    topics = [t for t, _ in discovery_messages(runtime.site, prefix=prefix, availability_topic="unused")]
    sensor_topic = next(t for t in topics if t.startswith("homeassistant/sensor/"))
    try:
        config = retained(broker, sensor_topic)
        assert config["unit_of_measurement"] == "%"
        assert config["state_topic"] == f"{prefix}/plant/kitchen/k1/lel"
        state = retained(broker, config["state_topic"])
        assert state
    finally:  # retained discovery would outlive the test on the shared broker
        for topic in topics:
            publish_raw(broker, topic, b"", retain=True)


def test_home_assistant_may_close_a_valve_through_the_core_but_never_open_it(
    served: Any, broker: BrokerAddress
) -> None:
    client, services, _runtime, prefix = served
    publish_raw(broker, f"{prefix}/plant/kitchen/kv/command", b"OPEN", retain=False)
    publish_raw(broker, f"{prefix}/plant/kitchen/kv/command", b"CLOSE", retain=False)

    def audited() -> list[Any]:
        from gasguard.storage.events import EventFilter, EventKind, list_events

        with services.session_factory() as session:
            return list_events(session, flt=EventFilter(kinds=[EventKind.OPERATOR], actor="homeassistant"), limit=10)

    events = wait_until(client, audited)
    assert [(e.payload["action"], e.payload["target"]) for e in events] == [("close", "kv")]
