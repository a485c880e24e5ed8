"""Reservations: ReserveNow, CancelReservation, expiry on the clock, Reserved (checklist R-1..R-8, C-1, S-1)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from chargebox.clock import VirtualClock
from chargebox.protocol import messages as m
from chargebox.store import Store
from tests.wire import Wire, make_csms, make_station, power_cut_and_restart, statuses


def reserve(clock: VirtualClock, reservation_id: int, connector_id: int, id_tag: str = "RES",
            *, seconds: float = 3600, parent: str | None = None) -> str:  # fmt: skip
    payload: dict[str, Any] = {
        "connectorId": connector_id,
        "expiryDate": (clock.now() + timedelta(seconds=seconds)).isoformat(),
        "idTag": id_tag,
        "reservationId": reservation_id,
    }
    if parent is not None:
        payload["parentIdTag"] = parent
    return json.dumps([2, "r", "ReserveNow", payload])


async def answer(wire: Wire, frame: str) -> str:
    return str((await wire.inject(frame))[2]["status"])


async def test_R_2_TC_046_1_CS_reserved_card_starts_with_the_reservation_id(station: Any, clock: VirtualClock) -> None:
    wire, sim = await station(connectors=2)
    assert await answer(wire, reserve(clock, 11, 1)) == "Accepted"
    await clock.advance(0)
    assert statuses(wire, 1)[-1] == "Reserved"
    await sim.plug(1)
    await sim.swipe("RES", 1)
    await clock.advance(0)
    [start] = wire.calls("StartTransaction")
    assert start["reservationId"] == 11
    assert statuses(wire, 1)[-3:] == ["Reserved", "Preparing", "Charging"]  # G2, B3
    assert wire.station.reservation.reservations == {}  # R-6 (a)
    assert wire.station.store.reservations.all() == []


async def test_R_5_other_card_is_refused_on_the_reserved_connector(station: Any, clock: VirtualClock) -> None:
    wire, sim = await station(connectors=2)
    await answer(wire, reserve(clock, 1, 1))
    await sim.plug(1)
    await sim.swipe("OTHER", 1)
    await clock.advance(0)
    assert wire.calls("StartTransaction") == []
    await sim.swipe("OTHER", 2)  # the other connector is free for it
    await sim.plug(2)
    await clock.advance(0)
    assert [(s["connectorId"], "reservationId" in s) for s in wire.calls("StartTransaction")] == [(2, False)]


async def test_R_5_TC_053_1_CS_card_of_the_reservation_group_may_use_it(station: Any, clock: VirtualClock) -> None:
    wire, sim = await station(connectors=1, ocpp_config={"LocalPreAuthorize": True})
    wire.station.store.auth_cache.put("CHILD", "Accepted", expiry_date=None, parent_id_tag="GROUP", now="x")
    await answer(wire, reserve(clock, 5, 1, "PARENT-CARD", parent="GROUP"))
    await sim.plug(1)
    await sim.swipe("CHILD", 1)
    await clock.advance(0)
    [start] = wire.calls("StartTransaction")
    assert start["idTag"] == "CHILD" and start["reservationId"] == 5


async def test_R_6_TC_047_CS_reservation_expires_at_its_expiry_date(station: Any, clock: VirtualClock) -> None:
    wire, _ = await station(connectors=1)
    await answer(wire, reserve(clock, 3, 1, seconds=600))
    await clock.advance(599)
    assert wire.station.connectors[1].status is m.ChargePointStatus.RESERVED
    await clock.advance(1)
    assert statuses(wire, 1)[-2:] == ["Reserved", "Available"]
    assert wire.station.store.reservations.all() == []


async def test_R_6_a_time_sync_moves_the_expiry(station: Any, clock: VirtualClock) -> None:
    wire, _ = await station(connectors=1)
    await answer(wire, reserve(clock, 3, 1, seconds=7200))
    wire.station.clock_sync.set_time(clock.now() + timedelta(hours=3), "Heartbeat.conf")  # B-7: it was ahead
    await clock.advance(300)  # the expiry is read again at least every 5 minutes
    assert statuses(wire, 1)[-2:] == ["Reserved", "Available"]


@pytest.mark.parametrize(
    ("setup", "expected"),
    [
        ("fault", "Faulted"),  # TC_048_1_CS
        ("plug", "Occupied"),  # TC_048_2_CS
        ("inoperative", "Unavailable"),  # TC_048_3_CS
        ("reserved", "Occupied"),  # already reserved for another card
    ],
)
async def test_R_3_TC_048_CS_reserve_connector_answers_what_it_is(
    station: Any, clock: VirtualClock, setup: str, expected: str
) -> None:
    wire, sim = await station(connectors=2)
    if setup == "fault":
        sim.fault(1, m.ChargePointErrorCode.GROUND_FAILURE)
    elif setup == "plug":
        await sim.plug(1)
    elif setup == "inoperative":
        await wire.inject('[2,"a","ChangeAvailability",{"connectorId":1,"type":"Inoperative"}]')
    else:
        await answer(wire, reserve(clock, 1, 1, "SOMEONE"))
    assert await answer(wire, reserve(clock, 2, 1)) == expected
    assert 2 not in wire.station.reservation.reservations


async def test_R_3_TC_048_4_CS_unknown_connector_or_past_expiry_is_rejected(station: Any, clock: VirtualClock) -> None:
    wire, _ = await station(connectors=2)
    assert await answer(wire, reserve(clock, 1, 3)) == "Rejected"
    assert await answer(wire, reserve(clock, 1, 1, seconds=-1)) == "Rejected"


async def test_R_4_TC_050_4_CS_connector_zero_rejected_when_not_supported(station: Any, clock: VirtualClock) -> None:
    wire, _ = await station(ocpp_config={"ReserveConnectorZeroSupported": False})
    assert await answer(wire, reserve(clock, 1, 0)) == "Rejected"


async def test_R_4_TC_049_CS_connector_zero_keeps_one_connector_for_the_card(station: Any, clock: VirtualClock) -> None:
    wire, sim = await station(connectors=2)
    assert await answer(wire, reserve(clock, 9, 0)) == "Accepted"
    await clock.advance(0)
    assert [c.status for c in wire.station.connectors.connectors[1:]] == [m.ChargePointStatus.AVAILABLE] * 2
    await sim.plug(1)
    await sim.swipe("OTHER", 1)  # a free connector is left for the reservation: allowed
    await clock.advance(0)
    assert wire.station.connectors[2].status is m.ChargePointStatus.RESERVED  # the last free one is held
    await sim.plug(2)
    await sim.swipe("OTHER-2", 2)
    await clock.advance(0)
    assert len(wire.calls("StartTransaction")) == 1  # refused: it would take the reserved card's connector
    await sim.swipe("RES", 2)
    await clock.advance(0)
    assert wire.calls("StartTransaction")[-1]["reservationId"] == 9


@pytest.mark.parametrize(
    ("setup", "expected"),
    [("fault", "Faulted"), ("plug", "Occupied"), ("inoperative", "Unavailable")],  # TC_050_1..3_CS
)
async def test_R_3_TC_050_CS_reserve_charge_point_answers_what_it_is(
    station: Any, clock: VirtualClock, setup: str, expected: str
) -> None:
    wire, sim = await station(connectors=1)
    if setup == "fault":
        sim.fault(1, m.ChargePointErrorCode.GROUND_FAILURE)
    elif setup == "plug":
        await sim.plug(1)
    else:
        await wire.inject('[2,"a","ChangeAvailability",{"connectorId":0,"type":"Inoperative"}]')
    assert await answer(wire, reserve(clock, 2, 0)) == expected


async def test_R_1_same_reservation_id_replaces_it(station: Any, clock: VirtualClock) -> None:
    wire, _ = await station(connectors=2)
    await answer(wire, reserve(clock, 4, 1, "FIRST", seconds=100))
    assert await answer(wire, reserve(clock, 4, 2, "SECOND", seconds=1000)) == "Accepted"
    await clock.advance(0)
    assert [(r.connector_id, r.id_tag) for r in wire.station.store.reservations.all()] == [(2, "SECOND")]
    assert wire.station.connectors[1].status is m.ChargePointStatus.AVAILABLE
    await clock.advance(100)  # the replaced expiry no longer applies
    assert wire.station.connectors[2].status is m.ChargePointStatus.RESERVED


async def test_C_1_TC_051_CS_TC_052_CS_cancel_reservation(station: Any, clock: VirtualClock) -> None:
    wire, _ = await station(connectors=1)
    await answer(wire, reserve(clock, 8, 1))
    assert await answer(wire, '[2,"c","CancelReservation",{"reservationId":99}]') == "Rejected"
    assert await answer(wire, '[2,"c","CancelReservation",{"reservationId":8}]') == "Accepted"
    await clock.advance(0)
    assert statuses(wire, 1)[-2:] == ["Reserved", "Available"]


async def test_R_6_fault_ends_the_reservation(station: Any, clock: VirtualClock) -> None:
    wire, sim = await station(connectors=1)
    await answer(wire, reserve(clock, 8, 1))
    sim.fault(1, m.ChargePointErrorCode.GROUND_FAILURE)
    sim.clear_fault(1)
    await clock.advance(0)
    assert wire.station.reservation.reservations == {}
    assert wire.station.connectors[1].status is m.ChargePointStatus.AVAILABLE


async def test_R_7_TC_046_2_CS_remote_start_uses_the_reservation(station: Any, clock: VirtualClock) -> None:
    wire, sim = await station(connectors=1)
    await answer(wire, reserve(clock, 6, 1))
    assert await answer(wire, '[2,"s","RemoteStartTransaction",{"connectorId":1,"idTag":"RES"}]') == "Accepted"
    await sim.plug(1)
    await clock.advance(0)
    assert wire.calls("StartTransaction")[-1]["reservationId"] == 6


async def test_reservation_survives_a_restart_and_still_expires(tmp_path: Path, clock: VirtualClock) -> None:
    wire = Wire(make_station(clock, store=Store.open(tmp_path)), make_csms(clock), clock)
    await wire.connect()
    await wire.inject(reserve(clock, 12, 1, seconds=600))
    await clock.advance(100)
    again = await power_cut_and_restart(wire, tmp_path)
    try:
        assert again.station.connectors[1].status is m.ChargePointStatus.RESERVED
        assert again.station.snapshot()["connectors"][0]["reservation"]["id"] == 12
        await clock.advance(499)
        assert again.station.connectors[1].status is m.ChargePointStatus.RESERVED
        await clock.advance(1)
        assert again.station.snapshot()["connectors"][0]["status"] == "Available"
        assert again.station.snapshot()["connectors"][0]["reservation"] is None
    finally:
        await again.stop()
        again.station.store.close()


async def test_R_8_the_reserved_card_is_validated_with_authorize_after_the_answer_and_cached(
    station: Any, clock: VirtualClock
) -> None:
    wire, _ = await station(connectors=1)
    answer_frame = await wire.inject(reserve(clock, 8, 1, "RES-8"))
    assert answer_frame[2] == {"status": "Accepted"}
    await clock.advance(0)
    assert wire.calls("Authorize") == [{"idTag": "RES-8"}]  # after the ReserveNow answer, through the lane
    reserve_answer = next(i for i, (d, f) in enumerate(wire.frames) if d == ">" and f[0] == 3 and f[1] == "r")
    authorize = next(i for i, (d, f) in enumerate(wire.frames) if d == ">" and f[0] == 2 and f[2] == "Authorize")
    assert reserve_answer < authorize
    cached = wire.station.store.auth_cache.get("RES-8")
    assert cached is not None and cached[0] == "Accepted"


async def test_R_8_a_local_list_card_or_a_refused_reservation_sends_no_authorize(
    station: Any, clock: VirtualClock
) -> None:
    wire, _ = await station(connectors=1)
    payload = {"listVersion": 1, "updateType": "Full",
               "localAuthorizationList": [{"idTag": "LISTED", "idTagInfo": {"status": "Accepted"}}]}  # fmt: skip
    assert (await wire.inject(json.dumps([2, "s", "SendLocalList", payload])))[2] == {"status": "Accepted"}
    assert await answer(wire, reserve(clock, 1, 1, "LISTED")) == "Accepted"
    assert await answer(wire, reserve(clock, 2, 1, "OTHER")) == "Occupied"  # the connector is reserved already
    await clock.advance(0)
    assert wire.calls("Authorize") == []
    assert wire.station.store.auth_cache.get("LISTED") is None  # L-6: list cards never go in the cache
