"""Part 6's authorization cases (C01, C09, C12, C15, C16) and the local stops of E06/E07 against the ``ocpp`` library's
2.0.1 central system, which answers each idToken as the case asks (``AuthCsms.infos``): the frames on the wire, in
order, validated by both sides.

Cases that cannot apply to this station, and why:

- TC_C_47_CS and TC_C_48_CS (a master pass With UI: all, or chosen, transactions): the station has no user interface
  to choose from, so a master pass ends every transaction (C16.FR.02), which TC_C_49_CS proves.
- TC_C_05_CS asks for a cable lock that keeps the EV from being connected before an authorization; this station's
  lock retains a plug that is in. The case is run as its driver would meet it: the card first, with no cable.
- TC_C_06_CS's title says Blocked, its step Locked (no AuthorizationStatus of 2.0.1): it is run with Blocked.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from ocpp.routing import on
from ocpp.v201 import call, call_result
from ocpp.v201.enums import Action

from chargebox.protocol.v201 import messages as m
from chargebox.sim.hardware import SimulatedHardware
from chargebox.station.front import Outcome
from chargebox.station.station import Station
from chargebox.station.v201.authorization import AuthorizationService
from tests.interop.conftest import Frame, OcppCsms
from tests.interop.v201.conftest import SUBPROTOCOL, CsmsChargePoint201, StationRunner201, entry, wait_booted

CARD, CARD2, MASTER_CARD = "04A2B3C4", "04D5E6F7", "MASTER-CARD-1"
GROUP = {"id_token": "FAMILY-1", "type": "Central"}
MASTER_GROUP = {"id_token": "POLICE", "type": "Central"}


class AuthChargePoint(CsmsChargePoint201):
    """Answers Authorize and a TransactionEvent that names an idToken with that idToken's IdTokenInfo."""

    @on(Action.authorize)
    def on_authorize(self, id_token: dict[str, Any], **_payload: Any) -> call_result.Authorize:
        return call_result.Authorize(id_token_info=self._csms.info(id_token["id_token"]))  # type: ignore[attr-defined]

    @on(Action.transaction_event)
    def on_transaction_event(self, **payload: Any) -> call_result.TransactionEvent:
        if "id_token" in payload:  # E01.FR.12, C09.FR.12: the idToken's status and group
            info = self._csms.info(payload["id_token"]["id_token"])  # type: ignore[attr-defined]
            return call_result.TransactionEvent(id_token_info=info)
        return call_result.TransactionEvent()


@dataclass
class AuthCsms(OcppCsms):
    infos: dict[str, dict[str, Any]] = field(default_factory=dict)  # idToken: its IdTokenInfo; else Accepted

    def info(self, id_token: str) -> dict[str, Any]:
        return self.infos.get(id_token, {"status": "Accepted"})


@pytest.fixture
async def csms() -> AsyncIterator[AuthCsms]:
    server = AuthCsms(subprotocol=SUBPROTOCOL, charge_point_class=AuthChargePoint, boot_answers=[("Accepted", 300)])
    await server.start()
    yield server
    await server.stop()


async def booted(csms: OcppCsms, station_factory: StationRunner201, evses: int = 1, **settings: Any) -> tuple[
    Station, int]:  # fmt: skip
    station = station_factory(connectors=evses, **settings)
    return station, await wait_booted(csms, evses=evses)


async def quiet_since(csms: OcppCsms, index: int, action: str = "TransactionEvent") -> None:
    """No ``action`` after frame ``index``: a Heartbeat, triggered, comes back first."""
    await csms.call(call.TriggerMessage(requested_message="Heartbeat"))
    await csms.wait_call("Heartbeat", start=index + 1)
    assert csms.frames.calls(action, start=index + 1) == []


async def events_since(csms: OcppCsms, index: int, count: int) -> list[tuple[int, Frame]]:
    found: list[tuple[int, Frame]] = []
    while len(found) < count:
        index, frame = await csms.wait_call("TransactionEvent", start=index + 1)
        found.append((index, frame))
    return found


def summary(event: Frame) -> tuple[str, str, str | None]:
    """eventType, triggerReason, stoppedReason."""
    payload = event.payload
    return payload["eventType"], payload["triggerReason"], payload["transactionInfo"].get("stoppedReason")


async def charging(csms: OcppCsms, station: Station, index: int, card: str, evse: int = 1) -> int:
    """A cable, then a card at the EVSE: its Started event's index (the reusable state EnergyTransferStarted)."""
    await station.plugged(evse)
    assert (await station.id_tag_presented(card, evse)).result == "started"
    index, started = await csms.frames.wait_for(
        lambda f: f.action == "TransactionEvent" and f.payload["eventType"] == "Started", start=index + 1
    )
    assert started.payload["idToken"]["idToken"] == card
    return index


async def refused_at_start(csms: AuthCsms, station_factory: StationRunner201, status: str, *, cable: bool) -> None:
    """C01.FR.02: the card is asked for; a status not Accepted starts nothing."""
    csms.infos[CARD] = {"status": status}
    station, index = await booted(csms, station_factory)
    if cable:
        await station.plugged(1)  # the reusable state EVConnectedPreSession
    outcome = await station.id_tag_presented(CARD, 1)
    assert outcome == Outcome("refused", 1, status)
    at, authorize = await csms.wait_call("Authorize", start=index)
    assert authorize.payload["idToken"] == {"idToken": CARD, "type": "ISO14443"}
    await quiet_since(csms, at)


async def test_TC_C_02_CS_an_invalid_card_starts_nothing(csms: AuthCsms, station_factory: StationRunner201) -> None:
    await refused_at_start(csms, station_factory, "Invalid", cable=True)


async def test_TC_C_05_CS_an_invalid_card_before_the_cable_starts_nothing(
    csms: AuthCsms, station_factory: StationRunner201
) -> None:
    await refused_at_start(csms, station_factory, "Invalid", cable=False)


async def test_TC_C_06_CS_a_blocked_card_starts_nothing(csms: AuthCsms, station_factory: StationRunner201) -> None:
    await refused_at_start(csms, station_factory, "Blocked", cable=True)


async def test_TC_C_07_CS_an_expired_card_starts_nothing(csms: AuthCsms, station_factory: StationRunner201) -> None:
    await refused_at_start(csms, station_factory, "Expired", cable=True)


async def test_TC_C_56_CS_an_unknown_card_starts_nothing(csms: AuthCsms, station_factory: StationRunner201) -> None:
    await refused_at_start(csms, station_factory, "Unknown", cable=True)


async def test_TC_C_04_CS_a_different_card_does_not_stop_the_transaction(
    csms: AuthCsms, station_factory: StationRunner201
) -> None:
    station, index = await booted(csms, station_factory)
    started = await charging(csms, station, index, CARD)
    outcome = await station.id_tag_presented(CARD2, 1)
    assert outcome == Outcome("refused", 1, "another idToken holds this EVSE")  # C01.FR.23
    at, authorize = await csms.wait_call("Authorize", start=started)
    assert authorize.payload["idToken"]["idToken"] == CARD2  # asked for: it could have been of the same group
    await quiet_since(csms, at)
    assert station.snapshot()["connectors"][0]["transactionId"] is not None


async def second_card_of_the_group(
    csms: AuthCsms, station_factory: StationRunner201, status: str
) -> tuple[Station, Outcome, int]:
    """CARD charging, both cards of GROUP; CARD2, of ``status``, presented at the EVSE: the station, what CARD2 did,
    and the index of its Authorize (C09.FR.05: not cached, so asked)."""
    csms.infos = {CARD: {"status": "Accepted", "group_id_token": GROUP},
                  CARD2: {"status": status, "group_id_token": GROUP}}  # fmt: skip
    station, index = await booted(csms, station_factory)
    started = await charging(csms, station, index, CARD)
    outcome = await station.id_tag_presented(CARD2, 1)
    at, authorize = await csms.wait_call("Authorize", start=started + 1)
    assert authorize.payload["idToken"]["idToken"] == CARD2
    return station, outcome, at


async def test_TC_C_39_CS_another_card_of_the_group_stops_the_transaction(
    csms: AuthCsms, station_factory: StationRunner201
) -> None:
    _station, outcome, at = await second_card_of_the_group(csms, station_factory, "Accepted")
    assert outcome == Outcome("stopped", 1, "Local")
    [(_, ended)] = await events_since(csms, at, 1)
    assert (ended.payload["eventType"], ended.payload["triggerReason"]) == ("Ended", "StopAuthorized")
    assert ended.payload["idToken"]["idToken"] == CARD2  # who ended it


def cached(station: Station, statuses: dict[str, m.AuthorizationStatusEnumType]) -> None:
    """The memory state IdTokenCached: each card's status, of GROUP, in the authorization cache."""
    group = m.IdTokenType(id_token=GROUP["id_token"], type=m.IdTokenEnumType.CENTRAL)
    cache = station.features.need(AuthorizationService)
    for card, status in statuses.items():
        cache.learn(m.IdTokenType(id_token=card, type=m.IdTokenEnumType.ISO14443),
                    m.IdTokenInfoType(status=status, group_id_token=group))  # fmt: skip


async def test_TC_C_41_CS_cached_cards_of_the_group_start_and_stop_without_an_Authorize(
    csms: AuthCsms, station_factory: StationRunner201
) -> None:
    station, index = await booted(csms, station_factory, ocpp_config=[entry("AuthCtrlr", "LocalPreAuthorize", "true")])
    cached(station, {CARD: m.AuthorizationStatusEnumType.ACCEPTED, CARD2: m.AuthorizationStatusEnumType.ACCEPTED})
    started = await charging(csms, station, index, CARD)  # C12.FR.02: started on the cache's word
    assert (await station.id_tag_presented(CARD2, 1)).result == "stopped"  # C09.FR.07
    [(_, ended)] = await events_since(csms, started, 1)
    assert (ended.payload["triggerReason"], ended.payload["idToken"]["idToken"]) == ("StopAuthorized", CARD2)
    assert csms.frames.calls("Authorize", start=index) == []


async def test_TC_C_42_CS_a_card_of_the_group_that_is_not_accepted_does_not_stop_it(
    csms: AuthCsms, station_factory: StationRunner201
) -> None:
    station, outcome, at = await second_card_of_the_group(csms, station_factory, "Invalid")
    assert outcome == Outcome("refused", 1, "Invalid")  # C09.FR.11
    await quiet_since(csms, at)
    hardware = station.ports.contactor
    assert isinstance(hardware, SimulatedHardware) and hardware.connectors[1].contactor_closed  # still charging


async def test_TC_C_44_CS_a_card_cached_invalid_is_asked_for_and_does_not_stop_it(
    csms: AuthCsms, station_factory: StationRunner201
) -> None:
    csms.infos = {CARD2: {"status": "Invalid", "group_id_token": GROUP}}
    station, index = await booted(csms, station_factory, ocpp_config=[entry("AuthCtrlr", "LocalPreAuthorize", "true")])
    cached(station, {CARD: m.AuthorizationStatusEnumType.ACCEPTED, CARD2: m.AuthorizationStatusEnumType.INVALID})
    started = await charging(csms, station, index, CARD)
    assert (await station.id_tag_presented(CARD2, 1)).result == "refused"
    at, authorize = await csms.wait_call("Authorize", start=started + 1)  # C12.FR.05: cached, not valid: asked
    assert authorize.payload["idToken"]["idToken"] == CARD2
    await quiet_since(csms, at)


async def with_master_pass(csms: AuthCsms, station_factory: StationRunner201, evses: int) -> tuple[Station, int]:
    """A station whose AuthCtrlr.MasterPassGroupId is MASTER_GROUP's, and a central system that gives MASTER_CARD
    that group."""
    csms.infos = {MASTER_CARD: {"status": "Accepted", "group_id_token": MASTER_GROUP}}
    config = [entry("AuthCtrlr", "MasterPassGroupId", MASTER_GROUP["id_token"])]
    return await booted(csms, station_factory, evses, ocpp_config=config)


async def test_TC_C_45_CS_a_master_pass_starts_no_transaction(
    csms: AuthCsms, station_factory: StationRunner201
) -> None:
    station, index = await with_master_pass(csms, station_factory, evses=1)
    outcome = await station.id_tag_presented(MASTER_CARD, 1)
    assert outcome == Outcome("refused", None, "a master pass starts no transaction")  # C16.FR.03
    await station.plugged(1)  # the reusable state EVConnectedPreSession
    at, _ = await csms.wait_call("Authorize", start=index)
    await quiet_since(csms, at)


async def test_TC_C_49_CS_a_master_pass_without_UI_stops_every_transaction(
    csms: AuthCsms, station_factory: StationRunner201
) -> None:
    station, index = await with_master_pass(csms, station_factory, evses=2)
    started = await charging(csms, station, index, CARD, 1)
    started = await charging(csms, station, started, CARD2, 2)
    outcome = await station.id_tag_presented(MASTER_CARD)  # the station's one reader
    assert outcome == Outcome("stopped", None, "MasterPass")
    at, authorize = await csms.wait_call("Authorize", start=started)
    assert authorize.payload["idToken"]["idToken"] == MASTER_CARD
    ended = [frame.payload for _, frame in await events_since(csms, at, 2)]
    assert sorted(e["transactionInfo"]["stoppedReason"] for e in ended) == ["MasterPass", "MasterPass"]  # C16.FR.02
    assert {e["eventType"] for e in ended} == {"Ended"}


async def offline_start(station: Station, card: str) -> None:
    """The reusable state StartOfflineTransaction: offline, a cable, an unknown card let in by
    OfflineTxForUnknownIdEnabled (C15.FR.08)."""
    station.transport.disconnect()
    await station.plugged(1)
    assert (await station.id_tag_presented(card, 1)).result == "started"


async def test_TC_C_26_CS_an_unknown_card_offline_starts_and_is_suspended_when_found_invalid(
    csms: AuthCsms, station_factory: StationRunner201
) -> None:
    csms.infos = {CARD: {"status": "Invalid"}}
    station, index = await booted(csms, station_factory, ocpp_config=[
        entry("AuthCtrlr", "OfflineTxForUnknownIdEnabled", "true"), entry("TxCtrlr", "StopTxOnInvalidId", "false"),
    ])  # fmt: skip
    await offline_start(station, CARD)
    station.transport.connect()
    [(_, started), (at, suspended)] = await events_since(csms, index, 2)
    assert (started.payload["eventType"], started.payload["offline"]) == ("Started", True)  # C15.FR.02
    assert (suspended.payload["triggerReason"], suspended.payload["transactionInfo"]["chargingState"]) == (
        "ChargingStateChanged", "SuspendedEVSE",
    )  # fmt: skip  # C15.FR.06
    assert (await station.id_tag_presented(CARD, 1)).result == "stopped"
    [(_, ended)] = await events_since(csms, at, 1)
    assert (ended.payload["eventType"], ended.payload["triggerReason"]) == ("Ended", "StopAuthorized")


async def test_TC_E_16_CS_an_offline_transaction_found_invalid_is_ended_deauthorized(
    csms: AuthCsms, station_factory: StationRunner201
) -> None:
    csms.infos = {CARD: {"status": "Invalid"}}
    station, index = await booted(csms, station_factory, ocpp_config=[
        entry("AuthCtrlr", "OfflineTxForUnknownIdEnabled", "true"),
    ])  # fmt: skip
    await offline_start(station, CARD)
    station.transport.connect()
    [(_, started), (_, ended)] = await events_since(csms, index, 2)
    assert started.payload["offline"] is True
    assert summary(ended) == ("Ended", "Deauthorized", "DeAuthorized")  # E06.FR.04, C15.FR.04
    hardware = station.ports.lock
    assert isinstance(hardware, SimulatedHardware) and hardware.connectors[1].locked  # C15.FR.05: until its owner
    assert await station.id_tag_presented(CARD, 1) == Outcome("released", 1, "the cable is unlocked for its owner")
    assert not hardware.connectors[1].locked


async def test_TC_E_06_CS_TC_E_15_CS_the_card_that_started_it_stops_it_locally(
    csms: AuthCsms, station_factory: StationRunner201
) -> None:
    station, index = await booted(csms, station_factory)
    started = await charging(csms, station, index, CARD)
    assert await station.id_tag_presented(CARD, 1) == Outcome("stopped", 1, "Local")  # C01.FR.03: no Authorize first
    [(at, ended)] = await events_since(csms, started, 1)
    assert summary(ended) == ("Ended", "StopAuthorized", "Local")  # E06.FR.03 (TxStopPoint holds Authorized)
    assert len(csms.frames.calls("Authorize", start=index)) == 1
    await station.unplugged(1)  # EVConnectedPostSession, then EVDisconnected: no transaction left to tell of it
    await quiet_since(csms, at)
