"""Reset (B11, B12) against the ``ocpp`` library's 2.0.1 central system: Part 6's TC_B_20 and TC_B_25.

The cases with a transaction running (TC_B_21, TC_B_22, TC_B_26, TC_B_27, TC_B_41) need the transactions block
(E), not built yet: what Reset does for them, through the seam that block will join (``ResetService.participants``,
``idle()``), is proven in tests/station/v201/test_reset.py. TC_B_23 (Unavailable persists a reset) is the
availability block's (G: ChangeAvailability). TC_B_28 and TC_B_29 cannot apply: this station resets an EVSE on
its own (feature C-13, EVSE.AllowReset true), which TC_B_25 tests.
"""

from __future__ import annotations

from ocpp.v201 import call
from ocpp.v201.enums import ResetEnumType

from tests.interop.conftest import OcppCsms
from tests.interop.v201.conftest import StationRunner201, wait_booted


async def test_TC_B_20_CS_reset_on_idle_without_transaction_reboots_and_boots_again(
    csms: OcppCsms, station_factory: StationRunner201
) -> None:
    station_factory(connectors=2)
    index = await wait_booted(csms, evses=2)
    result = await csms.call(call.Reset(type=ResetEnumType.on_idle))
    assert result.status == "Accepted"  # B11.FR.01
    again = await wait_booted(csms, evses=2, start=index + 1)  # B11.FR.03, B11.FR.04, B01.FR.03
    (boot,) = [
        f for f in csms.frames.calls("BootNotification", start=index + 1) if f.at <= csms.frames.frames[again].at
    ]
    assert boot.payload["reason"] == "RemoteReset"  # B01.FR.09
    assert len(csms.sessions) == 2  # it went down: a new connection


async def test_TC_B_25_CS_reset_of_one_evse_without_transaction(
    csms: OcppCsms, station_factory: StationRunner201
) -> None:
    station_factory(connectors=2)
    index = await wait_booted(csms, evses=2)
    allowed = await csms.call(call.GetVariables(get_variable_data=[
        {"component": {"name": "EVSE", "evse": {"id": 2}}, "variable": {"name": "AllowReset"}}]))  # fmt: skip
    assert allowed.get_variable_result[0]["attribute_value"] == "true"  # B11.FR.10
    result = await csms.call(call.Reset(type=ResetEnumType.on_idle, evse_id=2))
    assert result.status == "Accepted"  # B11.FR.08
    _, status = await csms.frames.wait_for(lambda f: f.action == "StatusNotification", start=index + 1)
    assert (status.payload["evseId"], status.payload["connectorStatus"]) == (2, "Available")
    assert csms.frames.calls("BootNotification", start=index + 1) == []  # the station itself stays up
    assert len(csms.sessions) == 1


async def test_B11_a_reset_of_an_evse_the_station_does_not_have_is_rejected(
    csms: OcppCsms, station_factory: StationRunner201
) -> None:
    station_factory(connectors=2)
    await wait_booted(csms, evses=2)
    result = await csms.call(call.Reset(type=ResetEnumType.immediate, evse_id=3))
    assert result.status == "Rejected"
    assert result.status_info["reason_code"] == "UnknownEvse"
