"""A Modbus TCP field device for tests, served by pymodbus's own server on a free localhost port.

Each unit id is a ``FakeUnit`` whose input registers, discrete inputs and coils are plain dicts the
test reads and changes while the server runs (pymodbus calls back into them on every request). A
test can make the device refuse requests (an exception code), stay silent for a while (timeouts), or
react to coil writes (a valve that moves and flips its limit switches: ``FakeValve``).

Like the I/O modules GasGuard drives valves and outputs through (WAGO, Moxa ioLogik, Advantech ADAM),
a unit can have a communication watchdog: ``watchdog_s`` set, and no write (to any coil) for that
long, every coil goes False, its safe state, as if written False (so a ``FakeValve`` closes). Only
writes feed it, not reads. Each time it fires, the time is appended to ``watchdog_fired``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from pymodbus.constants import ExcCodes
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice
from pymodbus.simulator.simutils import SimUtils

SIZE = 256  # addresses 0..255 of each table exist; anything above is an illegal address


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class FakeUnit:
    input_registers: dict[int, int] = field(default_factory=dict)
    discrete_inputs: dict[int, bool] = field(default_factory=dict)
    coils: dict[int, bool] = field(default_factory=dict)
    coil_writes: list[tuple[int, bool]] = field(default_factory=list)
    register_reads: list[int] = field(default_factory=list)
    refuse: ExcCodes | None = None  # answer every request with this exception code
    silent_s: float = 0.0  # wait this long before answering (longer than the client timeout = no answer)
    on_coil_write: Callable[[int, bool], None] | None = None
    watchdog_s: float | None = None  # no write for this long: every coil goes False
    watchdog_fired: list[float] = field(default_factory=list)  # time.monotonic() of each firing
    last_write: float | None = None  # time.monotonic() of the last coil write

    def set_coil(self, address: int, value: bool) -> None:
        """Change a coil as the device itself would (watchdog, local override): not a write by a client."""
        self.coils[address] = value
        if self.on_coil_write is not None:
            self.on_coil_write(address, value)

    def check_watchdog(self, now: float) -> bool:
        """Drop every coil when nothing was written for ``watchdog_s``; returns whether it fired now."""
        if self.watchdog_s is None or self.last_write is None or now - self.last_write < self.watchdog_s:
            return False
        if not any(self.coils.values()):
            return False
        for address, value in sorted(self.coils.items()):
            if value:
                self.set_coil(address, False)
        self.watchdog_fired.append(now)
        return True


@dataclass
class FakeValve:
    """A normally-closed valve on a unit's coil: energised it opens, dropped it closes, moving for
    ``travel_s`` in between with both limit switches off."""

    unit: FakeUnit
    coil: int
    open_input: int
    closed_input: int
    travel_s: float = 0.0

    def __post_init__(self) -> None:
        self.unit.discrete_inputs.update({self.open_input: False, self.closed_input: True})
        self._target: bool | None = None
        self._handle: asyncio.TimerHandle | None = None
        previous = self.unit.on_coil_write

        def on_write(address: int, value: bool) -> None:
            if previous is not None:
                previous(address, value)
            if address == self.coil:
                self.move(value)

        self.unit.on_coil_write = on_write

    @property
    def is_open(self) -> bool:
        return self.unit.discrete_inputs.get(self.open_input, False)

    @property
    def is_closed(self) -> bool:
        return self.unit.discrete_inputs.get(self.closed_input, False)

    def move(self, energised: bool) -> None:
        if self._target is energised:
            return
        self._target = energised
        if self._handle is not None:
            self._handle.cancel()
        if self.travel_s <= 0:
            self._arrive(energised)
            return
        self.unit.discrete_inputs.update({self.open_input: False, self.closed_input: False})
        self._handle = asyncio.get_running_loop().call_later(self.travel_s, self._arrive, energised)

    def _arrive(self, energised: bool) -> None:
        self._handle = None
        self.unit.discrete_inputs.update({self.open_input: energised, self.closed_input: not energised})


class FakeModbusDevice:
    def __init__(self, units: tuple[int, ...] = (1,), port: int | None = None) -> None:
        self.units = {unit: FakeUnit() for unit in units}
        self.port = port or free_port()
        self._server: ModbusTcpServer | None = None
        self._watchdog: asyncio.Task[None] | None = None

    def unit(self, unit: int = 1) -> FakeUnit:
        return self.units[unit]

    async def start(self) -> None:
        devices = [
            SimDevice(
                id=unit,
                simdata=(
                    [SimData(0, count=SIZE, values=False, datatype=DataType.BITS)],
                    [SimData(0, count=SIZE, values=False, datatype=DataType.BITS)],
                    [SimData(0, count=SIZE, values=0, datatype=DataType.REGISTERS)],
                    [SimData(0, count=SIZE, values=0, datatype=DataType.REGISTERS)],
                ),
                action=functools.partial(self._action, unit),
            )
            for unit in self.units
        ]
        self._server = ModbusTcpServer(devices, address=("127.0.0.1", self.port))
        await self._server.serve_forever(background=True)
        self._watchdog = asyncio.create_task(self._watch())

    async def _watch(self, every_s: float = 0.02) -> None:
        """The units' communication watchdogs, checked every ``every_s``."""
        while True:
            now = time.monotonic()
            for unit in self.units.values():
                unit.check_watchdog(now)
            await asyncio.sleep(every_s)

    async def stop(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watchdog
            self._watchdog = None
        if self._server is not None:
            await self._server.shutdown()  # type: ignore[no-untyped-call]
            self._server = None

    async def __aenter__(self) -> FakeModbusDevice:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _action(
        self,
        unit_id: int,
        function_code: int,
        start_address: int,
        address: int,
        count: int,
        registers: list[int],
        values: list[int] | list[bool] | None,
    ) -> ExcCodes | None:
        unit = self.units[unit_id]
        if unit.silent_s:
            await asyncio.sleep(unit.silent_s)
        if unit.refuse is not None:
            return unit.refuse
        if function_code == 4:  # read input registers
            unit.register_reads.append(address)
            for i in range(count):
                registers[address - start_address + i] = unit.input_registers.get(address + i, 0) & 0xFFFF
        elif function_code in (1, 2):  # read coils / discrete inputs: rebuild the whole bit table from the dict
            table = unit.coils if function_code == 1 else unit.discrete_inputs
            bits = [table.get(i, False) for i in range(len(registers) * 16)]
            registers[:] = SimUtils.bitsToRegisters(bits)[: len(registers)]
        elif function_code == 5 and values is not None:  # write single coil (called again without values)
            value = bool(values[0])
            unit.last_write = time.monotonic()
            unit.coils[address] = value
            unit.coil_writes.append((address, value))
            if unit.on_coil_write is not None:
                unit.on_coil_write(address, value)
        return None
