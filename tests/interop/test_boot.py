"""Registration and heartbeat (checklist section 2) against the ``ocpp`` library's central system."""

from __future__ import annotations

import asyncio

import pytest
from ocpp.v16 import call
from ocpp.v16.enums import ConfigurationStatus, RegistrationStatus

from tests.interop.conftest import OcppCsms, StationRunner
from tests.loopback import until

# asyncio timers may fire a hair early against a clock read on the other side of a socket
EPSILON = 0.05


async def heartbeat_interval(csms: OcppCsms) -> str:
    result = await csms.call(call.GetConfiguration(key=["HeartbeatInterval"]))
    return str(result.configuration_key[0]["value"])


async def test_B_1_first_call_is_boot_notification(csms: OcppCsms, station_factory: StationRunner) -> None:
    station_factory()
    _, first = await csms.frames.wait_for(lambda f: f.is_call)
    assert first.action == "BootNotification"
    assert first.payload["chargePointVendor"] == "chargebox"
    assert first.payload["chargePointModel"] == "Simulator"


async def test_B_4_accepted_heartbeat_interval_reads_back_the_boot_interval(
    csms: OcppCsms, station_factory: StationRunner
) -> None:
    csms.boot_answers = [(RegistrationStatus.accepted, 123)]
    station = station_factory()
    await csms.wait_booted(connectors=2)
    assert station.boot.registration == "Accepted"
    assert await heartbeat_interval(csms) == "123"


async def test_B_4_TC_001_CS_status_notification_for_connector_0_and_every_connector(
    csms: OcppCsms, station_factory: StationRunner
) -> None:
    station_factory(connectors=2)
    await csms.wait_booted(connectors=2)
    calls = csms.frames.calls()
    assert [c.action for c in calls[:4]] == ["BootNotification"] + ["StatusNotification"] * 3
    assert [c.payload["connectorId"] for c in calls[1:4]] == [0, 1, 2]
    assert all(c.payload["status"] == "Available" and c.payload["errorCode"] == "NoError" for c in calls[1:4])


async def test_B_5_pending_answers_configuration_calls(csms: OcppCsms, station_factory: StationRunner) -> None:
    csms.boot_answers = [(RegistrationStatus.pending, 60)]
    station = station_factory()
    await until(lambda: station.boot.registration == "Pending")
    result = await csms.call(call.ChangeConfiguration(key="MeterValueSampleInterval", value="15"))
    assert result.status == ConfigurationStatus.accepted
    result = await csms.call(call.GetConfiguration(key=["MeterValueSampleInterval"]))
    assert result.configuration_key[0]["value"] == "15"
    assert station.boot.registration == "Pending"
    assert csms.frames.calls() == csms.frames.calls("BootNotification")


async def test_B_5_pending_sends_no_other_call_and_boots_again_after_interval(
    csms: OcppCsms, station_factory: StationRunner
) -> None:
    csms.boot_answers = [(RegistrationStatus.pending, 1), (RegistrationStatus.accepted, 300)]
    station_factory()
    first, _ = await csms.wait_call("BootNotification")
    await csms.call(call.GetConfiguration(key=["HeartbeatInterval"]))  # a CSMS call in between changes nothing
    _, again = await csms.wait_call("BootNotification", start=first + 1)
    assert [c.action for c in csms.frames.calls(start=first + 1) if c.at < again.at] == []
    assert again.at - csms.boot_answered_at[0] >= 1 - EPSILON
    await csms.wait_booted(connectors=2)  # after Accepted the status reports follow


async def test_B_6_rejected_answers_no_csms_call_during_interval(
    csms: OcppCsms, station_factory: StationRunner
) -> None:
    csms.boot_answers = [(RegistrationStatus.rejected, 2), (RegistrationStatus.accepted, 300)]
    station = station_factory()
    await until(lambda: station.boot.registration == "Rejected")
    with pytest.raises(asyncio.TimeoutError):
        await csms.call(call.GetConfiguration(key=["HeartbeatInterval"]), timeout=0.5)
    assert [f.action for f in csms.frames.frames] == ["BootNotification"]  # nothing else, not even an answer


async def test_B_6_rejected_boots_again_no_earlier_than_interval(
    csms: OcppCsms, station_factory: StationRunner
) -> None:
    csms.boot_answers = [(RegistrationStatus.rejected, 1), (RegistrationStatus.accepted, 300)]
    station_factory()
    first, _ = await csms.wait_call("BootNotification")
    # B-6: nothing at all from the station (no CALL, no answer) until the next boot
    _, again = await csms.frames.wait_for(lambda f: True, start=first + 1)
    assert again.action == "BootNotification"
    assert again.at - csms.boot_answered_at[0] >= 1 - EPSILON
    await csms.wait_booted(connectors=2)


async def test_B_7_heartbeat_interval_change_takes_effect_at_once(
    csms: OcppCsms, station_factory: StationRunner
) -> None:
    station_factory()
    booted = await csms.wait_booted(connectors=2)
    result = await csms.call(call.ChangeConfiguration(key="HeartbeatInterval", value="1"))
    assert result.status == ConfigurationStatus.accepted
    changed = asyncio.get_running_loop().time()
    _, heartbeat = await csms.wait_call("Heartbeat", start=booted, timeout=2.5)
    assert heartbeat.at - changed <= 2.0
    assert heartbeat.payload == {}
