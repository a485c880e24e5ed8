"""Smart Charging (checklist 7, TC_056..TC_082_CS) against the ``ocpp`` library's central system.

The limit is checked where it governs the energy: the current the simulated EV port is offered.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from ocpp.v16 import call

from tests.interop.conftest import StationRunner
from tests.interop.transactions_csms import TransactionsCsms, boot, start_charging, wait_status
from tests.loopback import until

CSMS = TransactionsCsms  # the central system of the ``csms`` fixture


def profile(pid: int, purpose: str, limit: float, *, stack: int = 0, kind: str = "Absolute",
            transaction_id: int | None = None,
            periods: list[dict[str, Any]] | None = None) -> dict[str, Any]:  # fmt: skip
    schedule: dict[str, Any] = {
        "chargingRateUnit": "A",
        "chargingSchedulePeriod": periods or [{"startPeriod": 0, "limit": limit}],
    }
    if kind != "Relative":
        schedule["startSchedule"] = datetime.now(UTC).replace(microsecond=0).isoformat()
    body: dict[str, Any] = {
        "chargingProfileId": pid,
        "stackLevel": stack,
        "chargingProfilePurpose": purpose,
        "chargingProfileKind": kind,
        "chargingSchedule": schedule,
    }
    if transaction_id is not None:
        body["transactionId"] = transaction_id
    return body


async def set_profile(csms: TransactionsCsms, connector_id: int, body: dict[str, Any]) -> str:
    result = await csms.call(call.SetChargingProfile(connector_id=connector_id, cs_charging_profiles=body))
    return str(result.status)


async def test_TC_056_CS_txdefault_profile_applies_to_a_new_transaction(
    csms: TransactionsCsms, station_factory: StationRunner
) -> None:
    station, sim = await boot(csms, station_factory)
    assert await set_profile(csms, 0, profile(1, "TxDefaultProfile", 10.0)) == "Accepted"
    await start_charging(csms, station, sim)
    await until(lambda: sim.hardware.offered_a(1) == 10.0)


async def test_TC_057_CS_txprofile_during_a_transaction(csms: TransactionsCsms, station_factory: StationRunner) -> None:
    station, sim = await boot(csms, station_factory)
    transaction_id = await start_charging(csms, station, sim)
    assert sim.hardware.offered_a(1) == 32.0
    body = profile(1, "TxProfile", 8.0, transaction_id=transaction_id)
    assert await set_profile(csms, 1, body) == "Accepted"
    assert sim.hardware.offered_a(1) == 8.0
    assert station.snapshot()["connectors"][0]["limit"] == {"value": 8.0, "unit": "A"}


async def test_TC_058_1_CS_txprofile_without_transaction_is_rejected(
    csms: TransactionsCsms, station_factory: StationRunner
) -> None:
    station, _ = await boot(csms, station_factory)
    assert await set_profile(csms, 1, profile(1, "TxProfile", 8.0)) == "Rejected"
    assert station.store.charging_profiles.all() == []


async def test_TC_058_2_CS_txprofile_with_wrong_transaction_id_is_rejected(
    csms: TransactionsCsms, station_factory: StationRunner
) -> None:
    station, sim = await boot(csms, station_factory)
    transaction_id = await start_charging(csms, station, sim)
    assert await set_profile(csms, 1, profile(1, "TxProfile", 8.0, transaction_id=transaction_id + 1)) == "Rejected"
    assert sim.hardware.offered_a(1) == 32.0


async def test_TC_059_CS_remote_start_with_charging_profile(
    csms: TransactionsCsms, station_factory: StationRunner
) -> None:
    station, sim = await boot(csms, station_factory)
    await sim.plug(1)
    body = profile(7, "TxProfile", 12.0, kind="Relative")
    result = await csms.call(call.RemoteStartTransaction(id_tag="TAG-1", connector_id=1, charging_profile=body))
    assert result.status == "Accepted"
    await csms.wait_call("StartTransaction")
    await until(lambda: sim.hardware.offered_a(1) == 12.0 and station.connectors[1].transaction_id is not None)
    assert [r.profile_id for r in station.store.charging_profiles.all()] == [7]
    # SC-10: the TxProfile ends with its transaction.
    result = await csms.call(call.RemoteStopTransaction(transaction_id=station.connectors[1].transaction_id))
    await csms.wait_call("StopTransaction")
    await until(lambda: station.store.charging_profiles.all() == [])


async def test_TC_060_CS_remote_start_with_wrong_purpose_is_rejected(
    csms: TransactionsCsms, station_factory: StationRunner
) -> None:
    station, sim = await boot(csms, station_factory)
    await sim.plug(1)
    body = profile(7, "TxDefaultProfile", 12.0)
    result = await csms.call(call.RemoteStartTransaction(id_tag="TAG-1", connector_id=1, charging_profile=body))
    assert result.status == "Rejected"
    assert station.store.charging_profiles.all() == []


async def test_TC_066_CS_get_composite_schedule(csms: TransactionsCsms, station_factory: StationRunner) -> None:
    _, _ = await boot(csms, station_factory)
    periods = [{"startPeriod": 0, "limit": 16.0}, {"startPeriod": 300, "limit": 6.0}]
    assert await set_profile(csms, 0, profile(1, "TxDefaultProfile", 0, periods=periods)) == "Accepted"
    result = await csms.call(call.GetCompositeSchedule(connector_id=1, duration=600, charging_rate_unit="A"))
    assert result.status == "Accepted" and result.connector_id == 1
    schedule = result.charging_schedule
    assert schedule["charging_rate_unit"] == "A" and schedule["duration"] == 600
    limits = [p["limit"] for p in schedule["charging_schedule_period"]]
    assert limits == [16.0, 6.0]  # the second period starts ~300 s after scheduleStart (the clock moved a bit)
    watts = await csms.call(call.GetCompositeSchedule(connector_id=0, duration=600, charging_rate_unit="W"))
    assert watts.status == "Accepted"
    # Connector 0: both connectors' TxDefault limits (16 A + 16 A on 3 phases at 230 V) = 22080 W.
    assert watts.charging_schedule["charging_schedule_period"][0]["limit"] == 22080.0
    unknown = await csms.call(call.GetCompositeSchedule(connector_id=3, duration=600))
    assert unknown.status == "Rejected"


async def test_CS_1_TC_066_CS_a_profile_valid_from_a_fraction_of_a_second_ago_opens_the_schedule(
    csms: TransactionsCsms, station_factory: StationRunner
) -> None:
    """validFrom with milliseconds, just before the request: the schedule starts at the receipt, with the profile's
    limit (no leading second of "no limit" before it), and its scheduleStart keeps the fraction."""
    _, _ = await boot(csms, station_factory)
    valid_from = datetime.now(UTC) - timedelta(milliseconds=300)
    body = profile(1, "TxDefaultProfile", 12.0)
    body["validFrom"] = body["chargingSchedule"]["startSchedule"] = valid_from.isoformat(timespec="milliseconds")
    assert await set_profile(csms, 0, body) == "Accepted"
    result = await csms.call(call.GetCompositeSchedule(connector_id=1, duration=60, charging_rate_unit="A"))
    assert [p["limit"] for p in result.charging_schedule["charging_schedule_period"]] == [12.0]
    assert datetime.fromisoformat(result.schedule_start) > valid_from


async def test_TC_067_CS_clear_charging_profile(csms: TransactionsCsms, station_factory: StationRunner) -> None:
    station, _ = await boot(csms, station_factory)
    assert await set_profile(csms, 0, profile(1, "TxDefaultProfile", 10.0, stack=0)) == "Accepted"
    assert await set_profile(csms, 1, profile(2, "TxDefaultProfile", 10.0, stack=1)) == "Accepted"
    assert await set_profile(csms, 0, profile(3, "ChargePointMaxProfile", 40.0)) == "Accepted"
    result = await csms.call(call.ClearChargingProfile(id=99))
    assert result.status == "Unknown"
    result = await csms.call(call.ClearChargingProfile(connector_id=1, charging_profile_purpose="TxDefaultProfile",
                                                       stack_level=0))  # fmt: skip
    assert result.status == "Unknown"  # CC-3: every field must match
    result = await csms.call(call.ClearChargingProfile(connector_id=1, stack_level=1))
    assert result.status == "Accepted"
    assert sorted(r.profile_id for r in station.store.charging_profiles.all()) == [1, 3]
    result = await csms.call(call.ClearChargingProfile(id=3, connector_id=2))  # CC-2: the id alone decides
    assert result.status == "Accepted"
    assert (await csms.call(call.ClearChargingProfile())).status == "Accepted"  # CC-1
    assert (await csms.call(call.ClearChargingProfile())).status == "Unknown"
    assert station.store.charging_profiles.all() == []


async def test_TC_072_CS_stacking_charging_profiles(csms: TransactionsCsms, station_factory: StationRunner) -> None:
    station, sim = await boot(csms, station_factory)
    transaction_id = await start_charging(csms, station, sim)
    assert await set_profile(csms, 1, profile(1, "TxProfile", 20.0, stack=0, transaction_id=transaction_id)) == (
        "Accepted"
    )
    assert await set_profile(csms, 1, profile(2, "TxProfile", 6.0, stack=1, transaction_id=transaction_id)) == (
        "Accepted"
    )
    assert sim.hardware.offered_a(1) == 6.0  # SC-6: the higher stackLevel prevails
    assert (await csms.call(call.ClearChargingProfile(id=2))).status == "Accepted"
    assert sim.hardware.offered_a(1) == 20.0  # and the lower one takes over when it goes


async def test_TC_082_CS_txdefault_profile_with_ongoing_transaction(
    csms: TransactionsCsms, station_factory: StationRunner
) -> None:
    station, sim = await boot(csms, station_factory)
    await start_charging(csms, station, sim)
    assert await set_profile(csms, 0, profile(1, "TxDefaultProfile", 0.0)) == "Accepted"
    assert sim.hardware.offered_a(1) == 0.0
    await wait_status(csms, 1, "SuspendedEVSE")  # 0 A suspends charging
    assert (await csms.call(call.ClearChargingProfile(id=1))).status == "Accepted"
    assert sim.hardware.offered_a(1) == 32.0  # SC-9: unrestricted once it is removed
    await wait_status(csms, 1, "Charging")


async def test_SC_3_capabilities_rejected(csms: TransactionsCsms, station_factory: StationRunner) -> None:
    station, _ = await boot(csms, station_factory)
    assert await set_profile(csms, 0, profile(1, "TxDefaultProfile", 10.0, stack=9)) == "Rejected"
    many = [{"startPeriod": 60 * i, "limit": 10.0} for i in range(25)]
    assert await set_profile(csms, 0, profile(2, "TxDefaultProfile", 0, periods=many)) == "Rejected"
    late = [{"startPeriod": 10, "limit": 10.0}]
    assert await set_profile(csms, 0, profile(3, "TxDefaultProfile", 0, periods=late)) == "Rejected"
    assert await set_profile(csms, 1, profile(4, "ChargePointMaxProfile", 10.0)) == "Rejected"  # SC-1
    assert station.store.charging_profiles.all() == []
