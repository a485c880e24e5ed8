"""Transactions: every start and stop path of checklist 5.2 and C-13..C-22, under a virtual clock."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from chargebox.clock import VirtualClock
from chargebox.protocol import messages as m
from chargebox.station.v16.reset import REBOOT_GRACE
from tests.wire import Wire, statuses


def accepted(parent: str | None = None) -> m.IdTagInfo:
    return m.IdTagInfo(status=m.AuthorizationStatus.ACCEPTED, **({"parent_id_tag": parent} if parent else {}))


async def test_X_1_plug_first_then_card_starts_a_transaction(station: Any, clock: VirtualClock) -> None:
    wire, sim = await station()
    await sim.plug(1)
    await sim.swipe("TAG-1", None)
    await clock.advance(0)
    assert wire.calls("Authorize") == [{"idTag": "TAG-1"}]  # unknown locally, online
    [start] = wire.calls("StartTransaction")
    assert start["connectorId"] == 1 and start["idTag"] == "TAG-1" and start["meterStart"] == 0
    assert statuses(wire, 1) == ["Available", "Preparing", "Charging"]
    assert wire.station.connectors[1].transaction_id == 1


async def test_X_2_card_first_then_cable_within_connection_timeout(station: Any, clock: VirtualClock) -> None:
    wire, sim = await station(ocpp_config={"ConnectionTimeOut": 30})
    await sim.swipe("TAG-1", 1)
    await clock.advance(20)
    await sim.plug(1)
    await clock.advance(0)
    assert len(wire.calls("StartTransaction")) == 1
    assert statuses(wire, 1) == ["Available", "Preparing", "Charging"]


async def test_X_2_no_cable_within_connection_timeout_means_no_transaction(station: Any, clock: VirtualClock) -> None:
    wire, sim = await station(ocpp_config={"ConnectionTimeOut": 30})
    await sim.swipe("TAG-1", 1)
    await clock.advance(30)
    await sim.plug(1)
    await clock.advance(0)
    assert wire.calls("StartTransaction") == []
    assert statuses(wire, 1) == ["Available", "Preparing", "Available", "Preparing"]


async def test_X_3_cable_without_card_within_connection_timeout_goes_finishing(
    station: Any, clock: VirtualClock
) -> None:
    wire, sim = await station(ocpp_config={"ConnectionTimeOut": 30})
    await sim.plug(1)
    await clock.advance(30)
    assert statuses(wire, 1) == ["Available", "Preparing", "Finishing"]


async def test_A_1_refused_card_starts_nothing_and_causes_no_preparing_flap(station: Any, clock: VirtualClock) -> None:
    """S-3: Preparing only once the card is authorized; a refused card leaves the connector Available."""
    wire, sim = await station({"id_tag_status": m.AuthorizationStatus.BLOCKED})
    await sim.swipe("BAD", 1)
    await clock.advance(0)
    assert wire.calls("StartTransaction") == []
    assert statuses(wire, 1) == ["Available"]


async def test_A_2_local_pre_authorize_starts_a_cached_card_without_authorize(
    station: Any, clock: VirtualClock
) -> None:
    wire, sim = await station(ocpp_config={"LocalPreAuthorize": True})
    wire.station.authorization.learn("TAG-1", accepted())
    await sim.plug(1)
    await sim.swipe("TAG-1", 1)
    await clock.advance(0)
    assert wire.calls("Authorize") == [] and len(wire.calls("StartTransaction")) == 1


async def test_A_3_cached_card_is_still_authorized_online_without_local_pre_authorize(
    station: Any, clock: VirtualClock
) -> None:
    wire, sim = await station()
    wire.station.authorization.learn("TAG-1", accepted())
    await sim.plug(1)
    await sim.swipe("TAG-1", 1)
    await clock.advance(0)
    assert wire.calls("Authorize") == [{"idTag": "TAG-1"}]


@pytest.mark.parametrize(
    ("template", "cached", "starts"),
    [
        ({"LocalAuthorizeOffline": True}, True, True),
        ({"LocalAuthorizeOffline": False}, True, False),
        ({"AllowOfflineTxForUnknownId": True}, False, True),
        ({"AllowOfflineTxForUnknownId": False}, False, False),
    ],
)
async def test_A_4_A_5_offline_decisions(
    station: Any, clock: VirtualClock, template: dict[str, object], cached: bool, starts: bool
) -> None:
    wire, sim = await station(ocpp_config=template)
    if cached:
        wire.station.authorization.learn("TAG-1", accepted())
    await wire.disconnect()
    await sim.plug(1)
    await sim.swipe("TAG-1", 1)
    await clock.advance(0)
    assert (wire.station.connectors[1].transaction_ref is not None) is starts


async def test_A_6_offline_a_cached_blocked_card_is_refused_even_for_unknown_ids(
    station: Any, clock: VirtualClock
) -> None:
    wire, sim = await station(ocpp_config={"AllowOfflineTxForUnknownId": True})
    wire.station.authorization.learn("TAG-1", m.IdTagInfo(status=m.AuthorizationStatus.BLOCKED))
    await wire.disconnect()
    await sim.plug(1)
    await sim.swipe("TAG-1", 1)
    assert wire.station.connectors[1].transaction_ref is None


async def test_X_6_same_card_stops_without_authorize_and_unlocks(station: Any, clock: VirtualClock) -> None:
    wire, sim = await station()
    await sim.plug(1)
    await sim.swipe("TAG-1", 1)
    await clock.advance(3600)
    await sim.swipe("tag-1", 1)  # G-1: idTags compare case-insensitively
    await clock.advance(0)
    assert len(wire.calls("Authorize")) == 1
    [stop] = wire.calls("StopTransaction")
    assert stop["reason"] == "Local" and stop["idTag"] == "tag-1" and stop["transactionId"] == 1
    assert stop["meterStop"] == 22080  # one hour at 32 A on three phases of 230 V
    assert statuses(wire, 1)[-1] == "Finishing"
    assert not sim.hardware.connectors[1].locked
    await sim.unplug(1)
    await clock.advance(0)
    assert statuses(wire, 1)[-1] == "Available"


async def test_X_6_card_of_the_same_group_may_stop(station: Any, clock: VirtualClock) -> None:
    parents = {"TAG-1": "FLEET", "TAG-2": "FLEET", "TAG-3": "OTHER"}

    def authorize(request: m.AuthorizeRequest) -> m.AuthorizeResponse:
        return m.AuthorizeResponse(id_tag_info=accepted(parents[request.id_tag]))

    wire, sim = await station({"extra_handlers": {m.Action.AUTHORIZE: authorize}})
    await sim.plug(1)
    await sim.swipe("TAG-1", 1)
    await sim.swipe("TAG-3", 1)
    await clock.advance(0)
    assert wire.calls("StopTransaction") == []
    await sim.swipe("TAG-2", 1)
    await clock.advance(0)
    assert wire.calls("StopTransaction")[0]["idTag"] == "TAG-2"


async def test_C_21_remote_stop_and_C_22_unknown_id(station: Any, clock: VirtualClock) -> None:
    wire, sim = await station()
    await sim.plug(1)
    await sim.swipe("TAG-1", 1)
    await clock.advance(0)
    assert (await wire.inject('[2,"s1","RemoteStopTransaction",{"transactionId":99}]'))[2] == {"status": "Rejected"}
    assert (await wire.inject('[2,"s2","RemoteStopTransaction",{"transactionId":1}]'))[2] == {"status": "Accepted"}
    await clock.advance(0)
    assert wire.calls("StopTransaction")[0]["reason"] == "Remote"


async def test_C_14_remote_start_without_authorization_then_plug(station: Any, clock: VirtualClock) -> None:
    wire, sim = await station()
    answer = await wire.inject('[2,"r","RemoteStartTransaction",{"idTag":"REMOTE","connectorId":1}]')
    assert answer[2] == {"status": "Accepted"}
    assert statuses(wire, 1)[-1] == "Preparing"
    await sim.plug(1)
    await clock.advance(0)
    assert wire.calls("Authorize") == [] and wire.calls("StartTransaction")[0]["idTag"] == "REMOTE"


async def test_C_13_remote_start_is_authorized_when_asked(station: Any, clock: VirtualClock) -> None:
    wire, sim = await station(ocpp_config={"AuthorizeRemoteTxRequests": True})
    await sim.plug(1)
    await wire.inject('[2,"r","RemoteStartTransaction",{"idTag":"REMOTE","connectorId":1}]')
    await clock.advance(0)
    assert wire.calls("Authorize") == [{"idTag": "REMOTE"}] and len(wire.calls("StartTransaction")) == 1


@pytest.mark.parametrize("frame", ['{"idTag":"R","connectorId":0}', '{"idTag":"R","connectorId":3}'])
async def test_C_15_remote_start_on_connector_0_or_unknown_is_rejected(station: Any, frame: str) -> None:
    wire, _sim = await station()
    assert (await wire.inject(f'[2,"r","RemoteStartTransaction",{frame}]'))[2] == {"status": "Rejected"}


async def test_C_16_remote_start_on_an_occupied_or_faulted_connector_is_rejected(
    station: Any, clock: VirtualClock
) -> None:
    wire, sim = await station(connectors=2)
    await sim.plug(1)
    await sim.swipe("TAG-1", 1)
    sim.fault(2, m.ChargePointErrorCode.GROUND_FAILURE)
    await clock.advance(0)
    for connector in (1, 2):
        frame = f'[2,"r{connector}","RemoteStartTransaction",{{"idTag":"R","connectorId":{connector}}}]'
        assert (await wire.inject(frame))[2] == {"status": "Rejected"}


async def test_C_18_remote_start_without_cable_is_abandoned_after_connection_timeout(
    station: Any, clock: VirtualClock
) -> None:
    wire, _sim = await station(ocpp_config={"ConnectionTimeOut": 10})
    await wire.inject('[2,"r","RemoteStartTransaction",{"idTag":"R","connectorId":1}]')
    await clock.advance(10)
    assert statuses(wire, 1) == ["Available", "Preparing", "Available"] and wire.calls("StartTransaction") == []


async def test_B_5_remote_start_while_pending_is_rejected(wired: Callable[..., Wire]) -> None:
    wire = wired({"registration": m.RegistrationStatus.PENDING})
    await wire.connect()
    assert (await wire.inject('[2,"r","RemoteStartTransaction",{"idTag":"R"}]'))[2] == {"status": "Rejected"}


async def test_X_9_ev_side_disconnect_stops_with_ev_disconnected(station: Any, clock: VirtualClock) -> None:
    wire, sim = await station()
    await sim.plug(1)
    await sim.swipe("TAG-1", 1)
    await sim.unplug(1)
    await clock.advance(0)
    assert wire.calls("StopTransaction")[0]["reason"] == "EVDisconnected"
    assert statuses(wire, 1)[-2:] == ["Finishing", "Available"]


async def test_X_9_without_unlock_the_cable_stays_locked_until_the_card_returns(
    station: Any, clock: VirtualClock
) -> None:
    wire, sim = await station(ocpp_config={"UnlockConnectorOnEVSideDisconnect": False})
    await sim.plug(1)
    await sim.swipe("TAG-1", 1)
    await sim.unplug(1)
    await clock.advance(0)
    assert statuses(wire, 1)[-1] == "Finishing" and sim.hardware.connectors[1].locked
    await sim.swipe("TAG-1", 1)
    await clock.advance(0)
    assert statuses(wire, 1)[-1] == "Available" and not sim.hardware.connectors[1].locked


async def test_X_10_ev_side_disconnect_without_stop_suspends_and_resumes(station: Any, clock: VirtualClock) -> None:
    wire, sim = await station(ocpp_config={"StopTransactionOnEVSideDisconnect": False})
    await sim.plug(1)
    await sim.swipe("TAG-1", 1)
    await sim.unplug(1)
    await clock.advance(0)
    assert wire.calls("StopTransaction") == [] and statuses(wire, 1)[-1] == "SuspendedEV"
    assert [p.get("info") for p in wire.calls("StatusNotification")][-1] == "EV side disconnected"
    await sim.plug(1)
    await clock.advance(0)
    assert statuses(wire, 1)[-1] == "Charging"


@pytest.mark.parametrize(("stop", "expected"), [(True, "DeAuthorized"), (False, None)])
async def test_X_5_start_answered_invalid(station: Any, clock: VirtualClock, stop: bool, expected: str | None) -> None:
    def start(_request: m.StartTransactionRequest) -> m.StartTransactionResponse:
        return m.StartTransactionResponse(
            id_tag_info=m.IdTagInfo(status=m.AuthorizationStatus.INVALID), transaction_id=7
        )

    wire, sim = await station(
        {"extra_handlers": {m.Action.START_TRANSACTION: start}}, ocpp_config={"StopTransactionOnInvalidId": stop}
    )
    await sim.plug(1)
    await sim.swipe("TAG-1", 1)
    await clock.advance(0)
    if expected:
        assert wire.calls("StopTransaction")[0]["reason"] == expected and statuses(wire, 1)[-1] == "Finishing"
    else:
        assert wire.calls("StopTransaction") == [] and statuses(wire, 1)[-1] == "SuspendedEVSE"
        assert not sim.hardware.connectors[1].contactor_closed


async def test_X_16_lock_failure_faults_the_connector_and_starts_nothing(station: Any, clock: VirtualClock) -> None:
    wire, sim = await station()
    sim.hardware.inject_fault(1, "lock", True)
    await sim.plug(1)
    await sim.swipe("TAG-1", 1)
    await clock.advance(0)
    assert wire.calls("StartTransaction") == []
    assert wire.calls("StatusNotification")[-1]["errorCode"] == "ConnectorLockFailure"
    assert statuses(wire, 1)[-1] == "Faulted"


async def test_X_13_no_transaction_while_faulted(station: Any, clock: VirtualClock) -> None:
    wire, sim = await station()
    await sim.plug(1)
    sim.fault(1, m.ChargePointErrorCode.OVER_VOLTAGE)
    await sim.swipe("TAG-1", 1)
    await clock.advance(0)
    assert wire.calls("StartTransaction") == []


async def test_C_33_unlock_idle_connector(station: Any) -> None:
    wire, _sim = await station()
    assert (await wire.inject('[2,"u","UnlockConnector",{"connectorId":1}]'))[2] == {"status": "Unlocked"}


async def test_C_33_unlock_failure(station: Any) -> None:
    wire, sim = await station()
    sim.hardware.inject_fault(1, "lock", True)
    assert (await wire.inject('[2,"u","UnlockConnector",{"connectorId":1}]'))[2] == {"status": "UnlockFailed"}


async def test_C_34_unlock_with_transaction_stops_it_first(station: Any, clock: VirtualClock) -> None:
    wire, sim = await station()
    await sim.plug(1)
    await sim.swipe("TAG-1", 1)
    await clock.advance(0)
    assert (await wire.inject('[2,"u","UnlockConnector",{"connectorId":1}]'))[2] == {"status": "Unlocked"}
    assert wire.calls("StopTransaction")[0]["reason"] == "UnlockCommand" and statuses(wire, 1)[-1] == "Finishing"


async def test_C_35_fixed_cable_unlock_is_not_supported_and_keeps_the_transaction(
    station: Any, clock: VirtualClock
) -> None:
    wire, sim = await station(fixed_cable=True)
    await sim.plug(1)
    await sim.swipe("TAG-1", 1)
    await clock.advance(0)
    assert (await wire.inject('[2,"u","UnlockConnector",{"connectorId":1}]'))[2] == {"status": "NotSupported"}
    assert wire.calls("StopTransaction") == []


async def test_C_36_unlock_unknown_connector_is_not_supported(station: Any) -> None:
    wire, _sim = await station()
    assert (await wire.inject('[2,"u","UnlockConnector",{"connectorId":5}]'))[2] == {"status": "NotSupported"}


async def test_C_3_change_availability_of_an_idle_connector(station: Any) -> None:
    wire, _sim = await station()
    answer = await wire.inject('[2,"a","ChangeAvailability",{"connectorId":1,"type":"Inoperative"}]')
    assert answer[2] == {"status": "Accepted"} and statuses(wire, 1)[-1] == "Unavailable"
    answer = await wire.inject('[2,"b","ChangeAvailability",{"connectorId":1,"type":"Inoperative"}]')
    assert answer[2] == {"status": "Accepted"}  # C-5


async def test_C_3_connector_0_makes_every_connector_unavailable(station: Any) -> None:
    wire, _sim = await station(connectors=2)
    await wire.inject('[2,"a","ChangeAvailability",{"connectorId":0,"type":"Inoperative"}]')
    assert [statuses(wire, c)[-1] for c in (0, 1, 2)] == ["Unavailable"] * 3


async def test_C_4_inoperative_during_a_transaction_is_scheduled(station: Any, clock: VirtualClock) -> None:
    wire, sim = await station()
    await sim.plug(1)
    await sim.swipe("TAG-1", 1)
    await clock.advance(0)
    answer = await wire.inject('[2,"a","ChangeAvailability",{"connectorId":1,"type":"Inoperative"}]')
    assert answer[2] == {"status": "Scheduled"} and statuses(wire, 1)[-1] == "Charging"
    await sim.swipe("TAG-1", 1)
    await clock.advance(0)
    assert statuses(wire, 1)[-1] == "Unavailable"


async def test_C_6_change_availability_of_an_unknown_connector_is_rejected(station: Any) -> None:
    wire, _sim = await station()
    answer = await wire.inject('[2,"a","ChangeAvailability",{"connectorId":4,"type":"Inoperative"}]')
    assert answer[2] == {"status": "Rejected"}


@pytest.mark.parametrize(("kind", "reason"), [("Soft", "SoftReset"), ("Hard", "HardReset")])
async def test_C_23_C_24_reset_stops_transactions_and_boots_again(
    station: Any, clock: VirtualClock, kind: str, reason: str
) -> None:
    wire, sim = await station()
    reconnects: list[bool] = []
    wire.station.transport.reconnect = lambda: reconnects.append(True)  # type: ignore[method-assign]
    await sim.plug(1)
    await sim.swipe("TAG-1", 1)
    await clock.advance(0)
    assert (await wire.inject(f'[2,"x","Reset",{{"type":"{kind}"}}]'))[2] == {"status": "Accepted"}
    await clock.advance(0)
    assert wire.calls("StopTransaction")[0]["reason"] == reason  # C-23: sent before going down
    assert reconnects == []
    await clock.advance(REBOOT_GRACE)
    assert reconnects == [True]
    await wire.disconnect()
    await wire.connect()
    assert wire.sent_actions().count("BootNotification") == 2


async def test_C_26_unavailable_survives_a_reset(station: Any, clock: VirtualClock) -> None:
    wire, _sim = await station()
    await wire.inject('[2,"a","ChangeAvailability",{"connectorId":0,"type":"Inoperative"}]')
    await wire.inject('[2,"x","Reset",{"type":"Soft"}]')
    await clock.advance(REBOOT_GRACE)
    await wire.disconnect()
    await wire.connect()
    assert statuses(wire, 1)[-1] == "Unavailable"


async def test_X_8_emergency_stop_ends_every_transaction(station: Any, clock: VirtualClock) -> None:
    wire, sim = await station(connectors=2)
    for connector in (1, 2):
        await sim.plug(connector)
        await sim.swipe(f"TAG-{connector}", connector)
    await wire.station.emergency_stop()
    await clock.advance(0)
    assert [p["reason"] for p in wire.calls("StopTransaction")] == ["EmergencyStop", "EmergencyStop"]


async def test_X_8_local_reboot_ends_transactions_with_reason_reboot(station: Any, clock: VirtualClock) -> None:
    wire, sim = await station()
    wire.station.transport.reconnect = lambda: None  # type: ignore[method-assign]
    await sim.plug(1)
    await sim.swipe("TAG-1", 1)
    await wire.station.local_reboot()
    await wire.disconnect()
    await wire.connect()
    assert wire.calls("StopTransaction")[0]["reason"] == "Reboot"
    assert wire.sent_actions().count("BootNotification") == 2


async def test_S_1_new_card_on_a_finishing_cable_goes_through_preparing(station: Any, clock: VirtualClock) -> None:
    wire, sim = await station(ocpp_config={"ConnectionTimeOut": 10})
    await sim.plug(1)
    await clock.advance(10)  # no card in time
    await sim.swipe("TAG-1", 1)
    await clock.advance(0)
    assert statuses(wire, 1) == ["Available", "Preparing", "Finishing", "Preparing", "Charging"]
