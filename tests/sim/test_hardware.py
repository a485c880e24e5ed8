"""Simulated hardware with injected faults: each broken part fails as a real one would (hal's contracts)."""

from __future__ import annotations

import pytest

from chargebox.clock import VirtualClock
from chargebox.errors import HardwareError
from chargebox.hal import Reading
from chargebox.sim.hardware import HardwarePart, SimulatedHardware

ONE_HOUR_WH = 16 * 230 * 3  # 16 A on three phases at 230 V


@pytest.fixture
def hardware(clock: VirtualClock) -> SimulatedHardware:
    return SimulatedHardware(clock=clock, connectors=2)


async def charging(hardware: SimulatedHardware, connector_id: int = 1) -> None:
    """An EV plugged in and offered 16 A, the contactor closed: 11 kW on three phases."""
    hardware.plug(connector_id)
    hardware.offered_current(connector_id, 16.0)
    await hardware.close(connector_id)


def energy_register(readings: list[Reading]) -> float:
    return next(r.value for r in readings if r.measurand == "Energy.Active.Import.Register")


def test_faults_are_set_and_cleared_per_connector_and_part(hardware: SimulatedHardware) -> None:
    hardware.inject_fault(1, HardwarePart.CONTACTOR, True)
    hardware.inject_fault(1, HardwarePart.METER, True)
    hardware.inject_fault(1, HardwarePart.METER, False)
    hardware.inject_fault(2, HardwarePart.LOCK, False)  # mending a sound part changes nothing
    assert hardware.faults(1) == {HardwarePart.CONTACTOR}
    assert hardware.faults(2) == frozenset()


async def test_contactor_that_will_not_close_raises_and_stays_open(
    hardware: SimulatedHardware, clock: VirtualClock
) -> None:
    hardware.plug(1)
    hardware.offered_current(1, 16.0)
    hardware.inject_fault(1, HardwarePart.CONTACTOR, True)
    with pytest.raises(HardwareError):
        await hardware.close(1)
    await clock.advance(3600)
    assert hardware.energy_wh(1) == 0


async def test_contactor_that_will_not_open_raises_and_energy_keeps_flowing(
    hardware: SimulatedHardware, clock: VirtualClock
) -> None:
    await charging(hardware)
    hardware.inject_fault(1, HardwarePart.CONTACTOR, True)
    with pytest.raises(HardwareError):
        await hardware.open(1)
    assert hardware.connectors[1].contactor_closed
    await clock.advance(3600)
    assert hardware.energy_wh(1) == ONE_HOUR_WH


async def test_mended_contactor_opens_again(hardware: SimulatedHardware, clock: VirtualClock) -> None:
    await charging(hardware)
    hardware.inject_fault(1, HardwarePart.CONTACTOR, True)
    hardware.inject_fault(1, HardwarePart.CONTACTOR, False)
    await hardware.open(1)
    await clock.advance(3600)
    assert hardware.energy_wh(1) == 0


@pytest.mark.parametrize("locked", [False, True])
async def test_C_33_broken_lock_neither_locks_nor_unlocks_and_stays_put(
    hardware: SimulatedHardware, locked: bool
) -> None:
    hardware.connectors[1].locked = locked
    hardware.inject_fault(1, HardwarePart.LOCK, True)
    assert await hardware.lock(1) is False
    assert await hardware.unlock(1) is False
    assert hardware.connectors[1].locked is locked


async def test_sound_lock_locks_and_unlocks(hardware: SimulatedHardware) -> None:
    assert await hardware.lock(1) is True and hardware.connectors[1].locked
    assert await hardware.unlock(1) is True and not hardware.connectors[1].locked


async def test_broken_meter_raises_but_energy_is_still_counted(
    hardware: SimulatedHardware, clock: VirtualClock
) -> None:
    await charging(hardware)
    hardware.inject_fault(1, HardwarePart.METER, True)
    await clock.advance(1800)
    with pytest.raises(HardwareError):
        hardware.read(1)
    with pytest.raises(HardwareError):
        hardware.energy_wh(1)
    await clock.advance(1800)
    hardware.inject_fault(1, HardwarePart.METER, False)
    assert hardware.energy_wh(1) == ONE_HOUR_WH
    assert energy_register(hardware.read(1)) == ONE_HOUR_WH


async def test_main_meter_fails_with_a_connector_meter_it_sums(hardware: SimulatedHardware) -> None:
    hardware.inject_fault(2, HardwarePart.METER, True)
    with pytest.raises(HardwareError):
        hardware.read(0)
    with pytest.raises(HardwareError):
        hardware.energy_wh(0)
    assert hardware.energy_wh(1) == 0  # the other connector's meter still answers


async def test_a_fault_on_one_part_leaves_the_others_working(hardware: SimulatedHardware) -> None:
    hardware.inject_fault(1, HardwarePart.METER, True)
    await charging(hardware)
    assert await hardware.lock(1) is True
    await hardware.open(1)
