"""Shared fixtures. The shared datasets are found through one fixture, ``shared_data``.

Where the data lives: ``GASGUARD_DATA`` if set, else the ``shared/data`` folder beside the checkout.
Under CI (``CI=true``) a missing dataset fails the run instead of skipping.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from gasguard.ingest.mqtt import BrokerAddress, parse_mqtt_url

REPO_ROOT = Path(__file__).resolve().parents[1]


def _data_root() -> Path:
    env = os.environ.get("GASGUARD_DATA")
    if env:
        return Path(env)
    return REPO_ROOT.parent / "shared" / "data"


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Root of the shared datasets (``multimodalgasdata/``, ``gas-sensor-array-drift/``)."""
    root = _data_root()
    if not root.is_dir():
        message = f"shared datasets not found at {root} (set GASGUARD_DATA)"
        if in_ci():
            pytest.fail(message)
        pytest.skip(message)
    return root


TEST_MQTT_URL = os.environ.get("GASGUARD_TEST_MQTT_URL", "mqtt://127.0.0.1:1883")


@pytest.fixture
def broker() -> BrokerAddress:
    """The test MQTT broker (``GASGUARD_TEST_MQTT_URL``, default the local Mosquitto).

    Unreachable: the test skips with the reason, or fails under ``CI=true``.
    """
    address = parse_mqtt_url(TEST_MQTT_URL)
    try:
        with socket.create_connection((address.host, address.port), timeout=2):
            pass
    except OSError as exc:
        message = f"MQTT broker {address.host}:{address.port} unreachable: {exc}"
        if in_ci():
            pytest.fail(message)
        pytest.skip(message)
    return address
