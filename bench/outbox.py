"""The journal of the outbound lane: what a transaction message costs, and how fast an offline backlog drains.

One chargebox station per fresh process, against the shared raw central system, with a transaction
started the way a driver starts one (plug, swipe, StartTransaction answered). Then, on the same
station:

- ``rpc.call`` of a MeterValues with the transaction's id: the plain round trip, for reference;
- the same MeterValues through the lane, one at a time: ``lane.append`` (validated, journaled in the
  outbox table in one group commit), then the lane sends it, awaits the CALLRESULT and deletes it
  (another group commit); the next message is appended once the previous one's delete is committed;
- the offline backlog: ``transport.disconnect()``, ``backlog`` appends made together through
  ``lane.journal`` (they share group commits), ``transport.connect()``, and the time until the last
  one is delivered and deleted.

The store is a file (``Store.open(tmp_dir)``: WAL, ``synchronous=FULL``, a writer thread that
group-commits) or, for comparison, ``Store.open(None)`` (in memory: every write commits at once on the
event loop, no fsync). Station CPU is ``time.process_time()`` of the process, the writer thread included.
Delivery is observed through the lane's own ``on_answer`` hook, which runs as the answer arrives, and
``store.idle()`` for the delete's commit, so no polling adds CPU.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from bench.common import HOST, median, meter_values_factory, quiet_logging

# "file-nosync" is a diagnostic: the file store with ``synchronous=NORMAL`` on its writer connection, so a
# WAL commit does not wait for fsync; the same code path otherwise, which isolates the fsync's share.
STORES: Final = ("file", "file-nosync", "memory")
ID_TAG: Final = "BENCH-TAG"


@dataclass(frozen=True, slots=True)
class PerMessage:
    case: str  # "rpc.call", "outbox" or "write-noop" (``Store.write`` of an op that writes nothing)
    cpu_us: float  # median block: station-process CPU per message
    wall_us: float  # median block: wall time per message
    journal_wall_us: float  # median block: wall time of the append (its commit) per message; 0 for rpc.call
    cpu_us_spread: tuple[float, float]
    commits_per_message: float
    messages: int


@dataclass(frozen=True, slots=True)
class Backlog:
    messages: int
    journal_s: float  # wall time of the concurrent appends
    journal_cpu_s: float
    journal_commits: int
    drain_s: float  # from transport.connect() until the last message is deleted
    drain_cpu_s: float
    drain_commits: int
    reconnect_s: float  # from transport.connect() until the first message is delivered


@dataclass(frozen=True, slots=True)
class OutboxResult:
    store: str
    per_message: list[PerMessage] = field(default_factory=list)
    backlog: Backlog | None = None
    # A bare SQLite commit of one outbox-sized insert on the same disk, same pragmas, inline (no chargebox):
    # (wall µs, CPU µs) per commit, taken before and after the station's measurements, as the disk is now.
    bare_commits: list[tuple[float, float]] = field(default_factory=list)


def outbox_worker(store: str, port: int, warmup: int, blocks: int, per_block: int, backlog: int) -> OutboxResult:
    """Body of an outbox process: one station, one transaction, every outbox measurement."""
    quiet_logging()
    data_dir = Path(tempfile.mkdtemp(prefix="chargebox-bench-")) if store != "memory" else None
    try:
        return asyncio.run(_measure(store, data_dir, port, warmup, blocks, per_block, backlog))
    finally:
        if data_dir is not None:
            shutil.rmtree(data_dir, ignore_errors=True)


class Delivered:
    """Counts MeterValues the outbox has delivered and deleted; wakes a waiter at a target count."""

    def __init__(self) -> None:
        self.count = 0
        self.first_at = 0.0
        self._target = 0
        self._event = asyncio.Event()

    def hook(self, _item: Any, _request: Any, _response: Any) -> None:
        """``Lane.on_answer``: counts the answer the moment it arrives (no op for the delete's commit)."""
        self.count += 1
        if self.count == 1:
            self.first_at = time.perf_counter()
        if self.count >= self._target:
            self._event.set()

    async def until(self, target: int, timeout: float) -> None:
        self._target = target
        if self.count < target:
            self._event.clear()
            await asyncio.wait_for(self._event.wait(), timeout)


async def _measure(
    store_kind: str, data_dir: Path | None, port: int, warmup: int, blocks: int, per_block: int, backlog: int
) -> OutboxResult:
    from bench.roundtrip import wait_until_idle
    from chargebox.protocol.messages import Action
    from chargebox.sim.simulator import Simulator, simulated_station
    from chargebox.station.station import StationSettings
    from chargebox.store import Store

    # No periodic or clock-aligned samples of the station's own: only the bench's messages are queued.
    settings = StationSettings(
        charge_point_id=f"OUTBOX-{store_kind}",
        csms_url=f"ws://{HOST}:{port}",
        connectors=1,
        ocpp_config={"MeterValueSampleInterval": 0, "ClockAlignedDataInterval": 0},
    )
    bare = [_bare_commit(data_dir, store_kind)] if data_dir is not None else []
    store = Store.open(data_dir)
    if store_kind == "file-nosync":
        store.backend._writer_db.execute("PRAGMA synchronous=NORMAL")  # the group-commit writer's own connection
    station = simulated_station(settings, store=store)
    runner = asyncio.ensure_future(station.run())
    try:
        await wait_until_idle(station, runner, timeout=20)
        sim = Simulator(station)
        await sim.plug(1)
        await sim.swipe(ID_TAG, 1)
        connector = station.connectors[1]
        await _until(lambda: connector.transaction_id is not None and station.lane.pending() == 0, 20)
        await asyncio.sleep(0.1)  # the Charging StatusNotification and the Transaction.Begin sample settle
        ref, transaction_id = connector.transaction_ref, connector.transaction_id
        assert ref is not None and transaction_id is not None
        delivered = Delivered()
        station.lane.on_answer[Action.METER_VALUES] = delivered.hook
        build = meter_values_factory(transaction_id)
        lane, rpc = station.lane, station.rpc

        async def plain() -> None:
            result = await rpc.call(build())
            if not result.ok:
                raise RuntimeError(f"MeterValues: {result}")

        async def through_outbox() -> float:
            t0 = time.perf_counter()
            await lane.append(build(), tx_ref=ref)
            journaled = time.perf_counter() - t0
            await delivered.until(delivered.count + 1, 30)
            await store.idle()  # the delete is committed before the next message goes out
            return journaled

        async def write_noop() -> None:
            await store.write(_noop)

        per_message = [
            await _per_message(case, step, store, warmup, blocks, per_block)
            for case, step in (("rpc.call", plain), ("outbox", through_outbox), ("write-noop", write_noop))
        ]
        drained = await _backlog(station, delivered, ref, build, backlog) if backlog else None
        if station.lane.pending():
            raise RuntimeError(f"{station.lane.pending()} messages left in the outbox")
        if data_dir is not None:
            bare.append(_bare_commit(data_dir, store_kind))
        return OutboxResult(store_kind, per_message, drained, bare)
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(station.stop(), 15)
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)


async def _per_message(
    case: str, step: Callable[[], Awaitable[float | None]], store: Any, warmup: int, blocks: int, per_block: int
) -> PerMessage:
    for _ in range(warmup):
        await step()
    cpu, wall, journal = [], [], []
    commits0 = store.commits
    for _ in range(blocks):
        journaled = 0.0
        c0, w0 = time.process_time(), time.perf_counter()
        for _ in range(per_block):
            journaled += await step() or 0.0
        cpu.append((time.process_time() - c0) / per_block * 1e6)
        wall.append((time.perf_counter() - w0) / per_block * 1e6)
        journal.append(journaled / per_block * 1e6)
    messages = blocks * per_block
    return PerMessage(
        case, median(cpu), median(wall), median(journal), (min(cpu), max(cpu)), (store.commits - commits0) / messages,
        messages,
    )  # fmt: skip


async def _backlog(station: Any, delivered: Delivered, ref: int, build: Callable[[], Any], count: int) -> Backlog:
    from chargebox.station.kernel.lane import encode

    store = station.store
    station.transport.disconnect()
    await _until(lambda: not station.rpc.connected and not station.transport.connected, 10)
    payloads = [encode(build()) for _ in range(count)]  # built beforehand: the figure is the journal's
    commits0 = store.commits
    c0, w0 = time.process_time(), time.perf_counter()

    async def journal(payload: bytes) -> None:
        async def write(queued: Callable[[int], None]) -> None:
            queued(await store.outbox.append("MeterValues", payload, ref))

        await station.lane.journal(write)

    await asyncio.gather(*(journal(payload) for payload in payloads))
    journal_s, journal_cpu_s = time.perf_counter() - w0, time.process_time() - c0
    journal_commits = store.commits - commits0
    if station.lane.pending() != count:
        raise RuntimeError(f"{station.lane.pending()} queued, {count} expected")
    base = delivered.count
    delivered.first_at = 0.0
    delivered.count = 0
    commits0 = store.commits
    c0, w0 = time.process_time(), time.perf_counter()
    station.transport.connect()
    await delivered.until(count, 120)
    await asyncio.wait_for(station.lane.drained(), 30)  # the last delete committed, as a restart would see it
    drain_s, drain_cpu_s = time.perf_counter() - w0, time.process_time() - c0
    delivered.count += base
    return Backlog(
        messages=count,
        journal_s=journal_s,
        journal_cpu_s=journal_cpu_s,
        journal_commits=journal_commits,
        drain_s=drain_s,
        drain_cpu_s=drain_cpu_s,
        drain_commits=store.commits - commits0,
        reconnect_s=delivered.first_at - w0,
    )


def _bare_commit(data_dir: Path, store_kind: str, count: int = 200) -> tuple[float, float]:
    """What the disk gives right now: sequential commits of one insert each, WAL, the kind's synchronous."""
    import sqlite3

    db = sqlite3.connect(data_dir / "bare.sqlite", isolation_level=None)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute(f"PRAGMA synchronous={'NORMAL' if store_kind == 'file-nosync' else 'FULL'}")
        db.execute("CREATE TABLE IF NOT EXISTS t (seq INTEGER PRIMARY KEY AUTOINCREMENT, payload BLOB)")
        payload = b"x" * 600  # about one encoded MeterValues of six values
        c0, w0 = time.process_time(), time.perf_counter()
        for _ in range(count):
            db.execute("BEGIN IMMEDIATE")
            db.execute("INSERT INTO t (payload) VALUES (?)", (payload,))
            db.execute("COMMIT")
        return (time.perf_counter() - w0) / count * 1e6, (time.process_time() - c0) / count * 1e6
    finally:
        db.close()


def _noop(_db: Any) -> None:
    return None


async def _until(condition: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"condition not met within {timeout} s")
        await asyncio.sleep(0.005)
