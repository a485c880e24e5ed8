"""Meter values (checklist 5.4): sampled, clock-aligned, triggered, and in StopTransaction."""

from __future__ import annotations

from typing import Any

from chargebox.clock import VirtualClock


def measurands(payload: dict[str, Any]) -> list[tuple[str, str | None]]:
    return [
        (v.get("measurand", "Energy.Active.Import.Register"), v.get("phase"))
        for v in payload["meterValue"][0]["sampledValue"]
    ]


async def test_MV_1_TC_070_sampled_values_every_interval_with_every_configured_measurand(
    station: Any, clock: VirtualClock
) -> None:
    wire, sim = await station(
        ocpp_config={
            "MeterValueSampleInterval": 60,
            "MeterValuesSampledData": "Energy.Active.Import.Register,Current.Import",
        }
    )
    await sim.plug(1)
    await sim.swipe("TAG-1", 1)
    await clock.advance(180)
    values = wire.calls("MeterValues")
    assert len(values) == 3 and all(v["transactionId"] == 1 and v["connectorId"] == 1 for v in values)
    assert measurands(values[0]) == [
        ("Energy.Active.Import.Register", None),
        ("Current.Import", "L1"),
        ("Current.Import", "L2"),
        ("Current.Import", "L3"),
    ]  # MV-6
    sampled = values[0]["meterValue"][0]["sampledValue"]
    assert sampled[0] == {
        "value": "368",
        "context": "Sample.Periodic",
        "measurand": "Energy.Active.Import.Register",
        "location": "Outlet",
        "unit": "Wh",
    }
    assert sampled[1]["value"] == "32"


async def test_MV_1_no_samples_when_interval_is_zero(station: Any, clock: VirtualClock) -> None:
    wire, sim = await station(ocpp_config={"MeterValueSampleInterval": 0})
    await sim.plug(1)
    await sim.swipe("TAG-1", 1)
    await clock.advance(3600)
    assert wire.calls("MeterValues") == []


async def test_MV_2_TC_071_clock_aligned_values_at_multiples_after_midnight(station: Any, clock: VirtualClock) -> None:
    wire, sim = await station(
        connectors=2, ocpp_config={"ClockAlignedDataInterval": 900, "MeterValueSampleInterval": 0}
    )
    await clock.advance(100)
    await sim.plug(1)
    await sim.swipe("TAG-1", 1)
    await clock.advance(800)  # 00:15
    values = wire.calls("MeterValues")
    assert {v["meterValue"][0]["timestamp"] for v in values} == {"2026-01-01T00:15:00Z"}
    assert sorted((v["connectorId"], v.get("transactionId")) for v in values) == [(0, None), (1, 1), (2, None)]
    assert all(v["meterValue"][0]["sampledValue"][0]["context"] == "Sample.Clock" for v in values)


async def test_MV_3_stop_transaction_carries_begin_samples_and_end(station: Any, clock: VirtualClock) -> None:
    wire, sim = await station(
        ocpp_config={"MeterValueSampleInterval": 60, "StopTxnSampledData": "Energy.Active.Import.Register"}
    )
    await sim.plug(1)
    await sim.swipe("TAG-1", 1)
    await clock.advance(120)
    await sim.swipe("TAG-1", 1)
    await clock.advance(0)
    data = wire.calls("StopTransaction")[0]["transactionData"]
    contexts = [d["sampledValue"][0]["context"] for d in data]
    assert contexts == ["Transaction.Begin", "Sample.Periodic", "Sample.Periodic", "Transaction.End"]
    assert [d["sampledValue"][0]["value"] for d in data] == ["0", "368", "736", "736"]


async def test_MV_3_no_transaction_data_when_stop_txn_keys_are_empty(station: Any, clock: VirtualClock) -> None:
    wire, sim = await station(ocpp_config={"MeterValueSampleInterval": 60})
    await sim.plug(1)
    await sim.swipe("TAG-1", 1)
    await clock.advance(120)
    await sim.swipe("TAG-1", 1)
    await clock.advance(0)
    assert "transactionData" not in wire.calls("StopTransaction")[0]


async def test_MV_4_stop_transaction_max_meter_values_keeps_begin_and_end(station: Any, clock: VirtualClock) -> None:
    wire, sim = await station(
        ocpp_config={
            "MeterValueSampleInterval": 10,
            "StopTransactionMaxMeterValues": 5,
            "StopTxnSampledData": "Energy.Active.Import.Register",
        }
    )
    await sim.plug(1)
    await sim.swipe("TAG-1", 1)
    await clock.advance(200)
    await sim.swipe("TAG-1", 1)
    await clock.advance(0)
    data = wire.calls("StopTransaction")[0]["transactionData"]
    assert len(data) <= 5
    assert data[0]["sampledValue"][0]["context"] == "Transaction.Begin"
    assert data[-1]["sampledValue"][0]["context"] == "Transaction.End"


async def test_MV_5_unsupported_measurand_is_rejected(station: Any) -> None:
    wire, _sim = await station()
    frame = '[2,"c","ChangeConfiguration",{"key":"MeterValuesSampledData","value":"RPM"}]'
    assert (await wire.inject(frame))[2] == {"status": "Rejected"}


async def test_C_30_triggered_meter_values_use_context_trigger_and_transaction_id(
    station: Any, clock: VirtualClock
) -> None:
    wire, sim = await station(connectors=2)
    await sim.plug(1)
    await sim.swipe("TAG-1", 1)
    await clock.advance(0)
    answer = await wire.inject('[2,"t","TriggerMessage",{"requestedMessage":"MeterValues"}]')
    await clock.advance(0)
    assert answer[2] == {"status": "Accepted"}
    values = wire.calls("MeterValues")
    assert [(v["connectorId"], v.get("transactionId")) for v in values] == [(1, 1), (2, None)]
    assert values[0]["meterValue"][0]["sampledValue"][0]["context"] == "Trigger"
