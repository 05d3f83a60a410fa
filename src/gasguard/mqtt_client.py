"""The one way GasGuard connects to an MQTT broker: address, credentials and TLS from one URL.

Every client GasGuard makes (reading ingest, valve actuators, the event publisher, Home Assistant
discovery and commands) is built by ``make_client`` from a ``BrokerAddress``, so a user name, password
and TLS set once in ``GASGUARD_MQTT_URL`` (``mqtts://user:password@host``) apply to every connection;
no component can forget them.

The password never leaves this module in readable form: ``BrokerAddress`` hides it from ``repr``, and
``redact_mqtt_url`` and ``BrokerAddress.display`` are what logs and health details show.

``BrokerSecurity`` answers one question an operator cannot easily see: does the broker let in a client
with no credentials at all? If it does, anyone on the network can publish a reading of ``0`` for a
detector that reads 30 %LEL, so health reports the broker as insecure (see ``docs/mqtt-security.md``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import socket
import ssl
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit, urlunsplit

import aiomqtt

if TYPE_CHECKING:
    from gasguard.settings import ServiceSettings

logger = logging.getLogger(__name__)

OFFLINE = "offline"
DEFAULT_PORT = 1883
DEFAULT_TLS_PORT = 8883
INSECURE_WARNING = "insecure (anonymous broker)"

TCP_NODELAY = (socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
"""MQTT packets are small; without it Nagle holds each one back until the broker's delayed ACK (~40 ms),
which caps a QoS 1 subscription at a few hundred messages/s and lets the broker's queue overflow."""

# CONNACK reason codes meaning "you may not connect like that" (MQTT 3.1.1 codes 4 and 5 as paho maps
# them to MQTT 5 codes, and the MQTT 5 codes themselves).
_REFUSED_CODES = frozenset({4, 5, 134, 135})


@dataclass(frozen=True, slots=True)
class BrokerAddress:
    """Where the broker is and how to sign in; ``tls`` is set by the ``mqtts://`` scheme."""

    host: str
    port: int = DEFAULT_PORT
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    tls: bool = False
    ca_file: Path | None = None
    """CA bundle to verify the broker with (default: the system's CAs)."""
    cert_file: Path | None = None
    """Client certificate, for a broker that wants one (``require_certificate true``)."""
    key_file: Path | None = None

    @property
    def display(self) -> str:
        """The broker as logs and health show it: scheme, user and address, never the password.

        >>> BrokerAddress("broker", 8883, "gasguard", "s3cret", tls=True).display
        'mqtts://gasguard@broker:8883'
        """
        user = f"{self.username}@" if self.username else ""
        return f"{'mqtts' if self.tls else 'mqtt'}://{user}{self.host}:{self.port}"

    def anonymous(self) -> BrokerAddress:
        """The same broker and TLS settings with no credentials (no password, no client certificate)."""
        return dataclasses.replace(self, username=None, password=None, cert_file=None, key_file=None)


def parse_mqtt_url(
    url: str, *, ca_file: Path | None = None, cert_file: Path | None = None, key_file: Path | None = None
) -> BrokerAddress:
    """``mqtt://user:password@host:1883`` or ``mqtts://host:8883`` as a ``BrokerAddress``.

    The error message never repeats the URL: it may hold a password.

    >>> parse_mqtt_url("mqtts://gasguard:p%40ss@broker.example").port
    8883
    """
    parts = urlsplit(url)
    if parts.scheme not in {"mqtt", "mqtts"} or not parts.hostname:
        raise ValueError(
            f"MQTT URL must look like mqtt://[user:password@]host[:port] or mqtts://..., got {redact_mqtt_url(url)!r}"
        )
    tls = parts.scheme == "mqtts"
    if not tls and (ca_file or cert_file or key_file):
        raise ValueError("a CA file or client certificate needs an mqtts:// URL (TLS)")
    return BrokerAddress(
        host=parts.hostname,
        port=parts.port or (DEFAULT_TLS_PORT if tls else DEFAULT_PORT),
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        tls=tls,
        ca_file=ca_file,
        cert_file=cert_file,
        key_file=key_file,
    )


def redact_mqtt_url(url: str) -> str:
    """The URL with its password replaced by ``***``, safe to log or show.

    >>> redact_mqtt_url("mqtts://gasguard:s3cret@broker:8883")
    'mqtts://gasguard:***@broker:8883'
    >>> redact_mqtt_url("mqtt://broker")
    'mqtt://broker'
    """
    try:
        parts = urlsplit(url)
        has_password = parts.password is not None
    except ValueError:
        return "<unreadable MQTT URL>"
    if not has_password:
        return url
    userinfo, _, hostport = parts.netloc.rpartition("@")
    user = userinfo.split(":", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{hostport}"))


def broker_from_settings(settings: ServiceSettings) -> BrokerAddress | None:
    """The broker the service settings name (URL plus TLS files), or ``None`` when MQTT is off."""
    if not settings.mqtt_url:
        return None
    return parse_mqtt_url(
        settings.mqtt_url,
        ca_file=settings.mqtt_ca_file,
        cert_file=settings.mqtt_client_cert,
        key_file=settings.mqtt_client_key,
    )


def tls_context(broker: BrokerAddress) -> ssl.SSLContext | None:
    """A verifying TLS context for ``mqtts://`` (host name and certificate checked), else ``None``."""
    if not broker.tls:
        return None
    context = ssl.create_default_context(cafile=str(broker.ca_file) if broker.ca_file else None)
    if broker.cert_file is not None:
        context.load_cert_chain(str(broker.cert_file), str(broker.key_file) if broker.key_file else None)
    return context


def make_client(
    broker: BrokerAddress,
    *,
    client_id: str,
    availability_topic: str | None,
    timeout_s: float = 10.0,
    clean_session: bool | None = None,
) -> aiomqtt.Client:
    """An aiomqtt client with GasGuard's defaults: the broker's credentials and TLS, a last will on the
    availability topic, no Nagle delay. ``clean_session=False`` asks the broker to keep the session
    (subscriptions and queued QoS 1 messages) while the client is away: a zone worker's readings."""
    will = aiomqtt.Will(availability_topic, OFFLINE, qos=1, retain=True) if availability_topic else None
    return aiomqtt.Client(
        broker.host,
        broker.port,
        username=broker.username,
        password=broker.password,
        identifier=client_id,
        will=will,
        keepalive=30,
        timeout=timeout_s,
        tls_context=tls_context(broker),
        socket_options=[TCP_NODELAY],
        clean_session=clean_session,
    )


async def publish_command(
    ready: asyncio.Event,
    client: Callable[[], aiomqtt.Client | None],
    broker: BrokerAddress,
    topic: str,
    payload: str,
    timeout_s: float,
) -> str | None:
    """Publish one device command (QoS 1, never retained) once the connection is up.

    Returns ``None`` when the broker took it, else why not, for the driver to raise as its own error:
    valves and outputs fail differently, but must never wait longer than ``timeout_s``.
    """
    try:
        async with asyncio.timeout(timeout_s):
            await ready.wait()
            connected = client()
            if connected is None:
                raise aiomqtt.MqttError("connection closed")
            await connected.publish(topic, payload, qos=1, retain=False)
    except TimeoutError:
        state = "not acknowledged" if ready.is_set() else "broker not connected"
        return f"{state} within {timeout_s:g} s ({broker.host}:{broker.port})"
    except aiomqtt.MqttError as exc:
        return str(exc)
    return None


class AnonymousAccess(StrEnum):
    """Whether the broker lets in a client that presents no credentials."""

    ALLOWED = "allowed"
    REFUSED = "refused"
    UNKNOWN = "unknown"  # not checked yet, or the broker could not be reached


async def probe_anonymous(broker: BrokerAddress, *, timeout_s: float = 5.0) -> tuple[AnonymousAccess, str | None]:
    """Try one connection without credentials (same host, port and TLS) and say how the broker answered.

    Returns the answer and, for ``UNKNOWN``, why it could not tell.
    """
    client = make_client(
        broker.anonymous(),
        client_id=f"gasguard-probe-{uuid.uuid4().hex[:8]}",
        availability_topic=None,
        timeout_s=timeout_s,
    )
    try:
        async with asyncio.timeout(timeout_s + 1.0), client:
            pass
    except aiomqtt.MqttCodeError as exc:  # the CONNACK refusal (MqttConnectError) is one of these
        code = getattr(exc.rc, "value", exc.rc)
        if code in _REFUSED_CODES:
            return AnonymousAccess.REFUSED, None
        return AnonymousAccess.UNKNOWN, str(exc)[:300]
    except (aiomqtt.MqttError, OSError, TimeoutError) as exc:
        return AnonymousAccess.UNKNOWN, f"{type(exc).__name__}: {exc}"[:300]
    return AnonymousAccess.ALLOWED, None


@dataclass
class BrokerSecurity:
    """The cached answer of the anonymous-access probe for one broker, for the health check.

    ``run`` probes at start, retries every ``retry_s`` while the broker cannot be reached, and then
    re-checks every ``recheck_s``: a broker made secure later clears the warning without a restart.
    """

    broker: BrokerAddress
    retry_s: float = 30.0
    recheck_s: float = 3600.0
    timeout_s: float = 5.0
    anonymous: AnonymousAccess = AnonymousAccess.UNKNOWN
    checked_at: float | None = None
    error: str | None = None

    async def probe(self) -> AnonymousAccess:
        answer, error = await probe_anonymous(self.broker, timeout_s=self.timeout_s)
        if answer is AnonymousAccess.ALLOWED and self.anonymous is not AnonymousAccess.ALLOWED:
            logger.warning(
                "MQTT broker %s accepts clients without credentials: anyone who can reach it can publish "
                "readings and valve states; set allow_anonymous false (see docs/mqtt-security.md)",
                self.broker.display,
            )
        elif answer is AnonymousAccess.UNKNOWN:
            logger.info(
                "cannot tell yet whether MQTT broker %s refuses anonymous clients: %s", self.broker.display, error
            )
        self.anonymous, self.error, self.checked_at = answer, error, time.time()
        return answer

    async def run(self) -> None:
        while True:
            answer = await self.probe()
            await asyncio.sleep(self.retry_s if answer is AnonymousAccess.UNKNOWN else self.recheck_s)

    @property
    def insecure(self) -> bool:
        return self.anonymous is AnonymousAccess.ALLOWED

    def detail(self) -> dict[str, Any]:
        """What health shows about the broker connection (never the password)."""
        detail: dict[str, Any] = {
            "broker": self.broker.display,
            "tls": self.broker.tls,
            "credentials": self.broker.username is not None or self.broker.cert_file is not None,
            "anonymous": str(self.anonymous),
            "checked_at": self.checked_at,
        }
        if self.insecure:
            detail["warning"] = INSECURE_WARNING
        if self.error:
            detail["probe_error"] = self.error
        return detail
