"""A Modbus link (TCP or RTU, through pymodbus) shared by the drivers on it, and its register encodings.

Several parts often hang on one RS-485 bus (the meter and the relay module), so drivers on the same link
share one ``ModbusBus``; it serialises requests (an RTU bus carries one at a time) and reconnects on the next
request after a failure. Every failure (no answer, an exception response, a lost connection) is a
``HardwareError`` naming the part, so each driver maps it onto its port's contract.
"""

from __future__ import annotations

import asyncio
import importlib.util
import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from chargebox.errors import HardwareError
from chargebox.run.section import Section

if TYPE_CHECKING:
    from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient

# type name -> (registers, struct format of the big-endian bytes)
ENCODINGS: Final[dict[str, tuple[int, str]]] = {
    "uint16": (1, ">H"),
    "int16": (1, ">h"),
    "uint32": (2, ">I"),
    "int32": (2, ">i"),
    "uint64": (4, ">Q"),
    "int64": (4, ">q"),
    "float32": (2, ">f"),
}
TABLES: Final = ("holding", "input")


@dataclass(frozen=True, slots=True)
class ModbusLink:
    transport: str  # "tcp" or "rtu"
    host: str = ""
    port: int = 502
    device: str = ""
    baudrate: int = 9600
    parity: str = "N"
    stopbits: int = 1
    timeout: float = 1.0

    @classmethod
    def read(cls, section: Section) -> ModbusLink:
        """The link of a driver's table, checked; drivers naming the same link share one bus."""
        if importlib.util.find_spec("pymodbus") is None:  # the optional extra: pip install 'chargebox[hardware]'
            raise section.error("driver", "'modbus' needs pymodbus: pip install 'chargebox[hardware]'")
        transport = section.choice("transport", ("tcp", "rtu"), "tcp")
        timeout = section.number("timeout", 0.05, 30.0, 1.0)
        if transport == "tcp":
            return cls("tcp", host=section.string("host", max_length=253), port=section.integer("port", 1, 65535, 502),
                       timeout=timeout)  # fmt: skip
        return cls(
            "rtu",
            device=section.string("device", max_length=4096),
            baudrate=section.integer("baudrate", 300, 921600, 9600),
            parity=section.choice("parity", ("N", "E", "O"), "N"),
            stopbits=section.integer("stopbits", 1, 2, 1),
            timeout=timeout,
        )

    def __str__(self) -> str:
        return f"modbus tcp {self.host}:{self.port}" if self.transport == "tcp" else f"modbus rtu {self.device}"


@dataclass(frozen=True, slots=True)
class Register:
    """One quantity: where it is, how it is encoded, and the factor to the unit chargebox reports."""

    address: int
    type: str = "float32"
    table: str = "input"
    scale: float = 1.0
    word_order: str = "big"  # "little": the low word first (some meters swap the two halves)

    @property
    def count(self) -> int:
        """How many 16-bit registers the value spans."""
        return ENCODINGS[self.type][0]

    def decode(self, words: list[int]) -> float:
        """The value of the registers read, in the unit chargebox reports (``scale`` applied)."""
        ordered = words if self.word_order == "big" else list(reversed(words))
        raw = b"".join(w.to_bytes(2, "big") for w in ordered)
        value: float = struct.unpack(ENCODINGS[self.type][1], raw)[0]
        return value * self.scale

    @classmethod
    def read(cls, section: Section, key: str) -> Register:
        """``key = { address = 72, type = "float32", table = "input", scale = 1000 }`` (generic maps)."""
        entry = Section(section.file, f"{section.name}.{key}", section.table(key))
        register = cls(
            address=entry.integer("address", 0, 65535),
            type=entry.choice("type", tuple(ENCODINGS)),
            table=entry.choice("table", TABLES, "holding"),
            scale=entry.number("scale", -1e9, 1e9, 1.0),
            word_order=entry.choice("word_order", ("big", "little"), "big"),
        )
        entry.done()
        return register


class ModbusBus:
    """One Modbus link: requests go one at a time; a failed one drops the connection, the next reconnects."""

    def __init__(self, link: ModbusLink) -> None:
        self.link = link
        self._lock = asyncio.Lock()
        self._client: AsyncModbusTcpClient | AsyncModbusSerialClient | None = None

    async def read_registers(self, table: str, address: int, count: int, unit: int) -> list[int]:
        """Input or holding registers, one request at a time on the link; a failure is a HardwareError."""

        def call(client: Any) -> Any:
            read = client.read_input_registers if table == "input" else client.read_holding_registers
            return read(address, count=count, device_id=unit)

        result = await self._request(call, f"{table} registers {address}+{count} of unit {unit}")
        return list(result.registers)

    async def read_bits(self, table: str, address: int, unit: int) -> bool:
        """One coil (``table`` "coil") or discrete input ("input")."""

        def call(client: Any) -> Any:
            read = client.read_coils if table == "coil" else client.read_discrete_inputs
            return read(address, count=1, device_id=unit)

        result = await self._request(call, f"{table} {address} of unit {unit}")
        return bool(result.bits[0])

    async def write_coil(self, address: int, value: bool, unit: int) -> None:
        """Set one coil; a failure is a HardwareError and the next request reconnects."""
        await self._request(lambda c: c.write_coil(address, value, device_id=unit), f"coil {address} of unit {unit}")

    async def write_register(self, address: int, value: int, unit: int) -> None:
        """Set one holding register (the offered current of a pilot module)."""
        await self._request(
            lambda c: c.write_register(address, value, device_id=unit), f"register {address} of unit {unit}"
        )

    async def close(self) -> None:
        """Drop the connection once no request is under way."""
        async with self._lock:
            self._drop()

    async def _request(self, call: Any, what: str) -> Any:
        from pymodbus.exceptions import ModbusException  # only with a Modbus driver (the optional extra)

        async with self._lock:
            try:
                client = await self._connected()
                result = await asyncio.wait_for(call(client), self.link.timeout * 2)
            except (ModbusException, OSError, TimeoutError) as exc:
                self._drop()
                raise HardwareError(f"{self.link}: {what}: {exc or type(exc).__name__}") from exc
            if result.isError():
                raise HardwareError(f"{self.link}: {what}: exception response {result}")
            return result

    async def _connected(self) -> AsyncModbusTcpClient | AsyncModbusSerialClient:
        from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
        from pymodbus.exceptions import ModbusException

        if self._client is None:
            link = self.link
            if link.transport == "tcp":
                self._client = AsyncModbusTcpClient(
                    link.host, port=link.port, timeout=link.timeout, retries=0, reconnect_delay=0
                )
            else:
                self._client = AsyncModbusSerialClient(
                    link.device, baudrate=link.baudrate, parity=link.parity, stopbits=link.stopbits,
                    timeout=link.timeout, retries=0, reconnect_delay=0,
                )  # fmt: skip
        if not self._client.connected and not await self._client.connect():
            raise ModbusException("no connection")
        return self._client

    def _drop(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


class Buses:
    """The links of one station: drivers naming the same link share its ``ModbusBus``."""

    def __init__(self) -> None:
        self._buses: dict[ModbusLink, ModbusBus] = {}

    def get(self, link: ModbusLink) -> ModbusBus:
        """The bus of a link, made on first use, so two drivers on one RS-485 line take turns on it."""
        return self._buses.setdefault(link, ModbusBus(link))

    async def close(self) -> None:
        """Close every link at shutdown."""
        for bus in self._buses.values():
            await bus.close()
