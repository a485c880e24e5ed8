"""Part 6's transaction cases (E01 to E09, E14) and remote control (F01 to F03, TC_K_38) against the ``ocpp`` library's
2.0.1 central system: the frames on the wire, in order, validated by both sides. The offline and retry cases are in
test_transactions_offline.py.

Where Part 6's tool expects triggerReason ChargingStateChanged for the event that starts charging, this station names
the event that did it, the more specific reason E02.FR.17 asks for: CablePluggedIn when the cable closes the power path,
Authorized when the card does, RemoteStart for the first event after a remote start (F02.FR.21). An EV that stops or
starts taking energy is ``Station.ev_suspended`` (SuspendedEV, E01.FR.19), told with ChargingStateChanged. The cases
from state EnergyTransferSuspended (TC_E_17, 20, 25, 37) start from EnergyTransferStarted: with their stop points an
unplug ends a transaction alike whether the EV was taking energy or not.

The cases that cannot apply to this station, and why:

- TC_E_11_CS: DataSigned; the meter signs nothing (SampledDataCtrlr.SignReadings is not offered, J01.FR.21).
- TC_E_12_CS, TC_E_19_CS: ParkingBayOccupancy; there is no parking bay sensor.
- TC_E_24_CS: a socket that unlocks the cable on an EV-side disconnect; the station is told one unplug, not at which
  side, and UnlockOnEVSideDisconnect is not offered.
- TC_E_54_CS: an EV-side disconnect of an EV that charges by high-level communication only; the station has none
  (ISO 15118), its EVs are IEC 61851-1's (TC_E_20_CS).
- TC_E_26_CS, TC_E_27_CS: StopTxOnEVSideDisconnect false; the station offers it ReadOnly true (E09.FR.01).
- TC_E_52_CS: AuthCtrlr.DisableRemoteAuthorization is not offered (Part 5's C-58).
"""

from __future__ import annotations

from typing import Any

import pytest
from ocpp.v201 import call

from chargebox.sim.hardware import SimulatedHardware
from chargebox.station.station import Station
from chargebox.station.v201.transactions import OFFERED_CURRENT, TransactionService
from tests.interop.conftest import OcppCsms
from tests.interop.v201.conftest import StationRunner201, entry
from tests.interop.v201.transaction_states import (
    CARD,
    booted,
    contexts,
    energy_transfer_started,
    event,
    events,
    info,
    tx_start,
    tx_stop,
)
from tests.loopback import until

TOKEN = {"id_token": CARD, "type": "ISO14443"}
QUICK_TIMEOUT = entry("TxCtrlr", "EVConnectionTimeOut", "1")


async def charging(csms: OcppCsms, station_factory: StationRunner201) -> tuple[Station, int, Any]:
    """A one-EVSE station, booted: a cable, then a card; Authorize goes before the Started event (C01, E01)."""
    station, index = await booted(csms, station_factory)
    started_at, started = await energy_transfer_started(csms, station, index)
    return station, started_at, started


async def settled(station: Station) -> None:
    """Everything the station journaled so far is answered."""
    await until(lambda: station.lane.pending() == 0)


def transactions(station: Station) -> TransactionService:
    return station.features.need(TransactionService)


def connector_statuses(csms: OcppCsms, start: int) -> list[str]:
    return [f.payload["connectorStatus"] for f in csms.frames.calls("StatusNotification", start=start)]


# -- start options (E01) and local start (E02, E03) -------------------------------------------------


async def ev_suspends(station: Station, suspended: bool) -> None:
    """The simulated EV stops (or resumes) taking energy, and the station is told so (Part 6's manual action)."""
    hardware = station.ports.meter
    assert isinstance(hardware, SimulatedHardware)
    hardware.connectors[1].ev.suspended = suspended
    await station.ev_suspended(1, suspended)


async def test_TC_E_02_CS_EnergyTransfer_starts_when_the_energy_flows(
    csms: OcppCsms, station_factory: StationRunner201
) -> None:
    station, index = await booted(csms, station_factory, tx_start("EnergyTransfer"))
    await station.id_tag_presented(CARD)  # Authorized
    authorize, _ = await csms.wait_call("Authorize", start=index)
    await ev_suspends(station, True)  # the EV takes no energy yet: the power path closes, nothing flows
    await station.plugged(1)
    await until(lambda: connector_statuses(csms, authorize) == ["Occupied"])
    await settled(station)
    assert events(csms) == []
    await ev_suspends(station, False)
    _, started = await event(csms, authorize, eventType="Started")  # E01.FR.06
    assert (started["seqNo"], started["triggerReason"], info(started)["chargingState"]) == (
        0,
        "ChargingStateChanged",
        "Charging",
    )  # E01.FR.07, E01.FR.15
    assert started["idToken"] == {"idToken": CARD, "type": "ISO14443"}  # E01.FR.10
    assert started["evse"] == {"id": 1, "connectorId": 1}  # E01.FR.16


async def test_TC_E_38_CS_an_EV_not_ready_is_SuspendedEV_then_Charging(
    csms: OcppCsms, station_factory: StationRunner201
) -> None:
    station, index = await booted(csms, station_factory)  # TxStartPoint PowerPathClosed
    await station.id_tag_presented(CARD)  # Authorized
    await csms.wait_call("Authorize", start=index)
    await ev_suspends(station, True)  # the EV set not ready for energy transfer
    await station.plugged(1)  # EVConnectedPreSession
    at, started = await event(csms, index, eventType="Started")
    assert (started["triggerReason"], info(started)["chargingState"]) == ("CablePluggedIn", "SuspendedEV")  # E01.FR.19
    await ev_suspends(station, False)
    _, resumed = await event(csms, at + 1)
    assert (resumed["eventType"], resumed["triggerReason"], info(resumed)["chargingState"]) == (
        "Updated",
        "ChargingStateChanged",
        "Charging",
    )


async def test_TC_E_03_CS_cable_plugin_first_then_card_starts_and_the_card_ends(
    csms: OcppCsms, station_factory: StationRunner201
) -> None:
    station, started_at, started = await charging(csms, station_factory)
    assert started["eventType"] == "Started" and started["idToken"]["idToken"] == CARD
    await station.id_tag_presented(CARD)
    _, ended = await event(csms, started_at + 1)
    assert (ended["eventType"], ended["seqNo"]) == ("Ended", 1)
    assert info(ended)["stoppedReason"] == "Local"


async def test_TC_E_01_CS_and_TC_E_04_CS_PowerPathClosed_starts_when_the_cable_follows_the_card(
    csms: OcppCsms, station_factory: StationRunner201
) -> None:
    station, index = await booted(csms, station_factory, tx_start("PowerPathClosed"))
    await station.id_tag_presented(CARD)  # Authorized (local)
    authorize, _ = await csms.wait_call("Authorize", start=index)
    await settled(station)
    assert events(csms) == []  # E01.FR.05: not yet, the EV is not connected
    assert connector_statuses(csms, authorize) == ["Occupied"]
    await station.plugged(1)  # EnergyTransferStarted
    _, started = await event(csms, authorize, eventType="Started")
    assert (started["seqNo"], started["triggerReason"], info(started)["chargingState"]) == (
        0,
        "CablePluggedIn",
        "Charging",
    )  # E01.FR.07, E01.FR.15
    assert started["idToken"] == {"idToken": CARD, "type": "ISO14443"}  # E01.FR.10
    assert started["evse"] == {"id": 1, "connectorId": 1}  # E01.FR.16
    assert contexts(started) == {"Transaction.Begin"}  # E01.FR.09: TxStartedMeasurands


async def test_TC_E_09_CS_EVConnected_starts_at_the_cable(csms: OcppCsms, station_factory: StationRunner201) -> None:
    station, index = await booted(csms, station_factory, tx_start("EVConnected"))
    await station.plugged(1)
    _, started = await event(csms, index, eventType="Started")  # E01.FR.02
    assert connector_statuses(csms, index + 1) == ["Occupied"]
    assert (started["seqNo"], started["triggerReason"], info(started)["chargingState"]) == (
        0,
        "CablePluggedIn",
        "EVConnected",
    )
    assert started["evse"] == {"id": 1, "connectorId": 1} and "idToken" not in started  # E01.FR.16
    await station.id_tag_presented(CARD)
    _, authorized = await event(csms, index, seqNo=1)
    assert (authorized["eventType"], authorized["triggerReason"], authorized["idToken"]["idToken"]) == (
        "Updated",
        "Authorized",
        CARD,
    )  # E01.FR.10, once the driver is authorized
    assert info(authorized)["chargingState"] == "Charging" and "evse" not in authorized


async def test_TC_E_10_CS_Authorized_starts_at_the_card(csms: OcppCsms, station_factory: StationRunner201) -> None:
    station, index = await booted(csms, station_factory, tx_start("Authorized"))
    await station.id_tag_presented(CARD)
    authorize, request = await csms.wait_call("Authorize", start=index)
    assert request.payload["idToken"] == {"idToken": CARD, "type": "ISO14443"}  # C01.FR.02
    _, started = await event(csms, authorize, eventType="Started")  # E01.FR.03
    assert (started["seqNo"], started["triggerReason"], started["idToken"]["idToken"]) == (0, "Authorized", CARD)


async def test_TC_E_13_CS_Authorized_starts_at_a_remote_start(
    csms: OcppCsms, station_factory: StationRunner201
) -> None:
    station, index = await booted(csms, station_factory, tx_start("Authorized"))
    answer = await csms.call(call.RequestStartTransaction(id_token=TOKEN, remote_start_id=7, evse_id=1))
    assert answer.status == "Accepted"
    authorize, _ = await csms.wait_call("Authorize", start=index)  # F01.FR.01: AuthorizeRemoteStart is true
    _, started = await event(csms, authorize, eventType="Started")
    assert (started["triggerReason"], info(started)["remoteStartId"], started["idToken"]["idToken"]) == (
        "RemoteStart",
        7,
        CARD,
    )  # F01.FR.19, F02.FR.01, F01.FR.03
    assert transactions(station).transaction_id(1) == info(started)["transactionId"]


async def test_TC_E_05_CS_an_authorization_without_a_cable_lapses_and_the_EVSE_is_ready_again(
    csms: OcppCsms, station_factory: StationRunner201
) -> None:
    station, index = await booted(csms, station_factory, QUICK_TIMEOUT, entry("AuthCacheCtrlr", "Enabled", "false"))
    await station.id_tag_presented(CARD)
    authorize, _ = await csms.wait_call("Authorize", start=index)
    await csms.frames.wait_for(
        lambda f: f.action == "StatusNotification" and f.payload["connectorStatus"] == "Available", start=authorize
    )  # E03.FR.05: after EVConnectionTimeOut, no transaction had started (TxStartPoint PowerPathClosed)
    assert events(csms) == []
    await station.id_tag_presented(CARD)  # the EVSE takes the next authorization
    again, _ = await csms.wait_call("Authorize", start=authorize + 1)
    await station.plugged(1)
    _, started = await event(csms, again, eventType="Started")
    assert started["idToken"]["idToken"] == CARD


async def test_TC_E_39_CS_a_started_transaction_without_a_cable_ends_with_Timeout_and_a_cable_then_charges_nothing(
    csms: OcppCsms, station_factory: StationRunner201
) -> None:
    station, index = await booted(csms, station_factory, QUICK_TIMEOUT, tx_start("Authorized"), tx_stop("Authorized"))
    await station.id_tag_presented(CARD)
    started_at, started = await event(csms, index, eventType="Started")
    _, ended = await event(csms, started_at + 1)  # E06.FR.04: EVConnectionTimeOut ends the authorization
    assert (ended["eventType"], ended["triggerReason"], info(ended)["stoppedReason"]) == (
        "Ended",
        "EVConnectTimeout",
        "Timeout",
    )
    assert info(ended)["transactionId"] == info(started)["transactionId"]
    count = len(events(csms))
    await station.plugged(1)
    await settled(station)
    assert events(csms)[count:] == []  # the cable alone starts nothing with TxStartPoint Authorized


# -- stop options (E06, E07, E09) -------------------------------------------------------------------


async def stopped(
    csms: OcppCsms, station_factory: StationRunner201, stop_point: str, how: str
) -> tuple[Station, int, dict[str, Any], dict[str, Any]]:
    """EnergyTransferStarted with TxStopPoint ``stop_point``, then ``how`` (card, remote, unplug): (station, index of
    the next event, the Started event, the next event)."""
    station, index = await booted(csms, station_factory, tx_stop(stop_point))
    started_at, started = await energy_transfer_started(csms, station, index)
    if how == "card":
        await station.id_tag_presented(CARD)
    elif how == "remote":
        answer = await csms.call(call.RequestStopTransaction(transaction_id=info(started)["transactionId"]))
        assert answer.status == "Accepted"  # F03.FR.09
    else:
        await station.unplugged(1)
    at, following = await event(csms, started_at + 1)
    assert following["seqNo"] == 1 and info(following)["transactionId"] == info(started)["transactionId"]
    return station, at, started, following


def ended_as(payload: dict[str, Any]) -> tuple[str, str, str | None, str | None]:
    return (
        payload["eventType"],
        payload["triggerReason"],
        info(payload).get("chargingState"),
        info(payload).get("stoppedReason"),
    )


async def test_TC_E_06_CS_local_stop_then_the_cable_out_frees_the_EVSE(
    csms: OcppCsms, station_factory: StationRunner201
) -> None:
    station, at, _, ended = await stopped(csms, station_factory, "EVConnected,Authorized", "card")
    assert ended_as(ended) == (
        "Ended",
        "StopAuthorized",
        "EVConnected",
        "Local",
    )  # E07.FR.04, C01.FR.03; the cable still in (Part 6's StopAuthorized state)
    await station.unplugged(1)  # EVDisconnected: the transaction is over, only the status changes
    await until(lambda: connector_statuses(csms, at) == ["Available"])
    await settled(station)
    assert events(csms, at + 1) == []


async def test_TC_E_15_CS_StopAuthorized_local(csms: OcppCsms, station_factory: StationRunner201) -> None:
    _, _, _, ended = await stopped(csms, station_factory, "Authorized", "card")
    assert ended_as(ended) == (
        "Ended",
        "StopAuthorized",
        "EVConnected",
        "Local",
    )  # E06.FR.03; the cable still in (Part 6's StopAuthorized state)


async def test_TC_E_21_CS_StopAuthorized_remote(csms: OcppCsms, station_factory: StationRunner201) -> None:
    _, _, _, ended = await stopped(csms, station_factory, "Authorized", "remote")
    assert ended_as(ended) == (
        "Ended",
        "RemoteStop",
        "EVConnected",
        "Remote",
    )  # E06.FR.03, F03.FR.09; the cable still in (Part 6's StopAuthorized state)


async def test_TC_E_08_CS_EnergyTransfer_stop_authorized(csms: OcppCsms, station_factory: StationRunner201) -> None:
    station, _, _, ended = await stopped(csms, station_factory, "EnergyTransfer", "card")
    assert ended_as(ended) == ("Ended", "StopAuthorized", "EVConnected", "Local")  # E06.FR.07: the energy stopped
    hardware = station.ports.contactor
    assert isinstance(hardware, SimulatedHardware) and not hardware.connectors[1].contactor_closed


async def test_TC_E_22_CS_EnergyTransfer_stopped_by_the_EV(csms: OcppCsms, station_factory: StationRunner201) -> None:
    station, index = await booted(csms, station_factory, tx_stop("EnergyTransfer"))
    started_at, _ = await energy_transfer_started(csms, station, index)
    await ev_suspends(station, True)
    _, ended = await event(csms, started_at + 1)
    assert ended_as(ended) == ("Ended", "ChargingStateChanged", "EVConnected", "StoppedByEV")  # E06.FR.07


async def test_TC_E_07_CS_PowerPathClosed_local_stop(csms: OcppCsms, station_factory: StationRunner201) -> None:
    _, _, _, ended = await stopped(csms, station_factory, "PowerPathClosed", "card")
    assert ended_as(ended) == (
        "Ended",
        "StopAuthorized",
        "EVConnected",
        "Local",
    )  # E06.FR.06; the cable still in (Part 6's StopAuthorized state)


async def test_TC_E_35_CS_PowerPathClosed_remote_stop(csms: OcppCsms, station_factory: StationRunner201) -> None:
    _, _, _, ended = await stopped(csms, station_factory, "PowerPathClosed", "remote")
    assert ended_as(ended) == (
        "Ended",
        "RemoteStop",
        "EVConnected",
        "Remote",
    )  # E06.FR.06; the cable still in (Part 6's StopAuthorized state)


async def test_TC_E_37_CS_PowerPathClosed_EV_side_disconnect(csms: OcppCsms, station_factory: StationRunner201) -> None:
    _, _, _, ended = await stopped(csms, station_factory, "PowerPathClosed", "unplug")
    assert ended_as(ended) == ("Ended", "EVCommunicationLost", "Idle", "EVDisconnected")  # E06.FR.06


async def test_TC_E_14_CS_EVConnected_after_the_stop_authorization_the_cable_out_ends(
    csms: OcppCsms, station_factory: StationRunner201
) -> None:
    station, at, _, updated = await stopped(csms, station_factory, "EVConnected", "card")  # EVConnectedPostSession
    assert (updated["eventType"], updated["triggerReason"], info(updated)["chargingState"]) == (
        "Updated",
        "StopAuthorized",
        "EVConnected",
    )
    await station.unplugged(1)
    _, ended = await event(csms, at + 1)
    await until(lambda: connector_statuses(csms, at) == ["Available"])
    assert (ended["seqNo"], *ended_as(ended)) == (2, "Ended", "EVCommunicationLost", "Idle", "EVDisconnected")


async def test_TC_E_20_CS_EVConnected_EV_side_disconnect(csms: OcppCsms, station_factory: StationRunner201) -> None:
    _, _, _, ended = await stopped(csms, station_factory, "EVConnected", "unplug")
    assert ended_as(ended) == ("Ended", "EVCommunicationLost", "Idle", "EVDisconnected")  # E06.FR.02


@pytest.mark.parametrize("stop_point", ["Authorized", "PowerPathClosed"])
async def test_TC_E_17_CS_and_TC_E_25_CS_an_EV_side_disconnect_deauthorizes_then_the_connector_is_available(
    csms: OcppCsms, station_factory: StationRunner201, stop_point: str
) -> None:
    station, at, _, ended = await stopped(csms, station_factory, stop_point, "unplug")
    assert ended_as(ended) == ("Ended", "EVCommunicationLost", "Idle", "EVDisconnected")  # E09.FR.01, E06.FR.04
    await until(lambda: connector_statuses(csms, at) == ["Available"])
    assert transactions(station).transaction_id(1) is None


# -- GetTransactionStatus (E14) without a queue -------------------------------------------------------


async def test_TC_E_30_CS_TC_E_32_CS_TC_E_34_CS_transaction_status_without_messages_in_queue(
    csms: OcppCsms, station_factory: StationRunner201
) -> None:
    station, index = await booted(csms, station_factory)
    status = await csms.call(call.GetTransactionStatus())
    assert (status.ongoing_indicator, status.messages_in_queue) == (None, False)  # TC_E_34: E14.FR.06, E14.FR.08
    _, started = await energy_transfer_started(csms, station, index)
    await settled(station)
    transaction_id = info(started)["transactionId"]
    status = await csms.call(call.GetTransactionStatus(transaction_id=transaction_id))
    assert (status.ongoing_indicator, status.messages_in_queue) == (True, False)  # TC_E_30: E14.FR.02, E14.FR.05
    await station.id_tag_presented(CARD)
    await event(csms, index, eventType="Ended")
    await settled(station)
    status = await csms.call(call.GetTransactionStatus(transaction_id=transaction_id))
    assert (status.ongoing_indicator, status.messages_in_queue) == (False, False)  # TC_E_32: E14.FR.03, E14.FR.05


async def test_TC_E_28_CS_transaction_status_of_an_unknown_transactionId(
    csms: OcppCsms, station_factory: StationRunner201
) -> None:
    await booted(csms, station_factory)
    status = await csms.call(call.GetTransactionStatus(transaction_id="unknown"))
    assert status.messages_in_queue is False and status.ongoing_indicator in (None, False)


# -- remote start and stop (F01 to F03, TC_K_38) -----------------------------------------------------


async def test_TC_F_01_CS_cable_plugin_first_then_a_remote_start(
    csms: OcppCsms, station_factory: StationRunner201
) -> None:
    station, index = await booted(csms, station_factory)
    await station.plugged(1)  # EVConnectedPreSession: TxStartPoint PowerPathClosed, nothing started yet
    answer = await csms.call(call.RequestStartTransaction(id_token=TOKEN, remote_start_id=11, evse_id=1))
    assert answer.status == "Accepted" and answer.transaction_id is None  # F01.FR.13: no transaction yet
    authorize, _ = await csms.wait_call("Authorize", start=index)
    _, started = await event(csms, authorize, eventType="Started")  # F01.FR.05
    assert (started["triggerReason"], info(started)["remoteStartId"], started["idToken"]["idToken"]) == (
        "RemoteStart",
        11,
        CARD,
    )  # F01.FR.19, F02.FR.01, F01.FR.03
    assert started["evse"] == {"id": 1, "connectorId": 1}


async def test_TC_F_01_CS_with_EVConnected_the_answer_names_the_running_transaction(
    csms: OcppCsms, station_factory: StationRunner201
) -> None:
    station, index = await booted(csms, station_factory, tx_start("EVConnected"))
    await station.plugged(1)
    started_at, started = await event(csms, index, eventType="Started")
    answer = await csms.call(call.RequestStartTransaction(id_token=TOKEN, remote_start_id=12, evse_id=1))
    assert (answer.status, answer.transaction_id) == ("Accepted", info(started)["transactionId"])  # F01.FR.13
    _, updated = await event(csms, started_at + 1)
    assert (updated["eventType"], updated["triggerReason"], info(updated)["remoteStartId"]) == (
        "Updated",
        "RemoteStart",
        12,
    )  # F01.FR.25


@pytest.mark.parametrize(("authorize_remote_start", "case"), [("true", "TC_F_02_CS"), ("false", "TC_F_03_CS")])
async def test_TC_F_02_CS_and_TC_F_03_CS_remote_start_first_then_the_cable(
    csms: OcppCsms, station_factory: StationRunner201, authorize_remote_start: str, case: str
) -> None:
    station, index = await booted(
        csms, station_factory, entry("AuthCtrlr", "AuthorizeRemoteStart", authorize_remote_start)
    )
    answer = await csms.call(call.RequestStartTransaction(id_token=TOKEN, remote_start_id=13, evse_id=1))
    assert answer.status == "Accepted"
    await until(lambda: "Occupied" in connector_statuses(csms, index + 1))  # Authorized (remote), step 5
    await settled(station)
    authorized = csms.frames.calls("Authorize", start=index)
    assert len(authorized) == (1 if authorize_remote_start == "true" else 0)  # F01.FR.01, F01.FR.02
    assert events(csms) == []  # TxStartPoint PowerPathClosed: the cable is still missing
    await station.plugged(1)
    _, started = await event(csms, index, eventType="Started")
    assert (started["seqNo"], started["triggerReason"], info(started)["remoteStartId"]) == (
        0,
        "RemoteStart",
        13,
    )  # F02.FR.01, F02.FR.21: the first event after the remote start, though the cable started it
    assert started["idToken"]["idToken"] == CARD and info(started)["chargingState"] == "Charging"


async def test_TC_F_04_CS_remote_start_first_without_a_cable_ends_with_EVConnectTimeout_and_the_EVSE_starts_again(
    csms: OcppCsms, station_factory: StationRunner201
) -> None:
    _, index = await booted(csms, station_factory, QUICK_TIMEOUT, tx_start("Authorized"))
    assert (await csms.call(call.RequestStartTransaction(id_token=TOKEN, remote_start_id=14, evse_id=1))).status == (
        "Accepted"
    )
    started_at, started = await event(csms, index, eventType="Started")
    assert started["triggerReason"] == "RemoteStart"
    ended_at, ended = await event(csms, started_at + 1)  # E03.FR.05, F02.FR.07
    assert (ended["eventType"], ended["triggerReason"], info(ended)["stoppedReason"]) == (
        "Ended",
        "EVConnectTimeout",
        "Timeout",
    )
    assert (await csms.call(call.RequestStartTransaction(id_token=TOKEN, remote_start_id=15, evse_id=1))).status == (
        "Accepted"
    )
    _, again = await event(csms, ended_at + 1, eventType="Started")
    assert info(again)["remoteStartId"] == 15 and info(again)["transactionId"] != info(started)["transactionId"]


async def test_TC_K_38_CS_a_remote_start_with_a_TxProfile_starts_and_ignores_the_profile(
    csms: OcppCsms, station_factory: StationRunner201
) -> None:
    station, index = await booted(csms, station_factory)
    await station.plugged(1)  # EVConnectedPreSession
    profile = {
        "id": 1,
        "stack_level": 0,
        "charging_profile_purpose": "TxProfile",
        "charging_profile_kind": "Relative",
        "charging_schedule": [
            {"id": 1, "charging_rate_unit": "A", "charging_schedule_period": [{"start_period": 0, "limit": 6}]}
        ],
    }
    answer = await csms.call(
        call.RequestStartTransaction(id_token=TOKEN, remote_start_id=16, evse_id=1, charging_profile=profile)
    )
    assert answer.status == "Accepted"  # F01.FR.12: no smart charging, the profile is ignored
    authorize, _ = await csms.wait_call("Authorize", start=index)
    _, started = await event(csms, authorize, eventType="Started")
    assert (started["triggerReason"], info(started)["remoteStartId"]) == ("RemoteStart", 16)
    hardware = station.ports.ev
    assert isinstance(hardware, SimulatedHardware)
    assert hardware.offered_a(1) == OFFERED_CURRENT  # the station's own offer, not the profile's 6 A


async def test_TC_F_08_CS_and_TC_F_09_CS_remote_stop_accepted_and_rejected(
    csms: OcppCsms, station_factory: StationRunner201
) -> None:
    _station, started_at, started = await charging(csms, station_factory)
    refused = await csms.call(call.RequestStopTransaction(transaction_id="not-a-transaction"))
    assert refused.status == "Rejected"
    accepted = await csms.call(call.RequestStopTransaction(transaction_id=info(started)["transactionId"]))
    assert accepted.status == "Accepted"
    _, ended = await event(csms, started_at + 1)
    assert (ended["triggerReason"], info(ended)["stoppedReason"]) == ("RemoteStop", "Remote")


async def test_TC_F_05_CS_unlock_during_an_authorized_transaction_is_refused(
    csms: OcppCsms, station_factory: StationRunner201
) -> None:
    station, started_at, _ = await charging(csms, station_factory)
    answer = await csms.call(call.UnlockConnector(evse_id=1, connector_id=1))
    assert answer.status == "OngoingAuthorizedTransaction"  # F05.FR.02
    await settled(station)
    assert events(csms, started_at + 1) == []  # the transaction goes on
