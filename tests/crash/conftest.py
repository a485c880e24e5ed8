"""Crash rig: a real ``chargebox simulate`` subprocess, killed with SIGKILL at chosen points, and a central system
that records every transaction message it receives (checklist 5.3, X-4, X-12).

``RecordingCsms`` is the built-in ``CentralSystem`` with its own StartTransaction / MeterValues / StopTransaction
handlers. Each message is kept as ``Received``: the raw JSON payload exactly as it crossed the wire, which station
process ("life") sent it, and, for a StartTransaction, the transactionId it was answered with. A ``KillRule`` makes
the N-th matching message kill the station either before it is answered (mid-send: the station never sees an
answer) or just after the CALLRESULT has been written to the socket. In that second case the rig first pauses the
station (SIGSTOP) and the SIGKILL follows the answer, so the kill always falls after the answer and before the
delete could commit.

``CrashRig`` spawns the station on a data dir that survives every kill, drives it through the JSON control API,
copies the SQLite files right after a kill (what the station had journaled, untouched by any later recovery), and
waits for things with bounded polls, never fixed sleeps. A running station's store file is locked for that
process alone (SQLite's unix-excl VFS): the rig reads a copy taken while the station is paused (``running_copy``),
which is what a power cut at that moment would leave.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import resource
import shutil
import signal
import sqlite3
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from chargebox.csms.server import CentralSystem, CsmsEvent, CsmsPolicy
from chargebox.protocol import messages as m
from chargebox.protocol.dialect import OCPP16, Dialect
from chargebox.protocol.v201 import messages as m201
from chargebox.rpc import Rpc
from chargebox.store import FILE_NAME
from tests.loopback import free_port

CLI = [sys.executable, "-m", "chargebox.cli"]
TX_ACTIONS = ("StartTransaction", "MeterValues", "StopTransaction")
TX_EVENT = "TransactionEvent"  # 2.0.1's one transaction message: Started, Updated, Ended
WAIT = 8.0  # the longest any single expected event may take; a poll timeout, not a sleep
FIRST_TRANSACTION_ID = 1001  # far from the station's local refs (1, 2, ...) and the placeholder 0
OCPP_CONFIG: dict[str, object] = {
    "MeterValueSampleInterval": 1,
    "MeterValuesSampledData": "Energy.Active.Import.Register",
    "StopTxnSampledData": "Energy.Active.Import.Register",
    "LocalAuthorizeOffline": True,
    "AllowOfflineTxForUnknownId": True,
}
OCPP201_CONFIG: dict[tuple[str, str], str] = {  # the same station in 2.0.1's device model
    ("SampledDataCtrlr", "TxUpdatedInterval"): "1",
    ("SampledDataCtrlr", "TxUpdatedMeasurands"): "Energy.Active.Import.Register",
    ("SampledDataCtrlr", "TxEndedMeasurands"): "Energy.Active.Import.Register",
    ("AuthCtrlr", "LocalAuthorizationOffline"): "true",
    ("AuthCtrlr", "OfflineTxForUnknownIdEnabled"): "true",
    # Part 4 5.3: a failed attempt is retried 1 s later, not up to 5 s of random spread more (the rig waits 8 s)
    ("OCPPCommCtrlr", "RetryBackOffRandomRange"): "0",
}


@dataclass(slots=True)
class Received:
    """One transaction message as the central system received it."""

    action: str
    payload: dict[str, Any]  # the raw JSON payload of the CALL
    life: int  # 0 for the first station process, 1 after the first restart, ...
    answer: int | None = None  # StartTransaction: the transactionId answered, None if never answered
    answered: bool = False  # a CALLRESULT was written while the station was alive

    @property
    def kind(self) -> str:
        """What a kill rule matches besides the action: a TransactionEvent's eventType (``Started``), else the
        action."""
        return str(self.payload["eventType"]) if self.action == TX_EVENT else self.action

    @property
    def timestamp(self) -> str:
        """The message's own time: the MeterValue timestamp, or the Start/Stop (or TransactionEvent) timestamp."""
        if self.action == "MeterValues":
            return str(self.payload["meterValue"][0]["timestamp"])
        return str(self.payload["timestamp"])


@dataclass(slots=True)
class KillRule:
    """Kill the station at the ``nth`` message of ``action`` (None: any transaction message; for 2.0.1 also an
    eventType, ``Updated``) received after arming.

    ``after_answer`` False: kill before answering (the answer is written late, to a dead connection).
    ``after_answer`` True: answer, and kill as soon as the CALLRESULT is on the socket.
    """

    action: str | None
    nth: int
    after_answer: bool = False
    seen: int = 0


class RecordingCsms(CentralSystem):
    """Serves both versions; records 1.6's three transaction messages and 2.0.1's TransactionEvent."""

    def __init__(self) -> None:
        handlers: dict[Any, Callable[[Any], Any]] = {
            m.Action.START_TRANSACTION: self._handler("StartTransaction"),
            m.Action.METER_VALUES: self._handler("MeterValues"),
            m.Action.STOP_TRANSACTION: self._handler("StopTransaction"),
            m201.Action.TRANSACTION_EVENT: self._handler(TX_EVENT),
        }
        super().__init__(CsmsPolicy(heartbeat_interval=600, extra_handlers=handlers))
        self.received: list[Received] = []
        self.rules: list[KillRule] = []
        self.life = 0
        self.boots = 0
        self.kill: Callable[[], None] = lambda: None
        self.pause: Callable[[], None] = lambda: None
        self.killed = asyncio.Event()
        self._ids = itertools.count(FIRST_TRANSACTION_ID)
        self._raw: dict[str, Any] | None = None
        self._kill_after_send = False
        self.calls: list[CsmsEvent] = []  # every CALL the station made, as the central system read it
        self.on_event = self._observe

    def arm(self, action: str | None, nth: int, *, after_answer: bool = False) -> None:
        self.killed.clear()
        self.rules.append(KillRule(action, nth, after_answer))

    def open_session(
        self, charge_point_id: str, send: Callable[[bytes], Awaitable[None]], dialect: Dialect[Any] = OCPP16
    ) -> Rpc[Any]:
        """Record the raw payload of each transaction CALL, and kill right after writing an answer when asked."""

        async def send_then_maybe_kill(data: bytes) -> None:
            await send(data)
            if self._kill_after_send and json.loads(data)[0] == 3:
                self._kill_after_send = False
                self._do_kill()

        rpc = super().open_session(charge_point_id, send_then_maybe_kill, dialect)
        receive = rpc.receive

        async def recording_receive(data: str | bytes) -> None:
            with contextlib.suppress(ValueError, TypeError, IndexError, KeyError):
                frame = json.loads(data)
                if frame[0] == 2 and frame[2] in (*TX_ACTIONS, TX_EVENT):
                    self._raw = frame[3]
            await receive(data)

        rpc.receive = recording_receive  # type: ignore[method-assign]
        return rpc

    def of(self, action: str) -> list[Received]:
        return [r for r in self.received if r.action == action]

    def statuses(self, connector_id: int) -> list[m.StatusNotificationRequest]:
        requests = [e.request for e in self.calls if isinstance(e.request, m.StatusNotificationRequest)]
        return [request for request in requests if request.connector_id == connector_id]

    # -- internals ------------------------------------------------------------------------------

    def _observe(self, event: CsmsEvent) -> None:
        self.calls.append(event)
        if event.action.value == "BootNotification":  # either version's
            self.boots += 1

    def _handler(self, action: str) -> Callable[[Any], Any]:
        def handle(request: Any) -> Any:
            raw, self._raw = self._raw, None
            assert raw is not None, "a transaction CALL arrived without its raw frame"
            record = Received(action, raw, self.life)
            self.received.append(record)
            response = self._answer(action, request)
            if self._fire(action, record.kind) is False:  # mid-send: the station dies before any answer
                return self._answer_late(response)
            if isinstance(response, m.StartTransactionResponse):
                record.answer = response.transaction_id
            record.answered = True
            return response

        return handle

    def _answer(self, action: str, request: Any) -> Any:
        if action == TX_EVENT:  # an idToken gets its status (E01.FR.12)
            if isinstance(request.id_token, m201.IdTokenType):
                info = m201.IdTokenInfoType(status=m201.AuthorizationStatusEnumType.ACCEPTED)
                return m201.TransactionEventResponse(id_token_info=info)
            return m201.TransactionEventResponse()
        accepted = m.IdTagInfo(status=m.AuthorizationStatus.ACCEPTED)
        if action == "StartTransaction":
            return m.StartTransactionResponse(id_tag_info=accepted, transaction_id=next(self._ids))
        if action == "StopTransaction":
            return m.StopTransactionResponse(id_tag_info=accepted)
        return m.MeterValuesResponse()

    def _fire(self, action: str, kind: str) -> bool | None:
        """None: no rule fired; False: killed before the answer; True: kill once the answer is written."""
        for rule in self.rules:
            if rule.action in (None, action, kind):
                rule.seen += 1
                if rule.seen == rule.nth:
                    self.rules.remove(rule)
                    if rule.after_answer:
                        self.pause()  # the station cannot commit the delete before it dies
                        self._kill_after_send = True
                        return True
                    self._do_kill()
                    return False
        return None

    async def _answer_late(self, response: Any) -> Any:
        await asyncio.sleep(0.2)  # written to a connection that is already gone: the station never sees it
        return response

    def _do_kill(self) -> None:
        self.kill()
        self.killed.set()


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What the station had journaled when it was killed (read from a copy of its files)."""

    life: int
    outbox: list[tuple[str, dict[str, Any], int | None]]  # (action, payload as journaled, transaction ref)
    transactions: list[dict[str, Any]]  # 1.6's rows; a 2.0.1 station's are ``tx_events``
    copy: Path  # the station's SQLite file as the kill left it (a copy, WAL checkpointed into it)
    tx_events: list[dict[str, Any]] = field(default_factory=list)  # 2.0.1's transactions


@dataclass
class CrashRig:
    csms: RecordingCsms
    port: int
    tmp_path: Path
    http: aiohttp.ClientSession
    proc: asyncio.subprocess.Process | None = None
    control: int = 0
    snapshots: list[Snapshot] = field(default_factory=list)
    paused: bool = False  # SIGSTOPped by a kill rule: the SIGKILL follows the answer
    ocpp: str = "1.6"  # the station's version (``--ocpp``)
    _logging: asyncio.Future[None] = field(default_factory=asyncio.Future)

    def __post_init__(self) -> None:
        self.csms.pause = self._pause

    @property
    def data_dir(self) -> Path:
        return self.tmp_path / "data"

    @property
    def log_path(self) -> Path:
        return self.tmp_path / "station.log"

    async def spawn(self, *flags: str, until_accepted: bool = True, disk_full: bool = False) -> None:
        """Start (or restart) the station on the same data dir, with ``flags`` added to ``chargebox simulate``;
        return once its boot is accepted (or at once). ``disk_full``: it starts with no room on its disk
        (``disk_full()``, set before it runs)."""
        assert self.proc is None or self.proc.returncode is not None, "the previous station still runs"
        config = self.tmp_path / "ocpp.json"
        config.write_text(json.dumps(ocpp_config(self.ocpp)))
        self.control = free_port()
        boots = self.csms.boots
        if self.proc is not None:
            self.csms.life += 1
        self.proc = await asyncio.create_subprocess_exec(
            *CLI, "simulate", "--csms", f"ws://127.0.0.1:{self.port}", "--id", "CRASH-1",
            "--data-dir", str(self.data_dir), "--control", f"127.0.0.1:{self.control}",
            "--connectors", "1", "--ocpp-config", str(config), "--ocpp", self.ocpp, *flags,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
            preexec_fn=None if disk_full is False else _disk_full,
        )  # fmt: skip
        proc = self.proc
        assert proc.stderr is not None
        # The log goes through a pipe and is written by this process: a full disk of the station's own (its
        # RLIMIT_FSIZE) must not silence what it says about it.
        self._logging = asyncio.ensure_future(_copy(proc.stderr, self.log_path))
        self.csms.kill = lambda: proc.send_signal(signal.SIGKILL)
        if not until_accepted:
            return
        await self.wait_until(lambda: self.csms.boots > boots, "a BootNotification")
        await self.wait_state(lambda s: s["connected"] and s["registration"] == "Accepted", "an accepted boot")

    async def post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        async with self.http.post(f"http://127.0.0.1:{self.control}/api/{path}", json=body or {}) as response:
            assert response.status == 200, await response.text()
            return await response.json()

    async def state(self) -> dict[str, Any]:
        async with self.http.get(f"http://127.0.0.1:{self.control}/api/state") as response:
            result: dict[str, Any] = await response.json()
            return result

    async def wait_state(self, predicate: Callable[[dict[str, Any]], bool], what: str) -> None:
        async def check() -> bool:
            with contextlib.suppress(aiohttp.ClientError):
                return predicate(await self.state())
            return False

        await self.wait_until_async(check, what)

    async def kill(self) -> None:
        """SIGKILL the station now."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        await self.reap()

    async def killed_by_rule(self) -> None:
        """Wait for an armed rule to kill the station."""
        try:
            await asyncio.wait_for(self.csms.killed.wait(), WAIT)
        except TimeoutError:
            pytest.fail(f"the kill rule never fired; received {[r.action for r in self.csms.received]}")
        await self.reap()

    def disk_full(self) -> None:
        """From now on the station's disk has no room: RLIMIT_FSIZE of 1 byte, so every write it makes to a
        file fails (EFBIG; Python ignores SIGXFSZ), as on a full disk."""
        assert self.proc is not None
        resource.prlimit(self.proc.pid, resource.RLIMIT_FSIZE, (1, resource.RLIM_INFINITY))

    def disk_has_room(self) -> None:
        assert self.proc is not None
        resource.prlimit(self.proc.pid, resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))

    async def terminate(self) -> int:
        """SIGTERM, as systemd stops the station; its exit code once it is gone (and its log complete)."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(self.proc.wait(), 2 * WAIT)
        await self._logging
        return code

    async def reap(self) -> None:
        assert self.proc is not None
        code = await asyncio.wait_for(self.proc.wait(), WAIT)
        await self._logging
        self.paused = False
        assert code == -signal.SIGKILL, f"station exited with {code}:\n{self.log_tail()}"
        self.snapshots.append(self._snapshot())

    async def drained(self) -> None:
        """Wait until the station's outbox is empty and no transaction is open."""
        # One read of one state: two could straddle the commit that closes a transaction and queues its stop.
        open_ones = "transactions WHERE stopped_at IS NULL" if self.ocpp == "1.6" else "tx_events WHERE ended = 0"
        both = f"SELECT (SELECT COUNT(*) FROM outbox), (SELECT COUNT(*) FROM {open_ones})"
        await self.wait_until(lambda: self.query(both) == [(0, 0)], "the outbox to drain")

    async def journaled(self, action: str, count: int) -> None:
        """Wait until the outbox holds at least ``count`` messages of ``action`` (the station is offline)."""
        await self.wait_until(
            lambda: self.query("SELECT COUNT(*) FROM outbox WHERE action = ?", (action,))[0][0] >= count,
            f"{count} journaled {action}",
        )

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGCONT)  # a station left paused by a kill rule that never fired
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), WAIT)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        if self.proc is not None:
            await self._logging

    def query(self, sql: str, args: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
        """Read the station's store: a copy while it runs (``running_copy``), else the file itself."""
        running = self.proc is not None and self.proc.returncode is None
        path = self.running_copy() if running else self.data_dir / FILE_NAME
        db = sqlite3.connect(path, timeout=5)
        try:
            return db.execute(sql, args).fetchall()
        finally:
            db.close()

    def running_copy(self) -> Path:
        """The running station's store as a power cut now would leave it: copied while the station is paused."""
        assert self.proc is not None
        return running_copy(self.data_dir, self.proc.pid, self.tmp_path / "running", resume=not self.paused)

    async def wait_until(self, predicate: Callable[[], bool], what: str, timeout: float = WAIT) -> None:
        async def check() -> bool:
            return predicate()

        await self.wait_until_async(check, what, timeout)

    async def wait_until_async(
        self, predicate: Callable[[], Awaitable[bool]], what: str, timeout: float = WAIT
    ) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not await predicate():
            if loop.time() > deadline:
                pytest.fail(f"timed out after {timeout}s waiting for {what}\n{self.log_tail()}")
            if self.proc is not None and self.proc.returncode is not None:
                pytest.fail(f"the station exited ({self.proc.returncode}) while waiting for {what}\n{self.log_tail()}")
            await asyncio.sleep(0.02)

    def _pause(self) -> None:
        """SIGSTOP the station until the kill: it cannot commit anything, nor read the answer."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)
        self.paused = True

    def log_tail(self, lines: int = 30) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def _snapshot(self) -> Snapshot:
        """Copy the killed station's files first, so that reading them recovers nothing in the real ones."""
        copy = self.tmp_path / f"killed-{len(self.snapshots)}"
        copy.mkdir()
        for suffix in ("", "-wal"):
            source = self.data_dir / f"{FILE_NAME}{suffix}"
            if source.exists():
                shutil.copyfile(source, copy / source.name)
        if not (copy / FILE_NAME).exists():  # killed during its very first start: no store was made yet
            return Snapshot(self.csms.life, [], [], copy / FILE_NAME)
        db = sqlite3.connect(copy / FILE_NAME)
        db.row_factory = sqlite3.Row
        try:
            outbox = [
                (str(row["action"]), json.loads(row["payload"]), row["tx_ref"])
                for row in db.execute("SELECT action, payload, tx_ref FROM outbox ORDER BY seq")
            ]
            transactions = [dict(row) for row in db.execute("SELECT * FROM transactions ORDER BY ref")]
            tx_events = [dict(row) for row in db.execute("SELECT * FROM tx_events ORDER BY ref")]
        finally:
            db.close()
        return Snapshot(self.csms.life, outbox, transactions, copy / FILE_NAME, tx_events)


def running_copy(data_dir: Path, pid: int, into: Path, *, resume: bool = True) -> Path:
    """A copy of a running station's store files, taken while the process is paused (SIGSTOP, then SIGCONT unless
    ``resume`` is False): its store file is locked for that process alone, and the copy is what a power cut at this
    moment would leave (a commit cut short is no commit). Returns the copy of the store file."""
    into.mkdir(exist_ok=True)
    for stale in into.iterdir():
        stale.unlink()
    os.kill(pid, signal.SIGSTOP)
    try:
        for suffix in ("", "-wal"):
            with contextlib.suppress(FileNotFoundError):
                shutil.copyfile(data_dir / f"{FILE_NAME}{suffix}", into / f"{FILE_NAME}{suffix}")
    finally:
        if resume:
            os.kill(pid, signal.SIGCONT)
    return into / FILE_NAME


def ocpp_config(ocpp: str) -> object:
    """``--ocpp-config``'s content for a station of version ``ocpp``: the same sampling and offline rules."""
    if ocpp == "1.6":
        return OCPP_CONFIG
    return [{"component": {"name": component}, "variable": {"name": variable}, "value": value}
            for (component, variable), value in OCPP201_CONFIG.items()]  # fmt: skip


def _disk_full() -> None:
    """In the child, before it runs chargebox: no room on the disk (see ``CrashRig.disk_full``)."""
    resource.setrlimit(resource.RLIMIT_FSIZE, (1, resource.RLIM_INFINITY))


async def _copy(stream: asyncio.StreamReader, path: Path) -> None:
    with path.open("ab") as log:
        while chunk := await stream.read(1 << 16):
            log.write(chunk)
            log.flush()


@contextlib.asynccontextmanager
async def crash_rig(tmp_path: Path, ocpp: str = "1.6") -> AsyncIterator[CrashRig]:
    """The rig, its central system listening; the station is stopped (SIGTERM) and the central system closed after."""
    csms = RecordingCsms()
    port = await csms.start("127.0.0.1", 0)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=WAIT)) as http:
        made = CrashRig(csms, port, tmp_path, http, ocpp=ocpp)
        try:
            yield made
        finally:
            await made.stop()
            await csms.stop()


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[CrashRig]:
    async with crash_rig(tmp_path) as crash:
        yield crash


@pytest.fixture
async def rig201(tmp_path: Path) -> AsyncIterator[CrashRig]:
    """The rig with a 2.0.1 station."""
    async with crash_rig(tmp_path, "2.0.1") as crash:
        yield crash
