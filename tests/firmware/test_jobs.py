"""The job engine (station/kernel/jobs.py) on its own, under a virtual clock.

The job here is neither firmware nor diagnostics: a GetLog-shaped upload (N01) with its own status values and an
in-memory journal, so these tests also show that the engine needs nothing of its first two users. A power loss is
``reset()`` followed by a new ``Job`` on the same journal, as a restarted station builds its services again.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import msgspec
import pytest

from chargebox.clock import VirtualClock
from chargebox.errors import TransferError
from chargebox.rpc import SendOutcome, SendResult
from chargebox.station.kernel.jobs import (
    After,
    Job,
    JobProgress,
    retries_or_default,
    retry_interval_or_default,
)
from chargebox.store import JobValue
from chargebox.transfer import TransferSettings

log = logging.getLogger("tests.jobs")


class LogStatus(enum.StrEnum):
    IDLE = "Idle"
    UPLOADING = "Uploading"
    UPLOADED = "Uploaded"
    UPLOAD_FAILURE = "UploadFailure"


@dataclass(frozen=True, slots=True)
class LogJobRecord:
    status: str = LogStatus.IDLE.value
    stage: str = "idle"
    retries: int = 0
    retry_interval: int = 0
    attempts: int = 0
    next_try_at: str | None = None
    not_before: str | None = None


@dataclass
class MemoryJournal:
    """A journal row that survives a "power loss" because the test keeps it."""

    row: LogJobRecord = field(default_factory=LogJobRecord)

    def load(self) -> LogJobRecord:
        return self.row

    def update(self, **fields: JobValue) -> None:
        self.row = replace(self.row, **fields)


@dataclass
class Rig:
    """A log upload job: ``scheduled`` waits for ``not_before``, ``uploading`` tries the scripted uploads."""

    clock: VirtualClock
    journal: MemoryJournal = field(default_factory=MemoryJournal)
    sent: list[tuple[str, str]] = field(default_factory=list)  # (status sent, status persisted when sent)
    outcome: SendOutcome = SendOutcome.RESPONSE_SUCCESS
    uploads: list[datetime] = field(default_factory=list)
    script: list[str | None] = field(default_factory=list)  # None: uploaded; str: the TransferError
    hold: asyncio.Event | None = None  # set: an upload under way waits for it
    reboot_after_upload: bool = False
    job: Job[LogStatus, LogJobRecord] = field(init=False)

    def build(self) -> Job[LogStatus, LogJobRecord]:
        """The engine as a (re)started station builds it: nothing but the journal carries over."""
        self.job = Job(
            name="log",
            journal=self.journal,
            statuses=LogStatus,
            steps={"scheduled": self._wait, "uploading": self._upload, "rebooted": self._rebooted},
            send=self._send,
            clock=self.clock,
            log=log,
        )
        return self.job

    def order(self, *, retries: int = 0, retry_interval: int = 0, delay: float = 0) -> None:
        not_before = self.clock.now() + timedelta(seconds=delay)
        self.journal.row = replace(
            self.journal.row,
            stage="scheduled",
            retries=retries,
            retry_interval=retry_interval,
            attempts=0,
            next_try_at=None,
            not_before=not_before.isoformat(),
        )

    def statuses(self) -> list[str]:
        return [status for status, _ in self.sent]

    def seconds(self) -> list[float]:
        start = self.uploads[0]
        return [(at - start).total_seconds() for at in self.uploads]

    async def _wait(self, job: LogJobRecord) -> After:
        assert job.not_before is not None
        await self.job.wait_until(datetime.fromisoformat(job.not_before))
        self.journal.update(stage="uploading")
        return After.NEXT

    async def _upload(self, _job: LogJobRecord) -> After:
        async def upload() -> None:
            self.uploads.append(self.clock.now())
            self.job.on_progress(0, 10)
            if self.hold is not None:
                await self.hold.wait()
            if error := (self.script.pop(0) if self.script else None):
                raise TransferError(error)
            self.job.on_progress(10, 10)

        if not await self.job.attempt("upload", upload, announce=LogStatus.UPLOADING):
            await self.job.enter(LogStatus.UPLOAD_FAILURE, stage="idle")
        elif self.reboot_after_upload:
            self.journal.update(stage="rebooted")
            return After.REBOOT
        else:
            await self.job.enter(LogStatus.UPLOADED, stage="idle")
        return After.NEXT

    async def _rebooted(self, _job: LogJobRecord) -> After:
        await self.job.enter(LogStatus.UPLOADED, stage="idle")
        return After.NEXT

    async def _send(self, status: LogStatus) -> SendResult[Any]:
        self.sent.append((status.value, self.journal.row.status))
        return SendResult(self.outcome)


@pytest.fixture
def rig(clock: VirtualClock) -> Rig:
    rig = Rig(clock)
    rig.build()
    return rig


async def power_loss(rig: Rig) -> Job[LogStatus, LogJobRecord]:
    """The station's runtime goes, the journal stays; the new station resumes after its boot."""
    rig.job.reset()
    job = rig.build()
    await job.resume()
    await rig.clock.advance(0)
    return job


async def run(job: Job[LogStatus, LogJobRecord], clock: VirtualClock, seconds: float = 0) -> None:
    await job.start()
    await clock.advance(seconds)


# -- waiting for a date ----------------------------------------------------------------------------


async def test_F_2_waits_until_the_date_on_the_injected_clock(rig: Rig) -> None:
    rig.order(delay=3600)
    not_before = rig.clock.now() + timedelta(seconds=3600)
    await run(rig.job, rig.clock, 3599)
    assert rig.uploads == [] and rig.sent == []
    await rig.clock.advance(1)
    assert rig.uploads == [not_before]
    assert rig.statuses() == ["Uploading", "Uploaded"]


async def test_F_2_a_time_sync_moves_the_wait(rig: Rig) -> None:
    rig.order(delay=3600)
    await run(rig.job, rig.clock)
    rig.clock.set_time(rig.clock.now() + timedelta(seconds=3000))  # the central system's clock is ahead
    await rig.clock.advance(600)
    assert len(rig.uploads) == 1


# -- attempts and retry interval ---------------------------------------------------------------------


async def test_F_4_retries_retry_interval_apart_then_the_failure_status(rig: Rig) -> None:
    rig.script = ["refused", "reset", "timeout"]
    rig.order(retries=2, retry_interval=30)
    await run(rig.job, rig.clock, 59)
    assert rig.seconds() == [0, 30]
    assert rig.statuses() == ["Uploading"]  # once per job, not once per attempt
    await rig.clock.advance(1)
    assert rig.seconds() == [0, 30, 60]
    assert rig.statuses() == ["Uploading", "UploadFailure"]
    assert (rig.journal.row.stage, rig.journal.row.attempts) == ("idle", 3)


async def test_F_4_a_retry_that_succeeds_ends_the_attempts(rig: Rig) -> None:
    rig.script = ["refused"]
    rig.order(retries=5, retry_interval=10)
    await run(rig.job, rig.clock, 3600)
    assert rig.seconds() == [0, 10]
    assert rig.statuses() == ["Uploading", "Uploaded"]


async def test_F_4_a_restart_keeps_the_attempts_and_the_time_of_the_next(rig: Rig) -> None:
    rig.script = ["refused", "refused", "refused"]
    rig.order(retries=2, retry_interval=600)
    await run(rig.job, rig.clock, 100)
    assert len(rig.uploads) == 1
    await power_loss(rig)
    await rig.clock.advance(499)
    assert len(rig.uploads) == 1  # the interval runs on across the reboot
    await rig.clock.advance(1)
    await rig.clock.advance(600)
    assert rig.seconds() == [0, 600, 1200]  # two more, not three: the reboot did not reset the count
    assert rig.statuses() == ["Uploading", "Uploading", "UploadFailure"]


async def test_F_4_a_clock_set_back_does_not_stretch_the_retry_pause(rig: Rig) -> None:
    rig.script = ["refused", "refused", "refused"]
    rig.order(retries=2, retry_interval=600)
    await run(rig.job, rig.clock, 100)
    rig.clock.set_time(rig.clock.now() - timedelta(days=5 * 365))  # a central system's time, years behind
    await rig.clock.advance(499)
    assert len(rig.uploads) == 1
    await rig.clock.advance(1)
    assert len(rig.uploads) == 2  # 600 s after the first, on the monotonic clock: the sync moved nothing


async def test_F_4_a_clock_set_back_across_a_reboot_does_not_stretch_the_retry_pause(rig: Rig) -> None:
    rig.script = ["refused", "refused", "refused"]
    rig.order(retries=2, retry_interval=600)
    await run(rig.job, rig.clock, 100)
    rig.clock.set_time(rig.clock.now() - timedelta(days=5 * 365))
    await power_loss(rig)
    await rig.clock.advance(600)  # at most the whole interval after the reboot
    assert len(rig.uploads) == 2


async def test_F_4_an_attempt_cut_short_by_a_power_loss_counts(rig: Rig) -> None:
    rig.hold = asyncio.Event()
    rig.order(retries=0)
    await run(rig.job, rig.clock)
    assert rig.journal.row.attempts == 1  # journalled before the upload started
    await power_loss(rig)
    assert len(rig.uploads) == 1  # the only attempt allowed was used: no second one
    assert rig.statuses() == ["Uploading", "UploadFailure"]
    rig.hold.set()


# -- the status --------------------------------------------------------------------------------------


async def test_F_3_every_status_is_persisted_before_it_is_sent(rig: Rig) -> None:
    rig.script = ["refused"]
    rig.order(retries=1)
    await run(rig.job, rig.clock)
    assert rig.sent == [("Uploading", "Uploading"), ("Uploaded", "Uploaded")]


async def test_seed_set_status_persists_and_sends_nothing(rig: Rig) -> None:
    seen: list[tuple[LogStatus, JobProgress]] = []
    rig.job.listeners.append(lambda status, progress: seen.append((status, progress)))
    rig.job.set_status(LogStatus.UPLOAD_FAILURE)
    assert rig.journal.row.status == "UploadFailure"
    assert rig.build().status is LogStatus.UPLOAD_FAILURE  # what a restarted station reads
    assert seen == [(LogStatus.UPLOAD_FAILURE, JobProgress())]
    assert rig.sent == []


async def test_F_3_the_attempts_status_is_sent_again_after_a_restart(rig: Rig) -> None:
    rig.script = ["refused"]
    rig.order(retries=1, retry_interval=60)
    await run(rig.job, rig.clock)
    await power_loss(rig)
    await rig.clock.advance(60)
    assert rig.statuses() == ["Uploading", "Uploading", "Uploaded"]  # the central system may have missed it


async def test_F_3_a_new_job_sends_its_statuses_again(rig: Rig) -> None:
    rig.order()
    await run(rig.job, rig.clock)
    rig.order()
    await run(rig.job, rig.clock)
    assert rig.statuses() == ["Uploading", "Uploaded", "Uploading", "Uploaded"]


async def test_an_undelivered_notification_is_logged_and_the_job_goes_on(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    rig.outcome = SendOutcome.RESPONSE_FAILED
    rig.order()
    await run(rig.job, rig.clock)
    assert rig.statuses() == ["Uploading", "Uploaded"]
    assert rig.journal.row.stage == "idle"
    assert "log status Uploading not delivered: RESPONSE_FAILED" in caplog.text


# -- progress ----------------------------------------------------------------------------------------


async def test_progress_reaches_the_listeners_with_the_status_it_belongs_to(rig: Rig) -> None:
    seen: list[tuple[str, int, int | None]] = []
    rig.job.listeners.append(lambda status, progress: seen.append((status.value, progress.done, progress.total)))
    rig.order()
    await run(rig.job, rig.clock)
    assert seen == [("Uploading", 0, None), ("Uploading", 0, 10), ("Uploading", 10, 10), ("Uploaded", 10, 10)]
    assert rig.job.progress.as_json() == {"bytesDone": 10, "bytesTotal": 10}
    rig.job.reset()
    assert rig.job.progress == JobProgress()


# -- the stages and the lifecycle --------------------------------------------------------------------


async def test_F_7_a_step_that_reboots_stops_the_job_until_resume(rig: Rig) -> None:
    rig.reboot_after_upload = True
    rig.order()
    await run(rig.job, rig.clock, 3600)
    assert rig.statuses() == ["Uploading"]
    assert rig.journal.row.stage == "rebooted"
    await power_loss(rig)  # the reboot: resume() after the next boot runs the journalled stage
    assert rig.statuses() == ["Uploading", "Uploaded"]
    assert rig.journal.row.stage == "idle"


async def test_resume_with_no_job_under_way_does_nothing(rig: Rig) -> None:
    await power_loss(rig)
    assert rig.sent == [] and rig.uploads == []


async def test_reset_stops_the_job_and_keeps_the_journal(rig: Rig) -> None:
    rig.script = ["refused"]
    rig.order(retries=1, retry_interval=60)
    await run(rig.job, rig.clock)
    rig.job.reset()
    await rig.clock.advance(3600)
    assert len(rig.uploads) == 1
    assert (rig.journal.row.stage, rig.journal.row.attempts) == ("uploading", 1)  # for resume()


async def test_start_twice_runs_one_job(rig: Rig) -> None:
    rig.hold = asyncio.Event()
    rig.order()
    await rig.job.start()
    await run(rig.job, rig.clock)
    rig.hold.set()
    await rig.clock.advance(0)
    assert len(rig.uploads) == 1
    assert rig.statuses() == ["Uploading", "Uploaded"]


# -- the request's retry fields (F-4, D-2) ---------------------------------------------------------


BOUNDS = TransferSettings()


def test_F_4_absent_retry_fields_are_the_stations_to_decide() -> None:
    assert (retries_or_default(msgspec.UNSET, BOUNDS), retry_interval_or_default(msgspec.UNSET, BOUNDS)) == (3, 60)


def test_F_4_negative_retries_mean_none_and_a_short_interval_the_minimum() -> None:
    assert (retries_or_default(-1, BOUNDS), retry_interval_or_default(-5, BOUNDS)) == (0, BOUNDS.min_retry_interval)
    assert (retries_or_default(2, BOUNDS), retry_interval_or_default(30, BOUNDS)) == (2, 30)


@pytest.mark.parametrize("asked", [11, 2**31 - 1, 2**63 - 1])
def test_F_4_retries_beyond_the_bound_are_the_bound(asked: int) -> None:
    assert retries_or_default(asked, BOUNDS) == BOUNDS.max_retries == 10


@pytest.mark.parametrize(("asked", "kept"), [(0, 10), (9, 10), (86_400, 86_400), (10**12, 86_400), (2**62, 86_400)])
def test_F_4_D_2_a_retry_interval_is_brought_within_its_bounds(asked: int, kept: int) -> None:
    assert retry_interval_or_default(asked, BOUNDS) == kept
