"""Meter values of a 2.0.1 station (station/v201/meter_values.py) on the wire the built-in central system reads,
under a virtual clock that starts at midnight: clock-aligned MeterValues and TransactionEvents, the Ended event's
collected values and their bound, the MeterValues and TransactionEvent triggers, and the measurand lists' checks.
Part 6's TC_J cases run in tests/interop/v201/test_meter_values.py."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

import msgspec

from chargebox.protocol.codec import MAX_FRAME_SIZE
from chargebox.protocol.v201 import messages as m
from chargebox.station.v201.boot import BootService
from chargebox.station.v201.meter_values import ENDED_BYTES, ENDED_METER_VALUES
from tests.wire import Wire

CARD = "04A2B3C4"
ENERGY = "Energy.Active.Import.Register"
Trigger = m.MessageTriggerEnumType


def seed(component: str, variable: str, value: str) -> dict[str, Any]:
    return {"component": {"name": component}, "variable": {"name": variable}, "value": value}


async def booted(wired: Callable[..., Wire], *seeds: dict[str, Any]) -> Wire:
    wire = wired(ocpp="2.0.1", connectors=2, ocpp_config=list(seeds))
    await wire.connect()
    await wire.until(lambda: len(wire.calls("StatusNotification")) == 2)
    return wire


async def charging(wire: Wire, evse: int = 1) -> None:
    before = len(wire.calls("TransactionEvent"))
    await wire.station.plugged(evse)
    await wire.station.id_tag_presented(CARD, evse)
    await wire.until(lambda: len(wire.calls("TransactionEvent")) == before + 1 and wire.station.lane.pending() == 0)


def at(payload: dict[str, Any]) -> str:
    """A MeterValue's timestamp as hh:mm:ss."""
    return datetime.fromisoformat(payload["timestamp"]).strftime("%H:%M:%S")


def contexts(meter_values: list[dict[str, Any]]) -> list[str]:
    return [mv["sampledValue"][0]["context"] for mv in meter_values]


async def trigger(wire: Wire, message: Trigger, evse: int | None = None) -> str:
    scope = msgspec.UNSET if evse is None else m.EVSEType(id=evse)
    result = await wire.csms.call(wire.station.id, m.TriggerMessageRequest(requested_message=message, evse=scope))
    await wire.clock.advance(0)
    return str(result.response.status)


async def set_variables(wire: Wire, *entries: tuple[str, str, str]) -> list[str]:
    data = [{"component": {"name": c}, "variable": {"name": v}, "attributeValue": value} for c, v, value in entries]
    answer = await wire.inject(json.dumps([2, "s1", "SetVariables", {"setVariableData": data}]))
    return [result["attributeStatus"] for result in answer[2]["setVariableResult"]]


async def test_J01_FR_14_the_main_meter_and_each_idle_EVSE_send_clock_aligned_MeterValues_at_every_interval(
    wired: Callable[..., Wire],
) -> None:
    wire = await booted(wired, seed("AlignedDataCtrlr", "Interval", "60"),
                        seed("AlignedDataCtrlr", "Measurands", f"{ENERGY},Voltage"))  # fmt: skip
    await wire.clock.advance(59)
    assert wire.calls("MeterValues") == []
    await wire.clock.advance(1)
    await wire.until(lambda: len(wire.calls("MeterValues")) == 3)
    await wire.clock.advance(60)
    await wire.until(lambda: len(wire.calls("MeterValues")) == 6)
    sent = wire.calls("MeterValues")
    # J01.FR.02, J01.FR.03: evseId 0 is the main meter; each at the aligned moment, all its values stamped alike
    assert [(p["evseId"], at(p["meterValue"][0])) for p in sent] == [
        (0, "00:01:00"), (1, "00:01:00"), (2, "00:01:00"), (0, "00:02:00"), (1, "00:02:00"), (2, "00:02:00"),
    ]  # fmt: skip
    values = sent[1]["meterValue"][0]["sampledValue"]
    assert {v["context"] for v in values} == {"Sample.Clock"}  # J01.FR.08
    assert sorted((v["measurand"], v.get("phase", "")) for v in values) == [
        (ENERGY, ""), ("Voltage", "L1"), ("Voltage", "L2"), ("Voltage", "L3"),
    ]  # fmt: skip
    assert sent[0]["meterValue"][0]["sampledValue"][0]["location"] == "Inlet"  # the main meter, J01.FR.04


async def test_J01_FR_22_an_EVSE_in_a_transaction_sends_them_in_an_Updated_event_MeterValueClock_journaled(
    wired: Callable[..., Wire],
) -> None:
    wire = await booted(wired, seed("AlignedDataCtrlr", "Interval", "300"),
                        seed("SampledDataCtrlr", "TxUpdatedInterval", "0"))  # fmt: skip
    await charging(wire, 1)
    await wire.disconnect()
    await wire.clock.advance(300)
    assert wire.station.lane.pending() == 1  # the transaction's values are kept; the others are not worth it
    await wire.connect()
    await wire.until(lambda: wire.station.lane.pending() == 0 and len(wire.calls("TransactionEvent")) == 2)
    update = wire.calls("TransactionEvent")[1]
    assert (update["eventType"], update["triggerReason"], update["offline"]) == ("Updated", "MeterValueClock", True)
    assert contexts(update["meterValue"]) == ["Sample.Clock"] and at(update["meterValue"][0]) == "00:05:00"
    assert wire.calls("MeterValues") == []
    await wire.clock.advance(300)
    await wire.until(lambda: len(wire.calls("MeterValues")) == 2 and len(wire.calls("TransactionEvent")) == 3)
    assert [p["evseId"] for p in wire.calls("MeterValues")] == [0, 2]
    assert wire.calls("TransactionEvent")[2]["triggerReason"] == "MeterValueClock"


async def test_E06_FR_11_the_Ended_event_carries_what_the_transaction_collected_between_begin_and_end(
    wired: Callable[..., Wire],
) -> None:
    wire = await booted(wired, seed("SampledDataCtrlr", "TxUpdatedInterval", "0"),
                        seed("SampledDataCtrlr", "TxEndedInterval", "20"),
                        seed("AlignedDataCtrlr", "TxEndedMeasurands", ENERGY),
                        seed("AlignedDataCtrlr", "TxEndedInterval", "30"))  # fmt: skip
    await charging(wire, 1)
    await wire.clock.advance(65)
    await wire.station.id_tag_presented(CARD, 1)
    await wire.until(lambda: len(wire.calls("TransactionEvent")) == 2)
    ended = wire.calls("TransactionEvent")[1]
    assert ended["eventType"] == "Ended"
    moments = [(at(mv), c) for c, mv in zip(contexts(ended["meterValue"]), ended["meterValue"], strict=True)]
    assert moments == sorted(moments, key=lambda moment: moment[0])  # in the order they were taken
    assert sorted(moments) == [
        ("00:00:00", "Transaction.Begin"), ("00:00:20", "Sample.Periodic"), ("00:00:30", "Sample.Clock"),
        ("00:00:40", "Sample.Periodic"), ("00:01:00", "Sample.Clock"), ("00:01:00", "Sample.Periodic"),
        ("00:01:05", "Transaction.End"),
    ]  # fmt: skip
    assert wire.calls("TransactionEvent") == [wire.calls("TransactionEvent")[0], ended]  # nothing sent meanwhile


async def test_E06_FR_13_a_long_transaction_s_Ended_values_are_thinned_to_the_bound_keeping_begin_and_end(
    wired: Callable[..., Wire],
) -> None:
    wire = await booted(wired, seed("SampledDataCtrlr", "TxUpdatedInterval", "0"),
                        seed("SampledDataCtrlr", "TxEndedInterval", "10"))  # fmt: skip
    await charging(wire, 1)
    await wire.clock.advance(3000)  # 300 samples
    await wire.station.id_tag_presented(CARD, 1)
    await wire.until(lambda: len(wire.calls("TransactionEvent")) == 2)
    values = wire.calls("TransactionEvent")[1]["meterValue"]
    assert len(values) <= ENDED_METER_VALUES
    assert contexts(values)[0] == "Transaction.Begin" and contexts(values)[-1] == "Transaction.End"
    stamps = [datetime.fromisoformat(mv["timestamp"]) for mv in values]
    assert stamps == sorted(stamps) and len(set(stamps[1:-1])) == len(values) - 2
    assert (stamps[-2] - stamps[0]).total_seconds() > 2500  # spread over the whole transaction, not its start


async def test_J02_FR_20_with_every_measurand_the_Ended_event_still_fits_in_a_frame(wired: Callable[..., Wire]) -> None:
    everything = f"{ENERGY},Power.Active.Import,Power.Offered,Current.Import,Current.Offered,Voltage,Frequency,SoC"
    wire = await booted(wired, seed("SampledDataCtrlr", "TxUpdatedInterval", "0"),
                        seed("SampledDataCtrlr", "TxEndedMeasurands", everything),
                        seed("SampledDataCtrlr", "TxEndedInterval", "10"))  # fmt: skip
    await charging(wire, 1)
    await wire.clock.advance(3000)
    await wire.station.id_tag_presented(CARD, 1)
    await wire.until(lambda: len(wire.calls("TransactionEvent")) == 2)
    values = wire.calls("TransactionEvent")[1]["meterValue"]
    assert len(json.dumps(values[1:-1]).encode()) <= ENDED_BYTES < MAX_FRAME_SIZE
    assert len(values) > 4 and contexts(values)[-1] == "Transaction.End"


async def test_F06_FR_06_a_MeterValues_trigger_sends_the_aligned_measurands_with_context_Trigger(
    wired: Callable[..., Wire],
) -> None:
    wire = await booted(wired)
    assert await trigger(wire, Trigger.METER_VALUES, 2) == "Accepted"
    await wire.until(lambda: len(wire.calls("MeterValues")) == 1)
    (sent,) = wire.calls("MeterValues")
    assert sent["evseId"] == 2
    assert [(v["measurand"], v["context"]) for v in sent["meterValue"][0]["sampledValue"]] == [(ENERGY, "Trigger")]
    assert await trigger(wire, Trigger.METER_VALUES) == "Accepted"
    await wire.until(lambda: len(wire.calls("MeterValues")) == 4)
    assert [p["evseId"] for p in wire.calls("MeterValues")[1:]] == [0, 1, 2]  # F06.FR.11
    assert await trigger(wire, Trigger.METER_VALUES, 3) == "Rejected"


async def test_F06_FR_07_a_TransactionEvent_trigger_sends_an_Updated_event_of_each_running_transaction(
    wired: Callable[..., Wire],
) -> None:
    wire = await booted(wired, seed("SampledDataCtrlr", "TxUpdatedInterval", "0"))
    assert await trigger(wire, Trigger.TRANSACTION_EVENT) == "Rejected"  # F06.FR.05: no transaction to tell of
    await charging(wire, 1)
    assert await trigger(wire, Trigger.TRANSACTION_EVENT, 2) == "Rejected"
    assert await trigger(wire, Trigger.TRANSACTION_EVENT, 1) == "Accepted"
    await wire.until(lambda: len(wire.calls("TransactionEvent")) == 2)
    assert await trigger(wire, Trigger.TRANSACTION_EVENT) == "Accepted"
    await wire.until(lambda: len(wire.calls("TransactionEvent")) == 3)
    for event in wire.calls("TransactionEvent")[1:]:
        assert (event["eventType"], event["triggerReason"]) == ("Updated", "Trigger")
        assert event["transactionInfo"]["chargingState"] == "Charging"  # told again, though unchanged
        assert contexts(event["meterValue"]) == ["Trigger"]
    assert [e["seqNo"] for e in wire.calls("TransactionEvent")] == [0, 1, 2]


async def test_B05_FR_07_FR_08_a_measurand_the_meter_lacks_or_a_negative_interval_is_rejected(
    wired: Callable[..., Wire],
) -> None:
    wire = await booted(wired)
    statuses = await set_variables(
        wire,
        ("AlignedDataCtrlr", "Measurands", f"{ENERGY},Energy.Reactive.Export.Register"),  # not this meter's
        ("AlignedDataCtrlr", "TxEndedMeasurands", "Bogus"),
        ("SampledDataCtrlr", "TxUpdatedMeasurands", "SoC,Energy.Reactive.Import.Interval"),
        ("AlignedDataCtrlr", "Interval", "-1"),
        ("AlignedDataCtrlr", "TxEndedInterval", "-60"),
        ("SampledDataCtrlr", "TxStartedMeasurands", f"Voltage,{ENERGY}"),
    )
    assert statuses == ["Rejected"] * 5 + ["Accepted"]
    config = wire.station.config
    assert config.get("AlignedDataCtrlr.Measurands") == ENERGY
    assert config.get("AlignedDataCtrlr.Interval") == "0"
    assert config.get("SampledDataCtrlr.TxUpdatedMeasurands") == ENERGY


async def test_a_new_interval_is_in_force_at_once_and_0_stops_the_values(wired: Callable[..., Wire]) -> None:
    wire = await booted(wired)
    await wire.clock.advance(600)
    assert wire.calls("MeterValues") == []
    assert await set_variables(wire, ("AlignedDataCtrlr", "Interval", "900")) == ["Accepted"]
    await wire.clock.advance(300)  # 00:15:00
    await wire.until(lambda: len(wire.calls("MeterValues")) == 3)
    assert {at(p["meterValue"][0]) for p in wire.calls("MeterValues")} == {"00:15:00"}
    assert await set_variables(wire, ("AlignedDataCtrlr", "Interval", "0")) == ["Accepted"]
    await wire.clock.advance(3600)
    assert len(wire.calls("MeterValues")) == 3


async def test_the_clock_aligned_values_stop_at_a_reboot_and_go_on_after_the_new_boot(
    wired: Callable[..., Wire],
) -> None:
    wire = await booted(wired, seed("AlignedDataCtrlr", "Interval", "60"))
    result = await wire.csms.call(wire.station.id, m.ResetRequest(type=m.ResetEnumType.IMMEDIATE))
    assert result.response.status == "Accepted"
    await wire.clock.advance(1)
    await wire.until(lambda: not wire.station.features.need(BootService).accepted)
    await wire.clock.advance(60)  # 00:01:00 while down: nothing
    assert wire.calls("MeterValues") == []
    await wire.connect()
    await wire.until(lambda: wire.station.features.need(BootService).accepted)
    await wire.clock.advance(60)
    await wire.until(lambda: len(wire.calls("MeterValues")) == 3)
    assert {at(p["meterValue"][0]) for p in wire.calls("MeterValues")} == {"00:02:00"}


async def test_a_transaction_started_before_any_boot_has_its_clock_aligned_values_journaled(
    wired: Callable[..., Wire],
) -> None:
    wire = wired(ocpp="2.0.1", connectors=1, ocpp_config=[
        seed("AlignedDataCtrlr", "Interval", "60"), seed("SampledDataCtrlr", "TxUpdatedInterval", "0"),
        seed("AuthCtrlr", "OfflineTxForUnknownIdEnabled", "true"),
    ])  # fmt: skip
    await wire.station.plugged(1)
    outcome = await wire.station.id_tag_presented(CARD)
    assert outcome.result == "started"
    await wire.clock.advance(60)
    await wire.until(lambda: wire.station.lane.pending() == 2)
    await wire.connect()
    await wire.until(lambda: wire.station.lane.pending() == 0 and len(wire.calls("TransactionEvent")) == 2)
    update = wire.calls("TransactionEvent")[1]
    assert (update["triggerReason"], update["offline"], at(update["meterValue"][0])) == ("MeterValueClock", True,
                                                                                        "00:01:00")  # fmt: skip
