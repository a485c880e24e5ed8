"""Reset (B11, B12) against the ``ocpp`` library's 2.0.1 central system: Part 6's TC_B_20, TC_B_25, and with
transactions running TC_B_21, TC_B_22, TC_B_26, TC_B_27 and TC_B_41.

A transaction here starts as Part 6's EnergyTransferStarted state (a cable, then a card) and, with the default
TxStopPoint (EVConnected, Authorized), Part 6's StopAuthorized (the card again) ends it. TC_B_23 (Unavailable
persists a reset) is the availability block's (G: ChangeAvailability). TC_B_28 and TC_B_29 cannot apply: they are
for a station that cannot reset one EVSE (NOT C-13), and this one resets an EVSE on its own (EVSE.AllowReset
true), which TC_B_25 to TC_B_27 test.
"""

from __future__ import annotations

from ocpp.v201 import call
from ocpp.v201.enums import ResetEnumType

from chargebox.station.station import Station
from tests.interop.conftest import Frame, OcppCsms
from tests.interop.v201.conftest import StationRunner201, wait_booted
from tests.interop.v201.test_remote_control import charging_on


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


async def transactions(
    csms: OcppCsms, station_factory: StationRunner201, evses: tuple[int, ...]
) -> tuple[Station, int]:
    """A two-EVSE station, booted, a transaction running on each of ``evses``; the index of the last Started."""
    station = station_factory(connectors=2)
    index = await wait_booted(csms, evses=2)
    return station, await charging_on(csms, station, evses, index)


async def ended(csms: OcppCsms, start: int) -> tuple[int, Frame]:
    return await csms.frames.wait_for(
        lambda f: f.action == "TransactionEvent" and f.payload["eventType"] == "Ended", start=start + 1
    )


def rebooted_statuses(csms: OcppCsms, boot_at: int, last: int) -> dict[int, str]:
    """Each EVSE's status as the boot at frame ``boot_at`` reported it (up to frame ``last``)."""
    return {
        f.payload["evseId"]: f.payload["connectorStatus"]
        for f in csms.frames.calls("StatusNotification", start=boot_at)
        if csms.frames.frames.index(f) <= last
    }


async def test_TC_B_21_CS_reset_on_idle_waits_for_the_transaction_then_boots_with_ScheduledReset(
    csms: OcppCsms, station_factory: StationRunner201
) -> None:
    station, index = await transactions(csms, station_factory, (1,))
    result = await csms.call(call.Reset(type=ResetEnumType.on_idle))
    assert result.status == "Scheduled"  # B12.FR.01
    assert csms.frames.calls("BootNotification", start=index) == []
    await station.id_tag_presented("CARD1", 1)  # StopAuthorized
    stop, frame = await ended(csms, index)
    info = frame.payload["transactionInfo"]
    assert (info["stoppedReason"], info["chargingState"]) == ("Local", "EVConnected")  # E01.FR.18: the cable is in
    boot_at, boot = await csms.wait_call("BootNotification", start=stop)  # B12.FR.03: when the transaction ended
    assert boot.payload["reason"] == "ScheduledReset"
    last = await wait_booted(csms, evses=2, start=boot_at)
    assert rebooted_statuses(csms, boot_at, last) == {1: "Occupied", 2: "Available"}  # the cable is still in


async def test_TC_B_22_CS_reset_immediate_ends_the_transaction_then_boots_with_RemoteReset(
    csms: OcppCsms, station_factory: StationRunner201
) -> None:
    _station, index = await transactions(csms, station_factory, (1,))
    result = await csms.call(call.Reset(type=ResetEnumType.immediate))
    assert result.status == "Accepted"
    stop, frame = await ended(csms, index)  # B12.FR.02: ended before the reboot
    assert frame.payload["triggerReason"] == "ResetCommand"
    info = frame.payload["transactionInfo"]
    assert (info["chargingState"], info["stoppedReason"]) == ("EVConnected", "ImmediateReset")  # B12.FR.04
    assert "idToken" not in frame.payload
    boot_at, boot = await csms.wait_call("BootNotification", start=stop)
    assert boot.payload["reason"] == "RemoteReset"  # B01.FR.03
    last = await wait_booted(csms, evses=2, start=boot_at)
    assert rebooted_statuses(csms, boot_at, last) == {1: "Occupied", 2: "Available"}


async def test_TC_B_26_CS_reset_of_an_evse_on_idle_with_a_transaction_is_Scheduled(
    csms: OcppCsms, station_factory: StationRunner201
) -> None:
    station, index = await transactions(csms, station_factory, (2,))
    result = await csms.call(call.Reset(type=ResetEnumType.on_idle, evse_id=2))
    assert result.status == "Scheduled"  # B12.FR.01, B12.FR.07
    await station.id_tag_presented("CARD2", 2)
    _, frame = await ended(csms, index)
    assert frame.payload["transactionInfo"]["stoppedReason"] == "Local"  # the reset waited for it
    assert csms.frames.calls("BootNotification", start=index) == []  # only the EVSE resets
    assert len(csms.sessions) == 1


async def test_TC_B_27_CS_reset_of_an_evse_immediate_ends_its_transaction(
    csms: OcppCsms, station_factory: StationRunner201
) -> None:
    _station, index = await transactions(csms, station_factory, (2,))
    result = await csms.call(call.Reset(type=ResetEnumType.immediate, evse_id=2))
    assert result.status == "Accepted"
    _, frame = await ended(csms, index)  # B12.FR.08
    info = frame.payload["transactionInfo"]
    started = csms.frames.frames[index].payload["transactionInfo"]["transactionId"]  # EVSE 2's
    assert (frame.payload["triggerReason"], info["transactionId"]) == ("ResetCommand", started)
    assert (info["chargingState"], info["stoppedReason"]) == ("EVConnected", "ImmediateReset")
    assert csms.frames.calls("BootNotification", start=index) == []
    assert len(csms.sessions) == 1


async def test_TC_B_41_CS_reset_on_idle_waits_for_every_transaction(
    csms: OcppCsms, station_factory: StationRunner201
) -> None:
    station, index = await transactions(csms, station_factory, (1, 2))
    result = await csms.call(call.Reset(type=ResetEnumType.on_idle))
    assert result.status == "Scheduled"
    await station.id_tag_presented("CARD1", 1)
    first, _ = await ended(csms, index)
    await station.unplugged(1)
    await csms.frames.wait_for(
        lambda f: f.action == "StatusNotification" and f.payload["connectorStatus"] == "Available", start=first
    )
    assert csms.frames.calls("BootNotification", start=index) == []  # EVSE 2's transaction still runs
    await station.id_tag_presented("CARD2", 2)
    second, _ = await ended(csms, first)
    boot_at, boot = await csms.wait_call("BootNotification", start=second)  # B12.FR.03
    assert boot.payload["reason"] == "ScheduledReset"
    last = await wait_booted(csms, evses=2, start=boot_at)
    assert rebooted_statuses(csms, boot_at, last) == {1: "Available", 2: "Occupied"}
