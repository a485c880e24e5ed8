"""``hal.EnergyMeter`` on Modbus DIN-rail meters, one per connector: the Eastron SDM630, the ABB B23/B24, or a
map given register by register.

The port's ``read`` must not wait on I/O, so a background task polls every meter each ``poll_interval`` and
``read`` serves the latest values. A meter whose last good poll is older than ``stale_after`` raises
``HardwareError``: the station then reports PowerMeterFailure and bills on from the last good register
(``station/kernel/meter.py``), and clears the warning when the meter answers again.

Register maps (addresses are the 0-based protocol addresses, not the 3xxxx/4xxxx catalogue numbers):

- Eastron SDM630: input registers (function 04), IEEE 754 float32, high word first. Voltage L1-N 0x0000,
  0x0002, 0x0004 (V); current 0x0006, 0x0008, 0x000A (A); active power 0x000C, 0x000E, 0x0010 (W); total
  system power 0x0034 (W); total import active energy 0x0048 (kWh).
- ABB B23/B24: holding registers (function 03), big-endian integers. Active import energy 0x5000 uint64 in
  0.01 kWh; voltage L1-N 0x5B00, 0x5B02, 0x5B04 uint32 in 0.1 V; current 0x5B0C, 0x5B0E, 0x5B10 uint32 in
  0.01 A; active power total 0x5B14 and L1-L3 0x5B16, 0x5B18, 0x5B1A int32 in 0.01 W.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from chargebox.clock import Clock
from chargebox.errors import HardwareError
from chargebox.hal import Reading
from chargebox.protocol.messages import Measurand, MeterValuesUnitOfMeasure, Phase
from chargebox.run.drivers.modbus import ModbusBus, Register
from chargebox.run.section import Section

PHASES: Final = {"l1": Phase.L1, "l2": Phase.L2, "l3": Phase.L3}
# quantity key -> (measurand, unit, phase)
QUANTITIES: Final[dict[str, tuple[Measurand, MeterValuesUnitOfMeasure, Phase | None]]] = {
    "energy": (Measurand.ENERGY_ACTIVE_IMPORT_REGISTER, MeterValuesUnitOfMeasure.WH, None),
    "power": (Measurand.POWER_ACTIVE_IMPORT, MeterValuesUnitOfMeasure.W, None),
    **{f"power_{k}": (Measurand.POWER_ACTIVE_IMPORT, MeterValuesUnitOfMeasure.W, p) for k, p in PHASES.items()},
    **{f"current_{k}": (Measurand.CURRENT_IMPORT, MeterValuesUnitOfMeasure.A, p) for k, p in PHASES.items()},
    **{f"voltage_{k}": (Measurand.VOLTAGE, MeterValuesUnitOfMeasure.V, p) for k, p in PHASES.items()},
}


def _sdm630() -> dict[str, Register]:
    def f(address: int, scale: float = 1.0) -> Register:
        return Register(address, "float32", "input", scale)

    return {
        "energy": f(0x0048, 1000.0),  # kWh -> Wh
        "power": f(0x0034),
        **{f"voltage_{k}": f(0x0000 + 2 * i) for i, k in enumerate(PHASES)},
        **{f"current_{k}": f(0x0006 + 2 * i) for i, k in enumerate(PHASES)},
        **{f"power_{k}": f(0x000C + 2 * i) for i, k in enumerate(PHASES)},
    }


def _abb_b23() -> dict[str, Register]:
    return {
        "energy": Register(0x5000, "uint64", "holding", 10.0),  # 0.01 kWh -> Wh
        "power": Register(0x5B14, "int32", "holding", 0.01),
        **{f"voltage_{k}": Register(0x5B00 + 2 * i, "uint32", "holding", 0.1) for i, k in enumerate(PHASES)},
        **{f"current_{k}": Register(0x5B0C + 2 * i, "uint32", "holding", 0.01) for i, k in enumerate(PHASES)},
        **{f"power_{k}": Register(0x5B16 + 2 * i, "int32", "holding", 0.01) for i, k in enumerate(PHASES)},
    }


MAPS: Final = {"sdm630": _sdm630(), "abb_b23": _abb_b23()}  # the B24 has the B23's map


def read_map(section: Section) -> dict[str, Register]:
    """``map = "sdm630" | "abb_b23" | "abb_b24" | "generic"``; a generic map is ``[... .registers]``."""
    name = section.choice("map", (*MAPS, "abb_b24", "generic"))
    if name != "generic":
        return dict(MAPS["abb_b23" if name == "abb_b24" else name])
    registers = Section(section.file, f"{section.name}.registers", section.table("registers"))
    found = {key: Register.read(registers, key) for key in QUANTITIES if registers.has(key)}
    registers.done()
    if "energy" not in found:
        raise registers.error("energy", "required (the Energy.Active.Import.Register in Wh, X-15)")
    return found


@dataclass(slots=True)
class _Latest:
    values: dict[str, float] = field(default_factory=dict)
    readings: list[Reading] = field(default_factory=list)
    at: float | None = None  # monotonic time of the last complete poll
    error: str | None = None


class ModbusMeter:
    """One Modbus meter per connector (``unit_ids[c - 1]``); connector 0 is the sum of them."""

    def __init__(
        self,
        bus: ModbusBus,
        *,
        unit_ids: tuple[int, ...],
        registers: Mapping[str, Register],
        clock: Clock,
        log: logging.Logger,
        poll_interval: float = 1.0,
        stale_after: float = 5.0,
    ) -> None:
        self.bus = bus
        self.unit_ids = unit_ids
        self.registers = dict(registers)
        self.poll_interval = poll_interval
        self.stale_after = stale_after
        self._clock = clock
        self._log = log
        self._latest = {cid: _Latest() for cid in range(1, len(unit_ids) + 1)}

    # -- hal.EnergyMeter ----------------------------------------------------------------------

    def measurands(self) -> frozenset[str]:
        """What the register map can report, phases included: ChangeConfiguration refuses any other measurand (MV-5)."""
        names: set[str] = set()
        for key in self.registers:
            measurand, _unit, phase = QUANTITIES[key]
            names.add(measurand.value if phase is None else f"{measurand.value}.{phase.value}")
            names.add(measurand.value)
        return frozenset(names)

    def read(self, connector_id: int) -> list[Reading]:
        """The last poll's readings (connector 0: the sum of the meters); a poll older than ``stale_after`` raises."""
        if connector_id != 0:
            self._fresh(connector_id)
            return list(self._latest[connector_id].readings)  # built once per poll: read() stays cheap
        values: dict[str, float] = {key: sum(self._fresh(cid)[key] for cid in self._latest)
                                    for key in ("energy", "power") if key in self.registers}  # fmt: skip
        return _readings(values)

    def energy_wh(self, connector_id: int) -> int:
        """The energy register in Wh from the last poll; stale, it raises, and the station keeps the last good one."""
        if connector_id == 0:
            return round(sum(self._fresh(cid)["energy"] for cid in self._latest))
        return round(self._fresh(connector_id)["energy"])

    # -- polling ------------------------------------------------------------------------------

    async def run(self) -> None:
        """Poll forever (supervised by ``chargebox run``)."""
        while True:
            await self.poll()
            await self._clock.sleep(self.poll_interval)

    async def poll(self) -> None:
        """Read every register of every meter once; a meter that fails keeps its last values, ageing."""
        for cid, unit in enumerate(self.unit_ids, start=1):
            latest = self._latest[cid]
            try:
                values = {}
                for key, register in self.registers.items():
                    words = await self.bus.read_registers(register.table, register.address, register.count, unit)
                    values[key] = register.decode(words)
            except HardwareError as exc:
                if latest.error is None:
                    self._log.warning("! connector %d: meter unit %d: %s", cid, unit, exc)
                latest.error = str(exc)
                continue
            if latest.error is not None:
                self._log.info("= connector %d: meter unit %d answers again", cid, unit)
            latest.values, latest.at, latest.error = values, self._clock.monotonic(), None
            latest.readings = _readings(values)

    def _fresh(self, connector_id: int) -> dict[str, float]:
        latest = self._latest.get(connector_id)
        if latest is None:
            raise HardwareError(f"connector {connector_id}: no meter configured")
        if latest.at is None or self._clock.monotonic() - latest.at > self.stale_after:
            raise HardwareError(f"connector {connector_id}: meter unit {self.unit_ids[connector_id - 1]} "
                                f"has not answered ({latest.error or 'no reading yet'})")  # fmt: skip
        return latest.values


def _readings(values: Mapping[str, float]) -> list[Reading]:
    readings = []
    for key, value in values.items():
        measurand, unit, phase = QUANTITIES[key]
        rounded = round(value) if key == "energy" or key.startswith("power") else round(value, 2)
        readings.append(Reading(measurand, rounded, unit, phase))
    return readings
