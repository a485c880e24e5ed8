"""Part 6's authorization-cache cases (C10 to C12, ClearCache of C11) against the ``ocpp`` library's 2.0.1 central
system, which answers each idToken as the case asks (``AuthCsms.infos``): the frames on the wire, in order. The memory
state IdTokenCached is ``cached(...)``; the station is online unless the case takes it offline.

TC_C_15_CS to TC_C_18_CS look for an offline event of triggerReason ChargingStateChanged: this station's Started event
(TxStartPoint PowerPathClosed) is sent when the power path closes and carries chargingState Charging itself, so no
event of its own follows it.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from ocpp.v201 import call

from chargebox.protocol.v201 import messages as m
from chargebox.sim.hardware import SimulatedHardware
from chargebox.station.front import Outcome
from chargebox.station.station import Station
from chargebox.station.v201.authorization import AuthorizationService
from tests.interop.conftest import Frame
from tests.interop.v201.conftest import SUBPROTOCOL, StationRunner201, entry, wait_booted
from tests.interop.v201.test_authorization import (
    CARD,
    AuthChargePoint,
    AuthCsms,
    booted,
    cached,
    charging,
    events_since,
    quiet_since,
    summary,
)
from tests.loopback import until

Status = m.AuthorizationStatusEnumType
PRE_AUTHORIZE = entry("AuthCtrlr", "LocalPreAuthorize", "true")  # the Configuration State of every C12 case
ID_TOKEN = {"idToken": CARD, "type": "ISO14443"}
TOKEN = m.IdTokenType(id_token=CARD, type=m.IdTokenEnumType.ISO14443)


def auth_csms() -> AuthCsms:
    return AuthCsms(subprotocol=SUBPROTOCOL, charge_point_class=AuthChargePoint, boot_answers=[("Accepted", 300)])


CSMS = auth_csms


def held(station: Station) -> m.IdTokenInfoType | None:
    """What the authorization cache holds of CARD."""
    return station.features.need(AuthorizationService).cached(TOKEN)


async def with_card_cached(
    csms: AuthCsms, station_factory: StationRunner201, status: Status, *config: dict[str, Any], **settings: Any
) -> tuple[Station, int]:
    """A booted one-EVSE station with LocalPreAuthorize and ``config``, CARD cached with ``status`` (the memory state
    IdTokenCached): (station, last frame's index)."""
    station, index = await booted(csms, station_factory, ocpp_config=[PRE_AUTHORIZE, *config], **settings)
    cached(station, {CARD: status})
    return station, index


def energy_offered(station: Station) -> bool:
    hardware = station.ports.contactor
    assert isinstance(hardware, SimulatedHardware)
    return hardware.connectors[1].contactor_closed


async def test_TC_C_08_CS_a_card_cached_accepted_starts_without_an_Authorize(
    csms: AuthCsms, station_factory: StationRunner201
) -> None:
    station, index = await with_card_cached(csms, station_factory, Status.ACCEPTED)
    await charging(csms, station, index, CARD)  # EVConnectedPreSession, then the card: C12.FR.02
    assert energy_offered(station)  # C12.FR.04
    assert csms.frames.calls("Authorize", start=index) == []


async def asked_again(
    csms: AuthCsms, station_factory: StationRunner201, cache: Status, answer: str
) -> tuple[Station, Outcome, int]:
    """CARD cached with status ``cache``, the central system's ``answer``; the cable, then CARD: the station, what the
    card did, and its Authorize's index (C10.FR.03, C12.FR.05: a cached status other than Accepted is asked for)."""
    csms.infos[CARD] = {"status": answer}
    station, index = await with_card_cached(csms, station_factory, cache)
    await station.plugged(1)
    outcome = await station.id_tag_presented(CARD, 1)
    at, authorize = await csms.wait_call("Authorize", start=index)
    assert authorize.payload["idToken"] == ID_TOKEN
    return station, outcome, at


async def refused_again(csms: AuthCsms, station_factory: StationRunner201, status: Status) -> None:
    """CARD cached with ``status`` is asked for, the central system says the same: refused, nothing started."""
    _station, outcome, at = await asked_again(csms, station_factory, status, status.value)
    assert outcome == Outcome("refused", 1, status.value)
    await quiet_since(csms, at)


async def test_TC_C_09_CS_a_card_cached_invalid_is_asked_for_and_refused(
    csms: AuthCsms, station_factory: StationRunner201
) -> None:
    await refused_again(csms, station_factory, Status.INVALID)


async def test_TC_C_10_CS_a_card_cached_blocked_is_asked_for_and_refused(
    csms: AuthCsms, station_factory: StationRunner201
) -> None:
    await refused_again(csms, station_factory, Status.BLOCKED)


async def test_TC_C_11_CS_a_card_cached_expired_is_asked_for_and_refused(
    csms: AuthCsms, station_factory: StationRunner201
) -> None:
    await refused_again(csms, station_factory, Status.EXPIRED)


async def test_TC_C_12_CS_a_card_cached_invalid_that_the_central_system_accepts_starts(
    csms: AuthCsms, station_factory: StationRunner201
) -> None:
    station, outcome, at = await asked_again(csms, station_factory, Status.INVALID, "Accepted")
    assert outcome.result == "started"
    [(_, started)] = await events_since(csms, at, 1)
    assert (started.payload["eventType"], started.payload["idToken"]) == ("Started", ID_TOKEN)
    assert energy_offered(station)
    cache = held(station)
    assert cache is not None and cache.status is Status.ACCEPTED  # C12.FR.06, C10.FR.04


async def test_TC_C_13_CS_a_card_cached_accepted_before_the_cable_starts_when_it_is_plugged(
    csms: AuthCsms, station_factory: StationRunner201
) -> None:
    station, index = await with_card_cached(
        csms, station_factory, Status.ACCEPTED, entry("TxCtrlr", "TxStartPoint", "Authorized")
    )
    assert (await station.id_tag_presented(CARD, 1)).result == "started"
    [(at, started)] = await events_since(csms, index, 1)
    assert (started.payload["eventType"], started.payload["triggerReason"]) == ("Started", "Authorized")
    assert started.payload["idToken"] == ID_TOKEN
    assert not energy_offered(station)  # no cable yet
    await station.plugged(1)  # EVConnectedPreSession, then EnergyTransferStarted
    await csms.frames.wait_for(
        lambda f: f.action == "TransactionEvent" and f.payload["transactionInfo"].get("chargingState") == "Charging",
        start=at + 1,
    )
    assert energy_offered(station)  # C12.FR.04
    assert csms.frames.calls("Authorize", start=index) == []  # C12.FR.02


async def offline_start(
    csms: AuthCsms, station_factory: StationRunner201, stop_on_invalid: str, *config: dict[str, Any]
) -> tuple[Station, int]:
    """CARD cached Accepted, refused by the central system; offline, the cable and CARD start a transaction on the
    cache's word (LocalAuthorizationOffline); back online, the queued Started event (charging: the chargingState rides
    in it, not in an event of its own), answered Invalid: (station, the Started event's index)."""
    csms.infos[CARD] = {"status": "Invalid"}
    station, index = await with_card_cached(
        csms,
        station_factory,
        Status.ACCEPTED,
        entry("AuthCtrlr", "LocalAuthorizationOffline", "true"),
        entry("TxCtrlr", "StopTxOnInvalidId", stop_on_invalid),
        *config,
    )
    station.transport.disconnect()
    await until(lambda: not station.lane.connected)
    await station.plugged(1)
    assert (await station.id_tag_presented(CARD, 1)).result == "started"
    station.transport.connect()
    [(at, first)] = await events_since(csms, index, 1)
    started = first.payload
    assert (started["eventType"], started["triggerReason"], started["offline"]) == ("Started", "Authorized", True)
    assert (started["idToken"], started["transactionInfo"]["chargingState"]) == (ID_TOKEN, "Charging")
    assert csms.frames.calls("Authorize", start=index) == []
    return station, at


async def offline_from_the_cache(
    csms: AuthCsms, station_factory: StationRunner201, stop_on_invalid: str, *config: dict[str, Any]
) -> tuple[Station, Frame]:
    """``offline_start``, and the event the refusal brings: (station, that event)."""
    station, at = await offline_start(csms, station_factory, stop_on_invalid, *config)
    [(_, then)] = await events_since(csms, at, 1)
    return station, then


async def test_TC_C_16_CS_a_card_cached_accepted_offline_and_refused_online_ends_its_transaction(
    csms: AuthCsms, station_factory: StationRunner201
) -> None:
    station, then = await offline_from_the_cache(csms, station_factory, "true")
    assert summary(then) == ("Ended", "Deauthorized", "DeAuthorized")  # E05.FR.09
    assert not energy_offered(station)


async def test_TC_C_17_CS_a_card_cached_accepted_offline_and_refused_online_is_suspended(
    csms: AuthCsms, station_factory: StationRunner201
) -> None:
    station, then = await offline_from_the_cache(csms, station_factory, "false")
    assert (then.payload["triggerReason"], then.payload["transactionInfo"]["chargingState"]) == (
        "ChargingStateChanged", "SuspendedEVSE",
    )  # fmt: skip  # E05.FR.10
    assert not energy_offered(station)


async def test_TC_C_15_CS_refused_online_with_MaxEnergyOnInvalidId_charges_that_much_then_is_suspended(
    csms: AuthCsms, station_factory: StationRunner201
) -> None:
    station, at = await offline_start(csms, station_factory, "false", entry("TxCtrlr", "MaxEnergyOnInvalidId", "10000"))
    await quiet_since(csms, at)  # C15.FR.07: neither Deauthorized nor SuspendedEVSE while the allowance lasts
    assert energy_offered(station)
    hardware = station.ports.meter
    assert isinstance(hardware, SimulatedHardware)
    hardware.connectors[1].energy_wh += 10_000  # the EV took MaxEnergyOnInvalidId (the meter runs ahead, not the test)
    [(_, then)] = await events_since(csms, at, 1)
    assert (then.payload["triggerReason"], then.payload["transactionInfo"]["chargingState"]) == (
        "ChargingStateChanged", "SuspendedEVSE",
    )  # fmt: skip  # C15.FR.06 once it is spent
    assert not energy_offered(station)


async def test_TC_C_18_CS_refused_online_with_StopTxOnInvalidId_true_is_deauthorized_whatever_MaxEnergyOnInvalidId(
    csms: AuthCsms, station_factory: StationRunner201
) -> None:
    station, then = await offline_from_the_cache(
        csms, station_factory, "true", entry("TxCtrlr", "MaxEnergyOnInvalidId", "500")
    )
    assert summary(then) == ("Ended", "Deauthorized", "DeAuthorized")  # C15.FR.04: TxStopPoint holds Authorized
    assert "offline" not in then.payload
    assert not energy_offered(station)  # the energy stops on the refusal


async def test_TC_C_32_CS_the_cache_outlives_a_restart(
    csms: AuthCsms, station_factory: StationRunner201, tmp_path: Path
) -> None:
    station, _ = await with_card_cached(csms, station_factory, Status.ACCEPTED, data_dir=tmp_path)
    await station_factory.stop(station)
    del station_factory.running[station]
    start = len(csms.frames.frames)
    station = station_factory(connectors=1, data_dir=tmp_path)  # the same store: C10.FR.02
    index = await wait_booted(csms, evses=1, start=start)
    await charging(csms, station, index, CARD)
    assert csms.frames.calls("Authorize", start=start) == []


async def test_TC_C_33_CS_an_AuthorizeResponse_updates_the_cache(
    csms: AuthCsms, station_factory: StationRunner201
) -> None:
    station, index = await booted(csms, station_factory, ocpp_config=[PRE_AUTHORIZE])
    started = await charging(csms, station, index, CARD)  # asked for: not cached yet
    assert [a.payload["idToken"] for a in csms.frames.calls("Authorize", start=index)] == [ID_TOKEN]
    assert (await station.id_tag_presented(CARD, 1)).result == "stopped"
    [(at, _)] = await events_since(csms, started, 1)
    await station.unplugged(1)  # EVConnectedPostSession, EVDisconnected
    csms.infos[CARD] = {"status": "Invalid"}
    await charging(csms, station, at, CARD)  # the same card again: the cache's Accepted (C10.FR.04)
    assert len(csms.frames.calls("Authorize", start=index)) == 1


async def test_TC_C_34_CS_a_TransactionEventResponse_updates_the_cache(
    csms: AuthCsms, station_factory: StationRunner201
) -> None:
    csms.infos[CARD] = {"status": "Invalid"}
    station, index = await with_card_cached(csms, station_factory, Status.ACCEPTED)
    started = await charging(csms, station, index, CARD)  # on the cache's word, then refused in the response
    [(at, ended)] = await events_since(csms, started, 1)
    assert summary(ended) == ("Ended", "Deauthorized", "DeAuthorized")
    cache = held(station)
    assert cache is not None and cache.status is Status.INVALID  # C10.FR.05, C12.FR.06
    await station.unplugged(1)
    await station.plugged(1)
    assert await station.id_tag_presented(CARD, 1) == Outcome("refused", 1, "Invalid")
    at, authorize = await csms.wait_call("Authorize", start=at + 1)  # C10.FR.03
    assert authorize.payload["idToken"] == ID_TOKEN
    await quiet_since(csms, at)


async def test_TC_C_36_CS_without_LocalPreAuthorize_a_card_cached_accepted_is_asked_for(
    csms: AuthCsms, station_factory: StationRunner201
) -> None:
    csms.infos[CARD] = {"status": "Invalid"}
    station, index = await booted(csms, station_factory, ocpp_config=[entry("AuthCtrlr", "LocalPreAuthorize", "false")])
    cached(station, {CARD: Status.ACCEPTED})
    assert await station.id_tag_presented(CARD, 1) == Outcome("refused", 1, "Invalid")
    at, authorize = await csms.wait_call("Authorize", start=index)
    assert authorize.payload["idToken"] == ID_TOKEN
    await quiet_since(csms, at)


async def test_TC_C_37_CS_ClearCache_empties_the_cache(csms: AuthCsms, station_factory: StationRunner201) -> None:
    station, index = await with_card_cached(csms, station_factory, Status.ACCEPTED)
    assert (await csms.call(call.ClearCache())).status == "Accepted"  # C11.FR.01, C11.FR.02
    assert held(station) is None
    await charging(csms, station, index, CARD)  # C11.FR.03: asked for again
    [authorize] = csms.frames.calls("Authorize", start=index)
    assert authorize.payload["idToken"] == ID_TOKEN


def cache_enabled(value: str) -> call.SetVariables:
    return call.SetVariables(set_variable_data=[
        {"attribute_value": value, "component": {"name": "AuthCacheCtrlr"}, "variable": {"name": "Enabled"}},
    ])  # fmt: skip


async def test_TC_C_38_CS_ClearCache_of_a_disabled_cache_is_rejected(
    csms: AuthCsms, station_factory: StationRunner201
) -> None:
    station, _ = await booted(csms, station_factory)
    cached(station, {CARD: Status.ACCEPTED})
    assert (await csms.call(cache_enabled("false"))).set_variable_result[0]["attribute_status"] == "Accepted"
    assert (await csms.call(call.ClearCache())).status == "Rejected"  # C11.FR.04
    await csms.call(cache_enabled("true"))
    cache = held(station)
    assert cache is not None and cache.status is Status.ACCEPTED  # nothing was cleared


async def test_TC_C_46_CS_an_entry_unused_for_its_LifeTime_is_asked_for_again(
    csms: AuthCsms, station_factory: StationRunner201
) -> None:
    station, index = await with_card_cached(
        csms, station_factory, Status.ACCEPTED, entry("AuthCacheCtrlr", "LifeTime", "60")
    )
    clock = station.clock  # the wall clock moved forward, not a wait
    clock.set_time(clock.now() + timedelta(seconds=40))
    used = await station.features.need(AuthorizationService).authorize(TOKEN)  # a use, on the cache's word
    assert used.status is Status.ACCEPTED
    clock.set_time(clock.now() + timedelta(seconds=50))
    cache = held(station)
    assert cache is not None and cache.status is Status.ACCEPTED  # C10.FR.08: 60 s from its last use, not its entry
    clock.set_time(clock.now() + timedelta(seconds=11))
    await charging(csms, station, index, CARD)  # unused for its LifeTime: no longer the cache's to decide
    [authorize] = csms.frames.calls("Authorize", start=index)
    assert authorize.payload["idToken"] == ID_TOKEN


async def test_TC_C_57_CS_with_DisablePostAuthorize_a_card_cached_invalid_is_refused_without_an_Authorize(
    csms: AuthCsms, station_factory: StationRunner201
) -> None:
    station, index = await with_card_cached(
        csms, station_factory, Status.INVALID, entry("AuthCacheCtrlr", "DisablePostAuthorize", "true")
    )
    await station.plugged(1)
    assert await station.id_tag_presented(CARD, 1) == Outcome("refused", 1, "Invalid")
    await quiet_since(csms, index, "Authorize")
    assert csms.frames.calls("TransactionEvent", start=index) == []
