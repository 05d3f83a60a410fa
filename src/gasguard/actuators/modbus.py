"""A gas valve on a Modbus TCP coil, with its limit switches on discrete inputs.

Wiring convention: the coil energises the valve's solenoid, and the valve is normally closed, so the
coil is written **True to OPEN and False to CLOSE**. Losing power, the relay or the controller then
leaves the valve closed (the configuration refuses this driver on a normally-open valve).

``drive`` returns once the device acknowledged the coil write; it raises ``ValveDriverError`` when the
device does not answer within ``timeout_s``, refuses the write (a Modbus exception response) or cannot
be reached, so ``RetryingValve`` retries and then raises a VALVE FAULT in the safety core.

Position feedback (``run``): the limit switches are read every ``poll_s`` and reported as
``ValveFeedback`` when the position changes:

=================  ===================  ==========================================
open switch        closed switch        reported position
=================  ===================  ==========================================
on                 off                  OPEN
off                on                   CLOSED
off                off                  MOVING (between the seats)
on                 on                   UNKNOWN (switches disagree: wiring fault)
(not fitted)       on / off             CLOSED / OPEN ("not closed" counts as open)
=================  ===================  ==========================================

Counting "not closed" as open is the safe reading of a single closed-position switch: the core then
treats a close that never reaches the switch as a VALVE FAULT. When the switches cannot be read for
``feedback_lost_s`` the position is reported UNKNOWN once (the core raises a VALVE FAULT); the next
good read reports the position again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ModbusException

from gasguard.actuators.base import Report, ValveDriverError
from gasguard.config import ModbusValveDriver
from gasguard.domain import ValveAction, ValveFeedback, ValvePosition

logger = logging.getLogger(__name__)

MAX_BITS_PER_READ = 2000  # Modbus limit for one read of discrete inputs


class ValveModbusClient(Protocol):
    """The part of pymodbus's ``AsyncModbusTcpClient`` the valve uses (tests may pass a fake)."""

    @property
    def connected(self) -> bool: ...

    async def connect(self) -> bool: ...

    def close(self) -> None: ...

    def write_coil(self, address: int, value: bool, *, device_id: int = 1) -> Awaitable[Any]: ...

    def read_discrete_inputs(self, address: int, *, count: int = 1, device_id: int = 1) -> Awaitable[Any]: ...


ValveClientFactory = Callable[[str, int, float], ValveModbusClient]


def default_valve_client(host: str, port: int, timeout_s: float) -> ValveModbusClient:
    """A pymodbus TCP client without its own retries or reconnects: ``RetryingValve`` and ``run`` decide."""
    return AsyncModbusTcpClient(host, port=port, timeout=timeout_s, retries=0, reconnect_delay=0)


def position_from_switches(open_on: bool | None, closed_on: bool | None) -> ValvePosition:
    """The valve position the limit switches show (``None`` = switch not fitted); see the module table.

    >>> position_from_switches(False, True)
    <ValvePosition.CLOSED: 'closed'>
    >>> position_from_switches(None, False)
    <ValvePosition.OPEN: 'open'>
    """
    if open_on is None and closed_on is None:
        return ValvePosition.UNKNOWN
    if open_on is None:
        return ValvePosition.CLOSED if closed_on else ValvePosition.OPEN
    if closed_on is None:
        return ValvePosition.OPEN if open_on else ValvePosition.MOVING
    if open_on and closed_on:
        return ValvePosition.UNKNOWN
    if open_on:
        return ValvePosition.OPEN
    if closed_on:
        return ValvePosition.CLOSED
    return ValvePosition.MOVING


class ModbusValve:
    """Drives one valve through a Modbus coil and reports its limit switches (a ``ValveDriver``)."""

    def __init__(
        self,
        valve_id: str,
        config: ModbusValveDriver,
        *,
        client_factory: ValveClientFactory = default_valve_client,
    ) -> None:
        self.valve_id = valve_id
        self.config = config
        self.commands: list[ValveAction] = []
        self.position: ValvePosition | None = None  # last position reported
        self.errors = 0
        self.last_error: str | None = None
        self._client_factory = client_factory
        self._client: ValveModbusClient | None = None
        self._lock = asyncio.Lock()
        self._report: Report | None = None
        self._poke = asyncio.Event()
        self._failing_since: float | None = None

    @property
    def has_feedback(self) -> bool:
        return self.config.feedback_open_input is not None or self.config.feedback_closed_input is not None

    def attach(self, report: Report) -> None:
        """Report positions through ``report`` (``run`` must run for the switches to be read)."""
        self._report = report

    async def drive(self, action: ValveAction) -> None:
        """Write the coil (True = open, False = close); raise ``ValveDriverError`` if the device does not take it."""
        value = action is ValveAction.OPEN
        where = f"{self.valve_id}: write coil {self.config.coil}={value} on {self.config.host}:{self.config.port}"
        async with self._lock:
            client = await self._connected_client(where)
            try:
                response = await asyncio.wait_for(
                    client.write_coil(self.config.coil, value, device_id=self.config.unit), self.config.timeout_s
                )
            except TimeoutError:
                self._close()
                raise self._failed(f"{where}: no answer within {self.config.timeout_s:g} s") from None
            except (ModbusException, OSError) as exc:
                self._close()
                raise self._failed(f"{where}: {type(exc).__name__}: {exc}") from None
            if response is None or response.isError():
                code = getattr(response, "exception_code", None)
                raise self._failed(f"{where}: refused (exception code {code})")
        self.commands.append(action)
        logger.info("valve %s: %s sent (coil %d = %s)", self.valve_id, action.value, self.config.coil, value)
        self._poke.set()  # read the switches now rather than at the next poll

    async def read_position(self) -> ValvePosition:
        """Read the limit switches once; raise ``ValveDriverError`` if they cannot be read."""
        cfg = self.config
        wanted = [a for a in (cfg.feedback_open_input, cfg.feedback_closed_input) if a is not None]
        if not wanted:
            return ValvePosition.UNKNOWN
        where = f"{self.valve_id}: read limit switches on {cfg.host}:{cfg.port}"
        bits: dict[int, bool] = {}
        async with self._lock:
            client = await self._connected_client(where)
            first, last = min(wanted), max(wanted)
            spans = [(first, last - first + 1)] if last - first < MAX_BITS_PER_READ else [(a, 1) for a in wanted]
            for start, count in spans:
                try:
                    response = await asyncio.wait_for(
                        client.read_discrete_inputs(start, count=count, device_id=cfg.unit), cfg.timeout_s
                    )
                except TimeoutError:
                    self._close()
                    raise self._failed(f"{where}: no answer within {cfg.timeout_s:g} s") from None
                except (ModbusException, OSError) as exc:
                    self._close()
                    raise self._failed(f"{where}: {type(exc).__name__}: {exc}") from None
                if response is None or response.isError():
                    code = getattr(response, "exception_code", None)
                    raise self._failed(f"{where}: refused (exception code {code})")
                values = list(getattr(response, "bits", []) or [])
                if len(values) < count:
                    raise self._failed(f"{where}: short answer ({len(values)} of {count} inputs)")
                for i in range(count):
                    bits[start + i] = bool(values[i])
        opened = bits[cfg.feedback_open_input] if cfg.feedback_open_input is not None else None
        closed = bits[cfg.feedback_closed_input] if cfg.feedback_closed_input is not None else None
        return position_from_switches(opened, closed)

    async def run(self) -> None:
        """Watch the limit switches until cancelled. Returns at once for a valve without switches."""
        if not self.has_feedback:
            return
        loop = asyncio.get_running_loop()
        try:
            while True:
                try:
                    position = await self.read_position()
                except ValveDriverError as exc:
                    now = loop.time()
                    if self._failing_since is None:
                        self._failing_since = now
                        logger.warning("%s", exc)
                    if (
                        now - self._failing_since >= self.config.feedback_lost_s
                        and self.position is not ValvePosition.UNKNOWN
                    ):
                        logger.error(
                            "valve %s: limit switches unreadable for %.0f s; position unknown",
                            self.valve_id,
                            now - self._failing_since,
                        )
                        self._publish(ValvePosition.UNKNOWN)
                else:
                    if self._failing_since is not None:
                        logger.info("valve %s: limit switches readable again", self.valve_id)
                    self._failing_since = None
                    if position is not self.position:
                        self._publish(position)
                self._poke.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._poke.wait(), self.config.poll_s)
        finally:
            self._close()

    async def aclose(self) -> None:
        self._close()

    # ------------------------------------------------------------------ helpers

    def _publish(self, position: ValvePosition) -> None:
        self.position = position
        if self._report is not None:
            self._report(ValveFeedback(self.valve_id, position))

    async def _connected_client(self, where: str) -> ValveModbusClient:
        if self._client is not None and self._client.connected:
            return self._client
        self._close()
        self._client = self._client_factory(self.config.host, self.config.port, self.config.timeout_s)
        try:
            ok = await asyncio.wait_for(self._client.connect(), self.config.timeout_s + 1.0)
        except (TimeoutError, OSError, ModbusException) as exc:
            ok, reason = False, str(exc) or type(exc).__name__
        else:
            reason = "connection refused or host unreachable"
        if not ok or not self._client.connected:
            self._close()
            raise self._failed(f"{where}: cannot connect: {reason}")
        return self._client

    def _failed(self, message: str) -> ValveDriverError:
        self.errors += 1
        self.last_error = message[:300]
        return ValveDriverError(message)

    def _close(self) -> None:
        if self._client is not None:
            with contextlib.suppress(Exception):
                self._client.close()
        self._client = None
