"""Part 6's transaction and remote-control cases against the ``ocpp`` library's 2.0.1 central system: the frames on
the wire, in order, validated by both sides."""

from __future__ import annotations

from ocpp.v201 import call

from chargebox.station.station import Station
from tests.interop.conftest import Frame, OcppCsms
from tests.interop.v201.conftest import StationRunner201, wait_booted

CARD = "04A2B3C4"


async def charging(csms: OcppCsms, station_factory: StationRunner201) -> tuple[Station, int, Frame]:
    """A one-EVSE station, booted: a cable, then a card; Authorize goes before the Started event (C01, E01)."""
    station = station_factory(connectors=1)
    index = await wait_booted(csms, evses=1)
    await station.plugged(1)
    await station.id_tag_presented(CARD)
    authorize, _ = await csms.wait_call("Authorize", start=index)
    started_at, started = await csms.wait_call("TransactionEvent", start=authorize)
    return station, started_at, started


async def test_TC_E_03_CS_cable_plugin_first_then_card_starts_and_the_card_ends(
    csms: OcppCsms, station_factory: StationRunner201
) -> None:
    station, started_at, started = await charging(csms, station_factory)
    assert started.payload["eventType"] == "Started" and started.payload["idToken"]["idToken"] == CARD
    await station.id_tag_presented(CARD)
    _, ended = await csms.frames.wait_for(lambda f: f.action == "TransactionEvent", start=started_at + 1)
    assert (ended.payload["eventType"], ended.payload["seqNo"]) == ("Ended", 1)
    assert ended.payload["transactionInfo"]["stoppedReason"] == "Local"


async def test_TC_F_08_CS_and_TC_F_09_CS_remote_stop_accepted_and_rejected(
    csms: OcppCsms, station_factory: StationRunner201
) -> None:
    _station, started_at, started = await charging(csms, station_factory)
    refused = await csms.call(call.RequestStopTransaction(transaction_id="not-a-transaction"))
    assert refused.status == "Rejected"
    transaction_id = started.payload["transactionInfo"]["transactionId"]
    accepted = await csms.call(call.RequestStopTransaction(transaction_id=transaction_id))
    assert accepted.status == "Accepted"
    _, ended = await csms.frames.wait_for(lambda f: f.action == "TransactionEvent", start=started_at + 1)
    assert (ended.payload["triggerReason"], ended.payload["transactionInfo"]["stoppedReason"]) == (
        "RemoteStop",
        "Remote",
    )


async def test_TC_E_28_CS_transaction_status_of_an_unknown_transactionId(
    csms: OcppCsms, station_factory: StationRunner201
) -> None:
    station_factory(connectors=1)
    await wait_booted(csms, evses=1)
    status = await csms.call(call.GetTransactionStatus(transaction_id="unknown"))
    assert status.messages_in_queue is False and status.ongoing_indicator in (None, False)
