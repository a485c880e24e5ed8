"""Real Modbus parts on loopback for the driver tests: pymodbus's own TCP server holding an energy meter's
registers (SDM630 or ABB B23 map) and a relay / IO module's coils and inputs, with a small physics loop.

The physics: while a connector's contactor coil is on, its meter counts ``power_w`` into the import energy
register; each feedback input follows its coil (unless ``welded`` or ``stuck_open`` says otherwise); the
EV-detect input is what ``plugged`` says. The meter and the IO module are two servers (``port``,
``io_port``), so ``stop_answering()`` silences the meter alone and ``answer_again()`` brings it back.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
from dataclasses import dataclass, field

from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from tests.loopback import free_port

COILS = 16
INPUTS = 16
CONTACTOR_COIL, LOCK_COIL = 0, 1
CONTACTOR_FEEDBACK, LOCK_FEEDBACK, EV_INPUT = 0, 1, 2
TICK = 0.02
VOLTAGE = 230.0


def _words(fmt: str, value: float) -> list[int]:
    raw = struct.pack(fmt, value)
    return [int.from_bytes(raw[i : i + 2], "big") for i in range(0, len(raw), 2)]


@dataclass
class ModbusRig:
    """A meter (unit 1 on ``port``) and an IO module (unit 2 on ``io_port``)."""

    meter_map: str = "sdm630"
    power_w: float = 7360.0  # 32 A on one phase
    energy_wh: float = 1_000_000.0  # a meter that has already counted 1 MWh
    plugged: bool = False
    welded: bool = False
    stuck_open: bool = False
    port: int = field(default_factory=free_port)
    io_port: int = field(default_factory=free_port)
    _server: ModbusTcpServer | None = None
    _io: ModbusTcpServer | None = None
    _physics: asyncio.Task[None] | None = None

    async def start(self) -> None:
        registers = (
            [SimData(0, count=0x60, datatype=DataType.REGISTERS)]
            if self.meter_map == "sdm630"
            else [SimData(0x5000, count=8, datatype=DataType.REGISTERS),
                  SimData(0x5B00, count=0x30, datatype=DataType.REGISTERS)]
        )  # fmt: skip
        empty = [SimData(0, count=1, datatype=DataType.REGISTERS)]
        meter = SimDevice(
            id=1,
            simdata=(
                [SimData(0, count=1, datatype=DataType.BITS)],
                [SimData(0, count=1, datatype=DataType.BITS)],
                registers if self.meter_map != "sdm630" else empty,
                registers if self.meter_map == "sdm630" else empty,
            ),
        )
        io = SimDevice(
            id=2,
            simdata=(
                [SimData(0, count=COILS, datatype=DataType.BITS)],
                [SimData(0, count=INPUTS, datatype=DataType.BITS)],
                [SimData(0, count=16, datatype=DataType.REGISTERS)],
                empty,
            ),
        )
        self._server = ModbusTcpServer(meter, address=("127.0.0.1", self.port))
        await self._server.serve_forever(background=True)
        if self._io is None:
            self._io = ModbusTcpServer(io, address=("127.0.0.1", self.io_port))
            await self._io.serve_forever(background=True)
        await self._tick()
        if self._physics is None:
            self._physics = asyncio.ensure_future(self._run())

    async def stop(self) -> None:
        if self._physics is not None:
            self._physics.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._physics
            self._physics = None
        await self.stop_answering()
        if self._io is not None:
            await self._io.shutdown()
            self._io = None

    async def stop_answering(self) -> None:
        if self._server is not None:
            await self._server.shutdown()
            self._server = None

    async def answer_again(self) -> None:
        await self.start()

    async def coil(self, address: int) -> bool:
        assert self._io is not None
        values = await self._io.context.async_getValues(2, 1, address, 1)
        assert isinstance(values, list)
        return bool(values[0])

    async def _set(self, unit: int, func_code: int, address: int, values: list[int] | list[bool]) -> None:
        server = self._io if unit == 2 else self._server
        if server is not None:  # a silent meter keeps counting, unread
            await server.context.async_setValues(unit, func_code, address, values)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        last = loop.time()
        while True:
            await asyncio.sleep(TICK)
            now = loop.time()
            if await self.coil(CONTACTOR_COIL):
                self.energy_wh += self.power_w * (now - last) / 3600
            await self._tick()
            last = now

    async def _tick(self) -> None:
        """Write the registers and inputs from the state of the world."""
        closed = await self.coil(CONTACTOR_COIL)
        locked = await self.coil(LOCK_COIL)
        feedback = (closed or self.welded) and not self.stuck_open
        await self._set(2, 2, 0, [feedback, locked, self.plugged])
        power = self.power_w if closed else 0.0
        current = power / VOLTAGE
        if self.meter_map == "sdm630":  # float32, input registers (function 4), kWh
            words = [*_words(">f", VOLTAGE), *_words(">f", VOLTAGE), *_words(">f", VOLTAGE)]
            words += [*_words(">f", current), *_words(">f", 0.0), *_words(">f", 0.0)]
            words += [*_words(">f", power), *_words(">f", 0.0), *_words(">f", 0.0)]
            await self._set(1, 4, 0, words)
            await self._set(1, 4, 0x34, _words(">f", power))
            await self._set(1, 4, 0x48, _words(">f", self.energy_wh / 1000))
        else:  # ABB B23: big-endian integers, holding registers (function 3)
            await self._set(1, 3, 0x5000, _words(">Q", int(self.energy_wh / 10)))
            volts = [w for _ in range(3) for w in _words(">I", int(VOLTAGE * 10))]
            await self._set(1, 3, 0x5B00, volts)
            amps = [*_words(">I", int(current * 100)), *_words(">I", 0), *_words(">I", 0)]
            await self._set(1, 3, 0x5B0C, amps)
            watts = [*_words(">i", int(power * 100)), *_words(">i", int(power * 100)), *_words(">i", 0),
                     *_words(">i", 0)]  # fmt: skip
            await self._set(1, 3, 0x5B14, watts)
