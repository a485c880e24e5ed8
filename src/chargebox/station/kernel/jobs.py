"""The job engine: a long job the central system orders, run to its end across reboots and power losses.

UpdateFirmware (checklist 4.1), GetDiagnostics (4.2), SignedUpdateFirmware (4.3, L01) and GetLog (4.4, N01) run
on it. Those four differ in their steps and their status values, and share everything else, which is what lives
here and nothing more (the two firmware jobs also share their install steps, ``kernel/firmware.py``):

- the journal, one store row per service: the stage the job is at, the last status entered, the attempts
  started and when the next may start. Every step is journalled before it is acted on, so ``resume()`` after the
  next accepted boot goes on from the stage where a power loss stopped it;
- the status, with the seed's semantics (``SetFirmwareStatusNotificationStatus``): setting it persists it, and a
  status entered is persisted before its notification is sent (F-3, D-3, SF-4, LG-3);
- waiting for a date on the injected clock (F-2 retrieveDate, SF-4 retrieveDateTime / installDateTime);
- attempts ``retryInterval`` apart (F-4, D-2, L01, N01). An attempt counts once it starts, so a reboot never
  resets the count and a job whose attempt crashes the station cannot make it try for ever;
- progress for listeners (the demo's progress bar, ``/api/state``).

A service hands the engine its journal (a ``store`` job table), its status enum, the sender of its status
notification and one step per stage. A step does the work of its stage and journals the next stage, through
``enter()`` when a status goes with it; the engine then runs the step of that stage, until the stage is idle.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final, Generic, Protocol, TypeVar

import msgspec

from chargebox.clock import Clock, sleep_until
from chargebox.errors import TransferError
from chargebox.log import Log
from chargebox.rpc import SendResult
from chargebox.store import JobValue
from chargebox.tasks import Tasks
from chargebox.transfer import TransferSettings

IDLE: Final = "idle"  # the stage of a station with no job under way, in every journal

# F-4, D-2: what the CP decides when the request leaves retries / retryInterval out.
DEFAULT_RETRIES: Final = 3
DEFAULT_RETRY_INTERVAL: Final = 60


class JobRecord(Protocol):
    """The columns of a journal row that the engine reads (a service's record has more: location, file, ...)."""

    @property
    def status(self) -> str: ...
    @property
    def stage(self) -> str: ...
    @property
    def retries(self) -> int: ...
    @property
    def retry_interval(self) -> int: ...
    @property
    def attempts(self) -> int: ...
    @property
    def next_try_at(self) -> str | None: ...


class JobRequest(Protocol):
    """What every request that starts a job carries (SignedUpdateFirmware, GetLog, 2.0.1's UpdateFirmware)."""

    @property
    def request_id(self) -> int: ...
    @property
    def retries(self) -> int | msgspec.UnsetType: ...
    @property
    def retry_interval(self) -> int | msgspec.UnsetType: ...


R_co = TypeVar("R_co", bound=JobRecord, covariant=True)
R = TypeVar("R", bound=JobRecord)
S = TypeVar("S", bound=enum.StrEnum)


class Journal(Protocol[R_co]):
    """A service's job table in the store (``store.firmware``, ``store.diagnostics``): one row, a commit an update."""

    def load(self) -> R_co: ...
    def update(self, **fields: JobValue) -> None: ...


class After(enum.Enum):
    """What the engine does once a step returns."""

    NEXT = "next"  # run the step of the stage now journalled (none once it is idle: the job is over)
    REBOOT = "reboot"  # stop: the station restarts, and resume() goes on from the journal after the next boot


Step = Callable[[R], Awaitable[After]]


@dataclass(frozen=True, slots=True)
class JobProgress:
    """Bytes moved so far by the job's transfer, for the progress bar and ``/api/state``."""

    done: int = 0
    total: int | None = None

    def as_json(self) -> dict[str, int | None]:
        return {"bytesDone": self.done, "bytesTotal": self.total}


def retries_or_default(value: int | msgspec.UnsetType, bounds: TransferSettings) -> int:
    """F-4: absent, the CP decides; a negative count from a careless central system means no retry, and more than
    ``bounds.max_retries`` are that many."""
    return DEFAULT_RETRIES if value is msgspec.UNSET else min(max(0, value), bounds.max_retries)


def retry_interval_or_default(value: int | msgspec.UnsetType, bounds: TransferSettings) -> int:
    """F-4: absent, the CP decides; else brought within ``bounds`` (a pause of 2^62 s would overflow the date of
    the next attempt, one of 0 s makes a refused location a flood)."""
    if value is msgspec.UNSET:
        return DEFAULT_RETRY_INTERVAL
    return min(max(bounds.min_retry_interval, value), bounds.max_retry_interval)


class Job(Generic[S, R]):
    """The one job of a service (a new request replaces or refuses the old one: the service decides)."""

    def __init__(
        self,
        *,
        name: str,
        journal: Journal[R],
        statuses: type[S],
        steps: Mapping[str, Step[R]],
        send: Callable[[S], Awaitable[SendResult[Any]]],
        clock: Clock,
        log: Log,
    ) -> None:
        """``send(status)`` sends the service's status notification: the service owns the message."""
        self.progress = JobProgress()
        self.listeners: list[Callable[[S, JobProgress], None]] = []
        self._name = name
        self._journal = journal
        self._statuses = statuses
        self._steps = steps
        self._send = send
        self._clock = clock
        self._log = log
        self._task = Tasks(log, f"{name} job")
        self._sent: set[S] = set()  # statuses sent for this job since the station (re)started

    # -- status -----------------------------------------------------------------------------------

    @property
    def status(self) -> S:
        """The last status entered, as persisted."""
        return self._statuses(self._journal.load().status)

    @property
    def stage(self) -> str:
        return self._journal.load().stage

    def update(self, **fields: JobValue) -> None:
        """Journal ``fields`` (a stage reached without a status of its own), in one commit."""
        self._journal.update(**fields)

    def set_status(self, status: S) -> None:
        """Persisted before anything acts on it, so a reboot resumes from it (the seed's status setter)."""
        self._persist(status)

    async def enter(self, status: S, **fields: JobValue) -> None:
        """Enter ``status``: persisted in one commit with the ``fields`` that go with it (often the next stage),
        then sent; a notification that cannot be delivered is logged, the job goes on (the journal is the truth)."""
        self._persist(status, **fields)
        self._sent.add(status)
        result = await self._send(status)
        if not result.ok:
            self._log.warning("! %s status %s not delivered: %s", self._name, status, result.outcome.value)

    async def announce(self, status: S) -> None:
        """Enter ``status`` unless this job already sent it since the station started: a stage sends its status
        once, not once per attempt, and once more after a reboot (the central system may have missed it)."""
        if status not in self._sent:
            await self.enter(status)

    # -- time and attempts ------------------------------------------------------------------------

    async def wait_until(self, moment: datetime) -> None:
        """Not before ``moment`` (F-2): on the wall clock, read again every few minutes so a time sync moves it."""
        await sleep_until(self._clock, moment)

    async def attempt(
        self, what: str, action: Callable[[], Awaitable[object]], *, announce: S, **fields: JobValue
    ) -> bool:
        """Run ``action`` until it succeeds, ``retries`` more times ``retry_interval`` seconds apart after a
        TransferError; False once the last attempt has failed. ``announce`` is the status of the attempts (F-3
        Downloading, D-3 Uploading); ``fields`` are journalled as each attempt starts."""
        while True:
            job = self._journal.load()
            if job.next_try_at is not None:
                # F-4: what is left of the pause by the wall clock (it runs on across a reboot), never more than
                # retryInterval: a time sync that sets the clock back, by years even, cannot stretch it; slept on
                # the monotonic clock, which no sync moves
                left = (datetime.fromisoformat(job.next_try_at) - self._clock.now()).total_seconds()
                await self._clock.sleep(min(left, job.retry_interval))
            if job.attempts > job.retries:  # the last attempt was cut short by a power loss
                return False
            attempt, tries = job.attempts + 1, job.retries + 1
            self._journal.update(**fields, attempts=attempt, next_try_at=None)  # counted before it starts
            await self.announce(announce)
            self._log.info("= %s %s, attempt %d of %d", self._name, what, attempt, tries)
            try:
                await action()
            except TransferError as exc:
                self._log.warning("! %s %s attempt %d of %d failed: %s", self._name, what, attempt, tries, exc)
                if attempt == tries:
                    return False  # F-4: the failure status only after the last attempt
                next_try = self._clock.now() + timedelta(seconds=job.retry_interval)
                self._journal.update(next_try_at=next_try.isoformat())
            else:
                return True

    def on_progress(self, done: int, total: int | None) -> None:
        """A ``transfer.Progress`` callback: listeners see the bytes moved, with the status they belong to."""
        self.progress = JobProgress(done, total)
        self._notify(self.status)

    # -- lifecycle --------------------------------------------------------------------------------

    async def start(self) -> None:
        """Run the job from its journalled stage, unless it runs already (a coroutine: it is a ``Reply.then``)."""
        if not self._task:
            self._task.spawn(self._run())

    async def resume(self) -> None:
        """After an accepted boot: carry on with the job a reboot or a power loss interrupted."""
        stage = self.stage
        if stage != IDLE:
            self._log.info("= resuming the %s job at stage %s", self._name, stage)
            await self.start()

    def reset(self) -> None:
        """Stop the job's task and forget what it sent and moved; the journal is kept, for ``resume()``."""
        self._task.cancel()
        self._sent.clear()
        self.progress = JobProgress()

    async def _run(self) -> None:
        while (job := self._journal.load()).stage != IDLE:
            if await self._steps[job.stage](job) is After.REBOOT:
                return
        self._sent.clear()  # the next job announces its own statuses

    def _persist(self, status: S, **fields: JobValue) -> None:
        self._journal.update(**fields, status=status.value)
        self._log.info("= %s status %s", self._name, status)
        self._notify(status)

    def _notify(self, status: S) -> None:
        for listener in self.listeners:
            listener(status, self.progress)
