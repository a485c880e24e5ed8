"""Authorization online, from the cache and offline (checklist 5.1, C-9) against the ``ocpp`` library's central system.

Offline cases stop the central system, act on the station, then start a new central system on the same port: what
was queued arrives there (Q-1, Q-5).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from ocpp.v16 import call
from ocpp.v16.datatypes import IdTagInfo
from ocpp.v16.enums import AuthorizationStatus, ClearCacheStatus, RemoteStartStopStatus

from tests.interop.conftest import StationRunner
from tests.interop.transactions_csms import (
    TransactionsCsms,
    boot,
    charge_once,
    go_offline,
    nothing_more,
    statuses,
    timestamp,
    wait_status,
)
from tests.loopback import running, until

CSMS = TransactionsCsms  # the central system of the ``csms`` fixture


@pytest.mark.parametrize(
    "status", [AuthorizationStatus.invalid, AuthorizationStatus.blocked, AuthorizationStatus.expired]
)
async def test_A_1_TC_023_4_CS_card_refused_by_authorize_starts_nothing(
    csms: TransactionsCsms, station_factory: StationRunner, status: AuthorizationStatus
) -> None:
    csms.id_tags["BAD"] = IdTagInfo(status=status)
    _, sim = await boot(csms, station_factory)
    booted = len(csms.frames.frames)
    await sim.swipe("BAD", 1)
    await csms.wait_call("Authorize", start=booted)
    assert [f.payload for f in csms.frames.calls("Authorize")] == [{"idTag": "BAD"}]
    await nothing_more(csms, "StartTransaction")
    assert statuses(csms, 1, start=booted) == []  # S-3: Preparing only for an accepted card: no flap


async def test_A_2_TC_007_1_CS_cached_card_with_local_pre_authorize_starts_without_authorize(
    csms: TransactionsCsms, station_factory: StationRunner
) -> None:
    station, sim = await boot(csms, station_factory, ocpp_config={"LocalPreAuthorize": True})
    await charge_once(csms, station, sim, "TAG-1")  # TAG-1 is now in the authorization cache
    assert len(csms.frames.calls("Authorize")) == 1
    again = len(csms.frames.frames)
    await sim.plug(1)
    await sim.swipe("TAG-1", 1)
    _, start = await csms.wait_call("StartTransaction", start=again)
    assert start.payload["idTag"] == "TAG-1"
    await wait_status(csms, 1, "Charging", start=again)
    assert csms.frames.calls("Authorize", start=again) == []


async def test_A_3_cached_card_without_local_pre_authorize_is_authorized_again(
    csms: TransactionsCsms, station_factory: StationRunner
) -> None:
    station, sim = await boot(csms, station_factory, ocpp_config={"LocalPreAuthorize": False})
    await charge_once(csms, station, sim, "TAG-1")
    again = len(csms.frames.frames)
    await sim.plug(1)
    await sim.swipe("TAG-1", 1)
    start_index, _ = await csms.wait_call("StartTransaction", start=again)
    authorize_index, _ = await csms.wait_call("Authorize", start=again)
    assert authorize_index < start_index


async def test_A_2_TC_007_2_CS_remote_start_with_a_cached_card_sends_no_authorize(
    csms: TransactionsCsms, station_factory: StationRunner
) -> None:
    config = {"LocalPreAuthorize": True, "AuthorizeRemoteTxRequests": True}
    station, sim = await boot(csms, station_factory, ocpp_config=config)
    await charge_once(csms, station, sim, "TAG-1")
    again = len(csms.frames.frames)
    await sim.plug(1)
    result = await csms.call(call.RemoteStartTransaction(id_tag="TAG-1", connector_id=1))
    assert result.status == RemoteStartStopStatus.accepted
    _, start = await csms.wait_call("StartTransaction", start=again)
    assert start.payload["idTag"] == "TAG-1"
    assert csms.frames.calls("Authorize", start=again) == []


async def test_C_9_TC_061_CS_clear_cache_then_the_card_is_authorized_again(
    csms: TransactionsCsms, station_factory: StationRunner
) -> None:
    station, sim = await boot(csms, station_factory, ocpp_config={"LocalPreAuthorize": True})
    await charge_once(csms, station, sim, "TAG-1")
    result = await csms.call(call.ClearCache())
    assert result.status == ClearCacheStatus.accepted
    again = len(csms.frames.frames)
    await sim.plug(1)
    await sim.swipe("TAG-1", 1)
    start_index, _ = await csms.wait_call("StartTransaction", start=again)
    authorize_index, authorize = await csms.wait_call("Authorize", start=again)
    assert authorize.payload == {"idTag": "TAG-1"}
    assert authorize_index < start_index


async def test_A_4_TC_037_1_CS_offline_start_with_a_cached_card_is_delivered_with_its_timestamp(
    csms: TransactionsCsms, station_factory: StationRunner
) -> None:
    station, sim = await boot(csms, station_factory, ocpp_config={"LocalAuthorizeOffline": True})
    await charge_once(csms, station, sim, "TAG-1")
    await go_offline(csms, station)
    await sim.plug(1)
    await sim.swipe("TAG-1", 1)
    assert 1 in station.transactions.sessions  # started while offline
    offline_until = datetime.now(UTC)
    async with running(TransactionsCsms(), csms.port) as again:
        _, start = await again.wait_call("StartTransaction")
        assert start.payload["idTag"] == "TAG-1"
        assert timestamp(start.payload["timestamp"]) < offline_until  # the original timestamp
        assert again.frames.calls("BootNotification") == []  # T-34: a reconnect, not a boot
        assert again.frames.calls("Authorize") == []
        assert statuses(again, 1) == ["Charging"]  # S-7: only what changed while offline
        status_index, _ = await wait_status(again, 1, "Charging")
        start_index, _ = await again.wait_call("StartTransaction")
        assert status_index < start_index  # statuses first, then the queue


async def test_A_6_offline_card_cached_as_blocked_is_refused_even_for_unknown_ids(
    csms: TransactionsCsms, station_factory: StationRunner
) -> None:
    csms.id_tags["BAD"] = IdTagInfo(status=AuthorizationStatus.blocked)
    config = {"AllowOfflineTxForUnknownId": True, "LocalAuthorizeOffline": True}
    station, sim = await boot(csms, station_factory, ocpp_config=config)
    booted = len(csms.frames.frames)
    await sim.swipe("BAD", 1)  # online: Authorize answers Blocked, which the cache keeps
    await csms.wait_call("Authorize", start=booted)
    await until(lambda: station.authorization.cached("BAD") is not None)
    await go_offline(csms, station)
    await sim.plug(1)
    await sim.swipe("BAD", 1)
    assert station.transactions.sessions == {}


async def test_A_5_offline_unknown_card_starts_with_allow_offline_tx_for_unknown_id(
    csms: TransactionsCsms, station_factory: StationRunner
) -> None:
    station, sim = await boot(csms, station_factory, ocpp_config={"AllowOfflineTxForUnknownId": True})
    await go_offline(csms, station)
    await sim.plug(1)
    await sim.swipe("STRANGER", 1)
    assert 1 in station.transactions.sessions
    async with running(TransactionsCsms(), csms.port) as again:
        _, start = await again.wait_call("StartTransaction")
        assert start.payload["idTag"] == "STRANGER"
        assert again.frames.calls("Authorize") == []


async def test_A_5_offline_unknown_card_is_refused_by_default(
    csms: TransactionsCsms, station_factory: StationRunner
) -> None:
    station, sim = await boot(csms, station_factory)  # AllowOfflineTxForUnknownId defaults to false
    await go_offline(csms, station)
    await sim.plug(1)
    await sim.swipe("STRANGER", 1)
    assert station.transactions.sessions == {}
    async with running(TransactionsCsms(), csms.port) as again:
        await again.wait_session()
        await nothing_more(again, "StartTransaction")
