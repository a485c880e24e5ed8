"""DataTransfer of a 2.0.1 station (station/v201/data_transfer.py), both ways, with the vendor registration 1.6's
station offers (``Station.data_transfer.register_vendor``)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping

import msgspec

from chargebox.protocol.v201 import messages as m
from chargebox.station.v201.data_transfer import DataTransferService
from tests.wire import Wire


async def booted(wired: Callable[..., Wire]) -> Wire:
    wire = wired(ocpp="2.0.1")
    await wire.connect()
    await wire.until(lambda: len(wire.calls("StatusNotification")) >= 1)
    return wire


async def data_transfer(wire: Wire, payload: Mapping[str, object]) -> object:
    frame = await wire.inject(json.dumps([2, f"dt-{len(wire.sent_actions())}", "DataTransfer", payload]))
    assert frame[0] == 3, frame
    return frame[2]


async def test_P01_FR_05_an_unknown_vendor_is_UnknownVendorId(wired: Callable[..., Wire]) -> None:
    wire = await booted(wired)
    assert await data_transfer(wire, {"vendorId": "com.example"}) == {"status": "UnknownVendorId"}


async def test_P01_FR_06_a_registered_vendor_answers_its_messages_and_UnknownMessageId(
    wired: Callable[..., Wire],
) -> None:
    wire = await booted(wired)
    seen: list[object] = []

    def vendor(request: m.DataTransferRequest) -> m.DataTransferResponse:
        if request.message_id != "Ping":
            return m.DataTransferResponse(status=m.DataTransferStatusEnumType.UNKNOWN_MESSAGE_ID)
        seen.append(msgspec.json.decode(request.data) if isinstance(request.data, msgspec.Raw) else None)
        return m.DataTransferResponse(status=m.DataTransferStatusEnumType.ACCEPTED, data=msgspec.Raw(b'{"pong":1}'))

    service = wire.station.data_transfer
    assert isinstance(service, DataTransferService)  # a 2.0.1 station's, taking 2.0.1's messages
    service.register_vendor("com.Example", vendor)
    ping = {"vendorId": "COM.EXAMPLE", "messageId": "Ping", "data": {"n": [1, 2]}}
    assert await data_transfer(wire, ping) == {"status": "Accepted", "data": {"pong": 1}}
    assert seen == [{"n": [1, 2]}]
    assert await data_transfer(wire, {"vendorId": "com.example", "messageId": "Other"}) == {
        "status": "UnknownMessageId"
    }


async def test_a_DataTransfer_without_vendorId_is_a_CALLERROR(wired: Callable[..., Wire]) -> None:
    wire = await booted(wired)
    frame = await wire.inject(json.dumps([2, "dt-bad", "DataTransfer", {"messageId": "x"}]))
    assert frame[0] == 4 and frame[2] == "OccurrenceConstraintViolation"


async def test_P02_the_station_sends_a_DataTransfer_with_any_JSON_data(wired: Callable[..., Wire]) -> None:
    wire = await booted(wired)
    service = wire.station.data_transfer
    assert isinstance(service, DataTransferService)
    result = await service.send_data_transfer("com.example", "Hello", {"a": [1, "b"]})
    assert result.ok
    assert wire.calls("DataTransfer") == [{"vendorId": "com.example", "messageId": "Hello", "data": {"a": [1, "b"]}}]
