"""Availability (G01, G03, G04) against the ``ocpp`` library's 2.0.1 central system: Part 6's TC_G cases and TC_B_23.

ChangeAvailability answers first, then the StatusNotification of each connector that changed (G03.FR.04,
G04.FR.05); nothing when the state was already the one asked for. With a transaction running (TC_G_11, TC_G_17) the
answer is Scheduled and the EVSE goes Unavailable when the transaction ends (Part 6's StopAuthorized: the card
again); for the whole station (TC_G_14) the idle EVSE goes Unavailable at once. TC_G_01 and TC_G_02 (a cable in and
out) are here too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ocpp.v201 import call
from ocpp.v201.enums import OperationalStatusEnumType, ResetEnumType

from chargebox.sim.hardware import HardwarePart, SimulatedHardware
from tests.interop.conftest import OcppCsms
from tests.interop.v201.conftest import StationRunner201, wait_booted
from tests.interop.v201.test_remote_control import charging_on

OPERATIVE, INOPERATIVE = OperationalStatusEnumType.operative, OperationalStatusEnumType.inoperative


async def change(
    csms: OcppCsms, status: OperationalStatusEnumType, evse: int | None = None, connector: int | None = None
) -> tuple[str, int]:
    """ChangeAvailability: its answer's status, and the index of the answer among the frames the CSMS received."""
    scope: dict[str, Any] | None = None
    if evse is not None:
        scope = {"id": evse} if connector is None else {"id": evse, "connector_id": connector}
    before = len(csms.frames.frames)
    result = await csms.call(call.ChangeAvailability(operational_status=status, evse=scope))
    index, _ = await csms.frames.wait_for(lambda f: isinstance(f.data, list) and f.data[0] == 3, start=before)
    return result.status, index


async def statuses_after(csms: OcppCsms, index: int, count: int) -> list[tuple[int, int, str]]:
    """The next ``count`` StatusNotifications after frame ``index``, as (evse, connector, status)."""
    found: list[tuple[int, int, str]] = []
    while len(found) < count:
        index, frame = await csms.frames.wait_for(lambda f: f.action == "StatusNotification", start=index + 1)
        found.append((frame.payload["evseId"], frame.payload["connectorId"], frame.payload["connectorStatus"]))
    return found


async def nothing_after(csms: OcppCsms, index: int) -> None:
    """No StatusNotification follows frame ``index``: a Heartbeat, triggered, comes back first."""
    await csms.call(call.TriggerMessage(requested_message="Heartbeat"))
    heartbeat, _ = await csms.wait_call("Heartbeat", start=index + 1)
    assert csms.frames.calls("StatusNotification", start=index + 1) == []
    assert heartbeat > index


async def booted(csms: OcppCsms, station_factory: StationRunner201, **settings: Any) -> int:
    station_factory(connectors=2, **settings)
    return await wait_booted(csms, evses=2)


async def test_TC_G_01_CS_TC_G_02_CS_a_cable_in_is_occupied_and_out_available_again(
    csms: OcppCsms, station_factory: StationRunner201
) -> None:
    station = station_factory(connectors=2)
    index = await wait_booted(csms, evses=2)
    await station.plugged(1)
    assert await statuses_after(csms, index, 1) == [(1, 1, "Occupied")]  # G01.FR.03
    index = len(csms.frames.frames) - 1
    await station.unplugged(1)
    assert await statuses_after(csms, index, 1) == [(1, 1, "Available")]  # G01.FR.04


async def inoperative_then_operative(
    csms: OcppCsms, station_factory: StationRunner201, evse: int | None = None, connector: int | None = None
) -> None:
    """Inoperative, then Operative again: Accepted each time, the affected connectors reported after the answer."""
    await booted(csms, station_factory)
    affected = [1, 2] if evse is None else [evse]
    for status, reported in ((INOPERATIVE, "Unavailable"), (OPERATIVE, "Available")):
        answer, index = await change(csms, status, evse, connector)
        assert answer == "Accepted"
        assert sorted(await statuses_after(csms, index, len(affected))) == [(e, 1, reported) for e in affected]


async def asked_for_the_state_it_is_in(
    csms: OcppCsms, station_factory: StationRunner201, evse: int | None = None, connector: int | None = None
) -> None:
    """Operative when operative, Inoperative when inoperative: Accepted, and nothing reported (G03.FR.03, G04.FR.04)."""
    await booted(csms, station_factory)
    status, index = await change(csms, OPERATIVE, evse, connector)
    assert status == "Accepted"
    await nothing_after(csms, index)
    _, index = await change(csms, INOPERATIVE, evse, connector)
    await statuses_after(csms, index, 1 if evse is not None else 2)
    status, index = await change(csms, INOPERATIVE, evse, connector)
    assert status == "Accepted"
    await nothing_after(csms, index)


async def test_TC_G_03_CS_TC_G_04_CS_an_evse_inoperative_then_operative(
    csms: OcppCsms, station_factory: StationRunner201
) -> None:
    await inoperative_then_operative(csms, station_factory, evse=1)  # G03.FR.04, G03.FR.06, G03.FR.07


async def test_TC_G_05_CS_TC_G_06_CS_the_station_inoperative_then_operative(
    csms: OcppCsms, station_factory: StationRunner201
) -> None:
    await inoperative_then_operative(csms, station_factory)  # G04.FR.01, G04.FR.07, G04.FR.08


async def test_TC_G_07_CS_TC_G_08_CS_a_connector_inoperative_then_operative(
    csms: OcppCsms, station_factory: StationRunner201
) -> None:
    await inoperative_then_operative(csms, station_factory, evse=2, connector=1)


async def test_TC_G_09_CS_TC_G_10_CS_an_evse_asked_for_the_state_it_is_in(
    csms: OcppCsms, station_factory: StationRunner201
) -> None:
    await asked_for_the_state_it_is_in(csms, station_factory, evse=2)


async def test_TC_G_12_CS_TC_G_13_CS_the_station_asked_for_the_state_it_is_in(
    csms: OcppCsms, station_factory: StationRunner201
) -> None:
    await asked_for_the_state_it_is_in(csms, station_factory)


async def test_TC_G_15_CS_TC_G_16_CS_a_connector_asked_for_the_state_it_is_in(
    csms: OcppCsms, station_factory: StationRunner201
) -> None:
    await asked_for_the_state_it_is_in(csms, station_factory, evse=1, connector=1)


async def restarted(csms: OcppCsms, station_factory: StationRunner201, data_dir: Path) -> list[tuple[int, int, str]]:
    """Stop the station, start it again on the same data directory: the statuses its boot reports."""
    (station,) = station_factory.running
    await station_factory.stop(station)
    del station_factory.running[station]
    start = len(csms.frames.frames)
    station_factory(connectors=2, data_dir=data_dir)
    index = await wait_booted(csms, evses=2, start=start)
    calls = csms.frames.calls("StatusNotification", start=start)
    assert csms.frames.frames.index(calls[-1]) == index
    return sorted((c.payload["evseId"], c.payload["connectorId"], c.payload["connectorStatus"]) for c in calls)


async def test_TC_G_18_CS_an_evse_s_inoperative_state_survives_a_reboot(
    csms: OcppCsms, station_factory: StationRunner201, tmp_path: Path
) -> None:
    await booted(csms, station_factory, data_dir=tmp_path)
    _, index = await change(csms, INOPERATIVE, evse=1)
    await statuses_after(csms, index, 1)
    assert await restarted(csms, station_factory, tmp_path) == [(1, 1, "Unavailable"), (2, 1, "Available")]


async def test_TC_G_19_CS_a_connector_s_inoperative_state_survives_a_reboot(
    csms: OcppCsms, station_factory: StationRunner201, tmp_path: Path
) -> None:
    await booted(csms, station_factory, data_dir=tmp_path)
    _, index = await change(csms, INOPERATIVE, evse=2, connector=1)
    await statuses_after(csms, index, 1)
    assert await restarted(csms, station_factory, tmp_path) == [(1, 1, "Available"), (2, 1, "Unavailable")]


async def test_TC_G_21_CS_the_station_s_inoperative_state_survives_a_reboot(
    csms: OcppCsms, station_factory: StationRunner201, tmp_path: Path
) -> None:
    await booted(csms, station_factory, data_dir=tmp_path)
    _, index = await change(csms, INOPERATIVE)
    await statuses_after(csms, index, 2)
    assert await restarted(csms, station_factory, tmp_path) == [(1, 1, "Unavailable"), (2, 1, "Unavailable")]


async def test_TC_B_23_CS_an_unavailable_evse_stays_unavailable_after_a_reset(
    csms: OcppCsms, station_factory: StationRunner201
) -> None:
    await booted(csms, station_factory)
    _, index = await change(csms, INOPERATIVE, evse=2)
    await statuses_after(csms, index, 1)
    result = await csms.call(call.Reset(type=ResetEnumType.immediate))
    assert result.status == "Accepted"
    again = await wait_booted(csms, evses=2, start=index + 2)
    evse_2 = [c for c in csms.frames.calls("StatusNotification", start=index + 2)
              if c.payload["evseId"] == 2 and csms.frames.frames.index(c) <= again]  # fmt: skip
    # the last one before the boot's statuses were all in: after the reset (the change's own may be among them
    # when another frame came between the answer and it)
    assert evse_2 and evse_2[-1].payload["connectorStatus"] == "Unavailable"  # G01.FR.02


async def test_G03_a_change_for_an_evse_the_station_lacks_is_rejected(
    csms: OcppCsms, station_factory: StationRunner201
) -> None:
    await booted(csms, station_factory)
    status, index = await change(csms, INOPERATIVE, evse=3)
    assert status == "Rejected"
    await nothing_after(csms, index)


async def test_TC_G_20_CS_a_lock_failure_starts_no_charging_and_reports_the_lock_s_problem(
    csms: OcppCsms, station_factory: StationRunner201
) -> None:
    station = station_factory(connectors=1)
    index = await wait_booted(csms, evses=1)
    lock = station.ports.lock
    assert isinstance(lock, SimulatedHardware)
    lock.inject_fault(1, HardwarePart.LOCK, True)  # the cable is not fully in: it cannot lock
    await station.plugged(1)
    await station.id_tag_presented("04A2B3C4")  # the reusable state Authorized
    at, notify = await csms.wait_call("NotifyEvent", start=index)
    first = notify.payload["eventData"][0]
    assert (first["trigger"], first["component"]["name"], first["variable"]["name"], first["actualValue"]) == (
        "Delta", "ConnectorPlugRetentionLock", "Problem", "true",
    )  # fmt: skip  # G05.FR.02
    assert not lock.connectors[1].contactor_closed  # G05.FR.01: no charging
    await csms.call(call.TriggerMessage(requested_message="Heartbeat"))
    await csms.wait_call("Heartbeat", start=at)
    assert csms.frames.calls("TransactionEvent", start=index) == []  # TxStartPoint PowerPathClosed was never met


async def inoperative_during_a_transaction(
    csms: OcppCsms, station_factory: StationRunner201, connector: int | None, *, station_wide: bool = False
) -> None:
    """Inoperative for EVSE 1 (or its connector, or the station) while EVSE 1 charges: Scheduled; Unavailable once
    the card ends the transaction (an idle EVSE at once)."""
    station = station_factory(connectors=2)
    index = await charging_on(csms, station, (1,), await wait_booted(csms, evses=2))
    status, answer = await change(csms, INOPERATIVE, evse=None if station_wide else 1, connector=connector)
    assert status == "Scheduled"  # G03.FR.05, G04.FR.06
    if station_wide:
        assert await statuses_after(csms, answer, 1) == [(2, 1, "Unavailable")]  # G04.FR.05: the idle one now
        answer = len(csms.frames.frames)
    assert csms.frames.calls("StatusNotification", start=answer) == []  # the transaction goes on
    await station.id_tag_presented("CARD1", 1)  # StopAuthorized
    ended, _ = await csms.frames.wait_for(
        lambda f: f.action == "TransactionEvent" and f.payload["eventType"] == "Ended", start=index + 1
    )
    assert await statuses_after(csms, ended, 1) == [(1, 1, "Unavailable")]  # G03.FR.04 once it ended
    reported = len(csms.frames.frames) - 1
    await station.unplugged(1)
    await nothing_after(csms, reported)  # still Unavailable without the cable: nothing new to report


async def test_TC_G_11_CS_an_evse_inoperative_during_a_transaction_is_Scheduled(
    csms: OcppCsms, station_factory: StationRunner201
) -> None:
    await inoperative_during_a_transaction(csms, station_factory, connector=None)


async def test_TC_G_17_CS_a_connector_inoperative_during_a_transaction_is_Scheduled(
    csms: OcppCsms, station_factory: StationRunner201
) -> None:
    await inoperative_during_a_transaction(csms, station_factory, connector=1)


async def test_TC_G_14_CS_the_station_inoperative_during_a_transaction_is_Scheduled(
    csms: OcppCsms, station_factory: StationRunner201
) -> None:
    await inoperative_during_a_transaction(csms, station_factory, connector=None, station_wide=True)
