"""storage.py: a store that refuses writes (a full disk) stops energy, starts nothing, is reported at once, and clears
itself (issue 16, item 2). A real station on a file store and the virtual clock; the disk is full while this
process's RLIMIT_FSIZE is 1 byte (``disk_full``), and the store's next try (at most LAST_RETRY_S later) finds room.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from chargebox.clock import VirtualClock
from chargebox.sim.hardware import SimulatedEv
from chargebox.sim.simulator import Simulator
from chargebox.station.station import STOP_WAIT_S
from chargebox.store import Store
from chargebox.store.core import LAST_RETRY_S
from tests.store.test_faults import a_fault, disk_full
from tests.wire import Wire

INFO = "store write failed: disk I/O error"
SAMPLE_S = 3
# 6 A on one phase: under 10 Wh and 5 s between two samples, so the register keeper writes nothing between them and
# the first write to meet the full disk is a sample's MeterValues, being journaled (a barrier in the lane)
EV = SimulatedEv(max_current=6.0, phases=1)


@pytest.fixture
async def charging(
    wired: Callable[..., Wire], clock: VirtualClock, tmp_path: Path
) -> AsyncIterator[tuple[Wire, Simulator]]:
    """Connector 1 charging (EV), sampled every SAMPLE_S; connector 2 free."""
    store = Store.open(tmp_path, clock=clock)
    wire = wired(connectors=2, store=store, ocpp_config={"MeterValueSampleInterval": SAMPLE_S})
    await wire.connect()
    sim = Simulator(wire.station)
    await sim.plug(1, EV)
    await sim.swipe("TAG", 1)
    await wire.until(lambda: wire.station.connectors[1].transaction_id is not None)
    yield wire, sim
    await wire.until(asyncio.ensure_future(wire.station.stop()).done)  # the store closed (twice is harmless)


def reports(wire: Wire, connector_id: int) -> list[tuple[str, str, str | None]]:
    return [(p["status"], p["errorCode"], p.get("info")) for p in wire.calls("StatusNotification")
            if p["connectorId"] == connector_id]  # fmt: skip


def offered(sim: Simulator, connector_id: int) -> float:
    return sim.hardware.connectors[connector_id].offered_a


async def test_2_the_fault_is_reported_at_once_though_the_message_that_met_it_waits(
    charging: tuple[Wire, Simulator], clock: VirtualClock
) -> None:
    wire, sim = charging
    sampled = len(wire.calls("MeterValues"))
    with disk_full():
        await clock.advance(SAMPLE_S)  # the sample's MeterValues meets the full disk
        await a_fault(wire.station.store.backend)
    await wire.until(lambda: reports(wire, 1)[-1:] == [("SuspendedEVSE", "InternalError", INFO)])
    assert reports(wire, 0)[-1] == ("Faulted", "InternalError", INFO)
    assert reports(wire, 2)[-1] == ("Faulted", "InternalError", INFO)  # nothing may start there
    assert (offered(sim, 1), len(wire.calls("MeterValues"))) == (0.0, sampled)  # no energy; the sample waits
    await clock.advance(LAST_RETRY_S)  # the disk has room: the waiting writes commit
    cleared = [("Available", "NoError", None), ("Charging", "NoError", None), ("Available", "NoError", None)]
    await wire.until(lambda: [reports(wire, c)[-1] for c in (0, 1, 2)] == cleared)
    assert offered(sim, 1) > 0
    await wire.until(lambda: len(wire.calls("MeterValues")) > sampled)  # journaled at last, then sent in its turn


async def test_2_the_delete_of_an_answered_message_that_meets_the_full_disk_holds_no_status_back(
    charging: tuple[Wire, Simulator], clock: VirtualClock
) -> None:
    wire, _sim = charging
    wire.hold_answer_to("MeterValues")
    await clock.advance(SAMPLE_S)
    await wire.until(wire.holding)
    with disk_full():
        await wire.release()  # answered: its delete meets the full disk
        await a_fault(wire.station.store.backend)
    await wire.until(lambda: reports(wire, 1)[-1:] == [("SuspendedEVSE", "InternalError", INFO)])
    assert wire.station.lane.pending() == 1  # the delete waits; the next durable message would wait for it
    await clock.advance(LAST_RETRY_S)
    await wire.until(lambda: wire.station.lane.pending() == 0)


async def test_2_X_13_no_transaction_starts_while_the_store_cannot_write(
    charging: tuple[Wire, Simulator], clock: VirtualClock
) -> None:
    wire, sim = charging
    with disk_full():
        await clock.advance(SAMPLE_S)
        await a_fault(wire.station.store.backend)
    await sim.plug(2)
    assert (await sim.swipe("OTHER", 2)).result == "refused"
    remote = '[2,"r1","RemoteStartTransaction",{"connectorId":2,"idTag":"OTHER"}]'
    assert await wire.inject(remote) == [3, "r1", {"status": "Rejected"}]
    assert wire.calls("StartTransaction")[1:] == []
    await clock.advance(LAST_RETRY_S)
    await wire.until(lambda: reports(wire, 2)[-1][:2] == ("Preparing", "NoError"))


async def test_2_stop_gives_up_on_writes_the_store_refuses_after_STOP_WAIT_S(
    charging: tuple[Wire, Simulator], clock: VirtualClock, caplog: pytest.LogCaptureFixture
) -> None:
    wire, _sim = charging
    station = wire.station
    with disk_full():
        await clock.advance(SAMPLE_S)
        await a_fault(station.store.backend)
        stopping = asyncio.ensure_future(station.stop())
        await clock.advance(STOP_WAIT_S - 0.5)
        assert not stopping.done()
        await clock.advance(1)
        await wire.until(stopping.done)
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    register = station.meter.energy_wh(1)
    assert any("stopping while the store cannot write" in line for line in errors), errors
    assert any(f"on connector 1: the register is at {register} Wh" in line for line in errors), errors
    assert any("writes not persisted: " in line for line in errors), errors
