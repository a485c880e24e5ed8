"""The smart charging service on the virtual clock (checklist 7): boundaries, suspension, persistence, SC-4."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from chargebox.clock import VirtualClock
from chargebox.sim.simulator import Simulator
from chargebox.store import Store
from tests.wire import Wire, make_csms, make_station, power_cut_and_restart, statuses


def set_profile(connector_id: int, pid: int, purpose: str, periods: list[tuple[int, float]], *,
                min_rate: float | None = None, start: str | None = None, stack: int = 0) -> str:  # fmt: skip
    schedule: dict[str, Any] = {
        "chargingRateUnit": "A",
        "chargingSchedulePeriod": [{"startPeriod": s, "limit": v} for s, v in periods],
    }
    if min_rate is not None:
        schedule["minChargingRate"] = min_rate
    body: dict[str, Any] = {"chargingProfileId": pid, "stackLevel": stack, "chargingProfilePurpose": purpose,
                            "chargingSchedule": schedule}  # fmt: skip
    if start is None:
        body["chargingProfileKind"] = "Relative"
    else:
        body["chargingProfileKind"] = "Absolute"
        schedule["startSchedule"] = start
    return json.dumps([2, f"s{pid}", "SetChargingProfile", {"connectorId": connector_id, "csChargingProfiles": body}])


async def test_SC_8_period_boundary_changes_the_offered_current_on_the_clock(station: Any, clock: VirtualClock) -> None:
    measurands = "Current.Offered,Current.Import,Power.Active.Import"
    wire, sim = await station(ocpp_config={"MeterValueSampleInterval": 60, "MeterValuesSampledData": measurands})
    await sim.plug(1)
    await sim.swipe("TAG-1", 1)
    await wire.until(lambda: sim.hardware.offered_a(1) == 32.0)
    answer = await wire.inject(set_profile(1, 1, "TxDefaultProfile", [(0, 16.0), (120, 8.0)]))
    assert answer[2] == {"status": "Accepted"}
    assert sim.hardware.offered_a(1) == 16.0
    await clock.advance(121)  # Relative: 120 s after the transaction started
    assert sim.hardware.offered_a(1) == 8.0
    await clock.advance(60)
    samples = [v for call in wire.calls("MeterValues") for mv in call["meterValue"] for v in mv["sampledValue"]]
    offered = [float(v["value"]) for v in samples if v.get("measurand") == "Current.Offered"]
    imported = [float(v["value"]) for v in samples if v.get("measurand") == "Current.Import"]
    power = [float(v["value"]) for v in samples if v.get("measurand") == "Power.Active.Import" and "phase" not in v]
    assert offered[-1] == 8.0 and max(imported[-3:]) <= 8.0 and power[-1] == 8.0 * 230 * 3


async def test_SC_8_a_time_sync_applies_the_period_of_the_new_time_at_once(station: Any, clock: VirtualClock) -> None:
    wire, sim = await station()
    await sim.plug(1)
    await sim.swipe("TAG-1", 1)
    later = (clock.now() + timedelta(hours=2)).isoformat()
    answer = await wire.inject(set_profile(1, 1, "TxDefaultProfile", [(0, 16.0), (3600, 8.0)], start=later))
    assert answer[2] == {"status": "Accepted"}
    await clock.advance(0)
    assert sim.hardware.offered_a(1) == 32.0  # the schedule has not begun: no limit
    wire.station.clock_sync.set_time(clock.now() + timedelta(hours=3, seconds=1), "Heartbeat.conf")  # B-7
    assert sim.hardware.offered_a(1) == 8.0  # the second period, now, not two hours from now


async def test_SC_7_min_charging_rate_suspends_and_a_lifted_limit_resumes(station: Any, clock: VirtualClock) -> None:
    wire, sim = await station()
    await sim.plug(1)
    await sim.swipe("TAG-1", 1)
    await wire.until(lambda: wire.station.connectors[1].status.value == "Charging")
    answer = await wire.inject(set_profile(1, 1, "TxDefaultProfile", [(0, 5.0), (60, 10.0)], min_rate=6.0))
    assert answer[2] == {"status": "Accepted"}
    assert sim.hardware.offered_a(1) == 0.0
    await wire.until(lambda: "SuspendedEVSE" in statuses(wire, 1))
    await clock.advance(61)
    assert sim.hardware.offered_a(1) == 10.0
    await wire.until(lambda: statuses(wire, 1)[-1] == "Charging")


async def test_SC_11_profiles_persist_across_a_restart_and_txprofiles_end(clock: VirtualClock, tmp_path: Path) -> None:
    first = make_station(clock, store=Store.open(tmp_path))
    wire = Wire(first, make_csms(clock), clock)
    await wire.connect()
    sim = Simulator(first)
    start = clock.now().replace(microsecond=0).isoformat()
    assert (await wire.inject(set_profile(0, 1, "ChargePointMaxProfile", [(0, 20.0)], start=start)))[2] == {
        "status": "Accepted"
    }
    await sim.plug(1)
    await sim.swipe("TAG-1", 1)
    await wire.until(lambda: 1 in first.transactions.sessions)
    assert (await wire.inject(set_profile(1, 2, "TxProfile", [(0, 6.0)])))[2] == {"status": "Accepted"}
    assert sim.hardware.offered_a(1) == 6.0
    again = await power_cut_and_restart(wire, tmp_path)
    assert again.station.smart_charging is not None
    assert [i.profile.charging_profile_id for i in again.station.smart_charging.installed] == [1]
    answer = await again.inject('[2,"g","GetCompositeSchedule",{"connectorId":1,"duration":60}]')
    assert answer[2]["chargingSchedule"]["chargingSchedulePeriod"] == [{"startPeriod": 0, "limit": 20.0,
                                                                         "numberPhases": 3}]  # fmt: skip
    await again.stop()
    again.station.store.close()


async def test_SC_4_unknown_connector_is_a_property_constraint_violation(station: Any) -> None:
    wire, _ = await station()
    answer = await wire.inject(set_profile(3, 1, "TxDefaultProfile", [(0, 6.0)]))
    assert answer[0] == 4 and answer[2] == "PropertyConstraintViolation"
    assert wire.station.store.charging_profiles.all() == []


async def test_SC_5_same_purpose_and_stack_level_replaces(station: Any) -> None:
    wire, _ = await station()
    assert (await wire.inject(set_profile(0, 1, "TxDefaultProfile", [(0, 6.0)])))[2] == {"status": "Accepted"}
    assert (await wire.inject(set_profile(0, 2, "TxDefaultProfile", [(0, 7.0)])))[2] == {"status": "Accepted"}
    assert [r.profile_id for r in wire.station.store.charging_profiles.all()] == [2]
    assert (await wire.inject(set_profile(1, 2, "TxDefaultProfile", [(0, 8.0)])))[2] == {"status": "Accepted"}
    assert [(r.profile_id, r.connector_id) for r in wire.station.store.charging_profiles.all()] == [(2, 1)]


async def test_SC_3_max_profiles_installed(station: Any) -> None:
    wire, _ = await station(ocpp_config={"MaxChargingProfilesInstalled": 2})
    for pid in (1, 2):
        answer = await wire.inject(set_profile(0, pid, "TxDefaultProfile", [(0, 6.0)], stack=pid))
        assert answer[2] == {"status": "Accepted"}
    assert (await wire.inject(set_profile(0, 3, "TxDefaultProfile", [(0, 6.0)], stack=3)))[2] == {"status": "Rejected"}
    assert (await wire.inject(set_profile(0, 4, "TxDefaultProfile", [(0, 5.0)], stack=2)))[2] == {"status": "Accepted"}


@pytest.mark.parametrize(
    ("case", "connector_id", "purpose", "kind"),
    [
        ("TC_056_CS absolute", 1, "TxDefaultProfile", "Absolute"),
        ("TC_066_CS connector 0", 0, "ChargePointMaxProfile", "Absolute"),
        ("recurring", 1, "TxDefaultProfile", "Recurring"),
        ("TC_057_CS relative", 1, "TxProfile", "Relative"),
    ],
)
async def test_CS_1_the_schedule_starts_when_the_request_is_received_not_at_its_whole_second(
    station: Any, clock: VirtualClock, case: str, connector_id: int, purpose: str, kind: str
) -> None:
    """A profile valid from 400 ms past a second, asked for at 700 ms: no leading period of "no limit" (errata
    3.28/3.29: the window opens when the request is received)."""
    wire, sim = await station()
    await clock.advance(0.4)
    valid_from = clock.now()
    assert valid_from.microsecond == 400_000
    schedule: dict[str, Any] = {"chargingRateUnit": "A", "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 10.0}]}
    body: dict[str, Any] = {"chargingProfileId": 1, "stackLevel": 0, "chargingProfilePurpose": purpose,
                            "chargingProfileKind": kind, "validFrom": valid_from.isoformat(),
                            "chargingSchedule": schedule}  # fmt: skip
    if kind == "Relative":  # TxProfile: relative to a transaction that started at 400 ms
        await sim.plug(1)
        await sim.swipe("TAG-1", 1)
        await wire.until(lambda: wire.station.connectors[1].transaction_id is not None)
        body["transactionId"] = wire.station.connectors[1].transaction_id
    else:
        schedule["startSchedule"] = (valid_from - timedelta(days=1 if kind == "Recurring" else 0)).isoformat()
        if kind == "Recurring":
            body["recurrencyKind"] = "Daily"
    payload = {"connectorId": connector_id, "csChargingProfiles": body}
    assert (await wire.inject(json.dumps([2, "p", "SetChargingProfile", payload])))[2] == {"status": "Accepted"}
    await clock.advance(0.3)
    answer = await wire.inject(
        json.dumps(
            [2, "g", "GetCompositeSchedule", {"connectorId": connector_id, "duration": 60, "chargingRateUnit": "A"}]
        )
    )
    assert answer[2]["scheduleStart"] == clock.now().isoformat().replace("+00:00", "Z"), case
    assert [p["limit"] for p in answer[2]["chargingSchedule"]["chargingSchedulePeriod"]] == [10.0], case


async def test_SC_7_the_limit_shown_is_none_where_no_profile_applies_to_the_connector(
    station: Any, clock: VirtualClock
) -> None:
    """The control API's limit of a connector comes from a profile that applies to it now, or is None (the
    dashboard shows "no limit"), never the hardware's maximum passed off as a limit."""
    wire, _sim = await station(connectors=2)
    now = clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")
    later = (clock.now() + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert (await wire.inject(set_profile(2, 1, "TxDefaultProfile", [(0, 16.0)], start=now)))[2] == {
        "status": "Accepted"
    }
    assert (await wire.inject(set_profile(1, 2, "TxDefaultProfile", [(0, 10.0)], start=later)))[2] == {
        "status": "Accepted"
    }
    limits = [c["limit"] for c in wire.station.snapshot()["connectors"]]
    assert limits == [None, {"value": 16.0, "unit": "A"}]  # connector 1's profile has not started yet
    await clock.advance(3601)
    limits = [c["limit"] for c in wire.station.snapshot()["connectors"]]
    assert limits == [{"value": 10.0, "unit": "A"}, {"value": 16.0, "unit": "A"}]
