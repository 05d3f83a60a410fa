"""A Modbus TCP field device for tests, served by pymodbus's own server on a free localhost port.

Each unit id is a ``FakeUnit`` whose input registers, discrete inputs and coils are plain dicts the
test reads and changes while the server runs (pymodbus calls back into them on every request). A
test can make the device refuse requests (an exception code), stay silent for a while (timeouts), or
react to coil writes (a valve that moves and flips its limit switches).
"""

from __future__ import annotations

import asyncio
import functools
import socket
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


class FakeModbusDevice:
    def __init__(self, units: tuple[int, ...] = (1,), port: int | None = None) -> None:
        self.units = {unit: FakeUnit() for unit in units}
        self.port = port or free_port()
        self._server: ModbusTcpServer | None = None

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

    async def stop(self) -> None:
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
        elif function_code == 2:  # read discrete inputs: rebuild the whole bit table from the dict
            bits = [unit.discrete_inputs.get(i, False) for i in range(len(registers) * 16)]
            registers[:] = SimUtils.bitsToRegisters(bits)[: len(registers)]
        elif function_code == 5 and values is not None:  # write single coil (called again without values)
            value = bool(values[0])
            unit.coils[address] = value
            unit.coil_writes.append((address, value))
            if unit.on_coil_write is not None:
                unit.on_coil_write(address, value)
        return None
