"""Simulated hardware that behaves: a meter integrating power over clock time, a contactor, a cable
lock, and an EV that draws what it is offered up to its own limit.

Implements the ports of ``chargebox.hal``. Energy follows the physics a CSMS developer expects:
power = min(offered current, the EV maximum) * voltage * phases while the contactor is closed and
the EV is plugged in and charging; the register is monotonic and never reset (X-15).

Each part of a connector can be told to fail (``inject_fault``), as a real one fails, so a test
engineer sees what the station and the CSMS make of it:

- contactor: ``close`` and ``open`` raise HardwareError and it stays where it was; stuck closed,
  energy keeps flowing and the meter keeps counting it;
- lock: ``lock`` and ``unlock`` return False and it stays where it was;
- meter: ``read`` and ``energy_wh`` raise HardwareError (connector 0's too, its readings being the
  sum of the connectors'); energy is still counted, and read again once the fault ends.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Final

from chargebox.clock import Clock
from chargebox.errors import HardwareError
from chargebox.hal import Reading
from chargebox.protocol.messages import Location, Measurand, MeterValuesUnitOfMeasure, Phase

VOLTAGE: Final = 230.0
FREQUENCY: Final = 50.0
U = MeterValuesUnitOfMeasure
M = Measurand
PHASES: Final = (Phase.L1, Phase.L2, Phase.L3)


class HardwarePart(enum.StrEnum):
    """A part of a connector that ``inject_fault`` can break."""

    CONTACTOR = "contactor"
    LOCK = "lock"
    METER = "meter"


@dataclass(slots=True)
class SimulatedEv:
    """The car: how much current it takes per phase, on how many phases, and its battery."""

    max_current: float = 32.0
    phases: int = 3
    capacity_wh: float = 60_000.0
    soc: float = 20.0
    suspended: bool = False  # the EV itself stopped asking for energy (SuspendedEV, S-4)
    taper_soc: float = 100.0  # the charging curve (sim/ev.py): full current up to here, then less
    min_ratio: float = 0.1  # of max_current, at 100 %

    def accepts(self) -> float:
        """Amps per phase the battery takes at its state of charge (its charging curve)."""
        if self.soc <= self.taper_soc:
            return self.max_current
        left = max(100.0 - self.soc, 0.0) / max(100.0 - self.taper_soc, 1e-9)
        return self.max_current * (self.min_ratio + (1 - self.min_ratio) * left)


@dataclass(slots=True)
class SimulatedConnector:
    energy_wh: float = 0.0
    plugged: bool = False
    contactor_closed: bool = False
    locked: bool = False
    faults: set[HardwarePart] = field(default_factory=set)
    offered_a: float = 0.0
    max_current: float = 32.0
    ev: SimulatedEv = field(default_factory=SimulatedEv)
    updated_at: float = 0.0

    def current(self) -> float:
        """Amps per phase flowing now."""
        if not (self.plugged and self.contactor_closed) or self.ev.suspended or self.ev.soc >= 100.0:
            return 0.0
        return min(self.offered_a, self.ev.accepts())

    def power(self) -> float:
        return self.current() * VOLTAGE * self.ev.phases


class SimulatedHardware:
    """The meter, contactor, lock and EV of every connector of one simulated station."""

    def __init__(self, *, clock: Clock, connectors: int, energy_wh: dict[int, int] | None = None) -> None:
        self._clock = clock
        now = clock.monotonic()
        self.connectors = {
            cid: SimulatedConnector(energy_wh=float((energy_wh or {}).get(cid, 0)), updated_at=now)
            for cid in range(1, connectors + 1)
        }

    def inject_fault(self, connector_id: int, part: HardwarePart, on: bool) -> None:
        """Break ``part`` of the connector (``on``) or mend it; KeyError for an unknown connector."""
        faults = self.connectors[connector_id].faults
        if on:
            faults.add(part)
        else:
            faults.discard(part)

    def faults(self, connector_id: int) -> frozenset[HardwarePart]:
        return frozenset(self.connectors[connector_id].faults)

    # -- EnergyMeter --------------------------------------------------------------------------

    def measurands(self) -> frozenset[str]:
        return _MEASURAND_NAMES  # one set for every simulated meter of a fleet

    def read(self, connector_id: int) -> list[Reading]:
        self._check_meter(connector_id)
        if connector_id == 0:
            return self._main_meter()
        c = self._advance(connector_id)
        amps = c.current()
        readings = [
            Reading(M.ENERGY_ACTIVE_IMPORT_REGISTER, round(c.energy_wh), U.WH),
            Reading(M.POWER_ACTIVE_IMPORT, round(c.power()), U.W),
            Reading(M.POWER_OFFERED, round(c.offered_a * VOLTAGE * 3), U.W),
            Reading(M.CURRENT_OFFERED, c.offered_a, U.A),
            Reading(M.FREQUENCY, FREQUENCY, None),  # MV-7: Hz, no unit value
            Reading(M.TEMPERATURE, 25.0 + amps / 4, U.CELSIUS, location=Location.BODY),
        ]
        for index, phase in enumerate(PHASES):
            on = index < c.ev.phases
            readings += [
                Reading(M.CURRENT_IMPORT, round(amps if on else 0.0, 2), U.A, phase),
                Reading(M.VOLTAGE, VOLTAGE, U.V, phase),
                Reading(M.POWER_ACTIVE_IMPORT, round(amps * VOLTAGE if on else 0.0), U.W, phase),
            ]
        if c.plugged:
            readings.append(Reading(M.SOC, round(c.ev.soc, 1), U.PERCENT, location=Location.EV))
        return readings

    def energy_wh(self, connector_id: int) -> int:
        self._check_meter(connector_id)
        if connector_id == 0:
            return round(sum(self._advance(cid).energy_wh for cid in self.connectors))
        return round(self._advance(connector_id).energy_wh)

    # -- Contactor ----------------------------------------------------------------------------

    async def close(self, connector_id: int) -> None:
        c = self._advance(connector_id)
        if HardwarePart.CONTACTOR in c.faults:
            raise HardwareError(f"connector {connector_id}: the contactor does not close")
        c.contactor_closed = True

    async def open(self, connector_id: int) -> None:
        c = self._advance(connector_id)
        if HardwarePart.CONTACTOR in c.faults:
            raise HardwareError(f"connector {connector_id}: the contactor does not open")
        c.contactor_closed = False

    # -- ConnectorLock ------------------------------------------------------------------------

    async def lock(self, connector_id: int) -> bool:
        c = self.connectors[connector_id]
        if HardwarePart.LOCK in c.faults:
            return False
        c.locked = True
        return True

    async def unlock(self, connector_id: int) -> bool:
        c = self.connectors[connector_id]
        if HardwarePart.LOCK in c.faults:
            return False
        c.locked = False
        return True

    # -- EvPort -------------------------------------------------------------------------------

    def offered_current(self, connector_id: int, amps: float) -> None:
        self._advance(connector_id).offered_a = min(amps, self.connectors[connector_id].max_current)

    def plugged(self, connector_id: int) -> bool:
        return self.connectors[connector_id].plugged

    def offered_a(self, connector_id: int) -> float:
        return self.connectors[connector_id].offered_a

    # -- the world around the station ---------------------------------------------------------

    def plug(self, connector_id: int, ev: SimulatedEv | None = None) -> None:
        c = self._advance(connector_id)
        c.plugged = True
        c.ev = ev or SimulatedEv()

    def unplug(self, connector_id: int) -> None:
        self._advance(connector_id).plugged = False

    def soc(self, connector_id: int) -> float:
        """The connector's EV's state of charge now (percent), its energy integrated up to now."""
        return self._advance(connector_id).ev.soc

    def _check_meter(self, connector_id: int) -> None:
        ids = self.connectors if connector_id == 0 else (connector_id,)
        if any(HardwarePart.METER in self.connectors[cid].faults for cid in ids):
            raise HardwareError(f"connector {connector_id}: the meter does not answer")

    def _advance(self, connector_id: int) -> SimulatedConnector:
        """Integrate energy up to now."""
        c = self.connectors[connector_id]
        now = self._clock.monotonic()
        hours = max(now - c.updated_at, 0.0) / 3600
        wh = c.power() * hours
        if wh:
            c.energy_wh += wh
            c.ev.soc = min(100.0, c.ev.soc + 100 * wh / c.ev.capacity_wh)
        c.updated_at = now
        return c

    def _main_meter(self) -> list[Reading]:
        connectors = [self._advance(cid) for cid in self.connectors]
        return [
            Reading(M.ENERGY_ACTIVE_IMPORT_REGISTER, round(sum(c.energy_wh for c in connectors)), U.WH,
                    location=Location.INLET),
            Reading(M.POWER_ACTIVE_IMPORT, round(sum(c.power() for c in connectors)), U.W, location=Location.INLET),
            Reading(M.FREQUENCY, FREQUENCY, None, location=Location.INLET),
        ] + [Reading(M.VOLTAGE, VOLTAGE, U.V, phase, Location.INLET) for phase in PHASES]  # fmt: skip


_MEASURANDS: Final = (
    M.ENERGY_ACTIVE_IMPORT_REGISTER,
    M.POWER_ACTIVE_IMPORT,
    M.POWER_OFFERED,
    M.CURRENT_IMPORT,
    M.CURRENT_OFFERED,
    M.VOLTAGE,
    M.FREQUENCY,
    M.TEMPERATURE,
    M.SOC,
)
_PHASED: Final = (M.CURRENT_IMPORT, M.CURRENT_OFFERED, M.VOLTAGE, M.POWER_ACTIVE_IMPORT)
_MEASURAND_NAMES: Final = frozenset(
    [m.value for m in _MEASURANDS] + [f"{m.value}.{p.value}" for m in _PHASED for p in PHASES]
)
