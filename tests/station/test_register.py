"""The meter register of a running transaction is persisted between samples: a power cut loses at most
REGISTER_STEP_S seconds of charging, a clean stop nothing (X-12, X-15; docs/reliability.md)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from chargebox.clock import VirtualClock
from chargebox.sim.simulator import Simulator
from chargebox.station.station import Station
from chargebox.station.v16.metering import REGISTER_STEP_S
from chargebox.store import Store
from tests.wire import Wire, make_csms, make_station, power_cut_and_restart

SAMPLES_RARELY = {"MeterValueSampleInterval": 900}  # the last sample is far behind the cut


async def charge(clock: VirtualClock, station: Station, seconds: float) -> tuple[Wire, Simulator]:
    wire = Wire(station, make_csms(clock), clock)
    await wire.connect()
    sim = Simulator(station)
    await sim.plug(1)
    await sim.swipe("TAG-1", 1)
    await wire.until(lambda: station.connectors[1].transaction_id is not None)
    for _ in range(int(seconds * 4)):
        await clock.advance(0.25)
        await station.store.idle()
    return wire, sim


async def test_X_12_a_power_cut_loses_at_most_the_register_step(clock: VirtualClock, tmp_path: Path) -> None:
    station = make_station(clock, store=Store.open(tmp_path), ocpp_config=SAMPLES_RARELY)
    wire, sim = await charge(clock, station, 63.75)
    delivered = sim.hardware.energy_wh(1)
    power_w = sim.hardware.connectors[1].power()
    cut_at = clock.now()
    rewire = await power_cut_and_restart(wire, tmp_path)
    await rewire.until(lambda: bool(rewire.calls("StopTransaction")))
    [stop] = rewire.calls("StopTransaction")
    lost_wh = delivered - stop["meterStop"]
    assert stop["reason"] == "PowerLoss"
    assert 0 <= lost_wh <= power_w * REGISTER_STEP_S / 3600
    stopped_at = datetime.fromisoformat(stop["timestamp"])
    assert cut_at - timedelta(seconds=REGISTER_STEP_S) <= stopped_at <= cut_at  # the last moment it knew
    await rewire.stop()
    rewire.station.store.close()


async def test_X_15_a_clean_stop_persists_the_exact_register(clock: VirtualClock, tmp_path: Path) -> None:
    station = make_station(clock, store=Store.open(tmp_path), ocpp_config=SAMPLES_RARELY)
    _wire, sim = await charge(clock, station, 3.25)
    delivered = sim.hardware.energy_wh(1)
    await station.stop()  # SIGTERM's path
    again = make_station(clock, store=Store.open(tmp_path))
    assert again.ports.meter.energy_wh(1) == delivered
    [record] = again.store.transactions.open_transactions()
    assert record.meter_last == delivered
    again.store.close()
