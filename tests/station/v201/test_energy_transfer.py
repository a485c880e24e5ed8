"""EnergyTransfer as TxStartPoint and TxStopPoint (E01.FR.06, E06.FR.07), an EV that suspends charging (SuspendedEV,
E01.FR.19) and TxCtrlr.MaxEnergyOnInvalidId (C15.FR.07, E05.FR.03), on a 2.0.1 station wired in memory to the built-in
central system under a virtual clock: the TransactionEvents on the wire and what the simulated hardware does."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chargebox.protocol.messages import AuthorizationStatus
from chargebox.sim.hardware import SimulatedHardware
from tests.station.v201.test_transactions import CARD, booted, seed
from tests.wire import Wire

ENERGY_POINTS = [seed("TxCtrlr", "TxStartPoint", "EnergyTransfer"), seed("TxCtrlr", "TxStopPoint", "EnergyTransfer")]


def hardware(wire: Wire) -> SimulatedHardware:
    parts = wire.station.ports.meter
    assert isinstance(parts, SimulatedHardware)
    return parts


def summaries(wire: Wire) -> list[tuple[str, str, str | None]]:
    """Every TransactionEvent as (eventType, triggerReason, chargingState or None when not told)."""
    return [
        (e["eventType"], e["triggerReason"], e["transactionInfo"].get("chargingState"))
        for e in wire.calls("TransactionEvent")
    ]


async def suspend(wire: Wire, suspended: bool) -> None:
    """The simulated EV stops (or resumes) taking energy, and the station is told so."""
    hardware(wire).connectors[1].ev.suspended = suspended
    await wire.station.ev_suspended(1, suspended)


async def test_E01_FR_06_E06_FR_07_EnergyTransfer_starts_when_the_EV_takes_energy_and_ends_when_it_stops(
    wired: Callable[..., Wire],
) -> None:
    wire = await booted(wired, ocpp_config=ENERGY_POINTS)
    await wire.station.id_tag_presented(CARD)
    await suspend(wire, True)  # an EV not ready yet
    await wire.station.plugged(1)
    await wire.until(lambda: wire.station.lane.pending() == 0)
    assert hardware(wire).connectors[1].contactor_closed  # the power path is closed, no energy flows: no transaction
    assert wire.calls("TransactionEvent") == []
    await suspend(wire, False)
    await wire.until(lambda: len(wire.calls("TransactionEvent")) == 1)
    started = wire.calls("TransactionEvent")[0]
    assert started["idToken"] == {"idToken": CARD, "type": "ISO14443"}  # E03.FR.01: authorized before it began
    await suspend(wire, True)
    await wire.until(lambda: len(wire.calls("TransactionEvent")) == 2)
    assert summaries(wire) == [("Started", "ChargingStateChanged", "Charging"),
                               ("Ended", "ChargingStateChanged", "EVConnected")]  # fmt: skip
    assert wire.calls("TransactionEvent")[1]["transactionInfo"]["stoppedReason"] == "StoppedByEV"


async def test_E06_FR_07_EnergyTransfer_stop_point_ends_when_the_card_stops_the_energy(
    wired: Callable[..., Wire],
) -> None:
    wire = await booted(wired, ocpp_config=[seed("TxCtrlr", "TxStopPoint", "EnergyTransfer")])
    await wire.station.plugged(1)
    await wire.station.id_tag_presented(CARD)
    await wire.station.id_tag_presented(CARD)
    await wire.until(lambda: len(wire.calls("TransactionEvent")) == 2)
    assert summaries(wire) == [("Started", "Authorized", "Charging"), ("Ended", "StopAuthorized", "EVConnected")]
    assert not hardware(wire).connectors[1].contactor_closed


async def test_E01_FR_19_an_EV_that_suspends_is_SuspendedEV_until_it_takes_energy_again(
    wired: Callable[..., Wire],
) -> None:
    wire = await booted(wired)
    await wire.station.plugged(1)
    await wire.station.id_tag_presented(CARD)
    await suspend(wire, True)
    await suspend(wire, True)  # no change, no event
    await suspend(wire, False)
    await wire.until(lambda: len(wire.calls("TransactionEvent")) == 3 and wire.station.lane.pending() == 0)
    assert summaries(wire) == [("Started", "Authorized", "Charging"),
                               ("Updated", "ChargingStateChanged", "SuspendedEV"),
                               ("Updated", "ChargingStateChanged", "Charging")]  # fmt: skip
    assert hardware(wire).connectors[1].contactor_closed  # the station still offers energy


async def test_an_EV_suspended_before_a_card_starts_SuspendedEV_and_leaves_with_its_cable(
    wired: Callable[..., Wire],
) -> None:
    wire = await booted(wired)
    await wire.station.plugged(1)
    await suspend(wire, True)
    await wire.station.id_tag_presented(CARD)
    await wire.station.unplugged(1)
    await wire.station.plugged(1)
    await wire.station.id_tag_presented(CARD)
    await wire.until(lambda: len(wire.calls("TransactionEvent")) == 3)
    assert [s[2] for s in summaries(wire)] == ["SuspendedEV", "Idle", "Charging"]  # the next EV is not suspended


async def test_S_4_a_1_6_station_is_told_the_same_way(wired: Callable[..., Wire]) -> None:
    wire = wired()
    await wire.connect()
    await wire.station.plugged(1)
    await wire.station.id_tag_presented(CARD)
    await wire.station.ev_suspended(1, True)
    await wire.until(lambda: wire.calls("StatusNotification")[-1]["status"] == "SuspendedEV")


async def charging_refused(wired: Callable[..., Wire], *config: dict[str, Any]) -> Wire:
    """CARD cached Accepted (LocalPreAuthorize), then blocked at the central system: the cable and CARD start a
    transaction at once, whose Started event the central system answers Blocked."""
    wire = await booted(wired, ocpp_config=[seed("AuthCtrlr", "LocalPreAuthorize", "true"), *config])
    await wire.station.id_tag_presented(CARD)  # Authorize: cached Accepted
    await wire.station.id_tag_presented(CARD)
    wire.csms.policy.id_tag_status = AuthorizationStatus.BLOCKED
    hardware(wire).connectors[1].plugged = True  # the simulated EV's cable: energy flows once the contactor closes
    await wire.station.plugged(1)
    await wire.station.id_tag_presented(CARD)
    await wire.until(lambda: len(wire.calls("TransactionEvent")) >= 1 and wire.station.lane.pending() == 0)
    return wire


async def test_C15_FR_07_with_MaxEnergyOnInvalidId_a_refused_transaction_charges_that_much_then_is_suspended(
    wired: Callable[..., Wire],
) -> None:
    wire = await charging_refused(
        wired,
        seed("TxCtrlr", "StopTxOnInvalidId", "false"),
        seed("TxCtrlr", "MaxEnergyOnInvalidId", "100"),
        seed("SampledDataCtrlr", "TxUpdatedInterval", "0"),
    )
    start = wire.station.kernel.meter.energy_wh(1)
    await wire.clock.advance(10)  # some 60 Wh at 22 kW
    assert len(wire.calls("TransactionEvent")) == 1
    assert hardware(wire).connectors[1].contactor_closed
    await wire.clock.advance(20)
    await wire.until(lambda: len(wire.calls("TransactionEvent")) == 2)
    assert summaries(wire)[1] == ("Updated", "ChargingStateChanged", "SuspendedEVSE")  # C15.FR.06 once spent
    assert not hardware(wire).connectors[1].contactor_closed
    delivered = wire.station.kernel.meter.energy_wh(1) - start
    assert 100 <= delivered <= 100 + 10  # watched every second: at most a second's energy over


async def test_C15_FR_03_StopTxOnInvalidId_true_deauthorizes_at_once_whatever_MaxEnergyOnInvalidId(
    wired: Callable[..., Wire],
) -> None:
    wire = await charging_refused(
        wired, seed("TxCtrlr", "StopTxOnInvalidId", "true"), seed("TxCtrlr", "MaxEnergyOnInvalidId", "500")
    )
    await wire.until(lambda: len(wire.calls("TransactionEvent")) == 2)
    assert summaries(wire)[1][:2] == ("Ended", "Deauthorized")


async def test_E05_FR_02_a_suspension_that_breaks_the_stop_point_ends_the_transaction_DeAuthorized(
    wired: Callable[..., Wire],
) -> None:
    wire = await charging_refused(
        wired, seed("TxCtrlr", "StopTxOnInvalidId", "false"), seed("TxCtrlr", "TxStopPoint", "PowerPathClosed")
    )
    await wire.until(lambda: len(wire.calls("TransactionEvent")) == 2)
    ended = wire.calls("TransactionEvent")[1]
    assert (ended["eventType"], ended["triggerReason"], ended["transactionInfo"]["stoppedReason"]) == (
        "Ended", "ChargingStateChanged", "DeAuthorized",
    )  # fmt: skip
