"""SIGKILL loses nothing: the outbox of transaction messages across kills (checklist 5.3 Q-1, Q-2, Q-5, Q-7; X-4; X-12).

A real ``chargebox simulate`` process charges on connector 1 (MeterValueSampleInterval 1) and is killed with SIGKILL
at one point per case: mid-send (the central system has the message and never answers), after the answer but
before the delete (the CALLRESULT is on the socket when the kill comes, and the station's file is write-locked from
the test so the delete cannot commit first), between the store write and the send (the station is offline with a
backlog, or has just journaled a StartTransaction), and while it drains a backlog after reconnecting. It is then
restarted on the same data dir and left to drain. ``check_record`` states what the central system must have
received, whatever the kill hit.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from chargebox.clock import VirtualClock
from chargebox.sim.simulator import Simulator
from chargebox.store import Store
from tests.crash.conftest import TX_ACTIONS, CrashRig, Received
from tests.wire import Wire, make_csms, make_station

TAG = "CRASH-TAG"
Scenario = Callable[[CrashRig], Awaitable[None]]


# -- driving the station -------------------------------------------------------------------------


async def post_racing_the_kill(rig: CrashRig, path: str, body: dict[str, Any] | None = None) -> None:
    """A control request that the kill may cut short (the station dies before it answers)."""
    with contextlib.suppress(aiohttp.ClientError, TimeoutError):
        await rig.post(path, body)


async def start_online(rig: CrashRig) -> None:
    await rig.post("connectors/1/plug")
    await post_racing_the_kill(rig, "connectors/1/swipe", {"idTag": TAG})


async def go_offline(rig: CrashRig) -> None:
    await rig.post("connection/disconnect")
    await rig.wait_state(lambda s: not s["connected"], "the station to go offline")


async def offline_transaction(rig: CrashRig, *, meter_values: int = 2, stop: bool = True) -> None:
    """Q-5, Q-7: a transaction journaled while offline: its StartTransaction, some MeterValues, its StopTransaction."""
    await go_offline(rig)
    await rig.post("connectors/1/plug")
    await rig.post("connectors/1/swipe", {"idTag": TAG})  # AllowOfflineTxForUnknownId
    await rig.journaled("MeterValues", meter_values)
    if stop:
        await rig.post("connectors/1/swipe", {"idTag": TAG})  # answered once the StopTransaction is journaled


async def restart_and_drain(rig: CrashRig) -> None:
    await rig.spawn()
    await rig.drained()


# -- the kill points -----------------------------------------------------------------------------


def kill_at_nth(action: str, nth: int, *, after_answer: bool) -> Scenario:
    """Online: the central system kills the station at the nth message of ``action`` of a running transaction."""

    async def scenario(rig: CrashRig) -> None:
        rig.csms.arm(action, nth, after_answer=after_answer)
        await start_online(rig)
        await rig.killed_by_rule()
        await restart_and_drain(rig)

    return scenario


def kill_at_stop(*, after_answer: bool) -> Scenario:
    """Online: the transaction is stopped by the card (Local); the kill hits its StopTransaction."""

    async def scenario(rig: CrashRig) -> None:
        await start_online(rig)
        await rig.wait_until(lambda: len(rig.csms.of("MeterValues")) >= 2, "two MeterValues")
        rig.csms.arm("StopTransaction", 1, after_answer=after_answer)
        await post_racing_the_kill(rig, "connectors/1/swipe", {"idTag": TAG})
        await rig.killed_by_rule()
        await restart_and_drain(rig)

    return scenario


async def kill_right_after_start_is_journaled(rig: CrashRig) -> None:
    """Between store write and send: offline, the swipe returns once the StartTransaction is committed."""
    await go_offline(rig)
    await rig.post("connectors/1/plug")
    await rig.post("connectors/1/swipe", {"idTag": TAG})
    await rig.kill()
    assert [action for action, _, _ in rig.snapshots[-1].outbox if action in TX_ACTIONS][:1] == ["StartTransaction"]
    await restart_and_drain(rig)


async def kill_offline_with_a_backlog(rig: CrashRig) -> None:
    """Between store write and send: a transaction started online goes on offline; MeterValues pile up."""
    await start_online(rig)
    await rig.wait_until(lambda: len(rig.csms.of("MeterValues")) >= 1, "a MeterValues online")
    await go_offline(rig)
    await rig.journaled("MeterValues", 2)
    await rig.kill()
    await restart_and_drain(rig)


def kill_during_drain(
    nth: int, *, after_answer: bool = False, action: str | None = None, offline: Scenario | None = None
) -> Scenario:
    """A whole transaction journaled offline (``offline``: 1.6's by default); after reconnecting, the nth message of
    the drain kills the station."""

    async def scenario(rig: CrashRig) -> None:
        await (offline or offline_transaction)(rig)
        rig.csms.arm(action, nth, after_answer=after_answer)
        # connect answers once the link is up (up to 2 s): the drain's first message may kill the station sooner
        with contextlib.suppress(aiohttp.ServerDisconnectedError):
            await rig.post("connection/connect")
        await rig.killed_by_rule()
        await restart_and_drain(rig)

    return scenario


async def kill_twice_during_drain(rig: CrashRig) -> None:
    """Killed while draining, and again while draining what was left after the restart."""
    await offline_transaction(rig, meter_values=3)
    rig.csms.arm(None, 2)
    with contextlib.suppress(aiohttp.ServerDisconnectedError):  # as above: the kill may come before the answer
        await rig.post("connection/connect")
    await rig.killed_by_rule()
    rig.csms.arm(None, 2, after_answer=True)
    await rig.spawn(until_accepted=False)  # the drain starts right after the boot, and the kill with it
    await rig.killed_by_rule()
    await restart_and_drain(rig)


SCENARIOS: dict[str, Scenario] = {
    "start-mid-send": kill_at_nth("StartTransaction", 1, after_answer=False),
    "start-answered-not-deleted": kill_at_nth("StartTransaction", 1, after_answer=True),
    "meter-values-mid-send": kill_at_nth("MeterValues", 2, after_answer=False),
    "meter-values-answered-not-deleted": kill_at_nth("MeterValues", 1, after_answer=True),
    "stop-mid-send": kill_at_stop(after_answer=False),
    "stop-answered-not-deleted": kill_at_stop(after_answer=True),
    "start-journaled-not-sent": kill_right_after_start_is_journaled,
    "offline-backlog-not-sent": kill_offline_with_a_backlog,
    "drain-1st-mid-send": kill_during_drain(1),
    "drain-3rd-mid-send": kill_during_drain(3),
    "drain-2nd-answered-not-deleted": kill_during_drain(2, after_answer=True),
    "drain-stop-mid-send": kill_during_drain(1, action="StopTransaction"),
    "drain-killed-twice": kill_twice_during_drain,
}


@pytest.mark.parametrize("scenario", list(SCENARIOS))
async def test_Q_1_X_12_sigkill_loses_no_transaction_message(rig: CrashRig, scenario: str) -> None:
    await rig.spawn()
    await SCENARIOS[scenario](rig)
    check_record(rig)


async def test_X_15_register_after_a_power_loss_continues_from_the_power_loss_meter_stop(rig: CrashRig) -> None:
    """A transaction cut by SIGKILL ends with PowerLoss at its last persisted register; the next transaction on
    that connector must not start below it (X-15: the register is monotonic, never reset)."""
    await rig.spawn()
    await start_online(rig)
    await rig.wait_until(lambda: len(rig.csms.of("MeterValues")) >= 2, "two MeterValues")
    await rig.kill()
    await restart_and_drain(rig)
    await start_online(rig)
    await rig.wait_until(lambda: len(rig.csms.of("StartTransaction")) >= 2, "the second StartTransaction")
    first_stop = rig.csms.of("StopTransaction")[0].payload
    second_start = rig.csms.of("StartTransaction")[-1].payload
    assert first_stop["reason"] == "PowerLoss" and first_stop["meterStop"] > 0
    assert second_start["meterStart"] >= first_stop["meterStop"], (
        f"meterStart {second_start['meterStart']} of the next transaction is below the meterStop "
        f"{first_stop['meterStop']} the central system was told at the power loss"
    )


# -- what the central system must have received --------------------------------------------------


def check_record(rig: CrashRig) -> None:
    received = rig.csms.received
    assert received, "the central system received no transaction message"
    messages = distinct_messages(received)
    check_duplicates(messages)
    check_chronological(received)
    transactions = group_by_transaction(received)
    for start_key, copies in transactions.items():
        check_transaction(start_key, copies)
    check_journal_arrived(rig)
    check_power_loss(rig, transactions)


def message_key(record: Received) -> tuple[str, int, datetime]:
    """The identity of a message: its action, connector and own timestamp (one sample per second and connector)."""
    return record.action, int(record.payload["connectorId"]) if "connectorId" in record.payload else 0, when(record)


def when(record: Received) -> datetime:
    return datetime.fromisoformat(record.timestamp)


def canonical(payload: dict[str, Any]) -> str:
    return json.dumps(payload, sort_keys=True)


def distinct_messages(received: list[Received]) -> dict[tuple[str, int, datetime], list[Received]]:
    messages: dict[tuple[str, int, datetime], list[Received]] = {}
    for record in received:
        messages.setdefault(message_key(record), []).append(record)
    return messages


def check_duplicates(messages: dict[tuple[str, int, datetime], list[Received]]) -> None:
    """At-least-once: a message arrives again only after a kill (from a later station process), and unchanged."""
    for key, copies in messages.items():
        assert len({canonical(c.payload) for c in copies}) == 1, f"{key} arrived with different contents: {copies}"
        lives = [c.life for c in copies]
        assert lives == sorted(set(lives)), f"{key} was sent twice by one station process: {copies}"


def check_chronological(received: list[Received]) -> None:
    """Q-2: the first copy of each message arrives in the order the messages were journaled (their own time)."""
    seen: set[tuple[str, int, datetime]] = set()
    firsts: list[Received] = []
    for record in received:
        if message_key(record) not in seen:
            seen.add(message_key(record))
            firsts.append(record)
    times = [when(r) for r in firsts]
    assert times == sorted(times), [(r.action, r.timestamp) for r in firsts]


def group_by_transaction(received: list[Received]) -> dict[str, list[Received]]:
    """Each transaction's messages in arrival order, keyed by its StartTransaction payload.

    X-4, Q-5: a MeterValues or StopTransaction belongs to the transaction whose StartTransaction answer gave its
    transactionId. The only acceptable id is the one in the *last* answer the central system gave to that
    StartTransaction: the station sends a StartTransaction again until it has persisted an answer (a kill after the
    answer but before the commit loses that answer, so the central system sees it twice and answers both), and never
    after, so the last answer is the one it persisted. An id from an earlier answer, the placeholder 0, the
    station's local reference or -1 (X-4, undeliverable) all fail here.
    """
    starts: dict[str, list[Received]] = {}
    for record in received:
        if record.action == "StartTransaction":
            starts.setdefault(canonical(record.payload), []).append(record)
    final_ids: dict[int, str] = {}
    for key, copies in starts.items():
        last = copies[-1]
        assert last.answered and last.answer is not None, f"the last StartTransaction was never answered: {last}"
        final_ids[last.answer] = key
    transactions: dict[str, list[Received]] = {key: [] for key in starts}
    for record in received:
        if record.action == "StartTransaction":
            transactions[canonical(record.payload)].append(record)
            continue
        transaction_id = record.payload.get("transactionId")
        assert transaction_id in final_ids, (
            f"{record.action} at {record.timestamp} carries transactionId {transaction_id}; the persisted "
            f"StartTransaction answers were {sorted(final_ids)} (all answers: "
            f"{[r.answer for r in received if r.action == 'StartTransaction']})"
        )
        transactions[final_ids[transaction_id]].append(record)
    return transactions


def check_transaction(start_key: str, copies: list[Received]) -> None:
    actions = [c.action for c in copies]
    starts = actions.count("StartTransaction")
    assert actions[:starts] == ["StartTransaction"] * starts, f"Q-5: StartTransaction first: {actions}"
    assert "StopTransaction" in actions, f"X-12: the transaction was never ended: {start_key}"
    first_stop = actions.index("StopTransaction")
    assert set(actions[first_stop:]) == {"StopTransaction"}, f"Q-5: StopTransaction last: {actions}"
    start = copies[0].payload
    values = [c for c in copies if c.action == "MeterValues"]
    times = [when(c) for c in values]
    assert times == sorted(times), f"Q-2: MeterValues out of time order: {[c.timestamp for c in values]}"
    stops = {canonical(c.payload) for c in copies if c.action == "StopTransaction"}
    assert len(stops) == 1, f"one StopTransaction per transaction: {stops}"
    stop = copies[-1].payload
    assert all(datetime.fromisoformat(start["timestamp"]) <= t <= datetime.fromisoformat(stop["timestamp"])
               for t in times)  # fmt: skip
    registers = [register(c.payload["meterValue"][0]) for c in values]
    assert registers == sorted(registers), f"X-15: the register went down: {registers}"
    # meterStart <= every register reading sent <= meterStop. A kill between a sample's MeterValues commit and
    # its register commit breaks the right-hand side (see the in-process test at the end of this file).
    assert all(start["meterStart"] <= r for r in registers), (start, registers)
    assert all(r <= stop["meterStop"] for r in registers), (
        f"meterStop {stop['meterStop']} ({stop.get('reason')}) is below register readings already sent: {registers}"
    )
    # MV-3: every periodic sample the station kept for StopTransaction was also queued as MeterValues first
    kept = [v for v in stop.get("transactionData", []) if v["sampledValue"][0].get("context") == "Sample.Periodic"]
    sent = {when(c) for c in values}
    missing = [v["timestamp"] for v in kept if datetime.fromisoformat(v["timestamp"]) not in sent]
    assert not missing, f"Q-1: samples kept for StopTransaction never arrived as MeterValues: {missing}"


def register(meter_value: dict[str, Any]) -> int:
    [value] = [v for v in meter_value["sampledValue"] if v.get("measurand", "Energy.Active.Import.Register")
               == "Energy.Active.Import.Register"]  # fmt: skip
    return int(value["value"])


def without_transaction_id(payload: dict[str, Any]) -> str:
    return canonical({k: v for k, v in payload.items() if k != "transactionId"})


def check_journal_arrived(rig: CrashRig) -> None:
    """Q-1: whatever transaction message was in the outbox when the station was killed arrives after the restart.

    The journal holds MeterValues and StopTransaction with transactionId 0 (filled in when sent, Q-5), so they are
    compared without it; the id itself is checked by ``group_by_transaction``. The security events journaled beside
    them (StartupOfTheDevice at every start, Q-8) have their own crash test, ``tests/security``.
    """
    for snapshot in rig.snapshots:
        later = {(r.action, without_transaction_id(r.payload)) for r in rig.csms.received if r.life > snapshot.life}
        for action, payload, _ref in (entry for entry in snapshot.outbox if entry[0] in TX_ACTIONS):
            assert (action, without_transaction_id(payload)) in later, (
                f"{action} journaled before kill #{snapshot.life + 1} never arrived after it: {payload}"
            )


def check_power_loss(rig: CrashRig, transactions: dict[str, list[Received]]) -> None:
    """X-12 (TC_032_2): a transaction the kill left open ends with reason PowerLoss; one already stopped keeps its
    journaled reason. Transactions are matched by connector and start time."""
    stop_of: dict[tuple[int, datetime], dict[str, Any]] = {}
    for copies in transactions.values():
        start, stop = copies[0].payload, copies[-1].payload
        stop_of[(start["connectorId"], datetime.fromisoformat(start["timestamp"]))] = stop
    for snapshot in rig.snapshots:
        for row in snapshot.transactions:
            key = (row["connector_id"], datetime.fromisoformat(row["started_at"]))
            assert key in stop_of, f"transaction {row} was journaled before a kill and never arrived"
            expected = "PowerLoss" if row["stopped_at"] is None else row["stop_reason"]
            assert stop_of[key].get("reason") == expected, (key, stop_of[key], row)


async def test_X_15_power_loss_right_after_a_sample_is_queued(tmp_path: Path) -> None:
    """The kill point the SIGKILL cases above hit most of the time, pinned in-process so that it is hit every time.

    The power goes right after the commit that queues a periodic MeterValues: nothing written after that commit
    reaches the store. Whatever that commit held is what a restart continues from; the central system must never
    be told a meterStop (X-12, PowerLoss) below a register reading of the same transaction it has been, or will be,
    given (X-15: monotonic). So the register the reading came from must be durable no later than the reading.
    """
    clock = VirtualClock()
    store = Store.open(tmp_path)
    station = make_station(clock, store=store, ocpp_config={"MeterValueSampleInterval": 60})
    wire = Wire(station, make_csms(clock), clock)
    await wire.connect()
    sim = Simulator(station)
    await sim.plug(1)
    await sim.swipe("TAG-1", 1)
    await settle(clock, store)
    power_gone = asyncio.Event()
    write = store.write

    async def write_until_the_power_goes(op: Callable[[sqlite3.Connection], Any]) -> Any:
        if power_gone.is_set():
            await asyncio.Event().wait()  # never committed
        result = await write(op)
        if store.query("SELECT COUNT(*) FROM outbox WHERE action = 'MeterValues'")[0][0]:
            power_gone.set()
        return result

    store.write = write_until_the_power_goes  # type: ignore[method-assign]
    await clock.advance(60)
    await settle(clock, store)
    assert power_gone.is_set()
    await wire.stop()
    station.reset_all()
    store.close()

    again = make_station(clock, store=Store.open(tmp_path))
    await again.transactions.recover()
    restarted = Wire(again, wire.csms, clock)
    await restarted.connect()
    await settle(clock, again.store)
    values = wire.calls("MeterValues") + restarted.calls("MeterValues")  # sent before the power went, or after
    [stop] = restarted.calls("StopTransaction")
    await restarted.stop()
    again.store.close()
    [reading] = {register(value["meterValue"][0]) for value in values}
    assert reading == 368  # one minute at 22,080 W
    assert stop["reason"] == "PowerLoss"
    assert stop["meterStop"] >= reading, (
        f"StopTransaction meterStop {stop['meterStop']} is below the register {reading} already sent in MeterValues"
    )


async def settle(clock: VirtualClock, store: Store) -> None:
    """Let the virtual clock's woken tasks run until no group commit is under way."""
    while True:
        commits = store.commits
        await clock.advance(0)
        await store.idle()
        if store.commits == commits:
            return
