"""Part 6's meter values cases (TC_J) against the ``ocpp`` library's 2.0.1 central system, with the real clock and
intervals of a second: the frames on the wire, validated by both sides.

The conditional cases this station cannot apply: TC_J_04_CS and TC_J_11_CS (signed meter values: its meters do not
sign, so AlignedDataCtrlr.SignReadings and SampledDataCtrlr.SignReadings are not offered), TC_J_06_CS
(AlignedDataCtrlr.SendDuringIdle, optional, is not offered: clock-aligned values go on during a transaction, in its
TransactionEvents) and TC_J_08_CS (a transaction that starts before its EVSE is known: an authorization here is
always for one EVSE, so the Started event has its evse and its Transaction.Begin values, TC_J_07_CS).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from itertools import pairwise
from typing import Any

from chargebox.station.station import Station
from tests.interop.conftest import OcppCsms
from tests.interop.v201.conftest import StationRunner201, entry, wait_booted

CARD = "04A2B3C4"
ENERGY = "Energy.Active.Import.Register"
NO_UPDATES = entry("SampledDataCtrlr", "TxUpdatedInterval", "0")


async def calls(
    csms: OcppCsms, action: str, count: int, start: int, where: Callable[[dict[str, Any]], bool] = lambda _p: True
) -> list[dict[str, Any]]:
    """The payloads of the next ``count`` ``action`` CALLs from ``start`` on that ``where`` accepts."""
    found, index = [], start
    while len(found) < count:
        index, frame = await csms.frames.wait_for(lambda f: f.action == action and where(f.payload), start=index)
        found.append(frame.payload)
        index += 1
    return found


async def charging(csms: OcppCsms, station_factory: StationRunner201, *seeds: dict[str, Any]) -> tuple[Station, int]:
    """A one-EVSE station in EnergyTransferStarted (a cable, then a card); the index of its Started event."""
    station = station_factory(connectors=1, ocpp_config=list(seeds))
    index = await wait_booted(csms, evses=1)
    await station.plugged(1)
    await station.id_tag_presented(CARD)
    started, _ = await csms.wait_call("TransactionEvent", start=index)
    return station, started


def stamp(meter_value: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(meter_value["timestamp"])


def steps(moments: list[datetime]) -> set[float]:
    """The seconds between successive moments."""
    return {(later - earlier).total_seconds() for earlier, later in pairwise(moments)}


def measurands(meter_value: dict[str, Any]) -> set[str]:
    return {value.get("measurand", ENERGY) for value in meter_value["sampledValue"]}


async def test_TC_J_01_CS_clock_aligned_meter_values_without_a_transaction(
    csms: OcppCsms, station_factory: StationRunner201
) -> None:
    seeds = [entry("AlignedDataCtrlr", "Interval", "1"), entry("AlignedDataCtrlr", "Measurands", f"{ENERGY},Voltage")]
    station_factory(connectors=2, ocpp_config=seeds)
    index = await wait_booted(csms, evses=2)
    sent = await calls(csms, "MeterValues", 6, index)
    assert {p["evseId"] for p in sent} == {0, 1, 2}  # the main meter and each EVSE (J01.FR.02, J01.FR.03)
    for payload in sent:
        (value,) = payload["meterValue"]
        assert {v["context"] for v in value["sampledValue"]} == {"Sample.Clock"}
        assert measurands(value) == {ENERGY, "Voltage"}
        assert stamp(value).microsecond == 0
    moments = sorted({stamp(p["meterValue"][0]) for p in sent})
    assert len(moments) >= 2 and steps(moments) == {1.0}  # all of one moment stamped alike, a second apart


async def test_TC_J_02_CS_clock_aligned_meter_values_during_a_transaction(
    csms: OcppCsms, station_factory: StationRunner201
) -> None:
    _, started = await charging(csms, station_factory, NO_UPDATES, entry("AlignedDataCtrlr", "Interval", "1"))
    updates = await calls(csms, "TransactionEvent", 2, started + 1)
    for update in updates:
        assert (update["eventType"], update["triggerReason"]) == ("Updated", "MeterValueClock")
        assert update["meterValue"][0]["sampledValue"][0]["context"] == "Sample.Clock"
        assert measurands(update["meterValue"][0]) == {ENERGY}
    first, second = (stamp(u["meterValue"][0]) for u in updates)
    assert (second - first).total_seconds() == 1.0
    # the main meter still sends MeterValues (EVSE 1's go in its transaction)
    assert {p["evseId"] for p in await calls(csms, "MeterValues", 2, started)} == {0}


async def ended_after(csms: OcppCsms, station: Station, started: int, ticks: dict[str, Any]) -> dict[str, Any]:
    """Wait for two Updated events matching ``ticks`` (the clock this test can poll), end the transaction with the
    card, and return its Ended event."""
    await calls(csms, "TransactionEvent", 2, started + 1, lambda p: p["triggerReason"] == ticks["triggerReason"])
    await station.id_tag_presented(CARD)
    (ended,) = await calls(csms, "TransactionEvent", 1, started + 1, lambda p: p["eventType"] == "Ended")
    return ended


async def test_TC_J_03_CS_the_Ended_event_carries_the_clock_aligned_values_of_the_transaction(
    csms: OcppCsms, station_factory: StationRunner201
) -> None:
    station, started = await charging(csms, station_factory, NO_UPDATES,
                                      entry("AlignedDataCtrlr", "Interval", "1"),
                                      entry("SampledDataCtrlr", "TxEndedMeasurands", ""),
                                      entry("AlignedDataCtrlr", "TxEndedMeasurands", ENERGY),
                                      entry("AlignedDataCtrlr", "TxEndedInterval", "1"))  # fmt: skip
    ended = await ended_after(csms, station, started, {"triggerReason": "MeterValueClock"})
    values = ended["meterValue"]
    assert len(values) >= 2
    assert {v["sampledValue"][0]["context"] for v in values} == {"Sample.Clock"}
    assert all(measurands(v) == {ENERGY} for v in values)
    moments = [stamp(v) for v in values]
    assert steps(moments) == {1.0}


async def test_TC_J_07_CS_the_Started_event_carries_the_Transaction_Begin_values(
    csms: OcppCsms, station_factory: StationRunner201
) -> None:
    station = station_factory(connectors=1, ocpp_config=[entry("TxCtrlr", "TxStartPoint", "EVConnected"),
                                                         entry("SampledDataCtrlr", "TxStartedMeasurands",
                                                               f"{ENERGY},Current.Offered")])  # fmt: skip
    index = await wait_booted(csms, evses=1)
    await station.plugged(1)
    (started,) = await calls(csms, "TransactionEvent", 1, index)
    assert (started["eventType"], started["evse"]["id"]) == ("Started", 1)
    (value,) = started["meterValue"]
    assert {v["context"] for v in value["sampledValue"]} == {"Transaction.Begin"}
    assert measurands(value) == {ENERGY, "Current.Offered"}


async def test_TC_J_09_CS_Updated_events_carry_the_sampled_values_every_TxUpdatedInterval(
    csms: OcppCsms, station_factory: StationRunner201
) -> None:
    measured = entry("SampledDataCtrlr", "TxUpdatedMeasurands", f"{ENERGY},Power.Active.Import")
    _, started = await charging(csms, station_factory, entry("SampledDataCtrlr", "TxUpdatedInterval", "1"), measured)
    updates = await calls(csms, "TransactionEvent", 2, started + 1, lambda p: p["eventType"] == "Updated")
    for update in updates:
        assert update["triggerReason"] == "MeterValuePeriodic"
        (value,) = update["meterValue"]
        assert {v["context"] for v in value["sampledValue"]} == {"Sample.Periodic"}
        assert measurands(value) == {ENERGY, "Power.Active.Import"}
    first, second = (stamp(u["meterValue"][0]) for u in updates)
    assert (second - first).total_seconds() == 1.0


async def test_TC_J_10_CS_the_Ended_event_carries_the_sampled_values_of_the_transaction(
    csms: OcppCsms, station_factory: StationRunner201
) -> None:
    station, started = await charging(csms, station_factory, entry("SampledDataCtrlr", "TxUpdatedInterval", "1"),
                                      entry("SampledDataCtrlr", "TxEndedInterval", "1"),
                                      entry("AlignedDataCtrlr", "TxEndedMeasurands", ""))  # fmt: skip
    ended = await ended_after(csms, station, started, {"triggerReason": "MeterValuePeriodic"})
    contexts = [v["sampledValue"][0]["context"] for v in ended["meterValue"]]
    assert contexts[0] == "Transaction.Begin" and contexts[-1] == "Transaction.End"
    assert contexts[1:-1] and set(contexts[1:-1]) == {"Sample.Periodic"}
    assert all(measurands(v) == {ENERGY} for v in ended["meterValue"])
    periodic = [stamp(v) for v in ended["meterValue"][1:-1]]
    assert len(periodic) < 2 or steps(periodic) == {1.0}
