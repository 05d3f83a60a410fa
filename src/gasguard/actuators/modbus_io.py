"""One Modbus TCP I/O module as the valve and output drivers use it: coil writes and bit reads.

Every call has one timeout, and every failure is raised as the driver's own error type with a
message that says what was asked of which device ("kv: write coil 7=False on 10.0.0.5:502: no answer
within 2 s"), so the retrying wrappers and the logs read the same for valves and outputs. The client
is made on first use and again after any failure (the module may have restarted); pymodbus's own
retries and reconnects are off, because the drivers decide when to try again.

Callers hold ``lock`` around each exchange (and around a read-then-write), so a heartbeat never
interleaves with a command on the same connection.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any, Literal, Protocol

from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ModbusException

MAX_BITS_PER_READ = 2000  # Modbus limit for one read of coils or discrete inputs


class ModbusBitClient(Protocol):
    """The part of pymodbus's ``AsyncModbusTcpClient`` the drivers use (tests may pass a fake)."""

    @property
    def connected(self) -> bool: ...

    async def connect(self) -> bool: ...

    def close(self) -> None: ...

    def write_coil(self, address: int, value: bool, *, device_id: int = 1) -> Awaitable[Any]: ...

    def read_coils(self, address: int, *, count: int = 1, device_id: int = 1) -> Awaitable[Any]: ...

    def read_discrete_inputs(self, address: int, *, count: int = 1, device_id: int = 1) -> Awaitable[Any]: ...


ClientFactory = Callable[[str, int, float], ModbusBitClient]


def default_client(host: str, port: int, timeout_s: float) -> ModbusBitClient:
    """A pymodbus TCP client without its own retries or reconnects: the drivers decide."""
    return AsyncModbusTcpClient(host, port=port, timeout=timeout_s, retries=0, reconnect_delay=0)


class CoilModule:
    """A connection to one unit of a Modbus TCP I/O module (see the module docstring)."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        unit: int,
        timeout_s: float,
        error: type[Exception],
        client_factory: ClientFactory = default_client,
    ) -> None:
        self.host = host
        self.port = port
        self.unit = unit
        self.timeout_s = timeout_s
        self.error = error
        self.errors = 0
        self.last_error: str | None = None
        self.lock = asyncio.Lock()
        self._client_factory = client_factory
        self._client: ModbusBitClient | None = None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    async def write_coil(self, address: int, value: bool, where: str) -> None:
        """Write one coil; raise the driver's error if the module does not take it."""
        client = await self._connected(where)
        response = await self._ask(client.write_coil(address, value, device_id=self.unit), where)
        if response is None or response.isError():
            code = getattr(response, "exception_code", None)
            raise self.failed(f"{where}: refused (exception code {code})")

    async def read_bits(self, table: Literal["coils", "inputs"], addresses: list[int], where: str) -> dict[int, bool]:
        """Read coils or discrete inputs; one request when they are close together."""
        client = await self._connected(where)
        read = client.read_coils if table == "coils" else client.read_discrete_inputs
        first, last = min(addresses), max(addresses)
        spans = [(first, last - first + 1)] if last - first < MAX_BITS_PER_READ else [(a, 1) for a in addresses]
        bits: dict[int, bool] = {}
        for start, count in spans:
            response = await self._ask(read(start, count=count, device_id=self.unit), where)
            if response is None or response.isError():
                code = getattr(response, "exception_code", None)
                raise self.failed(f"{where}: refused (exception code {code})")
            values = list(getattr(response, "bits", []) or [])
            if len(values) < count:
                raise self.failed(f"{where}: short answer ({len(values)} of {count} bits)")
            for i in range(count):
                bits[start + i] = bool(values[i])
        return bits

    def failed(self, message: str) -> Exception:
        self.errors += 1
        self.last_error = message[:300]
        return self.error(message)

    def close(self) -> None:
        if self._client is not None:
            with contextlib.suppress(Exception):
                self._client.close()
        self._client = None

    async def _ask(self, request: Awaitable[Any], where: str) -> Any:
        try:
            return await asyncio.wait_for(request, self.timeout_s)
        except TimeoutError:
            self.close()
            raise self.failed(f"{where}: no answer within {self.timeout_s:g} s") from None
        except (ModbusException, OSError) as exc:
            self.close()
            raise self.failed(f"{where}: {type(exc).__name__}: {exc}") from None

    async def _connected(self, where: str) -> ModbusBitClient:
        if self._client is not None and self._client.connected:
            return self._client
        self.close()
        self._client = self._client_factory(self.host, self.port, self.timeout_s)
        try:
            ok = await asyncio.wait_for(self._client.connect(), self.timeout_s + 1.0)
        except (TimeoutError, OSError, ModbusException) as exc:
            ok, reason = False, str(exc) or type(exc).__name__
        else:
            reason = "connection refused or host unreachable"
        if not ok or not self._client.connected:
            self.close()
            raise self.failed(f"{where}: cannot connect: {reason}")
        return self._client
