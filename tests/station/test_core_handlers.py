"""DataTransfer (C-10), ClearCache (C-9) and the action registry."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from chargebox.protocol.messages import Action, DataTransferRequest, DataTransferResponse, DataTransferStatus
from tests.wire import Wire


async def test_C_10_unknown_vendor_is_answered_unknown_vendor_id_without_data(wired: Callable[..., Wire]) -> None:
    wire = wired()
    await wire.connect()
    answer = await wire.inject('[2,"d","DataTransfer",{"vendorId":"com.example","messageId":"x","data":"y"}]')
    assert answer == [3, "d", {"status": "UnknownVendorId"}]


async def test_C_10_registered_vendor_handler_decides(wired: Callable[..., Wire]) -> None:
    wire = wired()

    def vendor(request: DataTransferRequest) -> DataTransferResponse:
        if request.message_id != "ping":
            return DataTransferResponse(status=DataTransferStatus.UNKNOWN_MESSAGE_ID)
        return DataTransferResponse(status=DataTransferStatus.ACCEPTED, data="pong")

    wire.station.data_transfer.register_vendor("com.Example", vendor)
    await wire.connect()
    assert (await wire.inject('[2,"d1","DataTransfer",{"vendorId":"com.example","messageId":"ping"}]'))[2] == {
        "status": "Accepted",
        "data": "pong",
    }
    assert (await wire.inject('[2,"d2","DataTransfer",{"vendorId":"com.example","messageId":"?"}]'))[2] == {
        "status": "UnknownMessageId"
    }


async def test_M_3_station_sends_data_transfer(wired: Callable[..., Wire]) -> None:
    wire = wired()
    await wire.connect()
    result = await wire.station.data_transfer.send_data_transfer("com.example", "hello", "{}")
    assert result.ok and wire.calls("DataTransfer") == [{"vendorId": "com.example", "messageId": "hello", "data": "{}"}]


async def test_C_9_clear_cache_empties_the_cache_and_is_accepted(wired: Callable[..., Wire]) -> None:
    wire = wired()
    now = wire.clock.now().isoformat()
    wire.station.store.auth_cache.put("TAG1", "Accepted", expiry_date=None, parent_id_tag=None, now=now)
    await wire.connect()
    assert await wire.inject('[2,"c","ClearCache",{}]') == [3, "c", {"status": "Accepted"}]
    assert wire.station.store.auth_cache.count() == 0


async def test_1_4_handler_crash_is_internal_error_and_station_keeps_running(wired: Callable[..., Wire]) -> None:
    wire = wired()

    def broken(_request: object) -> object:
        raise RuntimeError("boom")

    wire.station.register(Action.CLEAR_CACHE, broken)
    await wire.connect()
    answer = await wire.inject('[2,"c","ClearCache",{}]')
    assert answer[:3] == [4, "c", "InternalError"]
    assert (await wire.inject('[2,"g","GetConfiguration",{"key":["HeartbeatInterval"]}]'))[0] == 3


async def test_1_4_action_of_a_profile_not_offered_is_not_supported(wired: Callable[..., Wire]) -> None:
    wire = wired(ocpp_config={"SupportedFeatureProfiles": "Core"})
    await wire.connect()
    answer = await wire.inject('[2,"r","CancelReservation",{"reservationId":1}]')
    assert answer[:3] == [4, "r", "NotSupported"]


async def test_T_23_follow_up_call_goes_out_after_the_answer(wired: Callable[..., Wire]) -> None:
    from chargebox.protocol.messages import ClearCacheResponse, ClearCacheStatus, HeartbeatRequest
    from chargebox.rpc import Reply

    wire = wired()

    def clear_then_heartbeat(_request: object) -> Reply[ClearCacheResponse]:
        async def then() -> None:
            await wire.station.rpc.call(HeartbeatRequest())

        return Reply(ClearCacheResponse(status=ClearCacheStatus.ACCEPTED), then=then)

    wire.station.register(Action.CLEAR_CACHE, clear_then_heartbeat)
    await wire.connect()
    await wire.inject('[2,"c","ClearCache",{}]')
    outgoing = [f for d, f in wire.frames if d == ">"]
    answer_at = next(i for i, f in enumerate(outgoing) if f[0] == 3 and f[1] == "c")
    heartbeat_at = next(i for i, f in enumerate(outgoing) if f[0] == 2 and f[2] == "Heartbeat")
    assert answer_at < heartbeat_at


async def test_T_41_a_rejected_frame_is_logged_as_a_short_excerpt_without_its_secret(
    station: Any, caplog: pytest.LogCaptureFixture
) -> None:
    wire, _sim = await station()
    key = "0123456789abcdefSECRET"
    await wire.inject('[2,"x","ChangeConfiguration",{"key":"AuthorizationKey","value":"' + key + '"' + " " * 5000)
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING" and "chargebox.station" in r.name]
    assert warnings and key not in caplog.text
    assert all(len(message) < 600 for message in warnings)
