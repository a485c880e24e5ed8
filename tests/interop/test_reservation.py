"""Reservations against the ``ocpp`` library's central system (checklist R-1..R-8, C-1, TC_046..053_CS).

chargebox runs on the real clock here: the expiry cases reserve for about a second and poll for the
Available that follows (TC_047_CS); the rest reserve for an hour.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from ocpp.v16 import call
from ocpp.v16.datatypes import IdTagInfo
from ocpp.v16.enums import (
    AuthorizationStatus,
    AvailabilityType,
    CancelReservationStatus,
    MessageTrigger,
    RemoteStartStopStatus,
    ReservationStatus,
    TriggerMessageStatus,
)

from chargebox.protocol import messages as m
from chargebox.sim.simulator import Simulator
from tests.interop.conftest import StationRunner
from tests.interop.transactions_csms import TransactionsCsms, boot, nothing_more, statuses, wait_status

CSMS = TransactionsCsms  # the central system of the ``csms`` fixture


def expiry(seconds: float = 3600) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()


async def reserve(csms: TransactionsCsms, reservation_id: int, connector_id: int, id_tag: str = "RES",
                  *, seconds: float = 3600, parent: str | None = None) -> str:  # fmt: skip
    result = await csms.call(
        call.ReserveNow(connector_id=connector_id, expiry_date=expiry(seconds), id_tag=id_tag,
                        reservation_id=reservation_id, parent_id_tag=parent)
    )  # fmt: skip
    return str(result.status)


async def test_R_2_R_6_TC_046_1_CS_reserve_connector_then_local_start(
    csms: TransactionsCsms, station_factory: StationRunner
) -> None:
    _, sim = await boot(csms, station_factory)
    before = len(csms.frames.frames)
    assert await reserve(csms, 1, 1) == ReservationStatus.accepted
    await wait_status(csms, 1, "Reserved", start=before)
    await sim.plug(1)
    await sim.swipe("RES", 1)
    _, start = await csms.wait_call("StartTransaction", start=before)
    assert start.payload["reservationId"] == 1 and start.payload["connectorId"] == 1
    await wait_status(csms, 1, "Charging", start=before)


async def test_G2_a_cable_does_not_consume_a_reservation(
    csms: TransactionsCsms, station_factory: StationRunner
) -> None:
    """S-1's only Reserved -> Preparing edge is G2, "reservation identity is presented": a cable alone leaves the
    connector Reserved (past ConnectionTimeOut too), another card is refused, the reserved card starts."""
    station, sim = await boot(csms, station_factory, ocpp_config={"ConnectionTimeOut": 1})
    before = len(csms.frames.frames)
    assert await reserve(csms, 1, 1) == ReservationStatus.accepted
    reserved, _ = await wait_status(csms, 1, "Reserved", start=before)
    await sim.plug(1)
    await nothing_more(csms, "StatusNotification", start=reserved + 1, within=1.5)  # not Preparing, not Finishing
    trigger = await csms.call(call.TriggerMessage(requested_message=MessageTrigger.status_notification, connector_id=1))
    assert trigger.status == TriggerMessageStatus.accepted
    _, triggered = await csms.wait_call("StatusNotification", start=reserved + 1)
    assert triggered.payload["status"] == "Reserved"
    await sim.swipe("OTHER", 1)
    assert station.connectors[1].status.value == "Reserved" and station.reservation.reservations
    await sim.swipe("RES", 1)
    _, start = await csms.wait_call("StartTransaction", start=reserved)
    assert start.payload["reservationId"] == 1
    await wait_status(csms, 1, "Charging", start=reserved)
    assert statuses(csms, 1, start=reserved + 1) == ["Reserved", "Preparing", "Charging"]  # triggered, G2, B3


async def test_G2_X_3_a_reservation_ending_with_a_cable_in_leaves_it_preparing_then_finishing(
    csms: TransactionsCsms, station_factory: StationRunner
) -> None:
    _, sim = await boot(csms, station_factory, ocpp_config={"ConnectionTimeOut": 1})
    before = len(csms.frames.frames)
    assert await reserve(csms, 2, 1) == ReservationStatus.accepted
    reserved, _ = await wait_status(csms, 1, "Reserved", start=before)
    await sim.plug(1)
    await nothing_more(csms, "StatusNotification", start=reserved + 1, within=1.5)  # past ConnectionTimeOut
    assert (await csms.call(call.CancelReservation(reservation_id=2))).status == CancelReservationStatus.accepted
    await wait_status(csms, 1, "Finishing", start=reserved)  # no card within ConnectionTimeOut of the end
    assert statuses(csms, 1, start=reserved + 1) == ["Preparing", "Finishing"]


async def test_R_7_TC_046_2_CS_reserve_connector_then_remote_start(
    csms: TransactionsCsms, station_factory: StationRunner
) -> None:
    _, sim = await boot(csms, station_factory)
    before = len(csms.frames.frames)
    assert await reserve(csms, 2, 1) == ReservationStatus.accepted
    result = await csms.call(call.RemoteStartTransaction(id_tag="RES", connector_id=1))
    assert result.status == RemoteStartStopStatus.accepted
    await sim.plug(1)
    _, start = await csms.wait_call("StartTransaction", start=before)
    assert start.payload["reservationId"] == 2


async def test_R_6_TC_047_CS_reservation_expires(csms: TransactionsCsms, station_factory: StationRunner) -> None:
    station, _ = await boot(csms, station_factory)
    before = len(csms.frames.frames)
    assert await reserve(csms, 3, 1, seconds=1) == ReservationStatus.accepted
    index, _ = await wait_status(csms, 1, "Reserved", start=before)
    await wait_status(csms, 1, "Available", start=index)
    assert station.store.reservations.all() == []


async def _make(sim: Simulator, csms: TransactionsCsms, setup: str, connector_id: int) -> None:
    if setup == "fault":
        sim.fault(1, m.ChargePointErrorCode.GROUND_FAILURE)
        sim.fault(2, m.ChargePointErrorCode.GROUND_FAILURE)
    elif setup == "occupied":
        await sim.plug(1)
        await sim.plug(2)
    elif setup == "unavailable":
        await csms.call(call.ChangeAvailability(connector_id=connector_id, type=AvailabilityType.inoperative))


@pytest.mark.parametrize(
    ("case", "setup", "expected"),
    [
        ("TC_048_1_CS", "fault", ReservationStatus.faulted),
        ("TC_048_2_CS", "occupied", ReservationStatus.occupied),
        ("TC_048_3_CS", "unavailable", ReservationStatus.unavailable),
    ],
)
async def test_R_3_TC_048_CS_reserve_connector_refused(
    csms: TransactionsCsms, station_factory: StationRunner, case: str, setup: str, expected: ReservationStatus
) -> None:
    station, sim = await boot(csms, station_factory)
    await _make(sim, csms, setup, 1)
    assert await reserve(csms, 4, 1) == expected, case
    assert station.store.reservations.all() == []


@pytest.mark.parametrize(("case", "connector_id"), [("TC_048_1_CS", 1), ("TC_050_1_CS", 0)])
async def test_R_3_a_faulted_target_is_faulted_even_when_the_expiry_date_is_already_past(
    csms: TransactionsCsms, station_factory: StationRunner, case: str, connector_id: int
) -> None:
    """§5.13: the state of the connector comes before the date (a tool may send any expiryDate with a fault)."""
    station, sim = await boot(csms, station_factory)
    await _make(sim, csms, "fault", connector_id)
    assert await reserve(csms, 4, connector_id, seconds=-60) == ReservationStatus.faulted, case
    assert station.store.reservations.all() == []


async def test_R_3_TC_048_4_CS_reservation_the_station_will_not_take_is_rejected(
    csms: TransactionsCsms, station_factory: StationRunner
) -> None:
    """The station refuses a reservation of a connector it does not have, or one already expired."""
    await boot(csms, station_factory)
    assert await reserve(csms, 5, 7) == ReservationStatus.rejected
    assert await reserve(csms, 5, 1, seconds=-60) == ReservationStatus.rejected


async def test_R_4_TC_049_CS_reserve_charge_point_and_start(
    csms: TransactionsCsms, station_factory: StationRunner
) -> None:
    _, sim = await boot(csms, station_factory)
    before = len(csms.frames.frames)
    assert await reserve(csms, 6, 0) == ReservationStatus.accepted
    await sim.plug(2)
    await sim.swipe("RES", 2)
    _, start = await csms.wait_call("StartTransaction", start=before)
    assert start.payload["reservationId"] == 6 and start.payload["connectorId"] == 2


@pytest.mark.parametrize(
    ("case", "setup", "expected"),
    [
        ("TC_050_1_CS", "fault", ReservationStatus.faulted),
        ("TC_050_2_CS", "occupied", ReservationStatus.occupied),
        ("TC_050_3_CS", "unavailable", ReservationStatus.unavailable),
    ],
)
async def test_R_3_TC_050_CS_reserve_charge_point_refused(
    csms: TransactionsCsms, station_factory: StationRunner, case: str, setup: str, expected: ReservationStatus
) -> None:
    _, sim = await boot(csms, station_factory)
    await _make(sim, csms, setup, 0)
    assert await reserve(csms, 7, 0) == expected, case


async def test_R_4_TC_050_4_CS_charge_point_reservation_rejected_when_not_supported(
    csms: TransactionsCsms, station_factory: StationRunner
) -> None:
    await boot(csms, station_factory, ocpp_config={"ReserveConnectorZeroSupported": False})
    assert await reserve(csms, 8, 0) == ReservationStatus.rejected


async def test_C_1_TC_051_CS_cancel_reservation(csms: TransactionsCsms, station_factory: StationRunner) -> None:
    await boot(csms, station_factory)
    before = len(csms.frames.frames)
    await reserve(csms, 9, 1)
    index, _ = await wait_status(csms, 1, "Reserved", start=before)
    result = await csms.call(call.CancelReservation(reservation_id=9))
    assert result.status == CancelReservationStatus.accepted
    await wait_status(csms, 1, "Available", start=index)


async def test_TC_052_CS_cancel_unknown_reservation(csms: TransactionsCsms, station_factory: StationRunner) -> None:
    await boot(csms, station_factory)
    result = await csms.call(call.CancelReservation(reservation_id=404))
    assert result.status == CancelReservationStatus.rejected


async def test_R_5_TC_053_1_CS_local_start_with_the_reservation_parent_id_tag(
    csms: TransactionsCsms, station_factory: StationRunner
) -> None:
    csms.id_tags["CHILD"] = IdTagInfo(status=AuthorizationStatus.accepted, parent_id_tag="GROUP")
    csms.id_tags["STRANGER"] = IdTagInfo(status=AuthorizationStatus.accepted, parent_id_tag="OTHER")
    _, sim = await boot(csms, station_factory)
    before = len(csms.frames.frames)
    await reserve(csms, 10, 1, "PARENT", parent="GROUP")
    await sim.plug(1)
    await sim.swipe("STRANGER", 1)  # another group: refused
    await sim.swipe("CHILD", 1)
    _, start = await csms.wait_call("StartTransaction", start=before)
    assert start.payload["idTag"] == "CHILD" and start.payload["reservationId"] == 10
    assert len(csms.frames.calls("StartTransaction", start=before)) == 1


async def test_R_5_TC_053_2_CS_remote_start_with_the_reservation_parent_id_tag(
    csms: TransactionsCsms, station_factory: StationRunner
) -> None:
    csms.id_tags["CHILD"] = IdTagInfo(status=AuthorizationStatus.accepted, parent_id_tag="GROUP")
    _, sim = await boot(csms, station_factory)
    before = len(csms.frames.frames)
    await reserve(csms, 11, 1, "PARENT", parent="GROUP")
    await sim.plug(1)
    result = await csms.call(call.RemoteStartTransaction(id_tag="CHILD", connector_id=1))
    assert result.status == RemoteStartStopStatus.accepted
    _, start = await csms.wait_call("StartTransaction", start=before)  # its group learned by Authorize
    assert start.payload["reservationId"] == 11


async def test_reservation_survives_a_restart_with_its_expiry(
    csms: TransactionsCsms, station_factory: StationRunner, tmp_path: Path
) -> None:
    station, _ = await boot(csms, station_factory, data_dir=tmp_path)
    assert await reserve(csms, 12, 1, seconds=3) == ReservationStatus.accepted
    await station_factory.stop(station)
    station_factory(data_dir=tmp_path)
    await csms.wait_session(2)
    index, _ = await csms.frames.wait_for(lambda f: f.session == 2 and f.action == "BootNotification")
    reserved, _ = await wait_status(csms, 1, "Reserved", start=index)  # B-4: still reserved after the boot
    await wait_status(csms, 1, "Available", start=reserved)  # and its expiry still ends it (TC_047_CS)
