"""SIGKILL loses no 2.0.1 TransactionEvent: the kill points of ``test_outbox_crash.py`` on a 2.0.1 station (E01.FR.07,
E04.FR.01 to 03, E12.FR.01, E12.FR.02).

A real ``chargebox simulate --ocpp 2.0.1`` process charges on EVSE 1 (TxUpdatedInterval 1, OfflineTxForUnknownIdEnabled)
and is killed with SIGKILL at one point per case: mid-send (the central system has the event and never answers),
after the answer but before the delete (the station is paused from the CALLRESULT to the kill), between the store
write and the send (offline), and while it drains an offline backlog after reconnecting; then restarted on the same
data dir and left to drain. ``check_record`` states what the central system must have received: per transaction,
every seqNo from 0 once (an event sent again only by a later process, and unchanged: the one in flight), the first
copies in seqNo order, one Ended and last, with PowerLoss where the kill left the transaction open, and ``offline``
on the events journaled while offline.

The suite runs the kill points of ``SUITE``; ``CHARGEBOX_CRASH_ALL=1`` runs every one (docs/reliability.md).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import aiohttp
import pytest

from tests.crash.conftest import TX_EVENT, CrashRig, Received
from tests.crash.test_outbox_crash import (
    TAG,
    canonical,
    go_offline,
    kill_at_nth,
    kill_during_drain,
    post_racing_the_kill,
    restart_and_drain,
    start_online,
)

Scenario = Callable[[CrashRig], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Case:
    scenario: Scenario
    offline_start: bool  # the transaction's Started event was journaled offline (E04.FR.03: ``offline`` true)
    stopped_reason: str  # how the first transaction ends: its journaled reason, or PowerLoss if the kill cut it


# -- driving the station: 1.6's drivers (plug, card, offline, restart) serve; what differs is here --------------


async def events_journaled(rig: CrashRig, count: int) -> None:
    await rig.journaled(TX_EVENT, count)


async def offline_transaction(rig: CrashRig, *, updated: int = 2) -> None:
    """E04: a whole transaction journaled offline: Started, Updated events, Ended (StopAuthorized, Local)."""
    await go_offline(rig)
    await rig.post("connectors/1/plug")
    await rig.post("connectors/1/swipe", {"idTag": TAG})  # C15.FR.08: OfflineTxForUnknownIdEnabled
    await events_journaled(rig, 1 + updated)
    await rig.post("connectors/1/swipe", {"idTag": TAG})  # answered once the Ended event is journaled


def updated_events(rig: CrashRig) -> int:
    return sum(1 for r in rig.csms.received if r.kind == "Updated")


# -- the kill points -----------------------------------------------------------------------------


def kill_at_end(*, after_answer: bool) -> Scenario:
    """Online: the card stops the transaction (StopAuthorized, Local); the kill hits its Ended event."""

    async def scenario(rig: CrashRig) -> None:
        await start_online(rig)
        await rig.wait_until(lambda: updated_events(rig) >= 2, "two Updated events")
        rig.csms.arm("Ended", 1, after_answer=after_answer)
        await post_racing_the_kill(rig, "connectors/1/swipe", {"idTag": TAG})
        await rig.killed_by_rule()
        await restart_and_drain(rig)

    return scenario


async def kill_right_after_start_is_journaled(rig: CrashRig) -> None:
    """Between store write and send: offline, the card returns once the Started event is committed."""
    await go_offline(rig)
    await rig.post("connectors/1/plug")
    await rig.post("connectors/1/swipe", {"idTag": TAG})
    await rig.kill()
    journaled = [p["eventType"] for a, p, _ in rig.snapshots[-1].outbox if a == TX_EVENT]
    assert journaled[:1] == ["Started"], journaled
    await restart_and_drain(rig)


async def kill_offline_with_a_backlog(rig: CrashRig) -> None:
    """Between store write and send: a transaction started online goes on offline; Updated events pile up."""
    await start_online(rig)
    await rig.wait_until(lambda: updated_events(rig) >= 1, "an Updated event online")
    await go_offline(rig)
    await events_journaled(rig, 2)
    await rig.kill()
    await restart_and_drain(rig)


async def kill_twice_during_drain(rig: CrashRig) -> None:
    """Killed while draining, and again while draining what was left after the restart."""
    await offline_transaction(rig, updated=3)
    rig.csms.arm(None, 2)
    with contextlib.suppress(aiohttp.ServerDisconnectedError):
        await rig.post("connection/connect")
    await rig.killed_by_rule()
    rig.csms.arm(None, 2, after_answer=True)
    await rig.spawn(until_accepted=False)  # the drain starts right after the boot, and the kill with it
    await rig.killed_by_rule()
    await restart_and_drain(rig)


CASES: dict[str, Case] = {
    "started-mid-send": Case(kill_at_nth("Started", 1, after_answer=False), False, "PowerLoss"),
    "started-answered-not-deleted": Case(kill_at_nth("Started", 1, after_answer=True), False, "PowerLoss"),
    "updated-mid-send": Case(kill_at_nth("Updated", 2, after_answer=False), False, "PowerLoss"),
    "updated-answered-not-deleted": Case(kill_at_nth("Updated", 1, after_answer=True), False, "PowerLoss"),
    "ended-mid-send": Case(kill_at_end(after_answer=False), False, "Local"),
    "ended-answered-not-deleted": Case(kill_at_end(after_answer=True), False, "Local"),
    "started-journaled-not-sent": Case(kill_right_after_start_is_journaled, True, "PowerLoss"),
    "offline-backlog-not-sent": Case(kill_offline_with_a_backlog, False, "PowerLoss"),
    "drain-1st-mid-send": Case(kill_during_drain(1, offline=offline_transaction), True, "Local"),
    "drain-3rd-mid-send": Case(kill_during_drain(3, offline=offline_transaction), True, "Local"),
    "drain-2nd-answered-not-deleted": Case(
        kill_during_drain(2, after_answer=True, offline=offline_transaction), True, "Local"
    ),
    "drain-ended-mid-send": Case(kill_during_drain(1, action="Ended", offline=offline_transaction), True, "Local"),
    "drain-killed-twice": Case(kill_twice_during_drain, True, "Local"),
}
# One kill point of each kind (mid-send, answered but not deleted, journaled but not sent, during a drain): the
# suite's time is short; CHARGEBOX_CRASH_ALL=1 runs all of them.
SUITE = ("started-answered-not-deleted", "updated-mid-send", "ended-answered-not-deleted",
         "started-journaled-not-sent", "drain-killed-twice")  # fmt: skip
RUN = list(CASES) if os.environ.get("CHARGEBOX_CRASH_ALL") == "1" else list(SUITE)


@pytest.mark.parametrize("name", RUN)
async def test_E04_FR_01_sigkill_loses_no_TransactionEvent(rig201: CrashRig, name: str) -> None:
    case = CASES[name]
    await rig201.spawn()
    await case.scenario(rig201)
    check_record(rig201, case)


# -- what the central system must have received --------------------------------------------------


def transaction_id(record: Received) -> str:
    info = record.payload["transactionInfo"]
    assert isinstance(info, dict)
    return str(info["transactionId"])


def check_record(rig: CrashRig, case: Case) -> None:
    by_transaction = check_events(rig)
    first = by_transaction[transaction_id(rig.csms.of(TX_EVENT)[0])]
    check_offline(first, offline_start=case.offline_start)
    ended = first[-1].payload["transactionInfo"]
    assert isinstance(ended, dict) and ended["stoppedReason"] == case.stopped_reason, ended


def check_events(rig: CrashRig) -> dict[str, list[Received]]:
    """What holds whatever the kills hit (the power-cut campaign's check too): each transaction's events once and
    in order, what was journaled arrived, what a kill left open ended with PowerLoss. The events by transaction."""
    received = rig.csms.of(TX_EVENT)
    assert received, "the central system received no TransactionEvent"
    by_transaction = group_by_transaction(received)
    for copies in by_transaction.values():
        check_transaction(copies)
    check_journal_arrived(rig)
    check_endings(rig, by_transaction)
    return by_transaction


def group_by_transaction(received: list[Received]) -> dict[str, list[Received]]:
    by_transaction: dict[str, list[Received]] = {}
    for record in received:
        by_transaction.setdefault(transaction_id(record), []).append(record)
    return by_transaction


def check_transaction(copies: list[Received]) -> None:
    """E01.FR.07 (seqNo from 0, one more per event), E04.FR.02 (in order), at-least-once with the in-flight event the
    only one sent again, by a later process, unchanged."""
    seen: dict[int, list[Received]] = {}
    firsts: list[int] = []
    for record in copies:
        seq_no = int(str(record.payload["seqNo"]))
        if seq_no not in seen:
            firsts.append(seq_no)
        seen.setdefault(seq_no, []).append(record)
    assert firsts == list(range(len(firsts))), f"seqNo not contiguous from 0 in arrival order: {firsts}"
    for seq_no, same in seen.items():
        assert len({canonical(c.payload) for c in same}) == 1, f"seqNo {seq_no} arrived with different contents"
        lives = [c.life for c in same]
        assert lives == sorted(set(lives)), f"seqNo {seq_no} was sent twice by one station process: {lives}"
    kinds = [seen[s][0].kind for s in firsts]
    assert kinds[0] == "Started" and kinds[-1] == "Ended", kinds
    assert set(kinds[1:-1]) <= {"Updated"}, kinds


def check_journal_arrived(rig: CrashRig) -> None:
    """E04.FR.01: every TransactionEvent in the outbox when the station was killed arrives after the restart."""
    for snapshot in rig.snapshots:
        later = {canonical(r.payload) for r in rig.csms.of(TX_EVENT) if r.life > snapshot.life}
        for action, payload, _ref in snapshot.outbox:
            if action == TX_EVENT:
                assert canonical(payload) in later, f"journaled at kill {snapshot.life + 1}, lost: {payload}"


def check_endings(rig: CrashRig, by_transaction: dict[str, list[Received]]) -> None:
    """Every transaction journaled before a kill arrives ended: PowerLoss (triggerReason AbnormalCondition) when a
    kill left it open, else the reason it was journaled with (never PowerLoss)."""
    rows = [row for snapshot in rig.snapshots for row in snapshot.tx_events]
    cut = {str(row["transaction_id"]) for row in rows if not row["ended"]}
    for transaction in {str(row["transaction_id"]) for row in rows}:
        copies = by_transaction.get(transaction)
        assert copies, f"transaction {transaction} was journaled before a kill and never arrived"
        ended = copies[-1].payload
        info = ended["transactionInfo"]
        assert isinstance(info, dict)
        if transaction in cut:
            assert (info["stoppedReason"], ended["triggerReason"]) == ("PowerLoss", "AbnormalCondition"), ended
        else:
            assert info["stoppedReason"] != "PowerLoss", ended


def check_offline(copies: list[Received], *, offline_start: bool) -> None:
    """E04.FR.03, E12.FR.02: an event journaled while offline says so; one sent online does not."""
    started = copies[0].payload
    assert started.get("offline", False) is offline_start, started
