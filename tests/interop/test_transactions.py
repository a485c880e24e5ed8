"""Start and stop paths of a transaction (checklist 5.2, C-13..C-22) against the ``ocpp`` library's central system.

Each test is one OCTT case (TC_xxx_CS) or checklist rule, over a real loopback WebSocket with the station's real
clock: ConnectionTimeOut and MeterValueSampleInterval are set to 1 s where they matter.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from ocpp.v16 import call
from ocpp.v16.datatypes import IdTagInfo
from ocpp.v16.enums import AuthorizationStatus, RemoteStartStopStatus

from chargebox.protocol.messages import ChargePointErrorCode
from chargebox.sim.simulator import Simulator
from tests.interop.conftest import StationRunner
from tests.interop.transactions_csms import (
    TransactionsCsms,
    boot,
    nothing_more,
    start_charging,
    statuses,
    timestamp,
    wait_status,
)
from tests.loopback import until

CSMS = TransactionsCsms  # the central system of the ``csms`` fixture


# -- starting -------------------------------------------------------------------------------------


async def test_X_1_TC_003_CS_plug_first_then_card_starts_a_transaction(
    csms: TransactionsCsms, station_factory: StationRunner
) -> None:
    station, sim = await boot(csms, station_factory)
    booted = len(csms.frames.frames)
    await sim.plug(1)
    await wait_status(csms, 1, "Preparing", start=booted)
    await sim.swipe("TAG-1", 1)
    _, start = await csms.wait_call("StartTransaction", start=booted)
    await wait_status(csms, 1, "Charging", start=booted)
    assert [f.payload for f in csms.frames.calls("Authorize")] == [{"idTag": "TAG-1"}]
    assert start.payload["connectorId"] == 1
    assert start.payload["idTag"] == "TAG-1"
    assert isinstance(start.payload["meterStart"], int)  # integer Wh
    assert timestamp(start.payload["timestamp"]).tzinfo is not None
    assert "reservationId" not in start.payload
    assert statuses(csms, 1, start=booted) == ["Preparing", "Charging"]
    await until(lambda: station.connectors[1].transaction_id == 1)  # the CSMS's transactionId is kept


async def test_X_2_TC_004_1_CS_card_first_then_plug_starts_a_transaction(
    csms: TransactionsCsms, station_factory: StationRunner
) -> None:
    _, sim = await boot(csms, station_factory)
    booted = len(csms.frames.frames)
    await sim.swipe("TAG-1", 1)
    await wait_status(csms, 1, "Preparing", start=booted)  # authorized, waiting for the cable
    await nothing_more(csms, "StartTransaction", start=booted, within=0.2)
    await sim.plug(1)
    _, start = await csms.wait_call("StartTransaction", start=booted)
    await wait_status(csms, 1, "Charging", start=booted)
    assert start.payload["idTag"] == "TAG-1"
    assert statuses(csms, 1, start=booted) == ["Preparing", "Charging"]


async def test_X_2_TC_004_2_CS_no_cable_within_connection_timeout_goes_back_to_available(
    csms: TransactionsCsms, station_factory: StationRunner
) -> None:
    _, sim = await boot(csms, station_factory, ocpp_config={"ConnectionTimeOut": 1})
    booted = len(csms.frames.frames)
    await sim.swipe("TAG-1", 1)
    index, preparing = await wait_status(csms, 1, "Preparing", start=booted)
    _, available = await wait_status(csms, 1, "Available", start=index, timeout=3)
    assert available.at - preparing.at >= 1 - 0.05  # not before ConnectionTimeOut
    assert csms.frames.calls("StartTransaction") == []


async def test_X_3_cable_without_card_within_connection_timeout_goes_finishing(
    csms: TransactionsCsms, station_factory: StationRunner
) -> None:
    _, sim = await boot(csms, station_factory, ocpp_config={"ConnectionTimeOut": 1})
    booted = len(csms.frames.frames)
    await sim.plug(1)
    index, _ = await wait_status(csms, 1, "Preparing", start=booted)
    await wait_status(csms, 1, "Finishing", start=index, timeout=3)  # B6, not Available: the cable is in
    assert statuses(csms, 1, start=booted) == ["Preparing", "Finishing"]


async def test_C_17_remote_start_without_connector_id_uses_the_plugged_connector(
    csms: TransactionsCsms, station_factory: StationRunner
) -> None:
    _, sim = await boot(csms, station_factory)
    await sim.plug(2)
    result = await csms.call(call.RemoteStartTransaction(id_tag="REMOTE-1"))
    assert result.status == RemoteStartStopStatus.accepted
    _, start = await csms.wait_call("StartTransaction")
    assert start.payload["connectorId"] == 2


async def test_C_19_TC_010_CS_remote_start_with_cable_plugged(
    csms: TransactionsCsms, station_factory: StationRunner
) -> None:
    _, sim = await boot(csms, station_factory)
    booted = len(csms.frames.frames)
    await sim.plug(1)
    await wait_status(csms, 1, "Preparing", start=booted)
    result = await csms.call(call.RemoteStartTransaction(id_tag="REMOTE-1", connector_id=1))
    assert result.status == RemoteStartStopStatus.accepted
    _, start = await csms.wait_call("StartTransaction", start=booted)
    await wait_status(csms, 1, "Charging", start=booted)
    assert start.payload["idTag"] == "REMOTE-1"
    assert start.payload["connectorId"] == 1
    assert csms.frames.calls("Authorize") == []  # C-14: AuthorizeRemoteTxRequests is false by default
    assert statuses(csms, 1, start=booted) == ["Preparing", "Charging"]


async def test_C_19_TC_011_1_CS_remote_start_then_plug(csms: TransactionsCsms, station_factory: StationRunner) -> None:
    _, sim = await boot(csms, station_factory)
    booted = len(csms.frames.frames)
    result = await csms.call(call.RemoteStartTransaction(id_tag="REMOTE-1", connector_id=1))
    assert result.status == RemoteStartStopStatus.accepted
    await wait_status(csms, 1, "Preparing", start=booted)  # S-3: Preparing on an accepted remote start
    await sim.plug(1)
    _, start = await csms.wait_call("StartTransaction", start=booted)
    await wait_status(csms, 1, "Charging", start=booted)
    assert start.payload["idTag"] == "REMOTE-1"
    assert statuses(csms, 1, start=booted) == ["Preparing", "Charging"]


async def test_C_18_TC_011_2_CS_remote_start_without_cable_is_abandoned_after_connection_timeout(
    csms: TransactionsCsms, station_factory: StationRunner
) -> None:
    await boot(csms, station_factory, ocpp_config={"ConnectionTimeOut": 1})
    booted = len(csms.frames.frames)
    result = await csms.call(call.RemoteStartTransaction(id_tag="REMOTE-1", connector_id=1))
    assert result.status == RemoteStartStopStatus.accepted
    index, _ = await wait_status(csms, 1, "Preparing", start=booted)
    await wait_status(csms, 1, "Available", start=index, timeout=3)
    assert csms.frames.calls("StartTransaction") == []


async def test_C_13_remote_start_with_authorize_remote_tx_requests_sends_authorize_first(
    csms: TransactionsCsms, station_factory: StationRunner
) -> None:
    _, sim = await boot(csms, station_factory, ocpp_config={"AuthorizeRemoteTxRequests": True})
    booted = len(csms.frames.frames)
    await sim.plug(1)
    result = await csms.call(call.RemoteStartTransaction(id_tag="REMOTE-1", connector_id=1))
    assert result.status == RemoteStartStopStatus.accepted
    start_index, _ = await csms.wait_call("StartTransaction", start=booted)
    authorize_index, authorize = await csms.wait_call("Authorize", start=booted)
    assert authorize.payload == {"idTag": "REMOTE-1"}
    assert authorize_index < start_index


async def test_C_13_TC_023_5_CS_remote_start_with_an_invalid_id_tag_starts_nothing(
    csms: TransactionsCsms, station_factory: StationRunner
) -> None:
    csms.id_tags["REMOTE-1"] = IdTagInfo(status=AuthorizationStatus.invalid)
    await boot(csms, station_factory, ocpp_config={"AuthorizeRemoteTxRequests": True})
    booted = len(csms.frames.frames)
    result = await csms.call(call.RemoteStartTransaction(id_tag="REMOTE-1", connector_id=1))
    assert result.status == RemoteStartStopStatus.accepted  # C-13: Accepted when it will attempt
    await csms.wait_call("Authorize", start=booted)
    assert [f.payload for f in csms.frames.calls("Authorize")] == [{"idTag": "REMOTE-1"}]
    await nothing_more(csms, "StartTransaction")
    assert statuses(csms, 1, start=booted) == []  # S-3: Preparing only for an accepted idTag: no flap


async def test_C_16_TC_026_CS_remote_start_on_a_connector_in_use_is_rejected(
    csms: TransactionsCsms, station_factory: StationRunner
) -> None:
    station, sim = await boot(csms, station_factory)
    await start_charging(csms, station, sim)
    result = await csms.call(call.RemoteStartTransaction(id_tag="REMOTE-1", connector_id=1))
    assert result.status == RemoteStartStopStatus.rejected
    assert len(csms.frames.calls("StartTransaction")) == 1


async def test_C_16_TC_026_CS_remote_start_on_a_faulted_connector_is_rejected(
    csms: TransactionsCsms, station_factory: StationRunner
) -> None:
    _, sim = await boot(csms, station_factory)
    sim.fault(1, ChargePointErrorCode.GROUND_FAILURE)
    await wait_status(csms, 1, "Faulted")
    result = await csms.call(call.RemoteStartTransaction(id_tag="REMOTE-1", connector_id=1))
    assert result.status == RemoteStartStopStatus.rejected


@pytest.mark.parametrize("connector_id", [0, 3])
async def test_C_15_TC_027_CS_remote_start_on_connector_0_or_unknown_is_rejected(
    csms: TransactionsCsms, station_factory: StationRunner, connector_id: int
) -> None:
    # The ocpp library's RemoteStartTransaction schema has no minimum for connectorId, so it sends 0 as is;
    # [S] §6.33 says connectorId > 0, and TC_027_CS expects Rejected, as chargebox answers.
    await boot(csms, station_factory)
    result = await csms.call(call.RemoteStartTransaction(id_tag="REMOTE-1", connector_id=connector_id))
    assert result.status == RemoteStartStopStatus.rejected
    await nothing_more(csms, "StartTransaction", within=0.2)


# -- stopping -------------------------------------------------------------------------------------


async def test_X_6_TC_068_CS_same_card_stops_without_authorize(
    csms: TransactionsCsms, station_factory: StationRunner
) -> None:
    station, sim = await boot(csms, station_factory)
    transaction_id = await start_charging(csms, station, sim)
    started = len(csms.frames.frames)
    await sim.swipe("TAG-1", 1)
    _, stop = await csms.wait_call("StopTransaction", start=started)
    assert stop.payload["transactionId"] == transaction_id
    assert stop.payload["idTag"] == "TAG-1"
    assert stop.payload.get("reason", "Local") == "Local"  # Local may be omitted
    assert isinstance(stop.payload["meterStop"], int)
    assert csms.frames.calls("Authorize", start=started) == []
    await wait_status(csms, 1, "Finishing", start=started)  # the driver must still take the cable
    assert not sim.hardware.connectors[1].locked  # unlocked


async def test_X_6_TC_069_CS_card_of_the_same_parent_id_tag_stops(
    csms: TransactionsCsms, station_factory: StationRunner
) -> None:
    csms.id_tags["TAG-1"] = IdTagInfo(status=AuthorizationStatus.accepted, parent_id_tag="FLEET")
    csms.id_tags["TAG-2"] = IdTagInfo(status=AuthorizationStatus.accepted, parent_id_tag="FLEET")
    station, sim = await boot(csms, station_factory)
    transaction_id = await start_charging(csms, station, sim)
    started = len(csms.frames.frames)
    await sim.swipe("TAG-2", 1)
    _, stop = await csms.wait_call("StopTransaction", start=started)
    assert stop.payload["transactionId"] == transaction_id
    assert stop.payload["idTag"] == "TAG-2"
    assert [f.payload for f in csms.frames.calls("Authorize", start=started)] == [{"idTag": "TAG-2"}]
    await wait_status(csms, 1, "Finishing", start=started)


async def test_X_6_card_of_another_group_does_not_stop(csms: TransactionsCsms, station_factory: StationRunner) -> None:
    csms.id_tags["TAG-1"] = IdTagInfo(status=AuthorizationStatus.accepted, parent_id_tag="FLEET")
    csms.id_tags["OTHER"] = IdTagInfo(status=AuthorizationStatus.accepted, parent_id_tag="ELSEWHERE")
    station, sim = await boot(csms, station_factory)
    await start_charging(csms, station, sim)
    started = len(csms.frames.frames)
    await sim.swipe("OTHER", 1)
    await nothing_more(csms, "StopTransaction", start=started)
    assert 1 in station.transactions.sessions


async def test_C_21_TC_012_CS_remote_stop(csms: TransactionsCsms, station_factory: StationRunner) -> None:
    station, sim = await boot(csms, station_factory)
    transaction_id = await start_charging(csms, station, sim)
    started = len(csms.frames.frames)
    result = await csms.call(call.RemoteStopTransaction(transaction_id=transaction_id))
    assert result.status == RemoteStartStopStatus.accepted
    _, stop = await csms.wait_call("StopTransaction", start=started)
    assert stop.payload["transactionId"] == transaction_id
    assert stop.payload["reason"] == "Remote"
    await wait_status(csms, 1, "Finishing", start=started)
    assert not sim.hardware.connectors[1].locked  # C-21: unlock the cable


async def test_C_22_TC_028_CS_remote_stop_of_an_unknown_transaction_is_rejected(
    csms: TransactionsCsms, station_factory: StationRunner
) -> None:
    station, sim = await boot(csms, station_factory)
    transaction_id = await start_charging(csms, station, sim)
    result = await csms.call(call.RemoteStopTransaction(transaction_id=transaction_id + 41))
    assert result.status == RemoteStartStopStatus.rejected
    await nothing_more(csms, "StopTransaction", within=0.2)
    assert 1 in station.transactions.sessions


async def test_X_9_TC_005_1_CS_ev_side_disconnect_stops_and_unlocks(
    csms: TransactionsCsms, station_factory: StationRunner
) -> None:
    config = {"StopTransactionOnEVSideDisconnect": True, "UnlockConnectorOnEVSideDisconnect": True}
    station, sim = await boot(csms, station_factory, ocpp_config=config)
    transaction_id = await start_charging(csms, station, sim)
    started = len(csms.frames.frames)
    await sim.unplug(1)
    _, stop = await csms.wait_call("StopTransaction", start=started)
    assert stop.payload["transactionId"] == transaction_id
    assert stop.payload["reason"] == "EVDisconnected"
    _, finishing = await wait_status(csms, 1, "Finishing", start=started)
    assert finishing.payload["errorCode"] == "NoError"
    await wait_status(csms, 1, "Available", start=started)
    assert not sim.hardware.connectors[1].locked


async def test_X_9_TC_005_2_CS_ev_side_disconnect_stops_and_keeps_the_cable_locked(
    csms: TransactionsCsms, station_factory: StationRunner
) -> None:
    config = {"StopTransactionOnEVSideDisconnect": True, "UnlockConnectorOnEVSideDisconnect": False}
    station, sim = await boot(csms, station_factory, ocpp_config=config)
    await start_charging(csms, station, sim)
    started = len(csms.frames.frames)
    await sim.unplug(1)
    _, stop = await csms.wait_call("StopTransaction", start=started)
    assert stop.payload["reason"] == "EVDisconnected"
    index, _ = await wait_status(csms, 1, "Finishing", start=started)
    assert sim.hardware.connectors[1].locked
    await nothing_more(csms, "StatusNotification", start=index + 1, within=0.2)  # stays Finishing, locked


async def test_X_9_TC_005_2_CS_the_same_card_then_unlocks_the_cable(
    csms: TransactionsCsms, station_factory: StationRunner
) -> None:
    config = {"StopTransactionOnEVSideDisconnect": True, "UnlockConnectorOnEVSideDisconnect": False}
    station, sim = await boot(csms, station_factory, ocpp_config=config)
    await start_charging(csms, station, sim)
    started = len(csms.frames.frames)
    await sim.unplug(1)
    index, _ = await wait_status(csms, 1, "Finishing", start=started)
    await sim.swipe("TAG-1", 1)
    await wait_status(csms, 1, "Available", start=index)
    assert not sim.hardware.connectors[1].locked
    assert len(csms.frames.calls("StartTransaction")) == 1  # the card took the cable back, nothing started


async def test_X_10_TC_005_3_CS_ev_side_disconnect_without_stop_suspends_then_resumes(
    csms: TransactionsCsms, station_factory: StationRunner
) -> None:
    station, sim = await boot(csms, station_factory, ocpp_config={"StopTransactionOnEVSideDisconnect": False})
    await start_charging(csms, station, sim)
    started = len(csms.frames.frames)
    await sim.unplug(1)
    index, suspended = await wait_status(csms, 1, "SuspendedEV", start=started)
    assert suspended.payload["errorCode"] == "NoError"
    assert sim.hardware.connectors[1].locked  # locked, whatever UnlockConnectorOnEVSideDisconnect says
    await sim.plug(1)
    await wait_status(csms, 1, "Charging", start=index)
    assert csms.frames.calls("StopTransaction") == []


async def test_X_5_TC_037_2_CS_start_answered_invalid_without_stop_suspends_energy(
    csms: TransactionsCsms, station_factory: StationRunner
) -> None:
    # OCTT starts this one offline; X-5 applies online and offline alike, and online needs no restart.
    csms.start_id_tags["TAG-1"] = IdTagInfo(status=AuthorizationStatus.invalid)
    station, sim = await boot(csms, station_factory, ocpp_config={"StopTransactionOnInvalidId": False})
    booted = len(csms.frames.frames)
    await sim.plug(1)
    await sim.swipe("TAG-1", 1)
    await wait_status(csms, 1, "SuspendedEVSE", start=booted)
    assert sim.hardware.connectors[1].offered_a == 0
    assert not sim.hardware.connectors[1].contactor_closed
    await nothing_more(csms, "StopTransaction", start=booted)
    assert 1 in station.transactions.sessions  # the transaction goes on


async def test_X_5_TC_037_3_CS_start_answered_invalid_with_stop_deauthorizes(
    csms: TransactionsCsms, station_factory: StationRunner
) -> None:
    csms.start_id_tags["TAG-1"] = IdTagInfo(status=AuthorizationStatus.invalid)
    _, sim = await boot(csms, station_factory, ocpp_config={"StopTransactionOnInvalidId": True})
    booted = len(csms.frames.frames)
    await sim.plug(1)
    await sim.swipe("TAG-1", 1)
    _, stop = await csms.wait_call("StopTransaction", start=booted)
    assert stop.payload["reason"] == "DeAuthorized"
    assert stop.payload["transactionId"] == 1
    await wait_status(csms, 1, "Finishing", start=booted)
    assert sim.hardware.connectors[1].locked  # until the same idTag is presented again


async def deauthorized(csms: TransactionsCsms, station_factory: StationRunner) -> tuple[Simulator, int]:
    """TAG-1 (group FLEET) charging on connector 1 until StartTransaction answers Invalid: Finishing, locked."""
    csms.id_tags["TAG-1"] = IdTagInfo(status=AuthorizationStatus.accepted, parent_id_tag="FLEET")
    csms.start_id_tags["TAG-1"] = IdTagInfo(status=AuthorizationStatus.invalid, parent_id_tag="FLEET")
    _, sim = await boot(csms, station_factory, ocpp_config={"StopTransactionOnInvalidId": True})
    booted = len(csms.frames.frames)
    await sim.plug(1)
    await sim.swipe("TAG-1", 1)
    await csms.wait_call("StopTransaction", start=booted)
    index, _ = await wait_status(csms, 1, "Finishing", start=booted)
    return sim, index


async def test_X_5_TC_037_3_CS_deauthorized_cable_is_released_by_the_same_card(
    csms: TransactionsCsms, station_factory: StationRunner
) -> None:
    sim, finishing = await deauthorized(csms, station_factory)
    await sim.swipe("TAG-1", 1)
    await wait_status(csms, 1, "Available", start=finishing)
    assert not sim.hardware.connectors[1].locked


async def test_X_5_TC_037_3_CS_deauthorized_cable_is_released_by_a_card_of_the_same_group(
    csms: TransactionsCsms, station_factory: StationRunner
) -> None:
    csms.id_tags["TAG-2"] = IdTagInfo(status=AuthorizationStatus.accepted, parent_id_tag="FLEET")
    sim, finishing = await deauthorized(csms, station_factory)
    await sim.swipe("TAG-2", 1)  # "the same idTag (or same parentIdTag)"
    assert not sim.hardware.connectors[1].locked
    await nothing_more(csms, "StartTransaction", start=finishing)  # releasing the cable starts nothing


async def test_X_5_TC_037_3_CS_another_card_neither_releases_nor_charges_on_the_locked_cable(
    csms: TransactionsCsms, station_factory: StationRunner
) -> None:
    sim, finishing = await deauthorized(csms, station_factory)
    await sim.swipe("SOMEONE-ELSE", 1)
    assert sim.hardware.connectors[1].locked
    await nothing_more(csms, "StartTransaction", start=finishing)  # the cable is still the deauthorized driver's


async def test_X_16_TC_024_CS_lock_failure_faults_and_starts_nothing(
    csms: TransactionsCsms, station_factory: StationRunner
) -> None:
    _, sim = await boot(csms, station_factory)
    booted = len(csms.frames.frames)
    sim.hardware.inject_fault(1, "lock", True)
    await sim.plug(1)
    await sim.swipe("TAG-1", 1)
    _, faulted = await wait_status(csms, 1, "Faulted", start=booted)
    assert faulted.payload["errorCode"] == "ConnectorLockFailure"
    await nothing_more(csms, "StartTransaction", start=booted)


async def test_X_13_TC_041_CS_fault_is_reported_and_no_transaction_starts(
    csms: TransactionsCsms, station_factory: StationRunner
) -> None:
    _, sim = await boot(csms, station_factory)
    booted = len(csms.frames.frames)
    sim.fault(1, ChargePointErrorCode.GROUND_FAILURE)
    _, faulted = await wait_status(csms, 1, "Faulted", start=booted)
    assert faulted.payload["errorCode"] == "GroundFailure"
    await sim.plug(1)
    await sim.swipe("TAG-1", 1)
    await nothing_more(csms, "StartTransaction", start=booted)
    assert statuses(csms, 1, start=booted) == ["Faulted"]


async def test_X_12_TC_032_2_CS_power_loss_ends_the_transaction_after_restart(
    csms: TransactionsCsms, station_factory: StationRunner, tmp_path: Path
) -> None:
    station, sim = await boot(csms, station_factory, data_dir=tmp_path)
    transaction_id = await start_charging(csms, station, sim)
    await station_factory.stop(station)  # the power goes: nothing is stopped gracefully
    before = len(csms.frames.frames)
    station_factory(data_dir=tmp_path)
    boot_index, _ = await csms.wait_call("BootNotification", start=before)
    _, stop = await csms.wait_call("StopTransaction", start=boot_index)
    assert stop.payload["transactionId"] == transaction_id
    assert stop.payload["reason"] == "PowerLoss"
    assert stop.payload["meterStop"] >= csms.frames.calls("StartTransaction")[0].payload["meterStart"]


# -- meter values ---------------------------------------------------------------------------------


async def test_MV_1_TC_070_CS_sampled_meter_values_every_interval(
    csms: TransactionsCsms, station_factory: StationRunner
) -> None:
    measurands = "Energy.Active.Import.Register,Power.Active.Import,Current.Import,Voltage,Temperature,Frequency,SoC"
    config = {"MeterValueSampleInterval": 1, "MeterValuesSampledData": measurands}
    station, sim = await boot(csms, station_factory, ocpp_config=config)
    transaction_id = await start_charging(csms, station, sim)
    first_index, first = await csms.wait_call("MeterValues", timeout=3)
    _, second = await csms.wait_call("MeterValues", start=first_index + 1, timeout=3)
    assert first.payload["connectorId"] == 1
    assert first.payload["transactionId"] == transaction_id
    [value] = first.payload["meterValue"]
    sampled = value["sampledValue"]
    # MV-6, MV-7: every configured measurand, per phase where the meter has phases; the ocpp library's schema
    # validated units and locations on the way in (it also allows Celcius and Hertz, which 1.6 does not: 10.2)
    assert {v.get("measurand", "Energy.Active.Import.Register") for v in sampled} == set(measurands.split(","))
    assert {v.get("phase") for v in sampled if v.get("measurand") == "Voltage"} == {"L1", "L2", "L3"}
    assert {v.get("unit") for v in sampled if v.get("measurand") == "Temperature"} == {"Celsius"}
    assert all("unit" not in v for v in sampled if v.get("measurand") == "Frequency")
    assert {v["context"] for v in sampled} == {"Sample.Periodic"}
    gap = timestamp(second.payload["meterValue"][0]["timestamp"]) - timestamp(value["timestamp"])
    assert 0.9 <= gap.total_seconds() < 2  # MV-1: every MeterValueSampleInterval (1 s)
