"""``chargebox fleet --processes N``: one command, N processes, every core busy, one set of figures.

A fleet is CPU-bound: one process saturates one core. Here the command starts N processes
(``fleet_worker.py``), each a ``Fleet`` of every N-th station: process k (0-based) runs stations k+1, k+1+N, ...,
with the ids one process would give them (``--id-prefix`` + 1-based index), connecting at ``connect_rate / N``
each, so that together they ramp up as one process would. ``--auto`` sessions stay reproducible per station
whatever N is: a station's random stream comes from the seed and its id alone.

The command shows what one process shows (``figures()``): the counts added up, and the percentiles of every
round trip of every process from their HDR histograms added bucket by bucket (never averages of percentiles).
With ``--data-dir DIR`` process k keeps its stations in ``DIR/process-K-of-N`` (K = k+1): a fleet started again
with the same N resumes each station's journal.

A process that dies (a crash, SIGKILL, the OOM killer) is reported, the others are stopped cleanly, and the
command exits 1. ``--duration`` and Ctrl-C stop them all cleanly: each closes its stations' connections and
commits what they wrote before it sends its last report.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import pickle
import secrets
import signal
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Final

from chargebox.sim.fleet import RESERVOIR, FleetSettings, RoundTrips, fleet_figures

log = logging.getLogger("chargebox.fleet")

STOP_TIMEOUT: Final = 60.0  # seconds a process has to stop its stations cleanly before it is killed


@dataclass(frozen=True, slots=True)
class Orders:
    """What the command tells one process."""

    settings: FleetSettings  # with its shard: which stations are this process's
    verbose: bool = False
    control_token: str | None = None  # serve the fleet's control API on loopback for the command, with this token


def process_settings(settings: FleetSettings, shard: int, shards: int) -> FleetSettings:
    """What process ``shard`` of ``shards`` runs: its share of the stations and of the ramp, and its own data dir."""
    data_dir = settings.data_dir / f"process-{shard + 1}-of-{shards}" if settings.data_dir is not None else None
    return dataclasses.replace(
        settings, shard=shard, shards=shards, connect_rate=settings.connect_rate / shards, data_dir=data_dir
    )


@dataclass(slots=True)
class Worker:
    """One process as the command sees it: its latest report, and the port of its control API (``--control``)."""

    number: int  # 1-based, as the log and the data dirs name it
    process: asyncio.subprocess.Process
    counts: dict[str, int] = field(default_factory=dict)
    recent_rate: float = 0.0
    histogram: str | None = None
    control_port: int | None = None
    control_ready: asyncio.Event = field(default_factory=asyncio.Event)
    ended: bool = False


class FleetProcesses:
    """The processes of one fleet, their combined figures, and what became of each."""

    def __init__(
        self, settings: FleetSettings, processes: int, *, verbose: bool = False, control: bool = False
    ) -> None:
        self.settings = settings
        self.processes = max(1, min(processes, settings.count))  # never a process without a station
        self.control_token = secrets.token_urlsafe(32) if control else None
        self.workers: list[Worker] = []
        self.failures: list[str] = []  # one line per process that died or failed
        self._verbose = verbose
        self._latest: deque[float] = deque(maxlen=RESERVOIR)
        self._readers: list[asyncio.Future[None]] = []
        self._failed = asyncio.Event()
        self._stopping = False
        self._started_at = time.monotonic()
        self._ended_at: float | None = None

    @property
    def ran(self) -> bool:
        """Whether any process reported: else there is nothing to sum up."""
        return any(worker.counts for worker in self.workers)

    async def run(self, duration: float | None = None) -> None:
        """Start the processes, then wait ``duration`` seconds (None: until cancelled) or until one of them dies;
        ``stop()`` ends the others."""
        self._started_at, self._ended_at = time.monotonic(), None
        try:
            for shard in range(self.processes):
                await self._start(shard)
            failed = asyncio.ensure_future(self._failed.wait())
            try:
                await asyncio.wait({failed}, timeout=duration)
            finally:
                failed.cancel()
        finally:
            self._ended_at = time.monotonic()

    async def stop(self) -> None:
        """Tell every process to stop (the end of its stdin), wait for each to stop its stations cleanly and send
        its last report; kill one that takes longer than ``STOP_TIMEOUT``."""
        if self._stopping:
            return
        self._stopping = True
        for worker in self.workers:
            if worker.process.stdin is not None:
                worker.process.stdin.close()
        try:
            await asyncio.wait_for(asyncio.gather(*self._readers, return_exceptions=True), STOP_TIMEOUT)
        except TimeoutError:
            for worker in self.workers:
                if worker.process.returncode is None:
                    self._fail(worker, f"did not stop within {STOP_TIMEOUT:g} s: killed")
                    with contextlib.suppress(ProcessLookupError):
                        worker.process.kill()
            await asyncio.gather(*self._readers, return_exceptions=True)
        if self._ended_at is None:
            self._ended_at = time.monotonic()

    def figures(self) -> dict[str, Any]:
        """As one fleet process shows them (``Fleet.figures``), of all the processes together."""
        reports = [worker for worker in self.workers if worker.counts]
        keys = {key for worker in reports for key in worker.counts}  # Fleet.counts: each adds up across processes
        counts = {key: sum(worker.counts.get(key, 0) for worker in reports) for key in keys}
        trips = RoundTrips.combined([w.histogram for w in reports if w.histogram is not None], self._latest)
        seconds = max((self._ended_at or time.monotonic()) - self._started_at, 1e-9)
        return fleet_figures(counts, trips, seconds, sum(worker.recent_rate for worker in reports))

    def worker_of(self, index: int) -> Worker:
        """The process that runs station ``index`` (1-based)."""
        return self.workers[(index - 1) % len(self.workers)]

    async def _start(self, shard: int) -> None:
        orders = Orders(
            settings=process_settings(self.settings, shard, self.processes),
            verbose=self._verbose,
            control_token=self.control_token,
        )
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "chargebox.sim.fleet_worker",
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        worker = Worker(shard + 1, process)
        self.workers.append(worker)
        assert process.stdin is not None
        process.stdin.write(pickle.dumps(orders))
        with contextlib.suppress(ConnectionError):  # one that died at once is reported by its reader
            await process.stdin.drain()
        self._readers.append(asyncio.ensure_future(self._read(worker)))

    async def _read(self, worker: Worker) -> None:
        """Every report of one process until it ends; then whether it ended as told."""
        stdout = worker.process.stdout
        assert stdout is not None
        while line := await stdout.readline():
            self._receive(worker, json.loads(line))
        code = await worker.process.wait()
        worker.ended = True
        worker.control_ready.set()  # a request waiting for its control API is answered (502) rather than hung
        if code != 0:
            how = f"killed by {signal.Signals(-code).name}" if code < 0 else f"exit code {code}"
            self._fail(worker, f"died ({how})")
        elif not self._stopping:
            self._fail(worker, "ended before it was told to stop")

    def _receive(self, worker: Worker, message: dict[str, Any]) -> None:
        if "control" in message:
            worker.control_port = int(message["control"])
            worker.control_ready.set()
            return
        worker.counts = message["counts"]
        worker.recent_rate = message["recentRate"]
        worker.histogram = message["histogram"]
        self._latest.extend(us / 1_000_000 for us in message["latestUs"])

    def _fail(self, worker: Worker, what: str) -> None:
        line = f"fleet process {worker.number} of {self.processes} (pid {worker.process.pid}) {what}"
        self.failures.append(line)
        log.error("! %s%s", line, "" if self._stopping else "; stopping the others")
        self._failed.set()
