"""The outbound lane: the wire tells events in the order they happened, an answer acts before the
next frame is handled, and nothing blocks the queue (design.md, "The outbound lane")."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest

from chargebox.clock import VirtualClock
from chargebox.protocol import messages as m
from chargebox.station.kernel.lane import MAX_VOLATILE
from chargebox.store import Store
from tests.wire import Wire, statuses

SESSION = {"Charging", "SuspendedEV", "SuspendedEVSE"}


def stores(tmp_path: Path) -> dict[str, Store]:
    return {"memory": Store.open(None), "file": Store.open(tmp_path)}


def sent(wire: Wire) -> list[tuple[str, dict[str, Any]]]:
    """(action, payload) of every CALL the station sent, in wire order."""
    return [(f[2], f[3]) for d, f in wire.frames if d == ">" and f[0] == 2]


def wire_order(wire: Wire, connector_id: int) -> list[str]:
    """The transaction messages and statuses of one connector, as the central system read them."""
    order = []
    for action, payload in sent(wire):
        if payload.get("connectorId") == connector_id and action == "StatusNotification":
            order.append(payload["status"])
        elif action == "StartTransaction" and payload["connectorId"] == connector_id:
            order.append("Start")
        elif action == "StopTransaction":
            order.append("Stop")
    return order


async def charging(wire: Wire, sim: Any) -> None:
    """Plug, card, and wait until the StartTransaction is answered."""
    await sim.plug(1)
    await sim.swipe("TAG-1", 1)
    await wire.until(lambda: wire.station.connectors[1].transaction_id is not None)


@pytest.mark.parametrize("kind", ["memory", "file"])
async def test_lane_start_transaction_goes_before_the_charging_status(
    station: Any, clock: VirtualClock, tmp_path: Path, kind: str
) -> None:
    wire, sim = await station(store=stores(tmp_path)[kind])
    await sim.plug(1)
    await sim.swipe("TAG-1", 1)
    await wire.until(lambda: "Charging" in statuses(wire, 1) and wire.station.lane.pending() == 0)
    assert wire_order(wire, 1) == ["Available", "Preparing", "Start", "Charging"]


@pytest.mark.parametrize("kind", ["memory", "file"])
async def test_lane_stop_transaction_goes_before_the_status_the_stop_causes(
    station: Any, clock: VirtualClock, tmp_path: Path, kind: str
) -> None:
    wire, sim = await station(store=stores(tmp_path)[kind])
    await charging(wire, sim)
    await sim.swipe("TAG-1", 1)
    await sim.unplug(1)
    await wire.until(lambda: statuses(wire, 1)[-1] == "Available" and wire.station.lane.pending() == 0)
    assert wire_order(wire, 1)[-3:] == ["Stop", "Finishing", "Available"]


async def test_lane_stop_goes_before_unavailable_of_a_scheduled_change_availability(
    station: Any, clock: VirtualClock, tmp_path: Path
) -> None:
    wire, sim = await station(store=Store.open(tmp_path))
    await charging(wire, sim)
    change = m.ChangeAvailabilityRequest(connector_id=1, type=m.AvailabilityType.INOPERATIVE)
    answer = await wire.csms.call(wire.station.id, change)
    assert answer.response.status is m.AvailabilityStatus.SCHEDULED  # C-4
    await sim.unplug(1)  # the EV leaves, the transaction stops, the connector goes Unavailable
    await wire.until(lambda: statuses(wire, 1)[-1] == "Unavailable" and wire.station.lane.pending() == 0)
    assert wire_order(wire, 1)[-2:] == ["Stop", "Unavailable"]


async def test_C_21_remote_stop_in_the_frame_right_after_start_conf_is_accepted(
    station: Any, clock: VirtualClock, tmp_path: Path
) -> None:
    wire, sim = await station(store=Store.open(tmp_path))
    await sim.plug(1)
    wire.hold_answer_to("StartTransaction")
    await sim.swipe("TAG-1", 1)
    await wire.until(wire.holding)
    stop = asyncio.ensure_future(wire.csms.call(wire.station.id, m.RemoteStopTransactionRequest(transaction_id=1)))
    await wire.until(lambda: any(f[0] == 2 and f[2] == "RemoteStopTransaction" for d, f in wire.frames if d == "<"))
    await wire.release()  # StartTransaction.conf, then at once RemoteStopTransaction
    await wire.until(stop.done)
    answer = stop.result()
    assert answer.response.status is m.RemoteStartStopStatus.ACCEPTED
    await wire.until(lambda: len(wire.calls("StopTransaction")) == 1)
    [stopped] = wire.calls("StopTransaction")
    assert stopped["reason"] == "Remote" and stopped["transactionId"] == 1


async def test_X_6_card_of_the_group_right_after_start_conf_stops_the_transaction(
    station: Any, clock: VirtualClock, tmp_path: Path
) -> None:
    """The parentIdTag comes with StartTransaction.conf (the first card was unknown to the cache)."""
    group = m.IdTagInfo(status=m.AuthorizationStatus.ACCEPTED, parent_id_tag="FLEET")
    counter = iter(range(1, 100))

    def start(_request: m.StartTransactionRequest) -> m.StartTransactionResponse:
        return m.StartTransactionResponse(transaction_id=next(counter), id_tag_info=group)

    def authorize(request: m.AuthorizeRequest) -> m.AuthorizeResponse:
        info = group if request.id_tag == "TAG-2" else m.IdTagInfo(status=m.AuthorizationStatus.ACCEPTED)
        return m.AuthorizeResponse(id_tag_info=info)

    handlers = {m.Action.START_TRANSACTION: start, m.Action.AUTHORIZE: authorize}
    wire, sim = await station({"extra_handlers": handlers}, store=Store.open(tmp_path))
    await sim.plug(1)
    wire.hold_answer_to("StartTransaction")
    await sim.swipe("TAG-1", 1)
    await wire.until(wire.holding)
    await wire.release()
    swipe = asyncio.ensure_future(sim.swipe("TAG-2", 1))  # the same moment: nothing else ran yet
    await wire.until(lambda: len(wire.calls("StopTransaction")) == 1)
    await swipe
    [stopped] = wire.calls("StopTransaction")
    assert stopped["reason"] == "Local" and stopped["idTag"] == "TAG-2"


async def test_G_1_an_id_tag_over_20_characters_is_an_unknown_card(
    station: Any, clock: VirtualClock, caplog: pytest.LogCaptureFixture
) -> None:
    wire, sim = await station()
    await sim.plug(1)
    await sim.swipe("X" * 24, 1)
    await clock.advance(0)
    assert wire.calls("Authorize") == [] and wire.calls("StartTransaction") == []
    assert wire.station.lane.pending() == 0 and wire.station.store.transactions.open_transactions() == []
    assert "an OCPP 1.6 idToken is 1 to 20 printable ASCII characters" in caplog.text


async def test_Q_4_a_message_out_of_attempts_goes_to_the_dead_letters_and_the_next_follows(
    station: Any, clock: VirtualClock
) -> None:
    def stop(_request: m.StopTransactionRequest) -> m.StopTransactionResponse:
        raise RuntimeError("CSMS database down")  # the CSMS answers InternalError

    wire, sim = await station(
        {"extra_handlers": {m.Action.STOP_TRANSACTION: stop}},
        ocpp_config={"TransactionMessageAttempts": 1},
    )
    await sim.plug(1)
    await sim.swipe("TAG-1", 1)
    await sim.swipe("TAG-1", 1)
    await clock.advance(0)
    assert wire.station.lane.pending() == 0
    [letter] = wire.station.store.dead_letters.all()
    assert letter.action == "StopTransaction" and b'"reason":"Local"' in letter.payload
    assert wire.station.snapshot()["deadLetters"] == 1
    await sim.unplug(1)
    await sim.plug(1)
    await sim.swipe("TAG-1", 1)
    await clock.advance(0)
    assert len(wire.calls("StartTransaction")) == 2  # delivery went on


@pytest.mark.parametrize("failure", ["applying it raises", "the store cannot hold what it taught"])
async def test_Q_4_an_answer_that_cannot_be_applied_is_a_failed_attempt_then_a_dead_letter(
    station: Any, clock: VirtualClock, monkeypatch: pytest.MonkeyPatch, failure: str
) -> None:
    """Whatever keeps an answer from being applied, the message is not counted delivered (what the answer taught
    would be lost) nor sent again at once (a resend storm that blocks the lane): it is a failed attempt (Q-4)."""
    wire, sim = await station(ocpp_config={"TransactionMessageAttempts": 2, "TransactionMessageRetryInterval": 10})
    lane = wire.station.lane

    def unusable(_item: Any, _request: Any, _response: Any) -> Any:
        if failure == "applying it raises":
            raise ValueError("no such transactionId")
        return lambda db: db.execute("SELECT ?", (2**63,))  # OverflowError when the delete commits

    monkeypatch.setitem(lane.on_answer, m.Action.START_TRANSACTION, unusable)
    await sim.plug(1)
    await sim.swipe("TAG-1", 1)
    await sim.swipe("TAG-1", 1)
    await clock.advance(9)
    assert len(wire.calls("StartTransaction")) == 1 and wire.calls("StopTransaction") == []
    await clock.advance(1)
    assert len(wire.calls("StartTransaction")) == 2  # TransactionMessageAttempts
    [letter] = wire.station.store.dead_letters.all()
    assert letter.action == "StartTransaction"
    assert [p["transactionId"] for p in wire.calls("StopTransaction")] == [-1]  # delivery went on
    assert lane.pending() == 0


async def test_a_journaled_entry_that_no_longer_validates_is_set_aside(
    wired: Any, clock: VirtualClock, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """An older version's shape (here a 24-character idTag) never blocks the lane, after any restart."""
    store = Store.open(tmp_path)
    bad = b'{"connectorId":1,"idTag":"' + b"X" * 24 + b'","meterStart":0,"timestamp":"2026-01-01T00:00:00Z"}'
    await store.outbox.append("StartTransaction", bad, None)
    good = b'{"connectorId":1,"meterValue":[{"timestamp":"2026-01-01T00:00:00Z","sampledValue":[{"value":"1"}]}]}'
    await store.outbox.append("MeterValues", good, None)
    wire = wired(store=store)
    await wire.connect()
    await wire.until(lambda: wire.station.lane.pending() == 0)
    assert wire.sent_actions().count("StartTransaction") == 0
    assert len(wire.calls("MeterValues")) == 1
    [letter] = store.dead_letters.all()
    assert letter.payload == bad and "cannot be sent" in letter.reason
    assert "moved to the dead letters" in caplog.text
    state = wire.station.diagnostics_state()
    assert state["deadLetters"][0]["action"] == "StartTransaction"


async def test_the_lane_goes_on_after_an_unexpected_error(
    station: Any, clock: VirtualClock, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    wire, sim = await station()
    outbox = wire.station.store.outbox
    real_get = outbox.get
    failures = iter([RuntimeError("disk hiccup")])

    def flaky_get(seq: int) -> Any:
        failure = next(failures, None)
        if failure is not None:
            raise failure
        return real_get(seq)

    monkeypatch.setattr(outbox, "get", flaky_get)
    await sim.plug(1)
    await sim.swipe("TAG-1", 1)
    await clock.advance(0)
    assert wire.calls("StartTransaction") == []
    records = [r for r in caplog.records if r.levelno == logging.ERROR and "outbound lane" in r.getMessage()]
    assert records and records[0].exc_info is not None  # logged with its traceback
    await clock.advance(1)
    assert len(wire.calls("StartTransaction")) == 1


async def test_a_failed_sampler_is_logged_and_started_again(
    station: Any, clock: VirtualClock, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    wire, sim = await station(ocpp_config={"MeterValueSampleInterval": 10})
    await sim.plug(1)
    await sim.swipe("TAG-1", 1)
    await clock.advance(0)
    metering = wire.station.metering
    real_record = metering._record
    calls = {"n": 0}

    async def flaky_record(*args: Any, **kwargs: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("meter bus glitch")
        await real_record(*args, **kwargs)

    monkeypatch.setattr(metering, "_record", flaky_record)
    await clock.advance(10)
    assert "sampling connector 1 failed" in caplog.text
    await clock.advance(12)
    assert len(wire.calls("MeterValues")) >= 1


async def test_a_trigger_flood_while_the_central_system_is_silent_stays_bounded(
    station: Any, clock: VirtualClock, caplog: pytest.LogCaptureFixture
) -> None:
    """Volatile messages past MAX_VOLATILE are coalesced or dropped; transaction messages never are."""
    silent = asyncio.Event()

    async def heartbeat(_request: m.HeartbeatRequest) -> m.HeartbeatResponse:
        await silent.wait()  # the central system stops answering
        return m.HeartbeatResponse(current_time=clock.now())

    wire, sim = await station({"extra_handlers": {m.Action.HEARTBEAT: heartbeat}})
    lane = wire.station.lane
    await wire.inject('[2,"h","TriggerMessage",{"requestedMessage":"Heartbeat"}]')
    for n in range(3 * MAX_VOLATILE):
        kind = ("StatusNotification", "Heartbeat", "MeterValues")[n % 3]
        await wire.inject(f'[2,"t{n}","TriggerMessage",{{"requestedMessage":"{kind}","connectorId":1}}]')
        await clock.advance(0.01)  # each MeterValues its own: they cannot share one answer
    assert len(lane.backlog()) <= MAX_VOLATILE
    assert caplog.text.count("messages wait for the central system") == 1
    await sim.plug(1)
    await sim.swipe("TAG-1", 1)  # the Authorize is dropped too: offline rules decide
    silent.set()
    await clock.advance(60)
    assert lane.backlog() == []
    assert wire.calls("StatusNotification")[-1]["connectorId"] == 1


async def test_the_lane_keeps_no_trace_of_delivered_messages(station: Any, clock: VirtualClock) -> None:
    """A long session of samples with nothing else to send leaves the lane's bookkeeping empty."""
    wire, sim = await station(ocpp_config={"MeterValueSampleInterval": 1, "HeartbeatInterval": 0})
    await charging(wire, sim)
    for _ in range(300):
        await clock.advance(1)
    assert len(wire.calls("MeterValues")) >= 299
    lane = wire.station.lane
    assert lane.backlog() == [] and len(lane._barriers) <= 1


async def test_a_failed_heartbeat_task_is_logged_and_started_again(
    station: Any, clock: VirtualClock, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    wire, _sim = await station({"heartbeat_interval": 10})
    boot = wire.station.boot
    real = boot.send_heartbeat
    failures = iter([RuntimeError("a bug in a heartbeat")])

    async def flaky() -> Any:
        failure = next(failures, None)
        if failure is not None:
            raise failure
        return await real()

    monkeypatch.setattr(boot, "send_heartbeat", flaky)
    await clock.advance(10)
    assert wire.calls("Heartbeat") == []
    assert any(r.exc_info and "heartbeat failed" in r.getMessage() for r in caplog.records)
    await clock.advance(12)
    assert len(wire.calls("Heartbeat")) >= 1
