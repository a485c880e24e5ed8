"""Broken parts at a 2.0.1 station (station/v201/availability.py, transactions.py): a cable lock that does not lock
(G05), a contactor that does not switch, a meter that cannot be read, injected into the simulated hardware as
`POST /api/connectors/{id}/hardware-fault` does and read on the wire: the part's Problem in a NotifyEvent, the EVSE
Faulted, the transaction not started or ended; the NotifyEvent journaled, its eventIds never given twice."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from chargebox.clock import VirtualClock
from chargebox.sim.hardware import HardwarePart, SimulatedHardware
from chargebox.station.front import Outcome
from chargebox.store import Store
from tests.station.v201.test_transactions import CARD, booted, events, seed
from tests.wire import Wire, make_csms, make_station


def hardware(wire: Wire) -> SimulatedHardware:
    parts = wire.station.ports.contactor
    assert isinstance(parts, SimulatedHardware)
    return parts


def problems(wire: Wire) -> list[tuple[str, str, str, bool]]:
    """Every event of every NotifyEvent: (component, variable, actualValue, cleared)."""
    return [
        (e["component"]["name"], e["variable"]["name"], e["actualValue"], e.get("cleared", False))
        for n in wire.calls("NotifyEvent")
        for e in n["eventData"]
    ]


def problem(wire: Wire, component: str, evse: int = 1) -> str | None:
    connector = ":1" if component == "ConnectorPlugRetentionLock" else ""
    return wire.station.config.get(f"{component}@{evse}{connector}.Problem")


async def test_G05_FR_01_FR_02_a_lock_that_does_not_lock_starts_nothing_and_says_so(
    wired: Callable[..., Wire],
) -> None:
    wire = await booted(wired)
    hardware(wire).inject_fault(1, HardwarePart.LOCK, True)
    await wire.station.plugged(1)
    outcome = await wire.station.id_tag_presented(CARD, 1)
    assert outcome == Outcome("refused", 1, "Faulted: ConnectorLockFailure")
    await wire.until(lambda: len(wire.calls("NotifyEvent")) == 1 and wire.station.lane.pending() == 0)
    assert wire.calls("TransactionEvent") == []  # G05.FR.01: TxStartPoint PowerPathClosed never met
    assert not hardware(wire).connectors[1].contactor_closed
    (notify,) = wire.calls("NotifyEvent")
    lock, state = notify["eventData"]
    assert (lock["component"], lock["variable"], lock["actualValue"], lock["trigger"]) == (
        {"name": "ConnectorPlugRetentionLock", "evse": {"id": 1, "connectorId": 1}}, {"name": "Problem"}, "true",
        "Delta",
    )  # fmt: skip  # G05.FR.02
    assert (state["variable"]["name"], state["actualValue"], state["techCode"], state["cause"]) == (
        "AvailabilityState", "Faulted", "ConnectorLockFailure", lock["eventId"],
    )  # fmt: skip
    assert wire.calls("StatusNotification")[-1]["connectorStatus"] == "Faulted"
    assert problem(wire, "ConnectorPlugRetentionLock") == "true"
    assert (await wire.station.id_tag_presented(CARD, 1)).reason == "EVSE 1 is Faulted"

    hardware(wire).inject_fault(1, HardwarePart.LOCK, False)
    wire.station.clear_fault(1)  # mended
    await wire.until(lambda: len(wire.calls("NotifyEvent")) == 2)
    assert problems(wire)[2:] == [("EVSE", "AvailabilityState", "Occupied", True),
                                  ("ConnectorPlugRetentionLock", "Problem", "false", True)]  # fmt: skip
    assert problem(wire, "ConnectorPlugRetentionLock") == "false"
    assert (await wire.station.id_tag_presented(CARD, 1)).result == "started"
    assert hardware(wire).connectors[1].locked


async def test_G05_FR_01_a_transaction_started_on_the_cable_ends_when_the_lock_fails(
    wired: Callable[..., Wire],
) -> None:
    wire = await booted(wired, ocpp_config=[seed("TxCtrlr", "TxStartPoint", "EVConnected")])
    hardware(wire).inject_fault(1, HardwarePart.LOCK, True)
    await wire.station.plugged(1)
    await wire.station.id_tag_presented(CARD, 1)
    await wire.until(lambda: len(wire.calls("TransactionEvent")) == 2)
    assert events(wire) == [("Started", "CablePluggedIn", 0), ("Ended", "AbnormalCondition", 1)]
    assert wire.calls("TransactionEvent")[1]["transactionInfo"]["stoppedReason"] == "Other"


async def test_a_contactor_that_does_not_close_faults_the_evse_and_starts_nothing(wired: Callable[..., Wire]) -> None:
    wire = await booted(wired)
    hardware(wire).inject_fault(1, HardwarePart.CONTACTOR, True)
    await wire.station.plugged(1)
    outcome = await wire.station.id_tag_presented(CARD, 1)
    assert outcome == Outcome("refused", 1, "Faulted: PowerSwitchFailure")
    await wire.until(lambda: len(wire.calls("NotifyEvent")) == 1)
    assert problems(wire) == [("PowerContactor", "Problem", "true", False),
                              ("EVSE", "AvailabilityState", "Faulted", False)]  # fmt: skip
    assert wire.calls("NotifyEvent")[0]["eventData"][0]["component"] == {"name": "PowerContactor", "evse": {"id": 1}}
    assert wire.calls("TransactionEvent") == []
    assert not hardware(wire).connectors[1].locked  # the cable goes back to its owner
    assert problem(wire, "PowerContactor") == "true"


async def test_a_contactor_that_does_not_open_still_ends_the_transaction(wired: Callable[..., Wire]) -> None:
    wire = await booted(wired)
    await wire.station.plugged(1)
    await wire.station.id_tag_presented(CARD, 1)
    hardware(wire).inject_fault(1, HardwarePart.CONTACTOR, True)
    stopped = await wire.station.id_tag_presented(CARD, 1)
    assert stopped.result == "stopped"
    await wire.until(lambda: len(wire.calls("TransactionEvent")) == 2 and len(wire.calls("NotifyEvent")) == 1)
    assert events(wire)[1] == ("Ended", "StopAuthorized", 1)
    assert problems(wire) == [("PowerContactor", "Problem", "true", False),
                              ("EVSE", "AvailabilityState", "Faulted", False)]  # fmt: skip


async def test_a_meter_that_cannot_be_read_is_a_problem_and_the_transaction_goes_on(
    wired: Callable[..., Wire],
) -> None:
    wire = await booted(wired, ocpp_config=[seed("SampledDataCtrlr", "TxUpdatedInterval", "10")])
    await wire.station.plugged(1)
    await wire.station.id_tag_presented(CARD, 1)
    await wire.clock.advance(10)
    hardware(wire).inject_fault(1, HardwarePart.METER, True)
    await wire.clock.advance(10)
    await wire.until(lambda: len(wire.calls("NotifyEvent")) == 1)
    assert problems(wire) == [("FiscalMetering", "Problem", "true", False)]  # no Faulted: nothing unsafe
    assert wire.calls("StatusNotification")[-1]["connectorStatus"] == "Occupied"
    assert problem(wire, "FiscalMetering") == "true"
    hardware(wire).inject_fault(1, HardwarePart.METER, False)
    await wire.clock.advance(10)
    await wire.until(lambda: len(wire.calls("NotifyEvent")) == 2)
    assert problems(wire)[1] == ("FiscalMetering", "Problem", "false", True)
    assert wire.station.snapshot()["connectors"][0]["transactionId"] is not None
    readings = [e["meterValue"][0]["sampledValue"][0]["value"] for e in wire.calls("TransactionEvent")[1:]]
    assert readings == sorted(readings)  # the last register stood in: never backwards


async def test_a_fault_while_offline_reaches_the_central_system_after_the_reconnect_s_statuses(
    wired: Callable[..., Wire],
) -> None:
    wire = await booted(wired)
    await wire.disconnect()
    hardware(wire).inject_fault(1, HardwarePart.LOCK, True)
    await wire.station.plugged(1)
    await wire.station.id_tag_presented(CARD, 1)  # offline, unknown: refused before any lock is tried
    wire.station.fault(1, "GroundFailure", "RCD tripped")
    await wire.until(lambda: wire.station.lane.pending() == 1)  # journaled, not dropped
    before = len(wire.frames)
    await wire.connect()
    await wire.until(lambda: wire.station.lane.pending() == 0)
    sent = [f[2] for d, f in wire.frames[before:] if d == ">" and f[0] == 2]
    assert sent == ["StatusNotification", "NotifyEvent"]
    assert wire.calls("NotifyEvent")[0]["eventData"][0]["techCode"] == "GroundFailure"


async def test_event_ids_go_on_after_a_restart(tmp_path: Path) -> None:
    clock = VirtualClock()

    async def run_once() -> list[int]:
        store = Store.open(tmp_path)
        wire = Wire(make_station(clock, store, ocpp="2.0.1"), make_csms(clock), clock)
        await wire.connect()
        await wire.until(lambda: wire.station.registration == "Accepted")
        wire.station.fault(1, "OtherError")
        wire.station.clear_fault(1)
        await wire.until(lambda: len(wire.calls("NotifyEvent")) == 2 and wire.station.lane.pending() == 0)
        ids = [e["eventId"] for n in wire.calls("NotifyEvent") for e in n["eventData"]]
        await wire.stop()
        wire.station.reset_all()
        store.close()
        return ids

    assert await run_once() == [1, 2]
    assert await run_once() == [3, 4]  # not 1 again: the central system tells events apart by it
