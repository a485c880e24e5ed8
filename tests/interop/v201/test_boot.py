"""Cold boot (B01 to B03) against the ``ocpp`` library's 2.0.1 central system: Part 6's TC_B_01, 02, 03 and 30.

TC_B_02's steps 11 to 18 (RequestStartTransaction answered Rejected while Pending, B02.FR.05; TriggerMessage
BootNotification, F06.FR.17) are the transactions (E) and remote control (F) blocks': a station without them
answers both NotSupported, as the tests of those blocks will show when they are built.
"""

from __future__ import annotations

import json

import pytest
from ocpp.exceptions import SecurityError
from ocpp.v201 import call
from ocpp.v201.enums import RegistrationStatusEnumType, ReportBaseEnumType

from tests.interop.conftest import OcppCsms
from tests.interop.v201.conftest import StationRunner201, boot, wait_booted
from tests.loopback import until

EPSILON = 0.05  # asyncio timers may fire a hair early against a clock read on the other side of a socket


async def test_TC_B_01_CS_accepted_boot_notification_then_every_connector_available(
    csms: OcppCsms, station_factory: StationRunner201
) -> None:
    station_factory(connectors=2)
    await wait_booted(csms, evses=2)
    calls = csms.frames.calls()
    boot_notification = calls[0].payload
    assert calls[0].action == "BootNotification"  # B01.FR.01
    assert boot_notification["reason"] == "PowerUp"  # B01.FR.09
    assert boot_notification["chargingStation"] == {"model": "Simulator", "vendorName": "chargebox"}
    statuses = [c.payload for c in calls[1:3]]
    assert [(s["evseId"], s["connectorId"], s["connectorStatus"]) for s in statuses] == [
        (1, 1, "Available"),
        (2, 1, "Available"),
    ]  # B01.FR.05


async def test_TC_B_02_CS_pending_answers_device_model_requests_and_sends_only_what_is_asked(
    csms: OcppCsms, station_factory: StationRunner201
) -> None:
    csms.boot_answers = [(RegistrationStatusEnumType.pending, 2), (RegistrationStatusEnumType.accepted, 300)]
    station = station_factory()
    await until(lambda: boot(station).registration == "Pending")
    variable = {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "OfflineThreshold"}}
    result = await csms.call(call.SetVariables(set_variable_data=[{**variable, "attribute_value": "300"}]))
    assert result.set_variable_result[0]["attribute_status"] == "Accepted"  # B02.FR.01
    result = await csms.call(call.GetVariables(get_variable_data=[variable]))
    assert result.get_variable_result[0]["attribute_status"] == "Accepted"
    assert result.get_variable_result[0]["attribute_value"] == "300"
    result = await csms.call(call.GetBaseReport(request_id=7, report_base=ReportBaseEnumType.full_inventory))
    assert result.status == "Accepted"
    _, last = await csms.frames.wait_for(lambda f: f.action == "NotifyReport" and not f.payload.get("tbc", False))
    assert last.payload["requestId"] == 7  # B02.FR.02: asked for, so sent while Pending
    assert boot(station).registration == "Pending"
    index, again = await csms.wait_call("BootNotification", start=1)
    pending = [f.action for f in csms.frames.calls(start=1) if f.at < again.at]
    assert set(pending) == {"NotifyReport"}  # B02.FR.02: nothing else, no status, no heartbeat
    assert again.at - csms.boot_answered_at[0] >= 2 - EPSILON  # B02.FR.04, B02.FR.08
    await wait_booted(csms, evses=2, start=index)  # then the connectors' state


async def test_TC_B_03_CS_rejected_sends_nothing_until_the_interval_then_boots_again(
    csms: OcppCsms, station_factory: StationRunner201
) -> None:
    csms.boot_answers = [(RegistrationStatusEnumType.rejected, 2), (RegistrationStatusEnumType.accepted, 300)]
    station_factory()
    index, again = await csms.wait_call("BootNotification", start=1)
    assert again.at - csms.boot_answered_at[0] >= 2 - EPSILON  # B03.FR.06
    assert [f.action for f in csms.frames.calls()[:2]] == ["BootNotification", "BootNotification"]  # B03.FR.02
    await wait_booted(csms, evses=2, start=index)


async def test_TC_B_30_CS_rejected_answers_a_csms_call_with_security_error(
    csms: OcppCsms, station_factory: StationRunner201
) -> None:
    csms.boot_answers = [(RegistrationStatusEnumType.rejected, 30)]
    station = station_factory()
    await until(lambda: boot(station).registration == "Rejected")
    with pytest.raises(SecurityError):  # B03.FR.08
        await csms.call(call.GetBaseReport(request_id=1, report_base=ReportBaseEnumType.full_inventory))
    assert csms.frames.calls("NotifyReport") == []


async def test_B03_FR_08_a_malformed_call_while_rejected_is_still_refused_by_its_frame(
    csms: OcppCsms, station_factory: StationRunner201
) -> None:
    """What cannot be read gets its CALLERROR (Part 4) before the boot's refusal applies."""
    csms.boot_answers = [(RegistrationStatusEnumType.rejected, 30)]
    station = station_factory()
    await until(lambda: boot(station).registration == "Rejected")
    answer = await csms.raw(json.dumps([2, "x1", "GetBaseReport", {"requestId": "one"}]), "x1")
    assert answer[:3] == [4, "x1", "TypeConstraintViolation"]
    answer = await csms.raw(json.dumps([2, "x2", "GetBaseReport", {"requestId": 1, "reportBase": "FullInventory"}]),
                            "x2")  # fmt: skip
    assert answer[:3] == [4, "x2", "SecurityError"]
