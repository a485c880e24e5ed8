"""Availability (station/v201/availability.py) on the wire the built-in central system reads, under a virtual clock:
ChangeAvailability of each scope, what a transaction makes wait (through the seam the transactions block joins,
``AvailabilityService.transactions`` and ``ended``), what survives a power cut, and hardware faults
(``Station.fault`` through the Front). Part 6's TC_G cases run against the ``ocpp`` library in
tests/interop/v201/test_availability.py."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import msgspec

from chargebox.protocol.v201 import messages as m
from chargebox.station.v201.availability import AvailabilityService
from chargebox.store import Store
from tests.station.v201.test_evses import booted, statuses
from tests.wire import Wire

OPERATIVE, INOPERATIVE = m.OperationalStatusEnumType.OPERATIVE, m.OperationalStatusEnumType.INOPERATIVE


def availability(wire: Wire) -> AvailabilityService:
    return wire.station.features.need(AvailabilityService)


async def change(
    wire: Wire, status: m.OperationalStatusEnumType, evse: int | None = None, connector: int | None = None
) -> m.ChangeAvailabilityResponse:
    scope: m.EVSEType | msgspec.UnsetType = msgspec.UNSET
    if evse is not None:
        scope = m.EVSEType(id=evse, connector_id=msgspec.UNSET if connector is None else connector)
    result = await wire.csms.call(wire.station.id, m.ChangeAvailabilityRequest(operational_status=status, evse=scope))
    await wire.clock.advance(0)
    response: m.ChangeAvailabilityResponse = result.response
    return response


def order(wire: Wire, action: str) -> list[str]:
    """What the station sent from the central system's ``action`` CALL on: "answer" for its answer."""
    (call_id,) = [f[1] for d, f in wire.frames if d == "<" and f[0] == 2 and f[2] == action]
    start = next(i for i, (d, f) in enumerate(wire.frames) if d == "<" and f[1] == call_id)
    return ["answer" if f[0] == 3 and f[1] == call_id else f[2] for d, f in wire.frames[start:] if d == ">"]


class Transactions:
    """What the transactions block tells availability: the EVSEs where one runs."""

    def __init__(self, service: AvailabilityService, *evses: int) -> None:
        self.running = set(evses)
        self._service = service
        service.transactions.append(lambda evse: evse in self.running)

    def end(self, evse: int) -> None:
        self.running.discard(evse)
        self._service.ended(evse)


async def test_G03_FR_04_an_evse_made_inoperative_reports_its_connector_unavailable_after_the_answer(
    wired: Callable[..., Wire],
) -> None:
    wire = await booted(wired)
    assert (await change(wire, INOPERATIVE, evse=2)).status == "Accepted"
    await wire.until(lambda: len(wire.calls("StatusNotification")) == 3)
    assert statuses(wire, 2) == [(2, 1, "Unavailable")]
    assert order(wire, "ChangeAvailability") == ["answer", "StatusNotification"]  # the answer first
    assert wire.station.config.get("EVSE@2.AvailabilityState") == "Unavailable"
    assert wire.station.config.get("Connector@2:1.AvailabilityState") == "Unavailable"
    assert wire.station.config.get("ChargingStation.AvailabilityState") == "Available"  # EVSE 1 still is


async def test_G03_FR_03_asking_for_the_state_it_is_in_is_accepted_and_sends_nothing(
    wired: Callable[..., Wire],
) -> None:
    wire = await booted(wired)
    assert (await change(wire, OPERATIVE, evse=1)).status == "Accepted"
    assert (await change(wire, OPERATIVE)).status == "Accepted"
    assert (await change(wire, INOPERATIVE, evse=1, connector=1)).status == "Accepted"
    await wire.until(lambda: len(wire.calls("StatusNotification")) == 3)
    assert (await change(wire, INOPERATIVE, evse=1, connector=1)).status == "Accepted"
    await wire.clock.advance(5)
    assert statuses(wire, 2) == [(1, 1, "Unavailable")]


async def test_G04_FR_07_FR_08_the_station_inoperative_and_back_gives_each_evse_its_own_state_back(
    wired: Callable[..., Wire],
) -> None:
    wire = await booted(wired)
    await change(wire, INOPERATIVE, evse=1)
    await wire.until(lambda: len(wire.calls("StatusNotification")) == 3)
    await change(wire, INOPERATIVE)  # G04.FR.07: EVSE 2 too
    await wire.until(lambda: len(wire.calls("StatusNotification")) == 4)
    await change(wire, OPERATIVE)  # G04.FR.08: EVSE 1 stays as it was set on its own
    await wire.until(lambda: len(wire.calls("StatusNotification")) == 5)
    await wire.clock.advance(5)
    assert statuses(wire, 2) == [(1, 1, "Unavailable"), (2, 1, "Unavailable"), (2, 1, "Available")]


async def test_a_request_for_an_evse_or_connector_the_station_lacks_is_rejected_and_changes_nothing(
    wired: Callable[..., Wire],
) -> None:
    wire = await booted(wired)
    unknown_evse = await change(wire, INOPERATIVE, evse=3)
    unknown_connector = await change(wire, INOPERATIVE, evse=1, connector=2)
    assert (unknown_evse.status, unknown_evse.status_info.reason_code) == ("Rejected", "UnknownEvse")  # type: ignore[union-attr]
    assert (unknown_connector.status, unknown_connector.status_info.reason_code) == (  # type: ignore[union-attr]
        "Rejected", "UnknownConnector")  # fmt: skip
    assert wire.station.store.rows("SELECT * FROM availability") == []
    await wire.clock.advance(5)
    assert statuses(wire, 2) == []


async def test_a_malformed_change_availability_gets_a_callerror_and_changes_nothing(wired: Callable[..., Wire]) -> None:
    wire = await booted(wired)
    answer = await wire.inject(json.dumps([2, "x1", "ChangeAvailability", {"operationalStatus": "Broken"}]))
    assert answer[0] == 4 and answer[2] == "PropertyConstraintViolation"
    answer = await wire.inject(json.dumps([2, "x2", "ChangeAvailability", {"evse": {"id": 1}}]))
    assert answer[0] == 4 and answer[2] == "OccurrenceConstraintViolation"
    assert wire.station.store.rows("SELECT * FROM availability") == []
    assert statuses(wire, 2) == []


async def test_G03_FR_05_G01_FR_05_inoperative_during_a_transaction_is_scheduled_until_it_ends(
    wired: Callable[..., Wire],
) -> None:
    wire = await booted(wired)
    transactions = Transactions(availability(wire), 1)
    await wire.station.plugged(1)
    await wire.until(lambda: len(wire.calls("StatusNotification")) == 3)
    assert (await change(wire, INOPERATIVE, evse=1, connector=1)).status == "Scheduled"
    assert (await change(wire, INOPERATIVE, evse=1, connector=1)).status == "Scheduled"  # still waiting
    await wire.clock.advance(60)
    assert statuses(wire, 2) == [(1, 1, "Occupied")]  # the transaction goes on
    transactions.end(1)
    await wire.until(lambda: len(wire.calls("StatusNotification")) == 4)
    assert statuses(wire, 3) == [(1, 1, "Unavailable")]  # G01.FR.05: Unavailable, the cable still in


async def test_TC_G_14_CS_the_station_inoperative_during_a_transaction_takes_the_idle_evses_at_once(
    wired: Callable[..., Wire],
) -> None:
    wire = await booted(wired)
    transactions = Transactions(availability(wire), 1)
    assert (await change(wire, INOPERATIVE)).status == "Scheduled"  # G04.FR.06
    await wire.until(lambda: len(wire.calls("StatusNotification")) == 3)
    assert statuses(wire, 2) == [(2, 1, "Unavailable")]
    transactions.end(1)
    await wire.until(lambda: len(wire.calls("StatusNotification")) == 4)
    assert statuses(wire, 3) == [(1, 1, "Unavailable")]
    assert (await change(wire, OPERATIVE)).status == "Accepted"  # making it Operative waits for nothing


async def test_G03_FR_08_G04_FR_09_what_was_set_survives_a_power_cut(
    wired: Callable[..., Wire], tmp_path: Path
) -> None:
    wire = await booted(wired, store=Store.open(tmp_path))
    await change(wire, INOPERATIVE, evse=2)
    await change(wire, INOPERATIVE, evse=1, connector=1)
    await wire.until(lambda: len(wire.calls("StatusNotification")) == 4)
    await wire.stop()
    wire.station.store.close()  # the power goes: nothing more is written
    again = await booted(wired, store=Store.open(tmp_path))
    assert statuses(again) == [(1, 1, "Unavailable"), (2, 1, "Unavailable")]  # G01.FR.02, from the first status
    await change(again, OPERATIVE, evse=1, connector=1)
    await again.until(lambda: len(again.calls("StatusNotification")) == 3)
    assert statuses(again, 2) == [(1, 1, "Available")]


async def test_a_fault_is_faulted_with_a_notify_event_carrying_the_hardware_s_code_and_its_clearing(
    wired: Callable[..., Wire],
) -> None:
    wire = await booted(wired)
    await change(wire, INOPERATIVE, evse=1)
    await wire.until(lambda: len(wire.calls("StatusNotification")) == 3)
    wire.station.fault(1, "GroundFailure", "RCD tripped")
    await wire.until(lambda: len(wire.calls("NotifyEvent")) == 1)
    assert statuses(wire, 3) == [(1, 1, "Faulted")]  # Faulted wins over Unavailable (G03.FR.06)
    (event,) = wire.calls("NotifyEvent")[0]["eventData"]
    assert {k: event[k] for k in ("trigger", "actualValue", "techCode", "techInfo", "eventNotificationType")} == {
        "trigger": "Delta", "actualValue": "Faulted", "techCode": "GroundFailure", "techInfo": "RCD tripped",
        "eventNotificationType": "HardWiredNotification"}  # fmt: skip
    assert (event["component"], event["variable"]) == (
        {"name": "EVSE", "evse": {"id": 1}},
        {"name": "AvailabilityState"},
    )
    actions = wire.sent_actions()
    assert actions.index("NotifyEvent") > len(actions) - 3  # after the status that says Faulted
    wire.station.clear_fault(1)
    await wire.until(lambda: len(wire.calls("NotifyEvent")) == 2)
    (cleared,) = wire.calls("NotifyEvent")[1]["eventData"]
    assert (cleared["actualValue"], cleared["cleared"]) == ("Unavailable", True)
    assert cleared["eventId"] != event["eventId"]
    assert statuses(wire, 4) == [(1, 1, "Unavailable")]  # back to what ChangeAvailability left
    wire.station.clear_fault(1)  # nothing to clear: nothing sent
    await wire.clock.advance(5)
    assert len(wire.calls("NotifyEvent")) == 2


async def test_a_fault_of_the_whole_station_faults_every_evse(wired: Callable[..., Wire]) -> None:
    wire = await booted(wired)
    wire.station.fault(0, "HighTemperature")
    await wire.until(lambda: len(wire.calls("NotifyEvent")) == 1)
    assert statuses(wire, 2) == [(1, 1, "Faulted"), (2, 1, "Faulted")]
    (event,) = wire.calls("NotifyEvent")[0]["eventData"]
    assert (event["component"], event["actualValue"]) == ({"name": "ChargingStation"}, "Faulted")
    assert "techInfo" not in event


async def test_a_fault_of_an_evse_the_station_lacks_is_refused(wired: Callable[..., Wire]) -> None:
    wire = await booted(wired)
    try:
        wire.station.fault(3, "OtherError")
    except ValueError as error:
        assert "EVSEs 1 to 2" in str(error)
    else:
        raise AssertionError("a fault of EVSE 3 was taken")
