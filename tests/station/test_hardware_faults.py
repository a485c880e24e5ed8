"""Hardware faults are OCPP outcomes (hal.py: a port may raise HardwareError): injected into the simulated
hardware as `POST /api/connectors/{id}/hardware-fault` does, and read on the wire."""

from __future__ import annotations

from typing import Any

from chargebox.clock import VirtualClock
from chargebox.sim.hardware import HardwarePart
from tests.wire import statuses


def last_status(wire: Any, connector_id: int) -> dict[str, Any]:
    return [p for p in wire.calls("StatusNotification") if p["connectorId"] == connector_id][-1]


async def test_X_13_a_contactor_that_will_not_close_ends_the_transaction_at_once(
    station: Any, clock: VirtualClock
) -> None:
    wire, sim = await station()
    sim.hardware_fault(1, HardwarePart.CONTACTOR, True)
    await sim.plug(1)
    await sim.swipe("TAG-1", 1)
    await clock.advance(0)
    [start] = wire.calls("StartTransaction")
    [stop] = wire.calls("StopTransaction")
    assert stop["reason"] == "Other" and stop["meterStop"] == start["meterStart"]
    assert last_status(wire, 1) | {"timestamp": None} == {
        "connectorId": 1,
        "status": "Faulted",
        "errorCode": "PowerSwitchFailure",
        "info": "contactor did not close",
        "timestamp": None,
    }
    assert "Charging" not in statuses(wire, 1)
    assert wire.station.transactions.sessions == {}


async def test_X_13_a_contactor_that_will_not_open_still_journals_the_stop(station: Any, clock: VirtualClock) -> None:
    wire, sim = await station()
    await sim.plug(1)
    await sim.swipe("TAG-1", 1)
    await clock.advance(60)
    sim.hardware_fault(1, HardwarePart.CONTACTOR, True)
    await sim.swipe("TAG-1", 1)
    await clock.advance(0)
    [stop] = wire.calls("StopTransaction")
    assert stop["reason"] == "Local" and stop["meterStop"] > 0
    assert last_status(wire, 1)["status"] == "Faulted"
    assert last_status(wire, 1)["errorCode"] == "PowerSwitchFailure"
    assert last_status(wire, 1)["info"] == "contactor did not open"
    assert wire.station.lane.pending() == 0 and wire.station.store.transactions.open_transactions() == []


async def test_X_16_a_lock_that_will_not_engage_starts_nothing(station: Any, clock: VirtualClock) -> None:
    wire, sim = await station()
    sim.hardware_fault(1, HardwarePart.LOCK, True)
    await sim.plug(1)
    await sim.swipe("TAG-1", 1)
    await clock.advance(0)
    assert wire.calls("StartTransaction") == []
    assert last_status(wire, 1)["errorCode"] == "ConnectorLockFailure"


async def test_X_15_a_meter_that_cannot_be_read_keeps_its_last_register_and_says_so(
    station: Any, clock: VirtualClock, caplog: Any
) -> None:
    wire, sim = await station(ocpp_config={"MeterValueSampleInterval": 60})
    await sim.plug(1)
    await sim.swipe("TAG-1", 1)
    await clock.advance(60)
    sim.hardware_fault(1, HardwarePart.METER, True)
    await clock.advance(60)
    last_good = wire.calls("MeterValues")[0]["meterValue"][0]["sampledValue"]
    register = next(v["value"] for v in last_good if v.get("measurand") == "Energy.Active.Import.Register")
    broken = [v for v in wire.calls("MeterValues")[-1]["meterValue"][0]["sampledValue"]]
    assert [v["value"] for v in broken] == [register]  # the last good register stands in
    assert last_status(wire, 1)["status"] == "Charging"  # the transaction goes on
    assert last_status(wire, 1)["errorCode"] == "PowerMeterFailure"
    assert caplog.text.count("meter cannot be read") == 1  # logged once, not every reading
    sim.hardware_fault(1, HardwarePart.METER, False)
    await clock.advance(60)
    assert last_status(wire, 1)["errorCode"] == "NoError"
    await sim.swipe("TAG-1", 1)
    await clock.advance(0)
    [stop] = wire.calls("StopTransaction")
    assert stop["meterStop"] > int(register)  # counted again, never back
