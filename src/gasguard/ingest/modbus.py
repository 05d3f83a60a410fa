"""Modbus TCP polling of gas detector channels (input registers) with pymodbus.

Every channel with a ``modbus:`` block in the site configuration is read on its own ``poll_s``
cadence. Channels are grouped by device connection: one TCP connection per ``(host, port)``, and each
request names the channel's ``unit``, so a gateway with several detectors behind it costs one socket.
Each channel is read with its own request: a misconfigured register then faults only its own
channel, not its neighbours.

What a channel's reading means: ``raw * scale + offset`` in the channel's configured unit (ppm,
lel_pct or raw; a raw channel's calibration is applied later by the safety core). A float32 that is
NaN or infinite becomes ``Reading(value=None)``: the device said something, and it is garbage, so the
core puts the channel in FAULT at once.

What happens on trouble: a read that fails (timeout, exception response, short answer, lost
connection) submits nothing for that channel. The safety core then sees no fresh reading and, after
the channel's ``stale_timeout_s``, marks it STALE, which is a FAULT that votes to trip (unless the
zone's fault policy says otherwise). Nothing here guesses a value. A lost connection is re-opened
with exponential backoff (0.5 s doubling to 30 s). The poller never raises out of ``run``: errors are
counted in ``stats``, logged once per change, and shown by ``health()``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import struct
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ModbusException

from gasguard.config import ModbusChannelSource, SiteConfig, WordOrder
from gasguard.domain import Reading

logger = logging.getLogger(__name__)

BACKOFF_INITIAL_S = 0.5
BACKOFF_MAX_S = 30.0


@dataclass(frozen=True, slots=True)
class ModbusChannel:
    """One configured channel that is read over Modbus TCP, with where it lives in the site."""

    site: str
    zone: str
    channel: str
    source: ModbusChannelSource


def modbus_channels(site: SiteConfig) -> list[ModbusChannel]:
    """Every channel of ``site`` that has a ``modbus:`` block, in configuration order."""
    return [
        ModbusChannel(entry.id, zone.id, channel.id, channel.modbus)
        for entry, zone in site.zones()
        for channel in zone.channels
        if channel.modbus is not None
    ]


def decode_registers(registers: Sequence[int], source: ModbusChannelSource) -> float | None:
    """The channel value from raw registers: ``raw * scale + offset``; ``None`` for NaN or infinity.

    >>> from gasguard.config import ModbusChannelSource
    >>> decode_registers([250], ModbusChannelSource(host="d", register=0, scale=0.1))
    25.0
    >>> decode_registers([0x41C8, 0x0000], ModbusChannelSource(host="d", register=0, count=2))
    25.0
    >>> decode_registers([0x0000, 0x41C8], ModbusChannelSource(host="d", register=0, count=2, word_order="little"))
    25.0
    >>> decode_registers([0xFFFF], ModbusChannelSource(host="d", register=0, signed=True))
    -1.0
    """
    if len(registers) < source.count:
        raise ValueError(f"expected {source.count} register(s), got {len(registers)}")
    words = [int(word) & 0xFFFF for word in registers[: source.count]]
    if source.count == 2:
        if source.word_order is WordOrder.LITTLE:
            words.reverse()
        raw = float(struct.unpack(">f", struct.pack(">HH", *words))[0])
    elif source.signed:
        raw = float(struct.unpack(">h", struct.pack(">H", words[0]))[0])
    else:
        raw = float(words[0])
    value = raw * source.scale + source.offset
    return value if math.isfinite(value) else None


class ModbusClient(Protocol):
    """The part of pymodbus's ``AsyncModbusTcpClient`` the poller uses (tests may pass a fake)."""

    @property
    def connected(self) -> bool: ...

    async def connect(self) -> bool: ...

    def close(self) -> None: ...

    def read_input_registers(self, address: int, *, count: int = 1, device_id: int = 1) -> Awaitable[Any]: ...


ClientFactory = Callable[[str, int, float], ModbusClient]


def default_client(host: str, port: int, timeout_s: float) -> ModbusClient:
    """A pymodbus TCP client that never reconnects or retries by itself: the poller decides both."""
    return AsyncModbusTcpClient(host, port=port, timeout=timeout_s, retries=0, reconnect_delay=0)


@dataclass
class ModbusStats:
    """Counters over all device connections.

    ``polls`` counts reads that produced a reading; ``errors`` counts failed reads and failed connects;
    ``connected`` is true while every device connection is up.
    """

    polls: int = 0
    errors: int = 0
    connected: bool = False
    last_error: str | None = None


@dataclass
class _ChannelState:
    spec: ModbusChannel
    next_due: float = 0.0
    failing: bool = False
    last_error: str | None = None
    last_value: float | None = None
    last_read_at: float | None = None


@dataclass
class _Link:
    """One TCP connection to a device or gateway and the channels read through it."""

    host: str
    port: int
    channels: list[_ChannelState]
    client: ModbusClient | None = None
    connected: bool = False
    polls: int = 0
    errors: int = 0
    last_error: str | None = None
    delay_s: float = BACKOFF_INITIAL_S
    reported_down: bool = False
    units: set[int] = field(default_factory=set)


class ModbusPoller:
    """Polls every Modbus channel of a site and submits a ``Reading`` per successful read."""

    def __init__(
        self,
        site: SiteConfig,
        *,
        clock: Callable[[], float] = time.time,
        client_factory: ClientFactory = default_client,
        backoff_initial_s: float = BACKOFF_INITIAL_S,
        backoff_max_s: float = BACKOFF_MAX_S,
    ) -> None:
        self.clock = clock
        self.stats = ModbusStats()
        self._client_factory = client_factory
        self._backoff_initial_s = backoff_initial_s
        self._backoff_max_s = backoff_max_s
        links: dict[tuple[str, int], _Link] = {}
        for spec in modbus_channels(site):
            key = (spec.source.host, spec.source.port)
            link = links.setdefault(key, _Link(host=key[0], port=key[1], channels=[], delay_s=backoff_initial_s))
            link.channels.append(_ChannelState(spec))
            link.units.add(spec.source.unit)
        self._links = list(links.values())

    @property
    def channel_ids(self) -> list[str]:
        return [state.spec.channel for link in self._links for state in link.channels]

    async def run(self, submit: Callable[[Reading], None]) -> None:
        """Poll until cancelled. Returns at once when the site has no Modbus channel."""
        if not self._links:
            logger.info("no Modbus channels configured; poller idle")
            return
        tasks = [asyncio.create_task(self._run_link(link, submit)) for link in self._links]
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            for link in self._links:
                self._drop(link, lost=False)
            self._update_connected()

    def health(self) -> dict[str, Any]:
        """A JSON-ready summary for the health endpoint: per device connection and per failing channel."""
        failing = [state.spec.channel for link in self._links for state in link.channels if state.failing]
        return {
            "ok": not self._links or (self.stats.connected and not failing),
            "connected": self.stats.connected,
            "polls": self.stats.polls,
            "errors": self.stats.errors,
            "last_error": self.stats.last_error,
            "failing_channels": failing,
            "devices": [
                {
                    "host": link.host,
                    "port": link.port,
                    "units": sorted(link.units),
                    "connected": link.connected,
                    "polls": link.polls,
                    "errors": link.errors,
                    "last_error": link.last_error,
                    "channels": [state.spec.channel for state in link.channels],
                }
                for link in self._links
            ],
        }

    # ------------------------------------------------------------------ per connection

    async def _run_link(self, link: _Link, submit: Callable[[Reading], None]) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                if not link.connected and not await self._connect(link):
                    await asyncio.sleep(self._next_delay(link))
                    continue
                now = loop.time()
                for state in link.channels:
                    if state.next_due > now:
                        continue
                    await self._read(link, state, submit)
                    state.next_due = max(state.next_due + state.spec.source.poll_s, loop.time())
                    if not link.connected:
                        break
                if link.connected:
                    wake = min(state.next_due for state in link.channels)
                    await asyncio.sleep(max(0.0, wake - loop.time()))
                else:  # dropped while reading: back off, so a device that accepts and drops is not hammered
                    await asyncio.sleep(self._next_delay(link))
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a bug or an unexpected library error must not stop the polling
                logger.exception("Modbus polling of %s:%d failed unexpectedly", link.host, link.port)
                self._error(link, f"unexpected: {exc!r}"[:300])
                self._drop(link)
                await asyncio.sleep(self._next_delay(link))

    async def _connect(self, link: _Link) -> bool:
        self._drop(link)
        timeout_s = min(state.spec.source.timeout_s for state in link.channels)
        link.client = self._client_factory(link.host, link.port, timeout_s)
        try:
            ok = await asyncio.wait_for(link.client.connect(), timeout_s + 1.0)
        except (TimeoutError, OSError, ModbusException) as exc:
            ok, reason = False, str(exc) or type(exc).__name__
        else:
            reason = "connection refused or host unreachable"
        if not ok or not link.client.connected:
            self._error(link, f"{link.host}:{link.port}: cannot connect: {reason}")
            for state in link.channels:
                state.failing = True
                state.last_error = f"device unreachable: {reason}"
            if not link.reported_down:
                logger.warning(
                    "Modbus device %s:%d unreachable (%s); its channels get no readings", link.host, link.port, reason
                )
                link.reported_down = True
            self._drop(link)
            return False
        link.connected = True
        if link.reported_down:
            logger.info("Modbus device %s:%d reachable again", link.host, link.port)
        link.reported_down = False
        self._update_connected()
        return True

    async def _read(self, link: _Link, state: _ChannelState, submit: Callable[[Reading], None]) -> None:
        source = state.spec.source
        client = link.client
        if client is None:
            return
        try:
            response = await asyncio.wait_for(
                client.read_input_registers(source.address, count=source.count, device_id=source.unit),
                source.timeout_s,
            )
        except TimeoutError:
            self._channel_failed(link, state, f"no answer within {source.timeout_s:g} s")
            return
        except (ModbusException, OSError) as exc:
            self._channel_failed(link, state, f"{type(exc).__name__}: {exc}")
            if not client.connected or isinstance(exc, OSError):
                self._drop(link)
            return
        if response is None or response.isError():
            code = getattr(response, "exception_code", None)
            self._channel_failed(link, state, f"device refused the read (exception code {code})")
            return
        registers = list(getattr(response, "registers", []) or [])
        try:
            value = decode_registers(registers, source)
        except ValueError as exc:
            self._channel_failed(link, state, str(exc))
            return
        link.polls += 1
        link.delay_s = self._backoff_initial_s  # a good read, not just a connect, ends the backoff
        self.stats.polls += 1
        state.last_value = value
        state.last_read_at = self.clock()
        if state.failing:
            logger.info("Modbus channel %s readable again", state.spec.channel)
        state.failing = False
        state.last_error = None
        submit(Reading(state.spec.channel, value, state.last_read_at))

    # ------------------------------------------------------------------ bookkeeping

    def _channel_failed(self, link: _Link, state: _ChannelState, reason: str) -> None:
        source = state.spec.source
        message = (
            f"{state.spec.channel} ({link.host}:{link.port} unit {source.unit} register {source.address}): {reason}"
        )
        self._error(link, message)
        if not state.failing:
            logger.warning("Modbus read failed for %s; no reading submitted (stale -> FAULT)", message)
        state.failing = True
        state.last_error = reason

    def _error(self, link: _Link, message: str) -> None:
        link.errors += 1
        link.last_error = message[:300]
        self.stats.errors += 1
        self.stats.last_error = link.last_error

    def _drop(self, link: _Link, *, lost: bool = True) -> None:
        """Close the connection; ``lost`` marks its channels failing (not on an orderly stop)."""
        if link.client is not None:
            with contextlib.suppress(Exception):
                link.client.close()
        link.client = None
        if link.connected and lost:
            for state in link.channels:
                state.failing = True
        link.connected = False
        self._update_connected()

    def _next_delay(self, link: _Link) -> float:
        delay = link.delay_s
        link.delay_s = min(link.delay_s * 2, self._backoff_max_s)
        return delay

    def _update_connected(self) -> None:
        self.stats.connected = bool(self._links) and all(link.connected for link in self._links)
