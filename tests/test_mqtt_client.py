"""The MQTT connection settings without a broker: credentials and TLS from the URL, the password kept out
of logs, health and errors, TLS files refused without TLS, and audit events held back from the broker."""

from __future__ import annotations

import asyncio
import socket
import ssl
from pathlib import Path

import pytest
from pydantic import ValidationError

from gasguard.ingest.mqtt import MqttPublisher
from gasguard.mqtt_client import (
    AnonymousAccess,
    BrokerAddress,
    BrokerSecurity,
    broker_from_settings,
    parse_mqtt_url,
    redact_mqtt_url,
    tls_context,
)
from gasguard.notify import AUDIT_TOPIC, Message
from gasguard.serving import mqtt_health
from gasguard.settings import ServiceSettings
from gasguard.storage.events import EventKind
from gasguard.storage.writer import ComponentStatus

SECRET = "s3cret-Pa55"


def test_the_url_gives_credentials_and_tls_and_never_shows_the_password() -> None:
    broker = parse_mqtt_url(f"mqtts://gasguard:{SECRET}@broker.example")
    assert (broker.host, broker.port, broker.username, broker.password, broker.tls) == (
        "broker.example",
        8883,
        "gasguard",
        SECRET,
        True,
    )
    assert SECRET not in repr(broker)
    assert broker.display == "mqtts://gasguard@broker.example:8883"
    assert (
        redact_mqtt_url(f"mqtts://gasguard:{SECRET}@broker.example:8883") == "mqtts://gasguard:***@broker.example:8883"
    )
    with pytest.raises(ValueError) as info:
        parse_mqtt_url(f"tcp://gasguard:{SECRET}@broker")
    assert SECRET not in str(info.value)
    anonymous = broker.anonymous()
    assert (anonymous.username, anonymous.password, anonymous.tls, anonymous.port) == (None, None, True, 8883)


def test_mqtts_verifies_the_broker_certificate_and_its_name() -> None:
    assert tls_context(BrokerAddress("broker")) is None
    context = tls_context(parse_mqtt_url("mqtts://broker"))
    assert context is not None
    assert (context.verify_mode, context.check_hostname) == (ssl.CERT_REQUIRED, True)


def test_settings_keep_the_password_out_of_repr_and_errors(tmp_path: Path) -> None:
    settings = ServiceSettings(data_dir=tmp_path, mqtt_url=f"mqtt://gasguard:{SECRET}@broker:1883")
    assert SECRET not in repr(settings) and SECRET not in str(settings)
    broker = broker_from_settings(settings)
    assert broker is not None and (broker.username, broker.password) == ("gasguard", SECRET)
    with pytest.raises(ValidationError) as info:
        ServiceSettings(data_dir=tmp_path, mqtt_url=f"http://gasguard:{SECRET}@broker")
    assert SECRET not in str(info.value)
    assert ServiceSettings(data_dir=tmp_path).mqtt_publish_audit is False


def test_tls_files_need_an_mqtts_url_and_must_exist(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("not read here")
    with pytest.raises(ValidationError, match="GASGUARD_MQTT_CA_FILE need an mqtts:// GASGUARD_MQTT_URL"):
        ServiceSettings(data_dir=tmp_path, mqtt_url="mqtt://broker", mqtt_ca_file=ca)
    with pytest.raises(ValidationError, match="GASGUARD_MQTT_CLIENT_KEY needs GASGUARD_MQTT_CLIENT_CERT"):
        ServiceSettings(data_dir=tmp_path, mqtt_url="mqtts://broker", mqtt_client_key=ca)
    with pytest.raises(ValidationError, match="GASGUARD_MQTT_CA_FILE: no such file"):
        ServiceSettings(data_dir=tmp_path, mqtt_url="mqtts://broker", mqtt_ca_file=tmp_path / "missing.pem")
    settings = ServiceSettings(data_dir=tmp_path, mqtt_url="mqtts://broker", mqtt_ca_file=ca)
    broker = broker_from_settings(settings)
    assert broker is not None and broker.ca_file == ca


def test_health_says_nothing_is_known_while_the_broker_cannot_be_reached() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    security = BrokerSecurity(parse_mqtt_url(f"mqtt://gasguard:{SECRET}@127.0.0.1:{port}"), timeout_s=1.0)
    assert asyncio.run(security.probe()) is AnonymousAccess.UNKNOWN
    health = mqtt_health(security)()
    assert health.status is ComponentStatus.OK
    assert health.detail["anonymous"] == "unknown" and "warning" not in health.detail
    assert health.detail["probe_error"]
    assert SECRET not in repr(health.detail)


def test_audit_events_are_withheld_from_mqtt_unless_enabled() -> None:
    assert str(EventKind.AUDIT) == AUDIT_TOPIC
    failed_login = Message(
        AUDIT_TOPIC,
        {
            "kind": "audit",
            "actor": "ada",
            "reason": "sign-in failed",
            "payload": {"client": "10.0.0.7", "accepted": False},
        },
        ts=1.0,
    )
    alarm = Message("alarm", {"zone": "kitchen"}, ts=2.0)

    async def queued(publish_audit: bool) -> MqttPublisher:
        publisher = MqttPublisher(BrokerAddress("127.0.0.1"), publish_audit=publish_audit)
        await publisher.publish(failed_login)
        await publisher.publish(alarm)
        return publisher

    default = asyncio.run(queued(False))
    assert (default.queued, default.withheld) == (1, 1)
    enabled = asyncio.run(queued(True))
    assert (enabled.queued, enabled.withheld) == (2, 0)
