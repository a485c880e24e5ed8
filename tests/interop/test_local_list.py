"""Local authorization list against the ``ocpp`` library's central system (checklist 5.1, L-1..L-8, TC_008/042/043)."""

from __future__ import annotations

from pathlib import Path

from ocpp.v16 import call
from ocpp.v16.datatypes import AuthorizationData, IdTagInfo
from ocpp.v16.enums import AuthorizationStatus, RemoteStartStopStatus, UpdateStatus, UpdateType

from tests.interop.conftest import StationRunner
from tests.interop.transactions_csms import TransactionsCsms, boot, wait_status

LISTED = AuthorizationData(id_tag="LISTED", id_tag_info=IdTagInfo(status=AuthorizationStatus.accepted))


CSMS = TransactionsCsms  # the central system of the ``csms`` fixture


async def list_version(csms: TransactionsCsms) -> int:
    return int((await csms.call(call.GetLocalListVersion())).list_version)


async def test_TC_042_1_CS_disabled_list_version_is_minus_1(
    csms: TransactionsCsms, station_factory: StationRunner
) -> None:
    await boot(csms, station_factory, ocpp_config={"LocalAuthListEnabled": False})
    assert await list_version(csms) == -1


async def test_TC_042_2_CS_empty_list_version_is_0(csms: TransactionsCsms, station_factory: StationRunner) -> None:
    await boot(csms, station_factory)
    assert await list_version(csms) == 0


async def test_C_12_TC_042_2_CS_a_list_emptied_by_a_full_update_is_version_0(
    csms: TransactionsCsms, station_factory: StationRunner
) -> None:
    await boot(csms, station_factory)
    full = await csms.call(call.SendLocalList(list_version=4, update_type=UpdateType.full,
                                              local_authorization_list=[LISTED]))  # fmt: skip
    assert full.status == UpdateStatus.accepted and await list_version(csms) == 4
    emptied = await csms.call(call.SendLocalList(list_version=5, update_type=UpdateType.full,
                                                 local_authorization_list=[]))  # fmt: skip
    assert emptied.status == UpdateStatus.accepted
    assert await list_version(csms) == 0  # "0 ... when the list is empty" (§5.10)


async def test_TC_043_CS_full_then_differential_accepted(
    csms: TransactionsCsms, station_factory: StationRunner
) -> None:
    station, _ = await boot(csms, station_factory)
    full = await csms.call(call.SendLocalList(list_version=1, update_type=UpdateType.full,
                                              local_authorization_list=[LISTED]))  # fmt: skip
    assert full.status == UpdateStatus.accepted
    blocked = AuthorizationData(id_tag="B", id_tag_info=IdTagInfo(status=AuthorizationStatus.blocked))
    removed = AuthorizationData(id_tag="LISTED")  # no idTagInfo: remove it (L-3)
    diff = await csms.call(
        call.SendLocalList(list_version=2, update_type=UpdateType.differential,
                           local_authorization_list=[blocked, removed])
    )  # fmt: skip
    assert diff.status == UpdateStatus.accepted
    assert await list_version(csms) == 2
    assert [(e.id_tag, e.status) for e in station.store.local_list.all()] == [("B", "Blocked")]


async def test_TC_043_1_CS_send_local_list_not_supported_when_disabled(
    csms: TransactionsCsms, station_factory: StationRunner
) -> None:
    await boot(csms, station_factory, ocpp_config={"LocalAuthListEnabled": False})
    result = await csms.call(call.SendLocalList(list_version=1, update_type=UpdateType.full,
                                                local_authorization_list=[LISTED]))  # fmt: skip
    assert result.status == UpdateStatus.not_supported


async def test_TC_043_2_CS_differential_with_old_version_is_version_mismatch(
    csms: TransactionsCsms, station_factory: StationRunner
) -> None:
    await boot(csms, station_factory)
    await csms.call(call.SendLocalList(list_version=3, update_type=UpdateType.full, local_authorization_list=[LISTED]))
    result = await csms.call(call.SendLocalList(list_version=3, update_type=UpdateType.differential,
                                                local_authorization_list=[]))  # fmt: skip
    assert result.status == UpdateStatus.version_mismatch
    assert await list_version(csms) == 3


async def test_TC_043_3_CS_too_many_entries_fail_and_change_nothing(
    csms: TransactionsCsms, station_factory: StationRunner
) -> None:
    station, _ = await boot(csms, station_factory)
    too_many = station.config.get_int("SendLocalListMaxLength") + 1
    entries = [AuthorizationData(id_tag=f"T{i}", id_tag_info=IdTagInfo(status=AuthorizationStatus.accepted))
               for i in range(too_many)]  # fmt: skip
    result = await csms.call(call.SendLocalList(list_version=1, update_type=UpdateType.full,
                                                local_authorization_list=entries))  # fmt: skip
    assert result.status == UpdateStatus.failed
    assert await list_version(csms) == 0 and station.store.local_list.count() == 0


async def test_L_8_TC_008_1_CS_local_start_with_listed_card_needs_no_authorize(
    csms: TransactionsCsms, station_factory: StationRunner
) -> None:
    _, sim = await boot(csms, station_factory, ocpp_config={"LocalPreAuthorize": True})
    await csms.call(call.SendLocalList(list_version=1, update_type=UpdateType.full, local_authorization_list=[LISTED]))
    before = len(csms.frames.frames)
    await sim.plug(1)
    await sim.swipe("LISTED", 1)
    _, start = await csms.wait_call("StartTransaction", start=before)
    assert start.payload["idTag"] == "LISTED"
    assert csms.frames.calls("Authorize", start=before) == []


async def test_L_8_TC_008_2_CS_remote_start_with_listed_card_needs_no_authorize(
    csms: TransactionsCsms, station_factory: StationRunner
) -> None:
    _, sim = await boot(
        csms, station_factory, ocpp_config={"LocalPreAuthorize": True, "AuthorizeRemoteTxRequests": True}
    )
    await csms.call(call.SendLocalList(list_version=1, update_type=UpdateType.full, local_authorization_list=[LISTED]))
    before = len(csms.frames.frames)
    await sim.plug(1)
    result = await csms.call(call.RemoteStartTransaction(id_tag="LISTED", connector_id=1))
    assert result.status == RemoteStartStopStatus.accepted
    await csms.wait_call("StartTransaction", start=before)
    await wait_status(csms, 1, "Charging", start=before)
    assert csms.frames.calls("Authorize", start=before) == []


async def test_L_6_list_survives_a_restart(
    csms: TransactionsCsms, station_factory: StationRunner, tmp_path: Path
) -> None:
    station, _ = await boot(csms, station_factory, data_dir=tmp_path)
    await csms.call(call.SendLocalList(list_version=9, update_type=UpdateType.full, local_authorization_list=[LISTED]))
    await station_factory.stop(station)
    station_factory(data_dir=tmp_path)
    await csms.wait_session(2)
    await csms.frames.wait_for(lambda f: f.session == 2 and f.action == "BootNotification")
    assert await list_version(csms) == 9
