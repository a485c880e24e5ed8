"""The order invariants of the outbound lane, on the frames the central system received, over many
transactions on two connectors with random start and stop paths (plug or card first, remote start;
card, remote stop, unplug, a Scheduled ChangeAvailability, firmware waiting for the transactions to end),
with a file store and an in-memory one.

While online with no backlog the wire tells the events in the order they happened:
- a StartTransaction goes before every Charging / SuspendedEV / SuspendedEVSE status of its session;
- a StopTransaction goes before the Finishing / Available / Unavailable / Preparing status the stop causes;
- every MeterValues of a transaction lies between its StartTransaction and its StopTransaction.
"""

from __future__ import annotations

import asyncio
import random
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from chargebox.clock import VirtualClock
from chargebox.protocol import messages as m
from chargebox.sim.simulator import Simulator
from chargebox.store import Store
from chargebox.store.schema import FILE_NAME
from tests.wire import Wire

SESSION = {"Charging", "SuspendedEV", "SuspendedEVSE"}
NOT_SESSION = {"Available", "Preparing", "Finishing", "Unavailable", "Reserved"}
STEPS = 70


def check_order(wire: Wire) -> int:
    """Assert the invariants on the wire; returns how many transactions it saw."""
    calls: dict[str, tuple[str, dict[str, Any]]] = {}
    connector_of: dict[int, int] = {}  # transactionId -> connector
    open_on: dict[int, int | None] = {1: None, 2: None}  # connector -> running transactionId
    stopped: set[int] = set()
    for direction, frame in wire.frames:
        if direction == ">" and frame[0] == 2:
            action, payload = frame[2], frame[3]
            calls[frame[1]] = (action, payload)
            if action == "StatusNotification" and payload["connectorId"] in open_on:
                running = open_on[payload["connectorId"]] is not None
                where = f"{payload['status']} of connector {payload['connectorId']} at frame {len(calls)}"
                assert not (payload["status"] in SESSION and not running), f"{where}: before its StartTransaction"
                assert not (payload["status"] in NOT_SESSION and running), f"{where}: before its StopTransaction"
            elif action == "StopTransaction":
                connector = connector_of[payload["transactionId"]]
                assert open_on[connector] == payload["transactionId"]
                open_on[connector] = None
                stopped.add(payload["transactionId"])
            elif action == "MeterValues" and "transactionId" in payload:
                tid = payload["transactionId"]
                assert tid in connector_of and tid not in stopped, f"MeterValues of {tid} outside its transaction"
        elif direction == "<" and frame[0] == 3 and calls.get(frame[1], ("",))[0] == "StartTransaction":
            # One CALL is outstanding at a time (T-20): nothing of the station's lies between a
            # StartTransaction and its answer, so the session is opened here, where its id is known.
            connector, tid = calls[frame[1]][1]["connectorId"], frame[2]["transactionId"]
            assert open_on[connector] is None, (
                f"StartTransaction on connector {connector} while {open_on[connector]} runs"
            )
            connector_of[tid], open_on[connector] = connector, tid
    return len(connector_of)


async def drive(wire: Wire, sim: Simulator, clock: VirtualClock, rng: random.Random) -> None:
    station = wire.station
    lane = station.lane

    async def settle() -> None:
        await wire.until(lambda: not lane._pumping and not lane.backlog())

    inoperative: set[int] = set()
    maintenance = False
    for _ in range(STEPS):
        c = rng.choice((1, 2))
        connector = station.connectors[c]
        session = station.transactions.sessions.get(c)
        card = f"TAG-{c}"
        if session is None:
            choice = rng.choice(["plug", "card", "remote", "wait"] if not connector.plugged else
                                ["card", "remote", "unplug", "wait"])  # fmt: skip
            if choice == "plug":
                await sim.plug(c)
            elif choice == "unplug":
                await sim.unplug(c)
            elif choice == "card":
                await sim.swipe(card, c)
                if not connector.plugged and rng.random() < 0.8:
                    await sim.plug(c)  # the cable follows the card
            elif choice == "remote":
                await wire.csms.call(station.id, m.RemoteStartTransactionRequest(id_tag=card, connector_id=c))
                await settle()
                if not connector.plugged:
                    await sim.plug(c)
        else:
            choice = rng.choice(["card", "remote-stop", "unplug", "availability", "firmware", "wait"])
            if choice == "card":
                await sim.swipe(session.id_tag, c)
            elif choice == "remote-stop" and connector.transaction_id is not None:
                request = m.RemoteStopTransactionRequest(transaction_id=connector.transaction_id)
                await wire.csms.call(station.id, request)
            elif choice == "unplug":
                await sim.unplug(c)
            elif choice == "availability" and c not in inoperative:
                request = m.ChangeAvailabilityRequest(connector_id=c, type=m.AvailabilityType.INOPERATIVE)
                await wire.csms.call(station.id, request)  # C-4: Scheduled until the transaction ends
                inoperative.add(c)
            elif choice == "firmware" and not maintenance:
                station.connectors.set_maintenance(True)  # what the firmware service does while it waits
                maintenance = True
        await settle()
        if rng.random() < 0.3:
            for cid in sorted(inoperative):
                request = m.ChangeAvailabilityRequest(connector_id=cid, type=m.AvailabilityType.OPERATIVE)
                await wire.csms.call(station.id, request)
            inoperative.clear()
            if maintenance:
                station.connectors.set_maintenance(False)
                maintenance = False
        await clock.advance(rng.choice((0, 1, 5, 20, 45)))
        await settle()


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("kind", ["memory", "file"])
async def test_lane_order_invariants_hold_over_random_sessions(
    station: Any, clock: VirtualClock, tmp_path: Path, kind: str, seed: int
) -> None:
    store = Store.open(tmp_path if kind == "file" else None)
    wire, sim = await station(
        connectors=2,
        store=store,
        ocpp_config={"MeterValueSampleInterval": 10, "ClockAlignedDataInterval": 30, "AuthorizeRemoteTxRequests": True},
    )
    await drive(wire, sim, clock, random.Random(seed))
    transactions = check_order(wire)
    assert transactions >= 5, f"seed {seed}: the walk started only {transactions} transactions"
    assert wire.station.lane.pending() == 0


def _hold_the_journal(data_dir: Path) -> sqlite3.Connection:
    """Another writer holds the store's file, as a slow disk would: every commit waits until it lets go."""
    holder = sqlite3.connect(data_dir / FILE_NAME, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    return holder


def _after_stop(wire: Wire, action: str) -> list[dict[str, Any]]:
    actions = [(frame[2], frame[3]) for direction, frame in wire.frames if direction == ">" and frame[0] == 2]
    stop = next(i for i, (name, _) in enumerate(actions) if name == "StopTransaction")
    return [payload for name, payload in actions[stop:] if name == action]


async def test_MV_2_no_clock_aligned_value_of_a_transaction_after_its_stop_transaction(
    station: Any, clock: VirtualClock, tmp_path: Path
) -> None:
    """The clock-aligned round reaches connector 2 while its StopTransaction is being journaled: that
    transaction is over, so no MeterValues of it may follow its StopTransaction (found by the random
    walk above, under load in CI)."""
    wire, sim = await station(connectors=2, store=Store.open(tmp_path),
                              ocpp_config={"ClockAlignedDataInterval": 900, "MeterValueSampleInterval": 0})  # fmt: skip
    for c in (1, 2):
        await sim.plug(c)
        await sim.swipe(f"TAG-{c}", c)
    await wire.until(lambda: all(wire.station.connectors[c].transaction_id is not None for c in (1, 2)))
    await clock.advance(900 - wire.station.clock.now().timestamp() % 900 - 1)
    holder = _hold_the_journal(tmp_path)
    await clock.advance(2)  # the aligned round: connector 1's sample waits for the disk
    unplug = asyncio.ensure_future(sim.unplug(2))
    await wire.until(lambda: wire.station.lane.backlog().count("(being journaled)") == 2)
    holder.rollback()
    await unplug
    await asyncio.wait_for(wire.station.lane.drained(), 10)  # a message left in the journal never drains
    stopped = wire.calls("StopTransaction")[0]["transactionId"]
    assert [p for p in _after_stop(wire, "MeterValues") if p.get("transactionId") == stopped] == []
    assert wire.station.lane.pending() == 0


async def test_MV_1_a_sample_being_journaled_when_its_transaction_stops_goes_before_the_stop(
    station: Any, clock: VirtualClock, tmp_path: Path
) -> None:
    """The periodic sample was taken, and its commit had begun, when the transaction stopped: the store
    commits it all the same, so it is sent in its place, before the StopTransaction, and not found in
    the journal after the next restart, behind everything made since."""
    wire, sim = await station(store=Store.open(tmp_path), ocpp_config={"MeterValueSampleInterval": 60})
    await sim.plug(1)
    await sim.swipe("TAG-1", 1)
    await wire.until(lambda: wire.station.connectors[1].transaction_id is not None)
    holder = _hold_the_journal(tmp_path)
    await clock.advance(60)  # the sample is taken; its commit waits for the disk
    unplug = asyncio.ensure_future(sim.unplug(1))
    await clock.advance(0)
    assert not unplug.done()  # its StopTransaction waits for the disk too
    holder.rollback()
    await unplug
    await asyncio.wait_for(wire.station.lane.drained(), 10)  # a message left in the journal never drains
    actions = wire.sent_actions()
    assert actions[actions.index("StopTransaction") - 1] == "MeterValues"
    assert _after_stop(wire, "MeterValues") == []
    assert wire.station.lane.pending() == 0
