"""Fault injection: a GasGuard with something broken under it (database, broker, valve, clock, process).

In-process tests run the real runtime (``gasguard.benchmarks.live.serving``: what the web app's
lifespan runs) on a throw-away SQLite file, with instant simulated valves and, where time matters, a
clock the test moves. Tests that need Mosquitto connect to the local broker (``GASGUARD_TEST_MQTT_URL``,
default mqtt://127.0.0.1:1883): unreachable, they skip, or fail under ``CI=true``.
"""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path

import pytest

from gasguard.ingest.mqtt import BrokerAddress, parse_mqtt_url
from gasguard.storage.migrate import upgrade_to_head

BROKER_URL = os.environ.get("GASGUARD_TEST_MQTT_URL", "mqtt://127.0.0.1:1883")


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("faults-template") / "template.db"
    upgrade_to_head(f"sqlite:///{path}")
    return path


@pytest.fixture
def database_url(tmp_path: Path, migrated_template: Path) -> str:
    """A fresh, migrated SQLite database for this test."""
    path = tmp_path / "gasguard.db"
    shutil.copyfile(migrated_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def broker() -> BrokerAddress:
    address = parse_mqtt_url(BROKER_URL)
    try:
        with socket.create_connection((address.host, address.port), timeout=2):
            pass
    except OSError as exc:
        message = f"MQTT broker {address.host}:{address.port} unreachable: {exc}"
        if in_ci():
            pytest.fail(message)
        pytest.skip(message)
    return address
