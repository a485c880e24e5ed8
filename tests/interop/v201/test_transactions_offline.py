"""Part 6's E13 retries and E08/E11/E12 offline cases against the ``ocpp`` library's 2.0.1 central system: the durable
lane on 2.0.1. A transaction message the central system answers with a CALLERROR or not at all is sent again after
MessageAttemptInterval times the attempts so far, MessageAttempts times at most, then set aside for the next one
(TC_E_41, 42, 50, 51). While the link is down (the test's central system stops listening), every TransactionEvent is
journaled with ``offline: true`` and delivered in seqNo order once the station reconnects (TC_E_40, 43, 44), an
idToken accepted offline that the central system then finds Invalid ends the transaction (TC_E_16), and
GetTransactionStatus says a message waits (TC_E_29, 31, 33); a card of the same groupIdToken, known from the
authorization cache, stops a transaction offline (TC_E_45).

The timers are the smallest the station accepts (MessageTimeout 1 s, MessageAttemptInterval 0 or 1 s, reconnect at
once), on the real clock: each case takes a second or two.
"""

from __future__ import annotations

from ocpp.v201 import call

from chargebox.protocol.v201 import messages as m
from chargebox.station.station import Station
from chargebox.station.v201.authorization import AuthorizationService
from tests.interop.conftest import OcppCsms
from tests.interop.v201.conftest import StationRunner201, entry
from tests.interop.v201.transaction_states import (
    CALL_ERROR,
    CARD,
    SILENCE,
    ScriptedCsms,
    booted,
    contexts,
    energy_transfer_started,
    event,
    events,
    info,
    scripted_csms,
)
from tests.loopback import until

CSMS = scripted_csms


def attempts(count: int, interval: int, *, timeout: int = 1) -> list[dict[str, object]]:
    return [
        entry("OCPPCommCtrlr", "MessageAttempts", str(count), variable_instance="TransactionEvent"),
        entry("OCPPCommCtrlr", "MessageAttemptInterval", str(interval), variable_instance="TransactionEvent"),
        entry("OCPPCommCtrlr", "MessageTimeout", str(timeout), variable_instance="Default"),
    ]


def started_sends(csms: OcppCsms) -> list[float]:
    return [frame.at for frame in csms.frames.calls("TransactionEvent") if frame.payload["eventType"] == "Started"]


async def retried_then_next(
    csms: ScriptedCsms, station_factory: StationRunner201, script: list[str], *, count: int, interval: int
) -> tuple[list[float], dict[str, object]]:
    """Authorized and EVConnectedPreSession, the Started event answered as ``script`` says; then the card ends the
    transaction: (the Started event's send times, the Ended event)."""
    csms.script = list(script)
    station, index = await booted(csms, station_factory, *attempts(count, interval))
    _, started = await energy_transfer_started(csms, station, index)
    answered = len(script) < count  # otherwise every attempt failed
    await until(lambda: len(started_sends(csms)) == min(len(script) + 1, count), timeout=count * (interval * count + 2))
    await station.id_tag_presented(CARD)
    _, ended = await event(csms, index, eventType="Ended")
    assert ended["seqNo"] == 1 and info(ended)["transactionId"] == info(started)["transactionId"]
    assert len(started_sends(csms)) == (len(script) + 1 if answered else count)  # E13.FR.02, E13.FR.04: no more
    return started_sends(csms), ended


async def test_TC_E_41_CS_an_unanswered_event_is_sent_MessageAttempts_times_then_the_next_goes(
    csms: ScriptedCsms, station_factory: StationRunner201
) -> None:
    sent, _ = await retried_then_next(csms, station_factory, [SILENCE, SILENCE], count=2, interval=0)
    assert sent[1] - sent[0] >= 1 - 0.05  # MessageTimeout, then MessageAttemptInterval x 1 (E13.FR.03)


async def test_TC_E_42_CS_an_unanswered_event_answered_at_its_second_attempt_is_not_sent_again(
    csms: ScriptedCsms, station_factory: StationRunner201
) -> None:
    sent, _ = await retried_then_next(csms, station_factory, [SILENCE], count=3, interval=0)
    assert len(sent) == 2


async def test_TC_E_50_CS_a_CALLERROR_each_time_retries_after_growing_intervals_then_gives_up(
    csms: ScriptedCsms, station_factory: StationRunner201
) -> None:
    sent, _ = await retried_then_next(csms, station_factory, [CALL_ERROR] * 3, count=3, interval=1)
    assert sent[1] - sent[0] >= 1 - 0.05 and sent[2] - sent[1] >= 2 - 0.05  # E13.FR.03: 1 x 1 s, then 2 x 1 s


async def test_TC_E_51_CS_a_CALLERROR_then_an_answer_stops_the_retries(
    csms: ScriptedCsms, station_factory: StationRunner201
) -> None:
    sent, _ = await retried_then_next(csms, station_factory, [CALL_ERROR], count=3, interval=1)
    assert len(sent) == 2 and sent[1] - sent[0] >= 1 - 0.05


# -- offline ---------------------------------------------------------------------------------------


async def link_down(csms: OcppCsms, station: Station) -> int:
    """Once every message is answered, the central system closes the connection and accepts no reconnect; its port,
    for ``link_up``."""
    await until(lambda: station.lane.pending() == 0)
    port = csms.port
    await csms.stop()
    await csms.sessions[-1].ws.close()
    await until(lambda: not station.lane.connected)
    return port


async def link_up(port: int, *script: str) -> ScriptedCsms:
    """A central system on the same port again, answering TransactionEvents as ``script`` says: the station
    reconnects to it (no boot: Part 4 5.3)."""
    again = scripted_csms()
    again.script = list(script)
    await again.start(port)
    await again.wait_session()
    return again


async def test_TC_E_40_CS_events_of_a_transaction_while_offline_go_after_the_reconnect_marked_offline(
    csms: ScriptedCsms, station_factory: StationRunner201
) -> None:
    station, index = await booted(csms, station_factory, entry("SampledDataCtrlr", "TxUpdatedInterval", "1"))
    _, started = await energy_transfer_started(csms, station, index)
    port = await link_down(csms, station)
    await until(lambda: station.lane.pending() >= 2, timeout=3)  # E11.FR.01: two periodic samples queued
    again = await link_up(port)
    try:
        _, first = await event(again, 0)
        await until(lambda: len(events(again)) >= 2)
        queued = events(again)[:2]
        assert [e["seqNo"] for e in queued] == [1, 2]  # in order (E11.FR.02)
        for updated in queued:
            assert (updated["eventType"], updated["triggerReason"], updated["offline"]) == (
                "Updated",
                "MeterValuePeriodic",
                True,
            )
            assert contexts(updated) == {"Sample.Periodic"}  # TxUpdatedMeasurands (E11.FR.03)
            assert info(updated)["transactionId"] == info(started)["transactionId"]
        assert first == queued[0]
    finally:
        await again.stop()


async def test_TC_E_43_CS_a_transaction_run_entirely_offline_is_sent_after_the_reconnect(
    csms: ScriptedCsms, station_factory: StationRunner201
) -> None:
    station, _ = await booted(
        csms, station_factory, entry("AuthCtrlr", "OfflineTxForUnknownIdEnabled", "true")
    )  # TransactionEventsInQueueEnded: a card the station does not know starts offline
    port = await link_down(csms, station)
    await station.plugged(1)
    await station.id_tag_presented(CARD)
    await station.id_tag_presented(CARD)
    await station.unplugged(1)
    again = await link_up(port)
    try:
        await until(lambda: len(events(again)) >= 2)
        started, ended = events(again)[:2]
        assert [(e["eventType"], e["seqNo"], e.get("offline")) for e in (started, ended)] == [
            ("Started", 0, True),  # E12.FR.01, E12.FR.02
            ("Ended", 1, True),
        ]
        assert started["idToken"]["idToken"] == CARD and "idToken" not in ended  # the idToken once (E03.FR.01)
        assert again.frames.calls("Authorize") == []  # offline: the station decided alone
    finally:
        await again.stop()


async def test_TC_E_44_CS_a_transaction_stopped_offline_by_its_card_is_ended_offline(
    csms: ScriptedCsms, station_factory: StationRunner201
) -> None:
    station, index = await booted(csms, station_factory)
    _, started = await energy_transfer_started(csms, station, index)
    port = await link_down(csms, station)
    await station.id_tag_presented(CARD)  # E08.FR.01: the card that started it, offline
    await station.unplugged(1)
    again = await link_up(port)
    try:
        _, ended = await event(again, 0, eventType="Ended")
        assert events(again)[0] == ended  # nothing else was queued
        assert (ended["seqNo"], ended["offline"], ended["triggerReason"]) == (1, True, "StopAuthorized")
        assert info(ended)["stoppedReason"] == "Local" and contexts(ended) == {"Transaction.Begin", "Transaction.End"}
        assert info(ended)["transactionId"] == info(started)["transactionId"]
    finally:
        await again.stop()


async def test_TC_E_29_CS_and_TC_E_33_CS_status_of_an_ongoing_transaction_with_a_message_in_queue(
    csms: ScriptedCsms, station_factory: StationRunner201
) -> None:
    station, index = await booted(
        csms, station_factory, entry("SampledDataCtrlr", "TxUpdatedInterval", "1"), *attempts(3, 0, timeout=2)
    )
    _, started = await energy_transfer_started(csms, station, index)
    port = await link_down(csms, station)
    await until(lambda: station.lane.pending() >= 1, timeout=3)
    again = await link_up(port, SILENCE)  # the first queued event stays unanswered a while: it is still queued
    try:
        first, _ = await event(again, 0, offline=True)
        status = await again.call(call.GetTransactionStatus(transaction_id=info(started)["transactionId"]))
        assert (status.ongoing_indicator, status.messages_in_queue) == (True, True)  # E14.FR.02, E14.FR.04
        status = await again.call(call.GetTransactionStatus())
        assert (status.ongoing_indicator, status.messages_in_queue) == (None, True)  # E14.FR.06, E14.FR.07
        _, updated = await event(again, first + 1, seqNo=1)  # sent again after MessageTimeout, and answered
        assert (updated["eventType"], updated["offline"]) == ("Updated", True) and updated["meterValue"]
    finally:
        await again.stop()


async def test_TC_E_31_CS_status_of_a_transaction_ended_offline_whose_Ended_event_waits(
    csms: ScriptedCsms, station_factory: StationRunner201
) -> None:
    station, index = await booted(csms, station_factory, *attempts(3, 0, timeout=2))
    _, started = await energy_transfer_started(csms, station, index)
    port = await link_down(csms, station)
    await station.id_tag_presented(CARD)
    await station.unplugged(1)
    again = await link_up(port, SILENCE)
    try:
        first, _ = await event(again, 0, eventType="Ended")
        status = await again.call(call.GetTransactionStatus(transaction_id=info(started)["transactionId"]))
        assert (status.ongoing_indicator, status.messages_in_queue) == (False, True)  # E14.FR.03, E14.FR.04
        _, ended = await event(again, first + 1, eventType="Ended")  # sent again after MessageTimeout, and answered
        assert (ended["seqNo"], ended["offline"], info(ended)["stoppedReason"]) == (1, True, "Local")
    finally:
        await again.stop()


async def test_TC_E_16_CS_an_offline_start_the_CSMS_finds_Invalid_is_deauthorized_once_online(
    csms: ScriptedCsms, station_factory: StationRunner201
) -> None:
    station, _ = await booted(csms, station_factory, entry("AuthCtrlr", "OfflineTxForUnknownIdEnabled", "true"))
    port = await link_down(csms, station)
    await station.plugged(1)  # StartOfflineTransaction
    await station.id_tag_presented(CARD)
    await until(lambda: station.lane.pending() >= 1)
    again = scripted_csms()
    again.id_token_status = "Invalid"
    await again.start(port)
    try:
        started_at, started = await event(again, 0, eventType="Started")
        assert (started["offline"], started["idToken"]["idToken"]) == (True, CARD)  # E12.FR.02
        _, ended = await event(again, started_at + 1)  # StopTxOnInvalidId: E05.FR.09, E06.FR.04
        assert (ended["eventType"], ended["seqNo"], ended["triggerReason"]) == ("Ended", 1, "Deauthorized")
        assert info(ended)["stoppedReason"] == "DeAuthorized" and "offline" not in ended
    finally:
        await again.stop()


async def test_TC_E_45_CS_a_card_of_the_same_group_stops_the_transaction_offline_and_it_is_ended_offline(
    csms: ScriptedCsms, station_factory: StationRunner201
) -> None:
    """Memory state IdTokenCached: both cards of one groupIdToken in the authorization cache. Offline, the second
    card stops what the first started (E08.FR.02, from the cache: C09.FR.07); after the reconnect every queued event
    says ``offline`` and one of them is the Ended (E08.FR.04 to 08)."""
    station, index = await booted(csms, station_factory, entry("AuthCtrlr", "LocalPreAuthorize", "true"))
    group = m.IdTokenType(id_token="FAMILY-1", type=m.IdTokenEnumType.CENTRAL)
    accepted = m.IdTokenInfoType(status=m.AuthorizationStatusEnumType.ACCEPTED, group_id_token=group)
    for card in (CARD, "04D5E6F7"):
        station.features.need(AuthorizationService).learn(
            m.IdTokenType(id_token=card, type=m.IdTokenEnumType.ISO14443), accepted
        )
    await station.plugged(1)
    assert (await station.id_tag_presented(CARD)).result == "started"
    _, started = await event(csms, index, eventType="Started")
    port = await link_down(csms, station)
    assert (await station.id_tag_presented("04D5E6F7", 1)).result == "stopped"
    await station.unplugged(1)
    again = await link_up(port)
    try:
        _, ended = await event(again, 0, eventType="Ended")
        queued = events(again)
        assert queued and all(e["offline"] is True for e in queued)
        assert (ended["triggerReason"], ended["idToken"]["idToken"]) == ("StopAuthorized", "04D5E6F7")
        assert info(ended)["transactionId"] == info(started)["transactionId"]
        assert [e["seqNo"] for e in queued] == list(range(1, len(queued) + 1))
    finally:
        await again.stop()
