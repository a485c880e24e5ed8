"""``hal.Contactor``, ``hal.ConnectorLock`` and ``hal.EvPort`` on a Modbus relay / IO module.

Each connector has an output coil and a feedback discrete input (the contactor's auxiliary contact, the lock's
end switch). After each switch the driver waits ``settle`` seconds and reads the feedback back: a contactor
whose feedback disagrees (welded shut, or not pulled in) is a ``HardwareError``, which the station turns into
Faulted / PowerSwitchFailure; a lock whose end switch disagrees returns False (ConnectorLockFailure, X-16, or
UnlockFailed, C-33).

The EV pilot here is a digital input per connector (an EV-detect output of a pilot controller: "vehicle
connected", IEC 61851 state B or C) polled every ``poll_interval``, plus an optional holding register per
connector that receives the offered current in amps times ``current_scale`` (for a pilot controller that
sets the PWM duty cycle itself). A change of the input calls ``Station.plugged`` / ``Station.unplugged``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from chargebox.clock import Clock
from chargebox.errors import HardwareError
from chargebox.run.drivers.modbus import ModbusBus


class Outputs:
    """Coils with a feedback input per connector, on one unit of a bus."""

    def __init__(
        self,
        bus: ModbusBus,
        *,
        unit_id: int,
        coils: tuple[int, ...],
        feedback: tuple[int, ...],
        clock: Clock,
        settle: float = 0.2,
        feedback_inverted: bool = False,
    ) -> None:
        self.bus = bus
        self.unit_id = unit_id
        self.coils = coils
        self.feedback = feedback
        self.settle = settle
        self.inverted = feedback_inverted
        self._clock = clock

    async def switch(self, connector_id: int, on: bool) -> bool:
        """Drive the coil, wait, and return what the feedback input says (True: on)."""
        index = self._index(connector_id)
        await self.bus.write_coil(self.coils[index], on, self.unit_id)
        await self._clock.sleep(self.settle)
        return await self.bus.read_bits("input", self.feedback[index], self.unit_id) != self.inverted

    def _index(self, connector_id: int) -> int:
        if not 1 <= connector_id <= len(self.coils):
            raise HardwareError(f"connector {connector_id}: no coil configured")
        return connector_id - 1


class ModbusContactor:
    def __init__(self, outputs: Outputs) -> None:
        self.outputs = outputs

    async def close(self, connector_id: int) -> None:
        """Close the coil and trust the feedback input, not the command: a contactor that did not close is a
        HardwareError."""
        if not await self.outputs.switch(connector_id, True):
            raise HardwareError(f"connector {connector_id}: contactor feedback says open after closing")

    async def open(self, connector_id: int) -> None:
        """Open the coil; feedback still closed (welded?) is a HardwareError, so the connector goes Faulted."""
        if await self.outputs.switch(connector_id, False):
            raise HardwareError(f"connector {connector_id}: contactor feedback says closed after opening (welded?)")


class ModbusLock:
    def __init__(self, outputs: Outputs, *, log: logging.Logger) -> None:
        self.outputs = outputs
        self._log = log

    async def lock(self, connector_id: int) -> bool:
        """True once the feedback says locked: the port answers a bool, never raises (X-16 refuses the start)."""
        return await self._move(connector_id, True)

    async def unlock(self, connector_id: int) -> bool:
        """True once the feedback says unlocked (C-33: UnlockFailed otherwise)."""
        return await self._move(connector_id, False)

    async def _move(self, connector_id: int, locked: bool) -> bool:
        try:
            return await self.outputs.switch(connector_id, locked) == locked
        except HardwareError as exc:  # the port's contract is a bool: a lock that cannot be told did not move
            self._log.warning("! connector %d: lock: %s", connector_id, exc)
            return False


class ModbusPilot:
    def __init__(
        self,
        bus: ModbusBus,
        *,
        unit_id: int,
        inputs: tuple[int, ...],
        current_registers: tuple[int, ...] | None,
        clock: Clock,
        log: logging.Logger,
        current_scale: float = 1.0,
        poll_interval: float = 0.2,
    ) -> None:
        self.bus = bus
        self.unit_id = unit_id
        self.inputs = inputs
        self.current_registers = current_registers
        self.current_scale = current_scale
        self.poll_interval = poll_interval
        self._clock = clock
        self._log = log
        self._plugged: dict[int, bool] = {}
        self._writes: dict[int, asyncio.Task[None]] = {}

    def plugged(self, connector_id: int) -> bool:
        """The EV-detect input at the last poll: the port is synchronous, the poll loop keeps it current."""
        return self._plugged.get(connector_id, False)

    def offered_current(self, connector_id: int, amps: float) -> None:
        """Written in the background (the port is synchronous); the newest value replaces one not yet written."""
        if self.current_registers is None or not 1 <= connector_id <= len(self.current_registers):
            return
        address = self.current_registers[connector_id - 1]
        previous = self._writes.pop(connector_id, None)
        if previous is not None:
            previous.cancel()
        value = max(0, min(65535, round(amps * self.current_scale)))
        self._writes[connector_id] = asyncio.ensure_future(self._write(connector_id, address, value))

    async def _write(self, connector_id: int, address: int, value: int) -> None:
        try:
            await self.bus.write_register(address, value, self.unit_id)
        except HardwareError as exc:
            self._log.warning("! connector %d: pilot current: %s", connector_id, exc)

    async def poll(self) -> dict[int, bool]:
        """Read every input once (before the station starts: what is plugged after a reboot)."""
        for cid, address in enumerate(self.inputs, start=1):
            self._plugged[cid] = await self.bus.read_bits("input", address, self.unit_id)
        return dict(self._plugged)

    async def run(
        self, plugged: Callable[[int], Awaitable[object]], unplugged: Callable[[int], Awaitable[object]]
    ) -> None:
        """Poll forever; report each change to the station."""
        while True:
            before = dict(self._plugged)
            try:
                now = await self.poll()
            except HardwareError as exc:
                self._log.warning("! pilot: %s", exc)
                self._plugged = before  # keep what was last known until the module answers again
                await self._clock.sleep(self.poll_interval * 5)
                continue
            for cid, on in now.items():
                if on != before.get(cid, False):
                    await (plugged if on else unplugged)(cid)
            await self._clock.sleep(self.poll_interval)
