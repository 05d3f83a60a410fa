"""The secured broker of ``docs/mqtt-security.md``, started from the documented files, against GasGuard.

Each test starts its own Mosquitto (``mosquitto -c FILE`` on free ports) from ``docs/mosquitto/
mosquitto.conf`` and ``docs/mosquitto/acl``, with only the ports and file paths swapped for temporary
ones, a password file made by ``mosquitto_passwd -b`` and a throw-away CA made by ``openssl``. Missing
tools: the tests skip with the reason, or fail under ``CI=true``.

What they show: the broker refuses clients without credentials; a detector cannot publish a reading for
another detector's channel or fake a valve's position (MQTT 5 PUBACK "Not authorized", and GasGuard's
subscriber never sees the message) while its own readings reach the safety core; GasGuard signs in with
the user and password of ``GASGUARD_MQTT_URL`` (and over ``mqtts://`` with ``GASGUARD_MQTT_CA_FILE``);
health warns about an anonymous broker and not about the secure one; audit events reach the broker only
when ``GASGUARD_MQTT_PUBLISH_AUDIT`` is set, and never with client addresses.
"""

from __future__ import annotations

import asyncio
import getpass
import json
import os
import shutil
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiomqtt
import paho.mqtt.client as paho
import pytest
from fastapi.testclient import TestClient

from gasguard.auth import Role, create_user
from gasguard.config import parse_site_config
from gasguard.ingest.mqtt import MqttReadingSource
from gasguard.mqtt_client import (
    INSECURE_WARNING,
    AnonymousAccess,
    BrokerAddress,
    broker_from_settings,
    make_client,
    parse_mqtt_url,
    probe_anonymous,
)
from gasguard.runtime import Runtime
from gasguard.services import Services
from gasguard.serving import build_live_app
from gasguard.storage.events import EventKind
from gasguard.web.testing import make_settings

pytestmark = pytest.mark.server

DOCS = Path(__file__).resolve().parents[2] / "docs" / "mosquitto"
PASSWORDS = {
    "gasguard": "service-Pa55word",
    "kitchen-detector": "kitchen-det-pw",
    "boiler-detector": "boiler-det-pw",
    "kitchen-valve": "kitchen-valve-pw",
    "homeassistant": "home-assistant-pw",
}
NOT_AUTHORIZED = 135  # MQTT 5 reason code
READING = "gasguard/plant/{zone}/{channel}/reading"
KITCHEN_VALVE = "gasguard/plant/kitchen/valve"
VIEWER_PASSWORD = "a viewer's long password"

# The ids of the documented ACL (site plant, zones kitchen and boiler); the valve is driven over MQTT.
SITE = {
    "sites": [
        {
            "id": "plant",
            "zones": [
                {
                    "id": "kitchen",
                    "channels": [
                        {"id": "kitchen-ch1", "gas": "methane", "warmup_s": 0, "stale_timeout_s": 3600},
                        {"id": "kitchen-ch2", "gas": "methane", "warmup_s": 0, "stale_timeout_s": 3600},
                    ],
                    "valves": [{"id": "kitchen-valve", "travel_time_s": 2, "driver": {"kind": "mqtt"}}],
                },
                {
                    "id": "boiler",
                    "channels": [{"id": "boiler-ch1", "gas": "methane", "warmup_s": 0, "stale_timeout_s": 3600}],
                },
            ],
        }
    ]
}


# ----------------------------------------------------------------------------- brokers


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def _tool(name: str) -> str:
    found = shutil.which(name) or next(
        (str(p) for p in (Path("/usr/sbin") / name, Path("/usr/bin") / name) if p.is_file()), None
    )
    if found is None:
        message = f"{name} not found (Debian: apt-get install mosquitto mosquitto-clients openssl)"
        if in_ci():
            pytest.fail(message)
        pytest.skip(message)
    return found


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _make_ca_and_broker_cert(folder: Path) -> dict[str, Path]:
    """A throw-away CA and a broker certificate for 127.0.0.1, made with the openssl command."""
    openssl = _tool("openssl")
    ca_key, ca_crt = folder / "ca.key", folder / "ca.crt"
    key, csr, crt = folder / "broker.key", folder / "broker.csr", folder / "broker.crt"
    ext = folder / "broker.ext"
    ext.write_text(
        "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n"
        "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n"
    )
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    commands = [
        [openssl, "req", "-x509", *ec, "-keyout", ca_key, "-out", ca_crt, "-days", "2", "-subj", "/CN=GasGuard test CA",
         "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
        [openssl, "req", *ec, "-keyout", key, "-out", csr, "-subj", "/CN=127.0.0.1"],
        [openssl, "x509", "-req", "-in", csr, "-CA", ca_crt, "-CAkey", ca_key, "-CAcreateserial", "-out", crt,
         "-days", "2", "-extfile", ext],
    ]  # fmt: skip
    for command in commands:
        subprocess.run([str(part) for part in command], check=True, capture_output=True, timeout=30)
    return {"cafile": ca_crt, "certfile": crt, "keyfile": key}


def adapt_documented_config(text: str, *, ports: dict[int, int], paths: dict[str, Path]) -> str:
    """The documented mosquitto.conf with its listener ports and file paths replaced, and nothing else.

    Every directive that names a file must be in ``paths``: a file added to the documented example
    without the test knowing would otherwise point at /etc and fail obscurely.
    """
    out: list[str] = []
    for line in text.splitlines():
        words = line.split()
        if words and words[0] == "listener":
            port = ports[int(words[1])]
            out.append(f"listener {port} 127.0.0.1")  # the test's broker listens on the loopback only
        elif words and words[0] in {"password_file", "acl_file", "cafile", "certfile", "keyfile", "capath"}:
            out.append(f"{words[0]} {paths[words[0]]}")
        else:
            out.append(line)
    out.append(f"user {getpass.getuser()}")  # started as root, Mosquitto would switch to user mosquitto
    return "\n".join(out) + "\n"


@dataclass
class Broker:
    port: int
    log: Path
    tls_port: int | None = None
    ca_file: Path | None = None
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def url(self, user: str | None = None, *, tls: bool = False) -> str:
        auth = f"{user}:{PASSWORDS[user]}@" if user else ""
        return f"mqtts://{auth}127.0.0.1:{self.tls_port}" if tls else f"mqtt://{auth}127.0.0.1:{self.port}"


def _start(conf: Path, broker: Broker) -> Broker:
    mosquitto = _tool("mosquitto")
    with broker.log.open("wb") as log:
        broker.process = subprocess.Popen([mosquitto, "-c", str(conf)], stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 10
    for port in [broker.port] + ([broker.tls_port] if broker.tls_port else []):
        while True:
            if broker.process.poll() is not None:
                pytest.fail(f"mosquitto exited ({broker.process.returncode}): {broker.log.read_text()}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"mosquitto did not listen on {port}: {broker.log.read_text()}")
                time.sleep(0.05)
    return broker


def _stop(broker: Broker) -> None:
    if broker.process is not None:
        broker.process.terminate()
        try:
            broker.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            broker.process.kill()
            broker.process.wait()


@pytest.fixture
def secure_broker(tmp_path: Path) -> Iterator[Broker]:
    """Mosquitto from the documented mosquitto.conf and acl, with a password for each documented user."""
    passwd_tool = _tool("mosquitto_passwd")
    folder = tmp_path / "secure-broker"
    folder.mkdir()
    password_file = folder / "gasguard.passwd"
    password_file.touch(mode=0o600)
    for user, password in PASSWORDS.items():
        subprocess.run([passwd_tool, "-b", str(password_file), user, password], check=True, capture_output=True)
    acl = folder / "gasguard.acl"
    shutil.copyfile(DOCS / "acl", acl)  # used as documented: the test site has the documented ids
    broker = Broker(port=_free_port(), tls_port=_free_port(), log=folder / "mosquitto.log")
    certs = _make_ca_and_broker_cert(folder)
    broker.ca_file = certs["cafile"]
    conf = folder / "mosquitto.conf"
    conf.write_text(
        adapt_documented_config(
            (DOCS / "mosquitto.conf").read_text(),
            ports={1883: broker.port, 8883: broker.tls_port},
            paths={"password_file": password_file, "acl_file": acl, **certs},
        )
    )
    try:
        yield _start(conf, broker)
    finally:
        _stop(broker)


@pytest.fixture
def open_broker(tmp_path: Path) -> Iterator[Broker]:
    """A broker as Mosquitto 1.x shipped it, and many sites still run it: anybody may connect."""
    folder = tmp_path / "open-broker"
    folder.mkdir()
    broker = Broker(port=_free_port(), log=folder / "mosquitto.log")
    conf = folder / "mosquitto.conf"
    conf.write_text(f"listener {broker.port} 127.0.0.1\nallow_anonymous true\nuser {getpass.getuser()}\n")
    try:
        yield _start(conf, broker)
    finally:
        _stop(broker)


# ----------------------------------------------------------------------------- devices (MQTT 5, paho)


class Device:
    """A device's MQTT 5 client: ``publish`` returns the broker's PUBACK reason code."""

    def __init__(self, broker: Broker, user: str) -> None:
        self.client = paho.Client(
            paho.CallbackAPIVersion.VERSION2, client_id=f"{user}-{uuid.uuid4().hex[:6]}", protocol=paho.MQTTv5
        )
        self.client.username_pw_set(user, PASSWORDS[user])
        self.acks: dict[int, int] = {}
        self.received: list[tuple[str, str]] = []
        self._changed = threading.Condition()
        self.client.on_publish = self._on_publish
        self.client.on_message = self._on_message
        connected = threading.Event()
        self.client.on_connect = lambda *_args: connected.set()
        self.client.connect("127.0.0.1", broker.port)
        self.client.loop_start()
        assert connected.wait(10), f"{user} could not connect"

    def _on_publish(self, _c: Any, _u: Any, mid: int, reason: Any, _p: Any) -> None:
        with self._changed:
            self.acks[mid] = int(reason.value)
            self._changed.notify_all()

    def _on_message(self, _c: Any, _u: Any, message: paho.MQTTMessage) -> None:
        with self._changed:
            self.received.append((message.topic, message.payload.decode()))
            self._changed.notify_all()

    def publish(self, topic: str, payload: Any, *, retain: bool = False) -> int:
        text = payload if isinstance(payload, str) else json.dumps(payload)
        info = self.client.publish(topic, text, qos=1, retain=retain)
        with self._changed:
            assert self._changed.wait_for(lambda: info.mid in self.acks, 10), f"no PUBACK for {topic}"
            return self.acks[info.mid]

    def subscribe(self, topic: str) -> None:
        self.client.subscribe(topic, qos=1)

    def wait_for(self, predicate: Callable[[list[tuple[str, str]]], bool], timeout_s: float = 15.0) -> None:
        with self._changed:
            assert self._changed.wait_for(lambda: predicate(self.received), timeout_s), self.received

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def devices() -> Iterator[Callable[[Broker, str], Device]]:
    made: list[Device] = []

    def connect(broker: Broker, user: str) -> Device:
        made.append(Device(broker, user))
        return made[-1]

    yield connect
    for device in made:
        device.close()


# ----------------------------------------------------------------------------- GasGuard


def on_loop(client: TestClient, call: Callable[[], Any]) -> Any:
    async def run() -> Any:
        return call()

    assert client.portal is not None
    return client.portal.call(run)


def wait_until(client: TestClient, predicate: Callable[[], Any], what: str, timeout_s: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = on_loop(client, predicate)
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"not reached in {timeout_s:g} s: {what}")


@dataclass
class Served:
    client: TestClient
    services: Services
    runtime: Runtime

    def health(self) -> dict[str, Any]:
        """``GET /api/v1/health`` as a signed-in viewer (details are for signed-in people)."""
        login = self.client.post("/api/v1/auth/login", json={"username": "vic", "password": VIEWER_PASSWORD})
        assert login.status_code == 200, login.text
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        body: dict[str, Any] = self.client.get("/api/v1/health", headers=headers).json()
        return body

    def mqtt_health(self) -> dict[str, Any]:
        component: dict[str, Any] = self.health()["components"]["mqtt"]
        return component

    def wait_probed(self) -> dict[str, Any]:
        deadline = time.monotonic() + 15
        while (component := self.mqtt_health())["detail"]["anonymous"] == "unknown":
            assert time.monotonic() < deadline, component
            time.sleep(0.1)
        return component


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., Served]]:
    """Start GasGuard (``build_live_app``) with the given settings; stopped at the end of the test."""
    started: list[tuple[Any, Services]] = []

    def start(**settings: Any) -> Served:
        data = tmp_path / f"gasguard-{len(started)}"
        data.mkdir()
        app, services, runtime = build_live_app(parse_site_config(SITE), make_settings(data, **settings))
        with services.session_factory() as session, session.begin():
            create_user(session, username="vic", password=VIEWER_PASSWORD, role=Role.VIEWER, now=time.time())
        context = TestClient(app)  # type: ignore[arg-type]
        client = context.__enter__()
        started.append((context, services))
        served = Served(client=client, services=services, runtime=runtime)
        wait_until(client, lambda: runtime.sources["mqtt"].detail()["connected"], "the MQTT source connected")
        time.sleep(0.3)  # connected is set just before the subscription is acknowledged
        return served

    yield start
    for context, services in reversed(started):
        context.__exit__(None, None, None)
        services.dispose()


# ----------------------------------------------------------------------------- tests


def test_the_documented_broker_refuses_clients_without_credentials(secure_broker: Broker) -> None:
    anonymous = BrokerAddress("127.0.0.1", secure_broker.port)
    assert asyncio.run(probe_anonymous(anonymous)) == (AnonymousAccess.REFUSED, None)

    async def connect(broker: BrokerAddress) -> None:
        async with make_client(broker, client_id=f"t-{uuid.uuid4().hex[:6]}", availability_topic=None):
            pass

    for refused in (anonymous, parse_mqtt_url(f"mqtt://gasguard:wrong-password@127.0.0.1:{secure_broker.port}")):
        with pytest.raises(aiomqtt.MqttCodeError) as info:
            asyncio.run(connect(refused))
        assert "Not authorized" in str(info.value)
    asyncio.run(connect(parse_mqtt_url(secure_broker.url("gasguard"))))  # the right password gets in


def test_a_detector_cannot_publish_for_another_detectors_channel_or_a_valve(
    secure_broker: Broker, serve: Callable[..., Served], devices: Callable[[Broker, str], Device]
) -> None:
    valve = devices(secure_broker, "kitchen-valve")
    valve.subscribe(f"{KITCHEN_VALVE}/set")
    assert valve.publish(f"{KITCHEN_VALVE}/state", "open", retain=True) < 128
    gasguard = serve(mqtt_url=secure_broker.url("gasguard"), mqtt_topic_prefix="gasguard")
    runtime, client = gasguard.runtime, gasguard.client
    kitchen = devices(secure_broker, "kitchen-detector")
    boiler = devices(secure_broker, "boiler-detector")

    # The kitchen detector's 30 %LEL reaches the safety core and trips the kitchen.
    assert kitchen.publish(READING.format(zone="kitchen", channel="kitchen-ch1"), {"ppm": 15000}) < 128
    wait_until(client, lambda: runtime.services.plant.zone_view("kitchen")["tripped"], "the kitchen tripped")
    received = runtime.sources["mqtt"].detail()["received"]

    # The boiler detector's "no gas" for the kitchen channel, and a faked "open" valve, are refused by the
    # broker and never reach GasGuard; its own channel gets through.
    assert boiler.publish(READING.format(zone="kitchen", channel="kitchen-ch1"), {"ppm": 0}) == NOT_AUTHORIZED
    assert boiler.publish(f"{KITCHEN_VALVE}/state", "open") == NOT_AUTHORIZED
    assert boiler.publish(f"{KITCHEN_VALVE}/set", "OPEN") == NOT_AUTHORIZED
    assert kitchen.publish(READING.format(zone="boiler", channel="boiler-ch1"), {"ppm": 0}) == NOT_AUTHORIZED
    assert boiler.publish(READING.format(zone="boiler", channel="boiler-ch1"), {"ppm": 250}) < 128
    wait_until(
        client, lambda: runtime.services.plant.channel_reading("boiler-ch1")["value"] == 250.0, "boiler-ch1 read 250"
    )
    assert runtime.sources["mqtt"].detail()["received"] == received + 1
    assert on_loop(client, lambda: runtime.services.plant.channel_reading("kitchen-ch1"))["value"] == 15000.0

    # The valve driver signed in too: the controller, as its own user, received GasGuard's CLOSE.
    valve.wait_for(lambda got: (f"{KITCHEN_VALVE}/set", "CLOSE") in got)

    # Health: GasGuard signed in with the URL's credentials; the broker refuses anonymous clients.
    component = gasguard.wait_probed()
    assert component["status"] == "ok"
    assert component["detail"]["anonymous"] == "refused" and "warning" not in component["detail"]
    assert component["detail"]["broker"] == f"mqtt://gasguard@127.0.0.1:{secure_broker.port}"
    health_text = json.dumps(gasguard.health())
    assert PASSWORDS["gasguard"] not in health_text
    assert PASSWORDS["gasguard"] not in repr(gasguard.services.settings)


def test_gasguard_connects_over_tls_with_the_configured_ca(secure_broker: Broker, tmp_path: Path) -> None:
    assert secure_broker.ca_file is not None
    url = secure_broker.url("gasguard", tls=True)
    settings = make_settings(tmp_path, mqtt_url=url, mqtt_ca_file=secure_broker.ca_file)
    broker = broker_from_settings(settings)
    assert broker is not None and broker.tls and broker.ca_file == secure_broker.ca_file

    async def scenario() -> list[tuple[str, float | None]]:
        source = MqttReadingSource(broker, prefix="gasguard")
        got: list[tuple[str, float | None]] = []

        async def consume() -> None:
            async for incoming in source:
                got.extend((r.channel, r.value) for r in incoming.parsed.readings)
                return

        task = asyncio.create_task(consume())
        async with asyncio.timeout(15):
            while not source.stats.connected:
                assert source.stats.connect_failures == 0, source.stats.last_error
                await asyncio.sleep(0.02)
            await asyncio.sleep(0.2)
            detector = parse_mqtt_url(
                f"mqtts://kitchen-detector:{PASSWORDS['kitchen-detector']}@127.0.0.1:{secure_broker.tls_port}",
                ca_file=secure_broker.ca_file,
            )
            async with make_client(detector, client_id="tls-detector", availability_topic=None) as device:
                await device.publish(READING.format(zone="kitchen", channel="kitchen-ch2"), b'{"ppm": 42}', qos=1)
            await task
        return got

    assert asyncio.run(scenario()) == [("kitchen-ch2", 42.0)]

    # The broker's certificate is really checked: without the test CA (system CAs only) it is refused.
    async def without_ca() -> None:
        async with make_client(parse_mqtt_url(url), client_id="no-ca", availability_topic=None):
            pass

    with pytest.raises(aiomqtt.MqttError, match=r"CERTIFICATE_VERIFY_FAILED|certificate verify failed"):
        asyncio.run(without_ca())


def test_health_warns_about_an_anonymous_broker(open_broker: Broker, serve: Callable[..., Served]) -> None:
    gasguard = serve(mqtt_url=open_broker.url(), mqtt_topic_prefix=f"gg-{uuid.uuid4().hex[:8]}")
    component = gasguard.wait_probed()
    assert component["status"] == "degraded"
    assert component["detail"]["warning"] == INSECURE_WARNING == "insecure (anonymous broker)"
    assert component["detail"]["anonymous"] == "allowed"
    assert gasguard.health()["status"] == "degraded"


@pytest.mark.parametrize("publish_audit", [False, True], ids=["default", "GASGUARD_MQTT_PUBLISH_AUDIT"])
def test_audit_events_reach_the_broker_only_when_configured_and_never_with_addresses(
    secure_broker: Broker,
    serve: Callable[..., Served],
    devices: Callable[[Broker, str], Device],
    publish_audit: bool,
) -> None:
    gasguard = serve(mqtt_url=secure_broker.url("gasguard"), mqtt_publish_audit=publish_audit)
    listener = devices(secure_broker, "gasguard")
    listener.subscribe("gasguard/events/#")
    time.sleep(0.3)
    failed = gasguard.client.post("/api/v1/auth/login", json={"username": "vic", "password": "not the password"})
    assert failed.status_code == 401
    # A later event of another kind: once it is on the broker, an audit event sent before it would be too.
    devices(secure_broker, "kitchen-detector").publish(
        READING.format(zone="kitchen", channel="kitchen-ch1"), {"ppm": 15000}
    )
    listener.wait_for(lambda got: any(topic == "gasguard/events/alarm" for topic, _ in got))

    audit = [json.loads(payload) for topic, payload in listener.received if topic == "gasguard/events/audit"]
    if not publish_audit:
        assert audit == []
        return
    [event] = [e for e in audit if e["reason"] == "sign-in failed"]
    assert (event["kind"], event["actor"], event["payload"]) == (str(EventKind.AUDIT), "vic", {"accepted": False})
    assert "testclient" not in json.dumps(audit)  # the test client's address, stored but never published
