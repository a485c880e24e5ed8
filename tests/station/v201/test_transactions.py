"""Transactions of a 2.0.1 station (station/v201/transactions.py, authorization.py): TransactionEvent Started, Updated
and Ended as the central system sees them on the wire, the TxStartPoint/TxStopPoint choices, offline events sent in
order after a reconnect, the power cut and reboot endings, remote start and stop, GetTransactionStatus."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from chargebox.clock import VirtualClock
from chargebox.protocol.messages import AuthorizationStatus, RegistrationStatus
from chargebox.protocol.v201 import messages as m
from chargebox.station.front import Outcome
from chargebox.station.v201.evses import EvsesService
from chargebox.store import Store
from tests.station.v201.test_availability import INOPERATIVE, change
from tests.wire import Wire, make_csms, make_station

CARD = "04A2B3C4"
TOKEN = m.IdTokenType(id_token=CARD, type=m.IdTokenEnumType.ISO14443)


def seed(component: str, variable: str, value: str) -> dict[str, Any]:
    return {"component": {"name": component}, "variable": {"name": variable}, "value": value}


async def booted(wired: Callable[..., Wire], **settings: Any) -> Wire:
    wire = wired(ocpp="2.0.1", **settings)
    await wire.connect()
    await wire.until(lambda: len(wire.calls("StatusNotification")) >= 1)
    return wire


def events(wire: Wire) -> list[tuple[str, str, int]]:
    return [(e["eventType"], e["triggerReason"], e["seqNo"]) for e in wire.calls("TransactionEvent")]


async def test_E01_plug_then_card_starts_at_power_path_closed_and_the_same_card_ends_it(
    wired: Callable[..., Wire],
) -> None:
    wire = await booted(wired)
    station = wire.station
    await station.plugged(1)
    outcome = await station.id_tag_presented(CARD)
    await wire.until(lambda: len(wire.calls("TransactionEvent")) == 1)
    assert outcome.result == "started"
    started = wire.calls("TransactionEvent")[0]
    # E03.FR.01: the idToken in the event where it authorized; the station's own transactionId
    assert started["idToken"] == {"idToken": CARD, "type": "ISO14443"}
    assert started["transactionInfo"]["transactionId"] == outcome.reason
    assert started["transactionInfo"]["chargingState"] == "Charging"
    assert started["evse"] == {"id": 1, "connectorId": 1}
    assert started["meterValue"][0]["sampledValue"][0]["context"] == "Transaction.Begin"
    assert "offline" not in started
    stopped = await station.id_tag_presented(CARD)
    await wire.until(lambda: len(wire.calls("TransactionEvent")) == 2 and station.lane.pending() == 0)
    assert stopped.result == "stopped"
    ended = wire.calls("TransactionEvent")[1]
    assert events(wire) == [("Started", "Authorized", 0), ("Ended", "StopAuthorized", 1)]
    assert ended["transactionInfo"]["stoppedReason"] == "Local"
    contexts = [mv["sampledValue"][0]["context"] for mv in ended["meterValue"]]
    assert contexts == ["Transaction.Begin", "Transaction.End"]
    # G01: Occupied stays while the cable is in; the wire order is Authorize, then the Started event
    actions = wire.sent_actions()
    assert actions.index("Authorize") < actions.index("TransactionEvent")


async def test_E01_EVConnected_start_point_starts_on_the_cable_and_the_card_is_an_update(
    wired: Callable[..., Wire],
) -> None:
    wire = await booted(wired, ocpp_config=[seed("TxCtrlr", "TxStartPoint", "EVConnected")])
    await wire.station.plugged(1)
    await wire.station.id_tag_presented(CARD)
    await wire.station.unplugged(1)
    await wire.until(lambda: len(wire.calls("TransactionEvent")) == 3)
    assert events(wire) == [("Started", "CablePluggedIn", 0), ("Updated", "Authorized", 1),
                            ("Ended", "EVCommunicationLost", 2)]  # fmt: skip
    assert "idToken" not in wire.calls("TransactionEvent")[0]
    assert wire.calls("TransactionEvent")[1]["idToken"]["idToken"] == CARD
    assert wire.calls("TransactionEvent")[2]["transactionInfo"]["stoppedReason"] == "EVDisconnected"


async def test_E05_a_refused_card_starts_nothing(wired: Callable[..., Wire]) -> None:
    wire = await booted(wired, csms_policy={"id_tag_status": AuthorizationStatus.INVALID})
    await wire.station.plugged(1)
    outcome = await wire.station.id_tag_presented(CARD)
    assert (outcome.result, outcome.reason) == ("refused", "Invalid")
    await wire.clock.advance(0)
    assert wire.calls("TransactionEvent") == []


async def test_E03_FR_05_an_authorization_without_a_cable_lapses_after_EVConnectionTimeOut(
    wired: Callable[..., Wire],
) -> None:
    wire = await booted(wired, ocpp_config=[seed("TxCtrlr", "EVConnectionTimeOut", "30")])
    outcome = await wire.station.id_tag_presented(CARD)
    assert outcome.result == "waiting"
    await wire.until(lambda: wire.calls("StatusNotification")[-1]["connectorStatus"] == "Occupied")
    await wire.clock.advance(30)
    await wire.until(lambda: wire.calls("StatusNotification")[-1]["connectorStatus"] == "Available")
    await wire.station.plugged(1)
    await wire.clock.advance(0)
    assert wire.calls("TransactionEvent") == []  # the authorization lapsed: the cable alone starts nothing


async def test_E04_events_made_offline_are_sent_in_order_after_the_reconnect_with_offline_true(
    wired: Callable[..., Wire],
) -> None:
    wire = await booted(wired)
    await wire.station.id_tag_presented(CARD)  # online: Authorize, the cache learns the card (C10.FR.04)
    await wire.station.id_tag_presented(CARD)  # and the same card withdraws it before any cable
    await wire.disconnect()
    await wire.station.plugged(1)
    await wire.station.id_tag_presented(CARD)  # offline: the cache's Accepted (LocalAuthorizationOffline)
    await wire.station.id_tag_presented(CARD)
    assert wire.station.lane.pending() == 2
    before = len(wire.frames)
    await wire.connect()
    await wire.until(lambda: wire.station.lane.pending() == 0)
    sent = [f[2] for d, f in wire.frames[before:] if d == ">" and f[0] == 2]
    assert sent == ["StatusNotification", "TransactionEvent", "TransactionEvent"]  # E04: after the statuses
    offline = wire.calls("TransactionEvent")
    assert [(e["eventType"], e["seqNo"], e["offline"]) for e in offline] == [("Started", 0, True), ("Ended", 1, True)]


async def test_E01_a_transaction_cut_by_a_power_loss_is_ended_at_the_next_start_with_PowerLoss(
    tmp_path: Path,
) -> None:
    clock = VirtualClock()
    station = make_station(clock, Store.open(tmp_path), ocpp="2.0.1", connectors=2)
    await station.plugged(2)
    await station.id_tag_presented("OFFLINE-CARD", 2)  # unknown offline: refused
    station.config.set_internal("AuthCtrlr.OfflineTxForUnknownIdEnabled", "true")
    await station.id_tag_presented("OFFLINE-CARD", 2)
    transaction_id = station.snapshot()["connectors"][1]["transactionId"]
    assert transaction_id is not None and station.lane.pending() == 1
    station.reset_all()  # the power goes: nothing more is written
    station.store.close()
    again = make_station(clock, Store.open(tmp_path), ocpp="2.0.1", connectors=2)
    placed = asyncio.Event()
    await again.front.start(placed)
    assert placed.is_set() and again.lane.pending() == 2
    wire = Wire(again, make_csms(clock), clock)
    await wire.connect()
    await wire.until(lambda: again.lane.pending() == 0)
    sent = wire.calls("TransactionEvent")
    assert [(e["eventType"], e["seqNo"]) for e in sent] == [("Started", 0), ("Ended", 1)]
    assert sent[1]["transactionInfo"] == {"transactionId": transaction_id, "stoppedReason": "PowerLoss"}
    assert sent[1]["triggerReason"] == "AbnormalCondition"
    await again.front.start(asyncio.Event())  # ended once, never twice
    assert again.lane.pending() == 0
    await wire.stop()
    again.store.close()


async def test_a_reboot_ends_a_running_transaction_with_Reboot(wired: Callable[..., Wire]) -> None:
    wire = await booted(wired)
    await wire.station.plugged(1)
    await wire.station.id_tag_presented(CARD)
    await wire.until(lambda: wire.station.lane.pending() == 0)
    await wire.disconnect()
    wire.station.reset_all()  # as Station.reboot does, then the Front's part
    finish = wire.station.front.rebooting(None)
    assert finish is not None
    await finish
    await wire.connect()
    await wire.until(lambda: len(wire.calls("TransactionEvent")) == 2)
    assert wire.calls("TransactionEvent")[1]["transactionInfo"]["stoppedReason"] == "Reboot"


async def test_SIGTERM_ends_transactions_with_the_settings_reason(wired: Callable[..., Wire]) -> None:
    wire = await booted(wired)
    await wire.station.plugged(1)
    await wire.station.id_tag_presented(CARD)
    await wire.station.front.end_sessions("HardReset")
    await wire.until(lambda: len(wire.calls("TransactionEvent")) == 2)
    assert wire.calls("TransactionEvent")[1]["transactionInfo"]["stoppedReason"] == "ImmediateReset"


async def test_F01_F03_remote_start_and_stop_with_remoteStartId(wired: Callable[..., Wire]) -> None:
    wire = await booted(wired)
    await wire.station.plugged(1)
    start = m.RequestStartTransactionRequest(
        id_token=m.IdTokenType(id_token=CARD, type=m.IdTokenEnumType.CENTRAL), remote_start_id=7, evse_id=1
    )
    answer = await wire.csms.call("CP-1", start)
    assert answer.response.status == "Accepted"
    await wire.until(lambda: len(wire.calls("TransactionEvent")) == 1)
    started = wire.calls("TransactionEvent")[0]
    assert started["triggerReason"] == "RemoteStart" and started["transactionInfo"]["remoteStartId"] == 7
    assert wire.sent_actions().count("Authorize") == 1  # F01.FR.02: AuthorizeRemoteStart is true
    transaction_id = started["transactionInfo"]["transactionId"]
    status = await wire.csms.call("CP-1", m.GetTransactionStatusRequest(transaction_id=transaction_id))
    assert (status.response.ongoing_indicator, status.response.messages_in_queue) == (True, False)
    unknown = await wire.csms.call("CP-1", m.RequestStopTransactionRequest(transaction_id="nope"))
    assert unknown.response.status == "Rejected"
    stop = await wire.csms.call("CP-1", m.RequestStopTransactionRequest(transaction_id=transaction_id))
    assert stop.response.status == "Accepted"
    await wire.until(lambda: len(wire.calls("TransactionEvent")) == 2)
    ended = wire.calls("TransactionEvent")[1]
    assert (ended["triggerReason"], ended["transactionInfo"]["stoppedReason"]) == ("RemoteStop", "Remote")
    status = await wire.csms.call("CP-1", m.GetTransactionStatusRequest(transaction_id=transaction_id))
    assert status.response.ongoing_indicator is False


async def test_E05_StopTxOnInvalidId_ends_a_transaction_the_central_system_refuses(wired: Callable[..., Wire]) -> None:
    wire = await booted(wired, ocpp_config=[seed("AuthCtrlr", "LocalPreAuthorize", "true")])
    await wire.station.id_tag_presented(CARD)  # cached Accepted
    await wire.station.id_tag_presented(CARD)
    wire.csms.policy.id_tag_status = AuthorizationStatus.BLOCKED
    await wire.station.plugged(1)
    await wire.station.id_tag_presented(CARD)  # pre-authorized from the cache: started at once
    await wire.until(lambda: len(wire.calls("TransactionEvent")) == 2)
    ended = wire.calls("TransactionEvent")[1]
    assert (ended["triggerReason"], ended["transactionInfo"]["stoppedReason"]) == ("Deauthorized", "DeAuthorized")


async def test_C11_ClearCache_empties_the_cache(wired: Callable[..., Wire]) -> None:
    wire = await booted(wired)
    await wire.station.id_tag_presented(CARD)
    answer = await wire.csms.call("CP-1", m.ClearCacheRequest())
    assert answer.response.status == "Accepted"
    await wire.disconnect()
    await wire.station.id_tag_presented(CARD)  # withdraw the online one
    outcome = await wire.station.id_tag_presented(CARD)
    assert outcome.result == "refused"  # offline, the cache no longer knows it


async def test_F01_FR_23_an_inoperative_EVSE_starts_nothing_and_one_with_a_transaction_waits_for_it(
    wired: Callable[..., Wire],
) -> None:
    """The transactions feature joins availability's and unlock's seams: an Unavailable EVSE refuses a card and a
    remote start; Inoperative during a transaction is Scheduled (G03.FR.05), Unavailable once it ended; an
    authorized transaction is OngoingAuthorizedTransaction to UnlockConnector (F05.FR.02)."""
    wire = await booted(wired, connectors=2)
    assert (await change(wire, INOPERATIVE, evse=2)).status is m.ChangeAvailabilityStatusEnumType.ACCEPTED
    await wire.station.plugged(2)
    refused = await wire.station.id_tag_presented(CARD, 2)
    assert (refused.result, refused.reason) == ("refused", "EVSE 2 is Unavailable")
    remote = await wire.csms.call(
        wire.station.id, m.RequestStartTransactionRequest(id_token=TOKEN, remote_start_id=7, evse_id=2)
    )
    assert remote.response.status is m.RequestStartStopStatusEnumType.REJECTED
    await wire.station.plugged(1)
    assert (await wire.station.id_tag_presented(CARD)).result == "started"  # the free reader picks EVSE 1
    unlock = await wire.csms.call(wire.station.id, m.UnlockConnectorRequest(evse_id=1, connector_id=1))
    assert unlock.response.status is m.UnlockStatusEnumType.ONGOING_AUTHORIZED_TRANSACTION
    assert (await change(wire, INOPERATIVE, evse=1)).status is m.ChangeAvailabilityStatusEnumType.SCHEDULED
    assert wire.station.features.need(EvsesService).evse_status(1) is m.ConnectorStatusEnumType.OCCUPIED
    await wire.station.id_tag_presented(CARD)
    await wire.until(lambda: [e for e, *_ in events(wire)] == ["Started", "Ended"])
    await wire.until(lambda: wire.calls("StatusNotification")[-1]["connectorStatus"] == "Unavailable")
    assert wire.calls("StatusNotification")[-1]["evseId"] == 1


async def test_an_id_token_over_36_characters_is_refused_at_the_station_and_never_authorized(
    wired: Callable[..., Wire],
) -> None:
    wire = await booted(wired)
    await wire.station.plugged(1)
    outcome = await wire.station.id_tag_presented("C" * 37, 1)
    assert outcome == Outcome("refused", 1, "an OCPP 2.0.1 idToken is 1 to 36 printable ASCII characters")
    assert (await wire.station.id_tag_presented("C" * 36, 1)).result == "started"  # 1.6 would refuse 21 and more
    await wire.until(lambda: len(wire.calls("TransactionEvent")) == 1)
    assert [a["idToken"]["idToken"] for a in wire.calls("Authorize")] == ["C" * 36]


async def pending(wired: Callable[..., Wire], **settings: Any) -> Wire:
    wire = wired({"registration": RegistrationStatus.PENDING, "heartbeat_interval": 60}, ocpp="2.0.1", **settings)
    await wire.connect()
    await wire.until(lambda: wire.station.registration == "Pending")
    return wire


async def test_B02_FR_02_a_card_before_the_boot_is_accepted_sends_no_Authorize_and_is_refused_saying_why(
    wired: Callable[..., Wire],
) -> None:
    wire = await pending(wired)
    await wire.station.plugged(1)
    outcome = await wire.station.id_tag_presented(CARD)
    assert outcome == Outcome("refused", 1, "Unknown (the boot is Pending: decided locally)")
    await wire.clock.advance(0)
    assert wire.sent_actions() == ["BootNotification"]  # B02.FR.02: no Authorize, no TransactionEvent


async def test_B02_FR_03_a_card_before_the_boot_is_accepted_starts_by_the_offline_rules_and_is_told_after_it(
    wired: Callable[..., Wire],
) -> None:
    wire = await pending(wired, ocpp_config=[seed("AuthCtrlr", "OfflineTxForUnknownIdEnabled", "true")])
    await wire.station.plugged(1)
    outcome = await wire.station.id_tag_presented(CARD)  # C15.FR.08, as offline
    assert outcome.result == "started"
    await wire.clock.advance(0)
    assert wire.sent_actions() == ["BootNotification"]  # journaled, held until the boot is accepted
    wire.csms.policy.registration = RegistrationStatus.ACCEPTED
    await wire.clock.advance(60)  # B02.FR.08: the next boot
    await wire.until(lambda: wire.station.registration == "Accepted" and wire.station.lane.pending() == 0)
    started = wire.calls("TransactionEvent")[0]  # after the boot's statuses (B01.FR.05), marked as made offline
    assert (started["eventType"], started["offline"], started["idToken"]["idToken"]) == ("Started", True, CARD)
    assert wire.sent_actions()[:4] == ["BootNotification", "BootNotification", "StatusNotification", "TransactionEvent"]
    assert "Authorize" not in wire.sent_actions()
