"""The outbox: offline transactions, ordering, retries, power loss (checklist 5.3, X-4, X-12)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from chargebox.clock import VirtualClock
from chargebox.protocol import messages as m
from chargebox.sim.simulator import Simulator
from chargebox.store import Store
from tests.wire import Wire, make_csms, make_station, power_cut_and_restart, statuses


def transaction_frames(wire: Wire) -> list[tuple[str, dict[str, Any]]]:
    return [
        (f[2], f[3])
        for d, f in wire.frames
        if d == ">" and f[0] == 2 and f[2] in ("StartTransaction", "StopTransaction", "MeterValues")
    ]


async def test_Q_5_TC_039_whole_transaction_offline_is_delivered_in_order_after_reconnect(
    station: Any, clock: VirtualClock
) -> None:
    wire, sim = await station(ocpp_config={"MeterValueSampleInterval": 600, "LocalAuthorizeOffline": True})
    wire.station.authorization.learn("TAG-1", m.IdTagInfo(status=m.AuthorizationStatus.ACCEPTED))
    await wire.disconnect()
    await sim.plug(1)
    await sim.swipe("TAG-1", 1)
    await clock.advance(1800)
    await sim.swipe("TAG-1", 1)
    await sim.unplug(1)
    assert wire.station.lane.pending() == 5
    before = len(wire.frames)
    await wire.connect()
    await clock.advance(0)
    after = [(f[2], f[3]) for d, f in wire.frames[before:] if d == ">" and f[0] == 2]
    # S-7: the connector is Available again, as last reported: no status history is replayed
    assert [a for a, _ in after] == ["StartTransaction", "MeterValues", "MeterValues", "MeterValues", "StopTransaction"]
    start = after[0][1]
    assert start["timestamp"] == "2026-01-01T00:00:00Z"  # the original time, not the delivery time
    assert {p["transactionId"] for a, p in after[1:]} == {1}  # the id from the StartTransaction answer
    assert after[-1][1]["meterStop"] == 11040  # 30 minutes at 22 kW
    assert wire.station.lane.pending() == 0


async def test_Q_6_TC_036_connection_loss_during_a_transaction_needs_no_new_boot(
    station: Any, clock: VirtualClock
) -> None:
    wire, sim = await station(ocpp_config={"MeterValueSampleInterval": 60})
    await sim.plug(1)
    await sim.swipe("TAG-1", 1)
    await clock.advance(0)
    await wire.disconnect()
    await clock.advance(300)
    await wire.connect()
    await clock.advance(0)
    assert wire.sent_actions().count("BootNotification") == 1
    values = [p for a, p in transaction_frames(wire) if a == "MeterValues"]
    assert len(values) == 5 and all(p["transactionId"] == 1 for p in values)
    assert [v["meterValue"][0]["timestamp"] for v in values][-1] == "2026-01-01T00:05:00Z"


async def test_Q_2_new_transaction_messages_wait_behind_the_queue(station: Any, clock: VirtualClock) -> None:
    wire, sim = await station(ocpp_config={"AllowOfflineTxForUnknownId": True})
    await wire.disconnect()
    await sim.plug(1)
    await sim.swipe("TAG-1", 1)
    await wire.connect()
    await sim.swipe("TAG-1", 1)
    await clock.advance(0)
    assert [a for a, _ in transaction_frames(wire)] == ["StartTransaction", "StopTransaction"]


async def test_Q_4_call_error_is_retried_after_interval_times_attempt_then_dropped(
    station: Any, clock: VirtualClock
) -> None:
    answers: list[str] = []

    def stop(_request: m.StopTransactionRequest) -> m.StopTransactionResponse:
        answers.append("error")
        raise RuntimeError("CSMS database down")  # the CSMS answers InternalError

    wire, sim = await station(
        {"extra_handlers": {m.Action.STOP_TRANSACTION: stop}},
        ocpp_config={"TransactionMessageAttempts": 3, "TransactionMessageRetryInterval": 60},
    )
    await sim.plug(1)
    await sim.swipe("TAG-1", 1)
    await sim.swipe("TAG-1", 1)
    await clock.advance(0)
    assert len(answers) == 1
    await clock.advance(59)
    assert len(answers) == 1
    await clock.advance(1)
    assert len(answers) == 2
    await clock.advance(119)
    assert len(answers) == 2
    await clock.advance(1)
    assert len(answers) == 3
    assert wire.station.lane.pending() == 0  # dropped after the third failure
    await clock.advance(1000)
    assert len(answers) == 3


async def test_X_4_messages_of_an_undeliverable_start_use_minus_one(station: Any, clock: VirtualClock) -> None:
    def start(_request: m.StartTransactionRequest) -> m.StartTransactionResponse:
        raise RuntimeError("no")

    wire, sim = await station(
        {"extra_handlers": {m.Action.START_TRANSACTION: start}}, ocpp_config={"TransactionMessageAttempts": 1}
    )
    await sim.plug(1)
    await sim.swipe("TAG-1", 1)
    await sim.swipe("TAG-1", 1)
    await clock.advance(0)
    assert wire.calls("StopTransaction")[0]["transactionId"] == -1


async def test_Q_4_timeout_is_not_an_attempt(station: Any, clock: VirtualClock) -> None:
    import asyncio

    release = asyncio.Event()
    calls: list[int] = []

    async def slow(_request: m.StartTransactionRequest) -> m.StartTransactionResponse:
        calls.append(1)
        if len(calls) < 3:
            await release.wait()
        return m.StartTransactionResponse(
            id_tag_info=m.IdTagInfo(status=m.AuthorizationStatus.ACCEPTED), transaction_id=5
        )

    wire, sim = await station(
        {"extra_handlers": {m.Action.START_TRANSACTION: slow}},
        ocpp_config={"TransactionMessageAttempts": 1, "MessageTimeout": 10},
    )
    await sim.plug(1)
    await sim.swipe("TAG-1", 1)
    for _ in range(4):
        await clock.advance(10)
    assert len(calls) == 3 and wire.station.connectors[1].transaction_id == 5


async def test_X_12_TC_032_2_power_loss_is_reported_after_reboot(clock: VirtualClock, tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    first = make_station(clock, store=store, ocpp_config={"MeterValueSampleInterval": 60})
    wire = Wire(first, make_csms(clock), clock)
    await wire.connect()
    sim = Simulator(first)
    await sim.plug(1)
    await sim.swipe("TAG-1", 1)
    for _ in range(10):  # the last persisted sample is at 10 minutes
        await clock.advance(60)
        await store.idle()
    again = await power_cut_and_restart(wire, tmp_path)
    await again.until(lambda: bool(again.calls("StopTransaction")))
    [stop] = again.calls("StopTransaction")
    assert stop["reason"] == "PowerLoss" and stop["transactionId"] == 1 and stop["meterStop"] == 3680
    assert statuses(again, 1) == ["Available"]
    await again.stop()
    again.station.store.close()


async def test_X_15_meter_register_survives_a_restart(clock: VirtualClock, tmp_path: Path) -> None:
    station = make_station(clock, store=Store.open(tmp_path))
    wire = Wire(station, make_csms(clock), clock)
    await wire.connect()
    sim = Simulator(station)
    await sim.plug(1)
    await sim.swipe("TAG-1", 1)
    await clock.advance(3600)
    await sim.swipe("TAG-1", 1)
    await station.store.idle()
    await wire.stop()
    station.reset_all()
    station.store.close()
    again = make_station(clock, store=Store.open(tmp_path))
    assert again.ports.meter.energy_wh(1) == 22080
    again.store.close()


# -- retry pauses and the wall clock (issue 16, item 3) ---------------------------------------------------


async def test_Q_2_a_station_clock_before_1970_does_not_postpone_journaled_messages() -> None:
    before_1970 = datetime(1969, 12, 31, 23, 0, tzinfo=UTC)
    clock = VirtualClock(start=before_1970)  # and a central system that says so too (it is refused, B-4)
    wire = Wire(make_station(clock), make_csms(VirtualClock(start=before_1970)), clock)
    await wire.connect()
    sim = Simulator(wire.station)
    await sim.plug(1)
    await sim.swipe("TAG-1", 1)
    await clock.advance(0)
    assert [a for a, _ in transaction_frames(wire)] == ["StartTransaction"]  # at once, not in an hour
    await wire.stop()


async def test_Q_4_a_retry_pause_cut_by_a_restart_is_not_stretched_by_a_clock_set_back(
    clock: VirtualClock, tmp_path: Path
) -> None:
    answers: list[float] = []

    def stop(_request: m.StopTransactionRequest) -> m.StopTransactionResponse:
        answers.append(clock.monotonic())
        if len(answers) == 1:
            raise RuntimeError("CSMS database down")  # InternalError: the retry waits 60 s
        return m.StopTransactionResponse()

    config = {"TransactionMessageAttempts": 3, "TransactionMessageRetryInterval": 60}
    first = make_station(clock, store=Store.open(tmp_path), ocpp_config=config)
    wire = Wire(first, make_csms(clock, extra_handlers={m.Action.STOP_TRANSACTION: stop}), clock)
    await wire.connect()
    sim = Simulator(first)
    await sim.plug(1)
    await sim.swipe("TAG-1", 1)
    await sim.swipe("TAG-1", 1)
    await wire.until(lambda: len(answers) == 1)
    await first.store.idle()
    await clock.advance(20)
    clock.set_time(clock.now() - timedelta(days=5 * 365))  # a central system's time, years behind
    again = await power_cut_and_restart(wire, tmp_path)
    await again.station.security.journaled()  # the refused time's InvalidMessages event (B-4) is on disk first
    await clock.advance(59)
    assert len(answers) == 1
    await clock.advance(1)  # the whole pause again at most: never the five years the wall clock went back
    assert len(answers) == 2
    await again.until(lambda: again.station.lane.pending() == 0)
    await again.stop()
    again.station.store.close()
