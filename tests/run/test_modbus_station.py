"""``chargebox run``'s Modbus drivers against pymodbus's own server on loopback, with the `ocpp` library's
central system: energy from the meter's registers in the transaction, a meter that stops answering
(PowerMeterFailure, X-15: billing goes on from the last good register), a contactor whose feedback disagrees
(Faulted / PowerSwitchFailure), each transaction still stopped and journaled."""

from __future__ import annotations

import tomllib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from chargebox.run.app import Running, assemble
from chargebox.run.config import parse
from tests.interop.transactions_csms import TransactionsCsms, wait_status
from tests.loopback import running, until
from tests.run.modbus_rig import CONTACTOR_COIL, ModbusRig
from tests.run.station_file import modbus_station

START_WH = 1_000_000


@pytest.fixture
async def csms() -> AsyncIterator[TransactionsCsms]:
    async with running(TransactionsCsms()) as server:
        yield server


async def _start(csms: TransactionsCsms, tmp_path: Path, rig: ModbusRig) -> Running:
    await rig.start()
    text = modbus_station(csms.url, tmp_path / "data", rig.port, rig.io_port, meter_map=rig.meter_map)
    running = await assemble(parse(tomllib.loads(text)))
    running.tasks.spawn(running.station.run())
    await csms.wait_booted(1)
    return running


async def _charge(csms: TransactionsCsms, running: Running, rig: ModbusRig) -> dict[str, object]:
    rig.plugged = True
    await wait_status(csms, 1, "Preparing")
    await running.station.id_tag_presented("04A2B3C4", 1)
    _, start = await csms.wait_call("StartTransaction")
    await until(lambda: rig.energy_wh > START_WH + 1)  # the contactor coil is on: the meter counts
    return dict(start.payload)


@pytest.mark.parametrize("meter_map", ["sdm630", "abb_b23"])
async def test_energy_of_the_modbus_meter_is_the_transactions(csms: TransactionsCsms, tmp_path: Path,
                                                              meter_map: str) -> None:  # fmt: skip
    rig = ModbusRig(meter_map=meter_map, power_w=72_000.0)  # 20 Wh a second: ABB counts in 10 Wh steps
    running = await _start(csms, tmp_path, rig)
    try:
        start = await _charge(csms, running, rig)
        assert start["meterStart"] == START_WH  # read from the meter's registers, not from zero
        index, values = await csms.frames.wait_for(
            lambda f: (
                f.action == "MeterValues"
                and any(
                    s.get("measurand", "Energy.Active.Import.Register") == "Energy.Active.Import.Register"
                    and float(s["value"]) > START_WH
                    for s in f.payload["meterValue"][0]["sampledValue"]
                )
            ),
            timeout=10,
        )
        power = [s for s in values.payload["meterValue"][0]["sampledValue"]
                 if s.get("measurand") == "Power.Active.Import" and "phase" not in s]  # fmt: skip
        assert power and float(power[0]["value"]) == pytest.approx(72_000, rel=0.01)
        await running.station.id_tag_presented("04A2B3C4", 1)
        _, stop = await csms.wait_call("StopTransaction", start=index)
        assert START_WH < stop.payload["meterStop"] <= rig.energy_wh + 10
        assert not await rig.coil(CONTACTOR_COIL)  # the contactor was opened through its coil
        await until(lambda: running.station.lane.pending() == 0)
    finally:
        await running.close()
        await rig.stop()


async def test_X_15_a_meter_that_stops_answering_is_PowerMeterFailure_and_the_transaction_still_stops(
    csms: TransactionsCsms, tmp_path: Path
) -> None:
    rig = ModbusRig()
    running = await _start(csms, tmp_path, rig)
    try:
        await _charge(csms, running, rig)
        await until(lambda: running.station.meter.energy_wh(1) > START_WH)
        last_good = running.station.meter.energy_wh(1)
        mark = len(csms.frames.frames)
        await rig.stop_answering()
        _, warning = await csms.frames.wait_for(
            lambda f: f.action == "StatusNotification" and f.payload["errorCode"] == "PowerMeterFailure",
            start=mark,
            timeout=10,
        )
        assert warning.payload["status"] == "Charging"  # a warning: the session goes on (station/kernel/meter.py)
        await running.station.id_tag_presented("04A2B3C4", 1)
        _, stop = await csms.wait_call("StopTransaction", start=mark)
        assert last_good <= stop.payload["meterStop"] <= rig.energy_wh + 1  # the last good register, never back
        await until(lambda: running.station.lane.pending() == 0)  # journaled and delivered
        assert running.station.store.transactions.open_transactions() == []
    finally:
        await running.close()
        await rig.stop()


async def test_a_welded_contactor_is_Faulted_PowerSwitchFailure_and_the_transaction_still_stops(
    csms: TransactionsCsms, tmp_path: Path
) -> None:
    rig = ModbusRig()
    running = await _start(csms, tmp_path, rig)
    try:
        await _charge(csms, running, rig)
        rig.welded = True  # the feedback contact stays closed whatever the coil says
        mark = len(csms.frames.frames)
        await running.station.id_tag_presented("04A2B3C4", 1)
        _, stop = await csms.wait_call("StopTransaction", start=mark)
        assert stop.payload["meterStop"] >= START_WH
        _, faulted = await wait_status(csms, 1, "Faulted", start=mark)
        assert faulted.payload["errorCode"] == "PowerSwitchFailure"
        await until(lambda: running.station.lane.pending() == 0)
        assert running.station.store.transactions.open_transactions() == []
    finally:
        await running.close()
        await rig.stop()


async def test_a_contactor_that_does_not_pull_in_ends_the_transaction_Faulted(
    csms: TransactionsCsms, tmp_path: Path
) -> None:
    rig = ModbusRig(stuck_open=True)
    running = await _start(csms, tmp_path, rig)
    try:
        rig.plugged = True
        await wait_status(csms, 1, "Preparing")
        mark = len(csms.frames.frames)
        await running.station.id_tag_presented("04A2B3C4", 1)
        _, stop = await csms.wait_call("StopTransaction", start=mark)
        assert stop.payload["reason"] == "Other"
        _, faulted = await wait_status(csms, 1, "Faulted", start=mark)
        assert faulted.payload["errorCode"] == "PowerSwitchFailure"
        await until(lambda: running.station.lane.pending() == 0)
    finally:
        await running.close()
        await rig.stop()


async def test_a_bench_station_on_simulated_parts_charges(csms: TransactionsCsms, tmp_path: Path) -> None:
    text = f"""
[station]
id = "BENCH-1"
csms = "{csms.url}"
data_dir = "{tmp_path / "data"}"
vendor = "Acme"
model = "Bench"
[hardware.meter]
driver = "simulated"
[hardware.contactor]
driver = "simulated"
[hardware.lock]
driver = "simulated"
[hardware.ev]
driver = "simulated"
plugged = [1]
[hardware.installer]
driver = "simulated"
"""
    running = await assemble(parse(tomllib.loads(text)))
    running.tasks.spawn(running.station.run())
    try:
        await csms.wait_booted(1)
        await wait_status(csms, 1, "Preparing")  # the cable of plugged = [1] was in at start
        await running.station.id_tag_presented("04A2B3C4", 1)
        _, start = await csms.wait_call("StartTransaction")
        assert start.payload["meterStart"] == 0
        await wait_status(csms, 1, "Charging")
    finally:
        await running.close()
