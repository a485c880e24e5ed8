"""UnlockConnector (F05) and TriggerMessage (F06) against the ``ocpp`` library's 2.0.1 central system: Part 6's
TC_F cases of those use cases that need no other block.

TC_F_05 (a transaction running) needs the transactions block (E), not built yet: UnlockConnector's side, through
the seam that block joins (``UnlockService.authorized``), is proven in tests/station/v201/test_remote_control.py.
TC_F_11 to TC_F_14 trigger MeterValues and TransactionEvent (block J's meter_values.py); TC_F_15 to TC_F_19 trigger
LogStatusNotification and FirmwareStatusNotification, with an upload or a download under way: test_logs.py.
"""

from __future__ import annotations

from typing import Any

from ocpp.v201 import call
from ocpp.v201.enums import MessageTriggerEnumType

from chargebox.sim.hardware import SimulatedHardware
from chargebox.station.station import Station
from tests.interop.conftest import OcppCsms
from tests.interop.v201.conftest import StationRunner201, wait_booted


async def booted(csms: OcppCsms, station_factory: StationRunner201) -> tuple[Station, int]:
    station = station_factory(connectors=2)
    return station, await wait_booted(csms, evses=2)


async def answered_then(csms: OcppCsms, request: Any, action: str, start: int) -> tuple[Any, dict[str, Any]]:
    """Send a TriggerMessage: its answer, and the payload of the ``action`` CALL that follows the answer."""
    result = await csms.call(request)
    answer, _ = await csms.frames.wait_for(lambda f: isinstance(f.data, list) and f.data[0] == 3, start=start + 1)
    index, frame = await csms.wait_call(action, start=start + 1)
    assert answer < index  # F06.FR.04: the answer first
    return result, frame.payload


async def test_TC_F_06_CS_unlock_without_a_transaction(csms: OcppCsms, station_factory: StationRunner201) -> None:
    station, _ = await booted(csms, station_factory)
    lock = station.ports.lock
    assert isinstance(lock, SimulatedHardware)
    lock.plug(1)
    lock.connectors[1].locked = True
    result = await csms.call(call.UnlockConnector(evse_id=1, connector_id=1))
    assert result.status == "Unlocked"  # F05.FR.04
    assert not lock.connectors[1].locked


async def test_TC_F_07_CS_unlock_with_no_cable_still_tries(csms: OcppCsms, station_factory: StationRunner201) -> None:
    await booted(csms, station_factory)
    result = await csms.call(call.UnlockConnector(evse_id=2, connector_id=1))
    assert result.status == "Unlocked"  # F05.FR.06


async def test_TC_F_10_CS_unlock_of_an_unknown_connector(csms: OcppCsms, station_factory: StationRunner201) -> None:
    await booted(csms, station_factory)
    result = await csms.call(call.UnlockConnector(evse_id=3, connector_id=1))
    assert result.status == "UnknownConnector"  # F05.FR.03


async def test_TC_F_11_CS_trigger_meter_values_of_one_evse(csms: OcppCsms, station_factory: StationRunner201) -> None:
    _, index = await booted(csms, station_factory)
    request = call.TriggerMessage(requested_message=MessageTriggerEnumType.meter_values, evse={"id": 2})
    result, payload = await answered_then(csms, request, "MeterValues", index)
    assert result.status == "Accepted"
    assert payload["evseId"] == 2 and payload["meterValue"][0]["sampledValue"][0]["context"] == "Trigger"
    assert len(csms.frames.calls("MeterValues", start=index)) == 1


async def test_TC_F_12_CS_trigger_meter_values_of_every_evse(csms: OcppCsms, station_factory: StationRunner201) -> None:
    _, index = await booted(csms, station_factory)
    request = call.TriggerMessage(requested_message=MessageTriggerEnumType.meter_values)
    result, _ = await answered_then(csms, request, "MeterValues", index)
    assert result.status == "Accepted"
    await csms.frames.wait_for(lambda f: f.action == "MeterValues" and f.payload["evseId"] == 2, start=index)
    sent = csms.frames.calls("MeterValues", start=index)
    assert [p.payload["evseId"] for p in sent] == [0, 1, 2]  # the main meter and each EVSE (F06.FR.11)
    assert {p.payload["meterValue"][0]["sampledValue"][0]["context"] for p in sent} == {"Trigger"}


async def charging_on(csms: OcppCsms, station: Station, evses: tuple[int, ...], start: int) -> int:
    """EnergyTransferStarted on each of ``evses`` (a cable, then a card of its own); the index of the last Started."""
    for evse in evses:
        await station.plugged(evse)
        await station.id_tag_presented(f"CARD{evse}", evse)
        start, _ = await csms.frames.wait_for(
            lambda f: f.action == "TransactionEvent" and f.payload["eventType"] == "Started", start=start + 1
        )
    return start


def triggered_event(payload: dict[str, Any]) -> None:
    """What F06.FR.07 asks of a triggered TransactionEvent."""
    assert (payload["eventType"], payload["triggerReason"]) == ("Updated", "Trigger")
    assert payload["transactionInfo"]["chargingState"] == "Charging"
    assert payload["meterValue"][0]["sampledValue"][0]["context"] == "Trigger"


async def test_TC_F_13_CS_trigger_transaction_event_of_one_evse(
    csms: OcppCsms, station_factory: StationRunner201
) -> None:
    station, index = await booted(csms, station_factory)
    index = await charging_on(csms, station, (1,), index)
    request = call.TriggerMessage(requested_message=MessageTriggerEnumType.transaction_event, evse={"id": 1})
    result, payload = await answered_then(csms, request, "TransactionEvent", index)
    assert result.status == "Accepted"
    triggered_event(payload)
    refused = await csms.call(
        call.TriggerMessage(requested_message=MessageTriggerEnumType.transaction_event, evse={"id": 2})
    )
    assert refused.status == "Rejected"  # no transaction there (F06.FR.05)


async def test_TC_F_14_CS_trigger_transaction_event_of_every_evse(
    csms: OcppCsms, station_factory: StationRunner201
) -> None:
    station, index = await booted(csms, station_factory)
    index = await charging_on(csms, station, (1, 2), index)
    request = call.TriggerMessage(requested_message=MessageTriggerEnumType.transaction_event)
    result, _ = await answered_then(csms, request, "TransactionEvent", index)
    assert result.status == "Accepted"
    second, _ = await csms.wait_call("TransactionEvent", start=index + 1)
    await csms.wait_call("TransactionEvent", start=second + 1)
    sent = [f.payload for f in csms.frames.calls("TransactionEvent", start=index + 1)]
    for payload in sent:
        triggered_event(payload)
    started = [f.payload for f in csms.frames.calls("TransactionEvent") if f.payload["eventType"] == "Started"]
    assert {p["transactionInfo"]["transactionId"] for p in sent} == {
        p["transactionInfo"]["transactionId"] for p in started
    }


async def test_TC_F_20_CS_trigger_heartbeat(csms: OcppCsms, station_factory: StationRunner201) -> None:
    _, index = await booted(csms, station_factory)
    request = call.TriggerMessage(requested_message=MessageTriggerEnumType.heartbeat)
    result, _ = await answered_then(csms, request, "Heartbeat", index)
    assert result.status == "Accepted"


async def test_TC_F_23_CS_trigger_status_notification_of_an_available_connector(
    csms: OcppCsms, station_factory: StationRunner201
) -> None:
    _, index = await booted(csms, station_factory)
    request = call.TriggerMessage(requested_message=MessageTriggerEnumType.status_notification,
                                  evse={"id": 2, "connector_id": 1})  # fmt: skip
    result, payload = await answered_then(csms, request, "StatusNotification", index)
    assert result.status == "Accepted"
    assert (payload["evseId"], payload["connectorId"], payload["connectorStatus"]) == (2, 1, "Available")


async def test_TC_F_24_CS_trigger_status_notification_of_an_occupied_connector(
    csms: OcppCsms, station_factory: StationRunner201
) -> None:
    station, index = await booted(csms, station_factory)
    await station.plugged(1)
    index, _ = await csms.wait_call("StatusNotification", start=index + 1)
    request = call.TriggerMessage(requested_message=MessageTriggerEnumType.status_notification,
                                  evse={"id": 1, "connector_id": 1})  # fmt: skip
    result, payload = await answered_then(csms, request, "StatusNotification", index)
    assert result.status == "Accepted"
    assert (payload["evseId"], payload["connectorStatus"]) == (1, "Occupied")  # F06.FR.10: sent again


async def test_TC_F_26_CS_trigger_boot_notification_after_an_accepted_boot(
    csms: OcppCsms, station_factory: StationRunner201
) -> None:
    _, index = await booted(csms, station_factory)
    result = await csms.call(call.TriggerMessage(requested_message=MessageTriggerEnumType.boot_notification))
    assert result.status == "Rejected"  # F06.FR.17
    await csms.call(call.TriggerMessage(requested_message=MessageTriggerEnumType.heartbeat))
    await csms.wait_call("Heartbeat", start=index + 1)
    assert csms.frames.calls("BootNotification", start=index + 1) == []


async def test_TC_F_27_CS_trigger_of_a_message_the_station_does_not_implement(
    csms: OcppCsms, station_factory: StationRunner201
) -> None:
    await booted(csms, station_factory)
    result = await csms.call(call.TriggerMessage(requested_message=MessageTriggerEnumType.sign_combined_certificate))
    assert result.status == "NotImplemented"  # F06.FR.08
