"""Failover with real processes: two ``gasguard serve --role worker`` on the real PostgreSQL (a fresh
database) and the real Mosquitto. The owner of a tripped zone is killed with SIGKILL; the standby must
own the zone within 10 s, restore it tripped with its valve commanded closed (CLOSE on the valve's MQTT
topic), and store every reading the broker acknowledged after the takeover (and, through the zone's
persistent session, the ones sent while nobody owned the zone).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import pytest
from sqlalchemy import Engine, create_engine, text

from gasguard.config import load_site_config
from gasguard.ingest.mqtt import BrokerAddress
from gasguard.safety.interlock import cold_start
from gasguard.safety.snapshot import to_snapshot
from gasguard.storage.migrate import upgrade_to_head

pytestmark = [pytest.mark.server, pytest.mark.timeout(180)]

TAKEOVER_LIMIT_S = 10.0

SITE = """
sites:
  - id: {site}
    zones:
      - id: kitchen
        fault_policy: alarm      # only gas trips it in this test, not a stale or warming-up channel
        warmup_policy: alarm
        close_reassert_s: 2
        channels:
          - {{id: kitchen-ch1, gas: methane, unit: ppm, valid_range: {{min: 0, max: 50000}}}}
          - {{id: kitchen-ch2, gas: methane, unit: ppm, valid_range: {{min: 0, max: 50000}}}}
        valves:
          - {{id: kitchen-valve, travel_time_s: 1, feedback: false, driver: {{kind: mqtt}}}}
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait(predicate: Callable[[], Any], timeout_s: float, what: str, every_s: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every_s)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


class Valve:
    """Records every command on the zone valve's MQTT ``set`` topic, with when it arrived."""

    def __init__(self, broker: BrokerAddress, topic: str) -> None:
        self.commands: list[tuple[float, str]] = []
        self._lock = threading.Lock()
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=f"test-valve-{uuid.uuid4().hex[:6]}")
        self.client.on_message = self._on_message
        self.client.connect(broker.host, broker.port)
        self.client.subscribe(topic, qos=1)
        self.client.loop_start()

    def _on_message(self, _client: Any, _userdata: Any, message: paho.MQTTMessage) -> None:
        with self._lock:
            self.commands.append((time.time(), message.payload.decode()))

    def since(self, t: float) -> list[str]:
        with self._lock:
            return [cmd for ts, cmd in self.commands if ts >= t]

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


class Detector:
    """Publishes readings at QoS 1 and waits for the broker's PUBACK: an acknowledged reading."""

    def __init__(self, broker: BrokerAddress, prefix: str) -> None:
        self.prefix = prefix
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=f"test-detector-{uuid.uuid4().hex[:6]}")
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()

    def publish(self, channel: str, ppm: float, ts: float) -> None:
        topic = f"{self.prefix}/kitchen/{channel}/reading"
        info = self.client.publish(topic, json.dumps({"ts": ts, "ppm": ppm}), qos=1)
        info.wait_for_publish(timeout=5)
        assert info.is_published(), "the broker did not acknowledge the reading"

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


class Workers:
    """``gasguard serve --role worker`` subprocesses, their logs kept for a failure message."""

    def __init__(self, folder: Path, env: dict[str, str], site_file: Path) -> None:
        self.folder = folder
        self.env = env
        self.site_file = site_file
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str) -> subprocess.Popen[bytes]:
        log = (self.folder / f"{name}.log").open("wb")
        command = [sys.executable, "-m", "gasguard", "serve", "--role", "worker", "--config", str(self.site_file)]
        command += ["--port", str(_free_port()), "--no-migrate"]
        process = subprocess.Popen(command, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        self.processes[name] = process
        return process

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text()[-4000:]}" for p in sorted(self.folder.glob("*.log")))

    def stop_all(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _lease(engine: Engine, zone: str) -> tuple[str, int, float, float] | None:
    """(owner, token, acquired_at, expires_in_s) of a live lease, or ``None``."""
    with engine.connect() as connection:
        row = connection.execute(
            text(
                "SELECT owner, token, acquired_at, expires_at - extract(epoch from clock_timestamp())::float8 "
                "FROM zone_leases WHERE zone = :zone"
            ),
            {"zone": zone},
        ).first()
    if row is None or row[3] <= 0:
        return None
    return str(row[0]), int(row[1]), float(row[2]), float(row[3])


def _stored_tripped(engine: Engine, zone: str) -> bool:
    with engine.connect() as connection:
        data = connection.execute(text("SELECT data FROM safety_snapshots WHERE scope = :s"), {"s": zone}).scalar()
    return bool(data and data["zones"][zone]["tripped"])


def _stored_values(engine: Engine, channel: str) -> set[float]:
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT value FROM readings WHERE channel = :c"), {"c": channel}).scalars()
        return {float(v) for v in rows}


@pytest.fixture
def plant(tmp_path: Path, fresh_postgres: str, broker: BrokerAddress) -> Iterator[dict[str, Any]]:
    """A one-zone site on a fresh database, its kitchen seeded as healthy (not tripped, valve open)."""
    site_id = f"failover{uuid.uuid4().hex[:8]}"  # its own topics and zone session on the shared broker
    site_file = tmp_path / "site.yaml"
    site_file.write_text(SITE.format(site=site_id))
    upgrade_to_head(fresh_postgres)
    engine = create_engine(fresh_postgres)
    spec = load_site_config(site_file).plant_spec()
    snapshot = to_snapshot(cold_start(spec, time.time())[0])
    kitchen = snapshot["zones"]["kitchen"]
    kitchen.update(tripped=False, trip_cause=None)
    kitchen["valves"]["kitchen-valve"].update(state="open", open_permitted=True)
    for alarm in kitchen["alarms"].values():
        alarm.update(active=False, acked=True, detail="")
    with engine.begin() as connection:
        connection.execute(
            text("INSERT INTO safety_snapshots (scope, saved_at, data) VALUES ('kitchen', :t, CAST(:d AS JSON))"),
            {"t": time.time(), "d": json.dumps(snapshot)},
        )
    env = {
        **os.environ,
        "GASGUARD_DATABASE_URL": fresh_postgres,
        "GASGUARD_MQTT_URL": f"mqtt://{broker.host}:{broker.port}",
        "GASGUARD_DATA_DIR": str(tmp_path / "data"),
        "GASGUARD_SECRET_KEY": uuid.uuid4().hex * 2,
    }
    workers = Workers(tmp_path, env, site_file)
    valve = Valve(broker, f"gasguard/{site_id}/kitchen/valve/set")
    detector = Detector(broker, f"gasguard/{site_id}")
    try:
        yield {"engine": engine, "workers": workers, "valve": valve, "detector": detector}
    finally:
        workers.stop_all()
        valve.close()
        detector.close()
        engine.dispose()


def test_failover_kill_9_of_the_owner_of_a_tripped_zone(plant: dict[str, Any]) -> None:
    engine: Engine = plant["engine"]
    workers: Workers = plant["workers"]
    valve: Valve = plant["valve"]
    detector: Detector = plant["detector"]
    try:
        first = workers.start("worker-a")
        owner_a = _wait(lambda: _lease(engine, "kitchen"), 30, "worker-a to own the kitchen")[0]
        assert f":{first.pid}:" in owner_a
        second = workers.start("worker-b")
        time.sleep(3)  # worker-b is up and polling as the standby
        assert second.poll() is None and _lease(engine, "kitchen")[0] == owner_a  # type: ignore[index]
        assert "CLOSE" not in valve.since(0)  # restored healthy: the valve stays as it was

        # Gas at 60 %LEL (30,000 ppm methane): the kitchen trips and its valve is closed.
        detector.publish("kitchen-ch1", 30_000, time.time())
        _wait(lambda: "CLOSE" in valve.since(0), 10, "CLOSE on the valve topic after the trip")
        _wait(lambda: _stored_tripped(engine, "kitchen"), 10, "the tripped snapshot stored")

        killed_at = time.time()
        first.send_signal(signal.SIGKILL)
        first.wait()
        # Readings sent while nobody owns the zone: queued in the zone's persistent session.
        during = [float(v) for v in range(101, 106)]
        for value in during:
            detector.publish("kitchen-ch2", value, time.time())

        lease = _wait(
            lambda: (found := _lease(engine, "kitchen")) is not None and found[0] != owner_a and found,
            TAKEOVER_LIMIT_S + 5,
            "the standby to own the kitchen",
        )
        owner_b, token, acquired_at, _left = lease
        takeover_s = acquired_at - killed_at
        print(f"takeover: worker-b owned the kitchen {takeover_s:.2f} s after kill -9 (token {token})")
        assert f":{second.pid}:" in owner_b
        assert token == 2
        assert takeover_s <= TAKEOVER_LIMIT_S

        # Still tripped, valve still commanded closed (re-asserted by the new owner), never opened.
        _wait(lambda: "CLOSE" in valve.since(acquired_at), 5, "CLOSE from the new owner")
        assert "OPEN" not in valve.since(0)
        assert _stored_tripped(engine, "kitchen")

        # Readings the broker acknowledges after the takeover are all stored.
        after = [float(v) for v in range(201, 221)]
        for value in after:
            detector.publish("kitchen-ch2", value, time.time())
        expected = set(during) | set(after)
        _wait(lambda: expected <= _stored_values(engine, "kitchen-ch2"), 15, "every acknowledged reading stored", 0.2)
        assert second.poll() is None
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{workers.logs()}") from None


def test_takeover_after_an_orderly_stop_is_immediate(plant: dict[str, Any]) -> None:
    engine: Engine = plant["engine"]
    workers: Workers = plant["workers"]
    try:
        first = workers.start("worker-a")
        owner_a = _wait(lambda: _lease(engine, "kitchen"), 30, "worker-a to own the kitchen")[0]
        second = workers.start("worker-b")
        time.sleep(3)
        stopped_at = time.time()
        first.send_signal(signal.SIGTERM)
        assert first.wait(timeout=15) == 0
        owner_b, _token, acquired_at, _left = _wait(
            lambda: (found := _lease(engine, "kitchen")) is not None and found[0] != owner_a and found,
            10,
            "the standby to own the kitchen",
        )
        assert f":{second.pid}:" in owner_b
        assert acquired_at - stopped_at < 4.0  # released on the way out: no waiting for the 5 s expiry
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{workers.logs()}") from None


def test_operator_commands_reach_the_owning_worker_once_and_are_refused_without_an_owner(
    plant: dict[str, Any], broker: BrokerAddress
) -> None:
    """The web tier's command path (CommandClient, as ``--role web`` uses it) against a real worker."""
    import asyncio

    from gasguard.domain import OperatorAction, OperatorCommand
    from gasguard.workers.commands import CommandClient, command_key, request_topic, seal
    from gasguard.workers.lease import LeaseTable

    engine: Engine = plant["engine"]
    workers: Workers = plant["workers"]
    valve: Valve = plant["valve"]
    site = load_site_config(workers.site_file)
    site_id = site.sites[0].id
    reason = f"closing for the test {uuid.uuid4().hex[:6]}"
    close = OperatorCommand(OperatorAction.CLOSE, "kitchen-valve", "operator-1", reason)
    key = command_key(workers.env["GASGUARD_SECRET_KEY"])

    async def scenario() -> list[Any]:
        client = CommandClient(broker, site, LeaseTable(engine), prefix="gasguard", key=key)
        running = asyncio.create_task(client.run())
        try:
            await asyncio.wait_for(client._ready.wait(), 10)
            refused = await client.operate(close)  # nobody owns the kitchen yet
            workers.start("worker-a")
            await asyncio.to_thread(_wait, lambda: _lease(engine, "kitchen"), 30, "worker-a to own the kitchen")
            await asyncio.sleep(1.5)  # its command subscription is up
            accepted = await client.operate(close)
            return [refused, accepted]
        finally:
            running.cancel()

    try:
        refused, accepted = asyncio.run(scenario())
        assert not refused.accepted
        assert refused.message == "no worker owns zone kitchen: check the workers"
        assert accepted.accepted, accepted.message
        _wait(lambda: "CLOSE" in valve.since(0), 5, "CLOSE on the valve topic")

        # A request delivered twice (QoS 1 may) is run once; the same answer is sent for both.
        replies: list[bytes] = []
        listener = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=f"test-web-{uuid.uuid4().hex[:6]}")
        listener.on_message = lambda _c, _u, m: replies.append(m.payload)
        listener.connect(broker.host, broker.port)
        listener.subscribe("gasguard/replies/test-dup", qos=1)
        listener.loop_start()
        time.sleep(0.5)
        twice = f"twice {uuid.uuid4().hex[:6]}"
        request = {
            "id": uuid.uuid4().hex,
            "zone": "kitchen",
            "reply_to": "gasguard/replies/test-dup",
            "expires_at": time.time() + 5,
            "command": {"action": "close", "target": "kitchen-valve", "user": "operator-1", "reason": twice},
        }
        topic = request_topic("gasguard", site_id, "kitchen")
        for _ in range(2):
            listener.publish(topic, seal(key, request), qos=1).wait_for_publish(5)
        _wait(lambda: len(replies) >= 2, 10, "two answers")

        # Anything else on the broker (a device, a leaked service password) cannot have a command run:
        # unsigned, signed with another key, or a signed request copied onto another zone's topic.
        forged = f"forged {uuid.uuid4().hex[:6]}"
        attempt = {**request, "id": uuid.uuid4().hex, "command": {**request["command"], "reason": forged}}
        listener.publish(topic, json.dumps(attempt), qos=1).wait_for_publish(5)
        listener.publish(topic, seal(command_key("x" * 64), attempt), qos=1).wait_for_publish(5)
        elsewhere = request_topic("gasguard", site_id, "boiler")
        listener.publish(elsewhere, seal(key, {**attempt, "zone": "boiler"}), qos=1).wait_for_publish(5)
        listener.publish(topic, seal(key, {**attempt, "zone": "boiler"}), qos=1).wait_for_publish(5)
        time.sleep(2)
        listener.loop_stop()
        listener.disconnect()
        assert len(replies) == 2 and replies[0] == replies[1]
        with engine.connect() as connection:
            runs = connection.execute(
                text("SELECT count(*) FROM events WHERE reason = :r AND actor = 'operator-1'"), {"r": twice}
            ).scalar()
            forged_runs = connection.execute(
                text("SELECT count(*) FROM events WHERE reason = :r"), {"r": forged}
            ).scalar()
        assert runs == 1
        assert forged_runs == 0
        assert "refused: bad signature" in workers.logs()
        assert "refused: not a signed envelope" in workers.logs()
        assert "refused: signed for zone 'boiler'" in workers.logs()
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{workers.logs()}") from None


def test_takeover_from_a_paused_owner_which_stops_at_its_own_deadline(plant: dict[str, Any]) -> None:
    """SIGSTOP the owner (a hung machine, a VM paused): the standby takes over after the expiry; when the
    old owner wakes it has already passed its own deadline, drops the zone and sends it no command."""
    engine: Engine = plant["engine"]
    workers: Workers = plant["workers"]
    valve: Valve = plant["valve"]
    detector: Detector = plant["detector"]
    try:
        first = workers.start("worker-a")
        owner_a = _wait(lambda: _lease(engine, "kitchen"), 30, "worker-a to own the kitchen")[0]
        second = workers.start("worker-b")
        time.sleep(3)
        detector.publish("kitchen-ch1", 30_000, time.time())
        _wait(lambda: _stored_tripped(engine, "kitchen"), 10, "the tripped snapshot stored")

        paused_at = time.time()
        first.send_signal(signal.SIGSTOP)
        owner_b, _token, acquired_at, _left = _wait(
            lambda: (found := _lease(engine, "kitchen")) is not None and found[0] != owner_a and found,
            TAKEOVER_LIMIT_S + 5,
            "the standby to own the kitchen",
        )
        assert f":{second.pid}:" in owner_b and acquired_at - paused_at <= TAKEOVER_LIMIT_S
        first.send_signal(signal.SIGCONT)
        log_a = workers.folder / "worker-a.log"
        _wait(lambda: "stops driving zone kitchen" in log_a.read_text(), 5, "worker-a to drop the kitchen")
        time.sleep(2)
        assert first.poll() is None  # still running, now a standby
        assert _lease(engine, "kitchen") is not None and _lease(engine, "kitchen")[0] == owner_b  # type: ignore[index]
        assert _stored_tripped(engine, "kitchen")
        assert "OPEN" not in valve.since(0)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{workers.logs()}") from None
