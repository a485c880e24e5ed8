"""UnlockConnector, ChangeAvailability, Reset and TriggerMessage (checklist C-3..C-36) against the ``ocpp`` library.

A Reset reboots the station in-process (``Station.reboot``): it drops the link, connects again and sends a new
BootNotification, which the central system sees as a second session.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from ocpp.v16 import call
from ocpp.v16.enums import (
    AvailabilityStatus,
    AvailabilityType,
    MessageTrigger,
    ResetStatus,
    ResetType,
    TriggerMessageStatus,
    UnlockStatus,
)

from chargebox.sim.hardware import HardwarePart
from tests.interop.conftest import StationRunner
from tests.interop.transactions_csms import (
    TransactionsCsms,
    boot,
    call_result_index,
    nothing_more,
    start_charging,
    statuses,
    wait_status,
)

CSMS = TransactionsCsms  # the central system of the ``csms`` fixture


# -- UnlockConnector ------------------------------------------------------------------------------


async def test_C_33_TC_017_1_CS_unlock_without_transaction(
    csms: TransactionsCsms, station_factory: StationRunner
) -> None:
    _, sim = await boot(csms, station_factory)
    sim.hardware.connectors[1].locked = True  # a cable left locked in the socket
    result = await csms.call(call.UnlockConnector(connector_id=1))
    assert result.status == UnlockStatus.unlocked
    assert not sim.hardware.connectors[1].locked


async def test_C_33_TC_030_CS_unlock_failure(csms: TransactionsCsms, station_factory: StationRunner) -> None:
    _, sim = await boot(csms, station_factory)
    sim.hardware.connectors[1].locked = True
    sim.hardware.inject_fault(1, HardwarePart.LOCK, True)
    result = await csms.call(call.UnlockConnector(connector_id=1))
    assert result.status == UnlockStatus.unlock_failed


async def test_C_36_TC_031_CS_unlock_unknown_connector_is_not_supported(
    csms: TransactionsCsms, station_factory: StationRunner
) -> None:
    await boot(csms, station_factory)
    result = await csms.call(call.UnlockConnector(connector_id=3))
    assert result.status == UnlockStatus.not_supported


async def test_C_34_TC_018_1_CS_unlock_with_transaction_stops_it_first(
    csms: TransactionsCsms, station_factory: StationRunner
) -> None:
    station, sim = await boot(csms, station_factory)
    transaction_id = await start_charging(csms, station, sim)
    started = len(csms.frames.frames)
    result = await csms.call(call.UnlockConnector(connector_id=1))
    assert result.status == UnlockStatus.unlocked
    _, stop = await csms.wait_call("StopTransaction", start=started)
    assert stop.payload["transactionId"] == transaction_id
    assert stop.payload["reason"] == "UnlockCommand"
    await wait_status(csms, 1, "Finishing", start=started)
    assert not sim.hardware.connectors[1].locked


async def test_C_35_TC_017_2_CS_unlock_with_fixed_cable_is_not_supported(
    csms: TransactionsCsms, station_factory: StationRunner
) -> None:
    await boot(csms, station_factory, fixed_cable=True)
    result = await csms.call(call.UnlockConnector(connector_id=1))
    assert result.status == UnlockStatus.not_supported


async def test_C_35_TC_018_2_CS_unlock_with_fixed_cable_keeps_the_transaction(
    csms: TransactionsCsms, station_factory: StationRunner
) -> None:
    station, sim = await boot(csms, station_factory, fixed_cable=True)
    await start_charging(csms, station, sim)
    started = len(csms.frames.frames)
    result = await csms.call(call.UnlockConnector(connector_id=1))
    assert result.status == UnlockStatus.not_supported
    await nothing_more(csms, "StopTransaction", start=started)
    assert 1 in station.transactions.sessions


# -- ChangeAvailability ---------------------------------------------------------------------------


async def test_C_3_inoperative_idle_connector_is_accepted_and_unavailable(
    csms: TransactionsCsms, station_factory: StationRunner
) -> None:
    await boot(csms, station_factory)
    booted = len(csms.frames.frames)
    result = await csms.call(call.ChangeAvailability(connector_id=1, type=AvailabilityType.inoperative))
    assert result.status == AvailabilityStatus.accepted
    await wait_status(csms, 1, "Unavailable", start=booted)
    await nothing_more(csms, "StatusNotification", start=len(csms.frames.frames), within=0.2)
    assert statuses(csms, 2, start=booted) == []  # the other connector is untouched


async def test_C_3_operative_again_is_accepted_and_available(
    csms: TransactionsCsms, station_factory: StationRunner
) -> None:
    await boot(csms, station_factory)
    await csms.call(call.ChangeAvailability(connector_id=1, type=AvailabilityType.inoperative))
    index, _ = await wait_status(csms, 1, "Unavailable")
    result = await csms.call(call.ChangeAvailability(connector_id=1, type=AvailabilityType.operative))
    assert result.status == AvailabilityStatus.accepted
    await wait_status(csms, 1, "Available", start=index)


async def test_C_3_connector_0_makes_the_station_and_every_connector_unavailable(
    csms: TransactionsCsms, station_factory: StationRunner
) -> None:
    await boot(csms, station_factory)
    booted = len(csms.frames.frames)
    result = await csms.call(call.ChangeAvailability(connector_id=0, type=AvailabilityType.inoperative))
    assert result.status == AvailabilityStatus.accepted
    for connector_id in (0, 1, 2):
        await wait_status(csms, connector_id, "Unavailable", start=booted)


async def test_C_4_inoperative_during_a_transaction_is_scheduled_until_it_ends(
    csms: TransactionsCsms, station_factory: StationRunner
) -> None:
    station, sim = await boot(csms, station_factory)
    await start_charging(csms, station, sim)
    started = len(csms.frames.frames)
    result = await csms.call(call.ChangeAvailability(connector_id=1, type=AvailabilityType.inoperative))
    assert result.status == AvailabilityStatus.scheduled
    await nothing_more(csms, "StatusNotification", start=started)  # C-4: keeps charging
    await sim.swipe("TAG-1", 1)
    await csms.wait_call("StopTransaction", start=started)
    await wait_status(csms, 1, "Unavailable", start=started)  # C8: applied when the transaction ends
    assert statuses(csms, 1, start=started) == ["Unavailable"]


async def test_C_4_a_preparing_connector_is_scheduled_stays_preparing_and_goes_unavailable_once_free(
    csms: TransactionsCsms, station_factory: StationRunner
) -> None:
    """Scheduled means after the session in progress (§7.3): the cable stays in a Preparing connector, never
    reported Available (B1) or Unavailable while it is there; out, the connector is free and goes Unavailable."""
    station, sim = await boot(csms, station_factory)
    await sim.plug(1)
    plugged, _ = await wait_status(csms, 1, "Preparing")
    result = await csms.call(call.ChangeAvailability(connector_id=0, type=AvailabilityType.inoperative))
    assert result.status == AvailabilityStatus.scheduled
    await wait_status(csms, 2, "Unavailable", start=plugged)  # the idle connector at once
    await nothing_more(csms, "StatusNotification", start=len(csms.frames.frames))
    assert statuses(csms, 1, start=plugged + 1) == [] and station.connectors[1].status.value == "Preparing"
    await sim.unplug(1)
    await wait_status(csms, 1, "Unavailable", start=plugged)
    assert statuses(csms, 1, start=plugged + 1) == ["Available", "Unavailable"]  # B1 with the cable out, A8


async def test_C_4_the_driver_already_preparing_starts_and_the_connector_goes_unavailable_after(
    csms: TransactionsCsms, station_factory: StationRunner
) -> None:
    _, sim = await boot(csms, station_factory)
    await sim.plug(1)
    plugged, _ = await wait_status(csms, 1, "Preparing")
    result = await csms.call(call.ChangeAvailability(connector_id=1, type=AvailabilityType.inoperative))
    assert result.status == AvailabilityStatus.scheduled
    await sim.swipe("TAG-1", 1)
    await wait_status(csms, 1, "Charging", start=plugged)
    await sim.swipe("TAG-1", 1)
    await wait_status(csms, 1, "Unavailable", start=plugged)  # C8: once the session ends
    assert statuses(csms, 1, start=plugged + 1) == ["Charging", "Unavailable"]


async def test_C_7_C_26_TC_034_CS_unavailable_survives_a_reset(
    csms: TransactionsCsms, station_factory: StationRunner
) -> None:
    await boot(csms, station_factory)
    result = await csms.call(call.ChangeAvailability(connector_id=0, type=AvailabilityType.inoperative))
    assert result.status == AvailabilityStatus.accepted
    await wait_status(csms, 2, "Unavailable")
    before = len(csms.frames.frames)
    result = await csms.call(call.Reset(type=ResetType.hard))
    assert result.status == ResetStatus.accepted
    boot_index, _ = await csms.wait_call("BootNotification", start=before)
    for connector_id in (0, 1, 2):
        await wait_status(csms, connector_id, "Unavailable", start=boot_index)  # B-4 reports Unavailable
    assert [s for c in (0, 1, 2) for s in statuses(csms, c, start=boot_index)] == ["Unavailable"] * 3


async def test_C_4_station_inoperative_during_a_transaction_is_scheduled_for_that_connector(
    csms: TransactionsCsms, station_factory: StationRunner
) -> None:
    station, sim = await boot(csms, station_factory)
    await start_charging(csms, station, sim)
    started = len(csms.frames.frames)
    result = await csms.call(call.ChangeAvailability(connector_id=0, type=AvailabilityType.inoperative))
    assert result.status == AvailabilityStatus.scheduled  # C-4: id 0 while any transaction runs
    await wait_status(csms, 2, "Unavailable", start=started)  # the idle connector at once
    assert statuses(csms, 1, start=started) == []  # the busy one keeps charging
    await sim.swipe("TAG-1", 1)
    await wait_status(csms, 1, "Unavailable", start=started)  # ... until its transaction ends


async def test_C_7_TC_034_CS_unavailable_survives_a_power_failure(
    csms: TransactionsCsms, station_factory: StationRunner, tmp_path: Path
) -> None:
    station, _ = await boot(csms, station_factory, data_dir=tmp_path)
    result = await csms.call(call.ChangeAvailability(connector_id=0, type=AvailabilityType.inoperative))
    assert result.status == AvailabilityStatus.accepted
    await wait_status(csms, 2, "Unavailable")
    await station_factory.stop(station)  # the power goes
    before = len(csms.frames.frames)
    station_factory(data_dir=tmp_path)
    boot_index, _ = await csms.wait_call("BootNotification", start=before)
    for connector_id in (0, 1, 2):
        await wait_status(csms, connector_id, "Unavailable", start=boot_index)


async def test_C_7_scheduled_unavailability_survives_a_reset(
    csms: TransactionsCsms, station_factory: StationRunner
) -> None:
    station, sim = await boot(csms, station_factory)
    await start_charging(csms, station, sim)
    result = await csms.call(call.ChangeAvailability(connector_id=1, type=AvailabilityType.inoperative))
    assert result.status == AvailabilityStatus.scheduled
    before = len(csms.frames.frames)
    await csms.call(call.Reset(type=ResetType.hard))
    boot_index, _ = await csms.wait_call("BootNotification", start=before)
    await wait_status(csms, 1, "Unavailable", start=boot_index)


# -- Reset ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", [ResetType.hard, ResetType.soft], ids=["TC_013_CS_Hard", "TC_014_CS_Soft"])
async def test_C_23_C_24_reset_without_transaction_boots_again(
    csms: TransactionsCsms, station_factory: StationRunner, kind: ResetType
) -> None:
    await boot(csms, station_factory)
    before = len(csms.frames.frames)
    result = await csms.call(call.Reset(type=kind))
    assert result.status == ResetStatus.accepted
    session = await csms.wait_session(count=2)  # the link was dropped and opened again
    boot_index, _ = await csms.wait_call("BootNotification", start=before)
    assert csms.frames.frames[boot_index].session == session.number
    for connector_id in (0, 1, 2):
        await wait_status(csms, connector_id, "Available", start=boot_index)
    assert csms.frames.calls("StopTransaction") == []


async def test_C_24_TC_015_CS_hard_reset_with_transaction_stops_it_with_hard_reset(
    csms: TransactionsCsms, station_factory: StationRunner
) -> None:
    station, sim = await boot(csms, station_factory)
    transaction_id = await start_charging(csms, station, sim)
    before = len(csms.frames.frames)
    result = await csms.call(call.Reset(type=ResetType.hard))
    assert result.status == ResetStatus.accepted
    _, stop = await csms.wait_call("StopTransaction", start=before)
    assert stop.payload["transactionId"] == transaction_id
    assert stop.payload["reason"] == "HardReset"
    await csms.wait_call("BootNotification", start=before)
    assert station.transactions.sessions == {}
    # C-24 only says SHOULD before resetting ([S] §5.14 allows after the reboot's accepted boot), so the order
    # is not checked here; chargebox sends it after the new BootNotification.


async def test_C_23_TC_016_CS_soft_reset_sends_stop_transaction_before_restarting(
    csms: TransactionsCsms, station_factory: StationRunner
) -> None:
    station, sim = await boot(csms, station_factory)
    transaction_id = await start_charging(csms, station, sim)
    before = len(csms.frames.frames)
    result = await csms.call(call.Reset(type=ResetType.soft))
    assert result.status == ResetStatus.accepted
    stop_index, stop = await csms.wait_call("StopTransaction", start=before)
    boot_index, _ = await csms.wait_call("BootNotification", start=before)
    assert stop.payload["transactionId"] == transaction_id
    assert stop.payload["reason"] == "SoftReset"
    # C-23, [S] §5.14: a soft reset SHALL stop transactions gracefully and send StopTransaction, *then* restart
    # the application (queued only if it cannot be confirmed). The link is up here, so it goes before the boot.
    assert stop_index < boot_index
    assert stop.session == 1


# -- TriggerMessage -------------------------------------------------------------------------------


async def test_C_27_C_30_TC_054_CS_trigger_meter_values_answers_first_then_sends(
    csms: TransactionsCsms, station_factory: StationRunner
) -> None:
    station, sim = await boot(csms, station_factory, ocpp_config={"MeterValueSampleInterval": 0})
    transaction_id = await start_charging(csms, station, sim)
    before = len(csms.frames.frames)
    result = await csms.call(call.TriggerMessage(requested_message=MessageTrigger.meter_values, connector_id=1))
    assert result.status == TriggerMessageStatus.accepted
    index, meter_values = await csms.wait_call("MeterValues", start=before)
    assert call_result_index(csms, {"status": "Accepted"}, start=before) < index  # C-27: the answer first
    assert meter_values.payload["connectorId"] == 1
    assert meter_values.payload["transactionId"] == transaction_id  # C-30: a transaction runs
    sampled = meter_values.payload["meterValue"][0]["sampledValue"]
    assert {v["context"] for v in sampled} == {"Trigger"}


async def test_C_27_C_29_TC_054_CS_trigger_status_notification_for_one_connector(
    csms: TransactionsCsms, station_factory: StationRunner
) -> None:
    await boot(csms, station_factory)
    before = len(csms.frames.frames)
    result = await csms.call(call.TriggerMessage(requested_message=MessageTrigger.status_notification, connector_id=2))
    assert result.status == TriggerMessageStatus.accepted
    index, status = await csms.wait_call("StatusNotification", start=before)
    assert call_result_index(csms, {"status": "Accepted"}, start=before) < index
    assert status.payload["connectorId"] == 2
    assert status.payload["status"] == "Available"
    await nothing_more(csms, "StatusNotification", start=index + 1, within=0.2)  # C-29: only that connector


async def test_C_27_TC_054_CS_trigger_heartbeat(csms: TransactionsCsms, station_factory: StationRunner) -> None:
    await boot(csms, station_factory)
    before = len(csms.frames.frames)
    result = await csms.call(call.TriggerMessage(requested_message=MessageTrigger.heartbeat))
    assert result.status == TriggerMessageStatus.accepted
    index, heartbeat = await csms.wait_call("Heartbeat", start=before)
    assert call_result_index(csms, {"status": "Accepted"}, start=before) < index
    assert heartbeat.payload == {}


async def test_C_30_TC_054_CS_trigger_meter_values_without_connector_id_reports_every_connector(
    csms: TransactionsCsms, station_factory: StationRunner
) -> None:
    station, sim = await boot(csms, station_factory, ocpp_config={"MeterValueSampleInterval": 0})
    transaction_id = await start_charging(csms, station, sim)
    before = len(csms.frames.frames)
    result = await csms.call(call.TriggerMessage(requested_message=MessageTrigger.meter_values))
    assert result.status == TriggerMessageStatus.accepted
    await csms.frames.wait_for(lambda f: f.action == "MeterValues" and f.payload["connectorId"] == 2, start=before)
    by_connector = {f.payload["connectorId"]: f.payload for f in csms.frames.calls("MeterValues", start=before)}
    assert sorted(by_connector) == [1, 2]
    assert by_connector[1]["transactionId"] == transaction_id
    assert "transactionId" not in by_connector[2]  # C-30: only when a transaction runs


async def test_C_29_TC_054_CS_trigger_status_notification_without_connector_id_reports_all(
    csms: TransactionsCsms, station_factory: StationRunner
) -> None:
    await boot(csms, station_factory)
    before = len(csms.frames.frames)
    result = await csms.call(call.TriggerMessage(requested_message=MessageTrigger.status_notification))
    assert result.status == TriggerMessageStatus.accepted
    for connector_id in (0, 1, 2):
        await wait_status(csms, connector_id, "Available", start=before)


async def test_C_31_trigger_heartbeat_ignores_a_connector_id(
    csms: TransactionsCsms, station_factory: StationRunner
) -> None:
    await boot(csms, station_factory)
    before = len(csms.frames.frames)
    result = await csms.call(call.TriggerMessage(requested_message=MessageTrigger.heartbeat, connector_id=1))
    assert result.status == TriggerMessageStatus.accepted
    await csms.wait_call("Heartbeat", start=before)
