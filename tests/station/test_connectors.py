"""StatusNotification state machine (checklist section 6)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from chargebox.clock import VirtualClock
from chargebox.protocol.messages import AvailabilityType, ChargePointErrorCode, ChargePointStatus
from chargebox.station.v16.connectors import STATION_STATUSES, TRANSITIONS
from chargebox.store import Store
from tests.wire import Wire, make_station

S = ChargePointStatus


def statuses(wire: Wire, connector_id: int) -> list[str]:
    return [p["status"] for p in wire.calls("StatusNotification") if p["connectorId"] == connector_id]


def test_S_1_transition_table_matches_the_checklist() -> None:
    not_allowed = {
        S.AVAILABLE: {S.FINISHING},
        S.PREPARING: {S.RESERVED, S.UNAVAILABLE},
        S.CHARGING: {S.PREPARING, S.RESERVED},
        S.FINISHING: {S.CHARGING, S.SUSPENDED_EV, S.SUSPENDED_EVSE, S.RESERVED},
        S.RESERVED: {S.CHARGING, S.SUSPENDED_EV, S.SUSPENDED_EVSE, S.FINISHING},
        S.UNAVAILABLE: {S.FINISHING, S.RESERVED},
        S.FAULTED: set(),
    }
    for source, forbidden in not_allowed.items():
        assert TRANSITIONS[source] == set(S) - forbidden - {source}, source


async def test_S_3_plug_in_goes_preparing_and_unplug_available(wired: Callable[..., Wire]) -> None:
    wire = wired()
    await wire.connect()
    wire.station.connectors.plugged(1)
    await wire.clock.advance(0)
    wire.station.connectors.unplugged(1)
    await wire.clock.advance(0)
    assert statuses(wire, 1) == ["Available", "Preparing", "Available"]


async def test_X_13_fault_reports_faulted_with_error_code_and_recovers(wired: Callable[..., Wire]) -> None:
    wire = wired()
    await wire.connect()
    wire.station.connectors.plugged(1)
    wire.station.connectors.fault(1, ChargePointErrorCode.GROUND_FAILURE, info="RCD tripped")
    await wire.clock.advance(0)
    wire.station.connectors.clear_fault(1)
    await wire.clock.advance(0)
    reports = [p for p in wire.calls("StatusNotification") if p["connectorId"] == 1]
    assert [(p["status"], p["errorCode"]) for p in reports][-2:] == [
        ("Faulted", "GroundFailure"),
        ("Preparing", "NoError"),  # I2: back to what the facts call for
    ]
    assert reports[-2]["info"] == "RCD tripped"


async def test_S_2_connector_0_reports_only_station_statuses(wired: Callable[..., Wire]) -> None:
    wire = wired()
    await wire.connect()
    wire.station.connectors.fault(0, ChargePointErrorCode.HIGH_TEMPERATURE)
    await wire.clock.advance(0)
    assert statuses(wire, 0) == ["Available", "Faulted"]


async def test_S_6_status_shorter_than_minimum_duration_is_not_reported(
    wired: Callable[..., Wire], clock: VirtualClock
) -> None:
    wire = wired(ocpp_config={"MinimumStatusDuration": 5})
    await wire.connect()
    wire.station.connectors.plugged(1)
    await clock.advance(2)
    wire.station.connectors.unplugged(1)
    await clock.advance(10)
    assert statuses(wire, 1) == ["Available"]
    wire.station.connectors.plugged(1)
    await clock.advance(5)
    assert statuses(wire, 1) == ["Available", "Preparing"]


async def test_S_7_after_reconnect_only_changed_statuses_are_sent(wired: Callable[..., Wire]) -> None:
    wire = wired(connectors=2)
    await wire.connect()
    await wire.disconnect()
    wire.station.connectors.plugged(2)
    wire.station.connectors.plugged(1)
    wire.station.connectors.unplugged(1)  # an intermediate status never reported (S-7)
    await wire.connect()
    assert [(p["connectorId"], p["status"]) for p in wire.calls("StatusNotification")][3:] == [(2, "Preparing")]


async def test_C_7_unavailable_survives_a_restart(clock: VirtualClock, tmp_path: Path) -> None:
    station = make_station(clock, store=Store.open(tmp_path), connectors=2)
    station.connectors.set_availability(0, AvailabilityType.INOPERATIVE)
    assert [c.status for c in station.connectors.connectors] == [S.UNAVAILABLE] * 3
    station.store.close()
    again = make_station(clock, store=Store.open(tmp_path), connectors=2)
    assert [c.status for c in again.connectors.connectors] == [S.UNAVAILABLE] * 3
    again.store.close()


async def test_S_1_preparing_to_unavailable_with_a_cable_in_passes_through_finishing(
    wired: Callable[..., Wire],
) -> None:
    """No Preparing -> Unavailable edge: B6 then F8, since B1 Available is never reported with a cable in."""
    wire = wired()
    await wire.connect()
    wire.station.connectors.plugged(1)
    await wire.clock.advance(0)
    wire.station.connectors.set_maintenance(True)
    await wire.clock.advance(0)
    assert statuses(wire, 1) == ["Available", "Preparing", "Finishing", "Unavailable"]


async def test_S_1_preparing_to_unavailable_without_a_cable_passes_through_available(
    wired: Callable[..., Wire],
) -> None:
    wire = wired()
    await wire.connect()
    wire.station.connectors.identified(1)  # a card first: Preparing, no cable
    await wire.clock.advance(0)
    wire.station.connectors.set_maintenance(True)
    await wire.clock.advance(0)
    assert statuses(wire, 1) == ["Available", "Preparing", "Available", "Unavailable"]


EVENTS = st.lists(
    st.tuples(st.sampled_from(["plug", "unplug", "fault", "clear", "identify"]), st.integers(0, 2)), max_size=30
)


@settings(max_examples=60, deadline=None)
@given(EVENTS)
def test_S_1_any_hardware_event_sequence_only_uses_allowed_transitions(events: list[tuple[str, int]]) -> None:
    station = make_station(VirtualClock(), connectors=2)
    connectors = station.connectors
    seen: list[tuple[int, ChargePointStatus, ChargePointStatus]] = []
    for event, cid in events:
        before = connectors[cid].status
        if event == "plug" and cid:
            connectors.plugged(cid)
        elif event == "unplug" and cid:
            connectors.unplugged(cid)
        elif event == "fault":
            connectors.fault(cid, ChargePointErrorCode.OTHER_ERROR)
        elif event == "clear":
            connectors.clear_fault(cid)
        elif event == "identify" and cid:
            connectors.identified(cid)
        after = connectors[cid].status
        if after is not before:
            seen.append((cid, before, after))
    for cid, before, after in seen:
        assert after in TRANSITIONS[before]
        assert cid != 0 or after in STATION_STATUSES
    station.store.close()
