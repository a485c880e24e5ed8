"""The GetLog job, for the whitepaper's GetLog (1.6, checklist LG-1..LG-4) and 2.0.1's (use case N01).

The two are one use case (N01 is the whitepaper's): the same request, the same statuses (their enums hold the same
values, 2.0.1's one more), journalled in the same store row (``store.log_job``, table ``log_job``) before the
answer, run on the job engine with the upload step and archive of ``uploads.py``. What differs per version is given
to ``LogUploadJob``: the status enum, the notification message, the configuration the diagnostics archive lists,
and whether a cancelled upload is told (N01.FR.20).

- GetLog is answered Accepted with the file's name (LG-1, N01.FR.01); the file is built after the answer:
  DiagnosticsLog the diagnostics archive for the window, SecurityLog the security log's entries between
  oldestTimestamp and latestTimestamp, one a line.
- The upload goes to remoteLocation through the kernel's transfer, ``retries`` further attempts ``retryInterval``
  apart: Uploading, then Uploaded, or UploadFailure after the last attempt (PermissionDenied when the server refused
  our credentials), each with the requestId (LG-3, N01.FR.07 to N01.FR.10). A reboot resumes the upload with the
  attempts already used.
- A second GetLog during an upload cancels it and is answered AcceptedCanceled (LG-2, N01.FR.12); 2.0.1 first
  sends the cancelled upload's LogStatusNotification AcceptedCanceled with its requestId (N01.FR.20).
- A triggered LogStatusNotification sends Uploading while an upload runs, else Idle without a requestId (N01.FR.13).
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Generic, Protocol

import msgspec

from chargebox.clock import Clock
from chargebox.log import Log
from chargebox.protocol.base import Message
from chargebox.redact import redact
from chargebox.rpc import SendResult
from chargebox.station.kernel.jobs import After, Job, JobRequest, S, retries_or_default, retry_interval_or_default
from chargebox.station.kernel.lane import Lane
from chargebox.station.kernel.uploads import (
    ArchiveContents,
    FileUpload,
    Stage,
    build_archive,
    safe_name,
    write_security_log,
)
from chargebox.store import LogJobRecord, Store
from chargebox.transfer import Transfer, Workspace

SECURITY_LOG = "SecurityLog"  # LogEnumType, spelt so by both versions
DIAGNOSTICS_LOG = "DiagnosticsLog"


class Answer(enum.StrEnum):
    """GetLog's answer, in both versions' spelling (LogStatus, LogStatusEnumType)."""

    ACCEPTED = "Accepted"
    ACCEPTED_CANCELED = "AcceptedCanceled"


class LogParameters(Protocol):
    @property
    def remote_location(self) -> str: ...
    @property
    def oldest_timestamp(self) -> datetime | msgspec.UnsetType: ...
    @property
    def latest_timestamp(self) -> datetime | msgspec.UnsetType: ...


class LogRequest(JobRequest, Protocol):
    """GetLog (the whitepaper's and 2.0.1's have these fields)."""

    @property
    def log(self) -> LogParameters: ...
    @property
    def log_type(self) -> enum.StrEnum: ...


@dataclass(frozen=True, slots=True)
class Terms(Generic[S]):
    """What a version gives the job: its status enum, its notification (``notification(status, requestId)``), and
    whether a cancelled upload is told AcceptedCanceled (2.0.1's N01.FR.20)."""

    statuses: type[S]
    notification: Callable[[S, int | msgspec.UnsetType], Message]
    tell_canceled: bool


class LogUploadJob(Generic[S]):
    """The job behind a version's GetLog service, which adds its handler and trigger."""

    def __init__(
        self,
        *,
        terms: Terms[S],
        lane: Lane,
        store: Store,
        clock: Clock,
        transfer: Transfer,
        workspace: Workspace,
        charge_point_id: str,
        diagnostics: Callable[[str | None, str | None], ArchiveContents],
        log: Log,
    ) -> None:
        """``diagnostics(oldest, latest)`` gathers what a diagnostics archive holds for that window."""
        self.transfer = transfer  # public: an integrator (or a test) may swap it
        self._terms = terms
        self._s = terms.statuses
        self._lane = lane
        self._store = store
        self._clock = clock
        self._id = charge_point_id
        self._diagnostics = diagnostics
        self._log = log
        self._job = Job(
            name="log",
            journal=store.log_job,
            statuses=terms.statuses,
            steps={Stage.UPLOADING: self._upload},
            send=self.send_log_status_notification,
            clock=clock,
            log=log,
        )
        self._upload_step = FileUpload(job=self._job, workspace=workspace, transfer=lambda: self.transfer)

    @property
    def status(self) -> S:
        return self._job.status

    def current_status(self) -> S:
        """LG-3, N01.FR.13: Uploading while an upload runs, Idle otherwise."""
        job = self._store.log_job.load()
        return self._s(job.status) if job.stage == Stage.UPLOADING else self._s("Idle")

    async def send_log_status_notification(self, status: S | None = None) -> SendResult[Any]:
        """LG-3, N01.FR.07 to N01.FR.10, N01.FR.13: every status with the requestId, but Idle (no upload is meant
        by it)."""
        status = status or self.status
        request_id = self._store.log_job.load().request_id
        named = request_id if request_id is not None and status != "Idle" else msgspec.UNSET
        return await self._lane.call(self._terms.notification(status, named))

    def order(self, request: LogRequest) -> tuple[Answer, str, Callable[[], Awaitable[None]]]:
        """LG-1, LG-2, N01.FR.01, N01.FR.12: journal the request; the answer, the file's name and what starts the
        build and upload once the answer is written (a ``Reply.then``)."""
        answer = Answer.ACCEPTED
        canceled: int | None = None
        if self._job.stage == Stage.UPLOADING:
            self._log.info("= GetLog cancels the upload under way (LG-2, N01.FR.12)")
            job = self._store.log_job.load()
            self._upload_step.abandon(job.file_name)
            answer, canceled = Answer.ACCEPTED_CANCELED, job.request_id
        now = self._clock.now()
        security = request.log_type == SECURITY_LOG
        kind, extension = ("securitylog", "log") if security else ("diagnosticslog", "zip")
        file_name = f"{kind}-{safe_name(self._id, 160)}-{request.request_id}-{now:%Y%m%dT%H%M%SZ}.{extension}"[:255]
        self._store.log_job.update(
            stage=Stage.UPLOADING, status="Idle", request_id=request.request_id,
            log_type=request.log_type.value, location=request.log.remote_location, file_name=file_name,
            retries=retries_or_default(request.retries, self.transfer.settings),
            retry_interval=retry_interval_or_default(request.retry_interval, self.transfer.settings),
            oldest=_iso(request.log.oldest_timestamp), latest=_iso(request.log.latest_timestamp),
            attempts=0, next_try_at=None, received_at=now.isoformat(),
        )  # fmt: skip
        self._log.info("= GetLog %s: %s to %s", request.log_type, file_name, redact(request.log.remote_location))

        async def start() -> None:
            if canceled is not None and self._terms.tell_canceled:  # N01.FR.20
                await self._lane.call(self._terms.notification(self._s("AcceptedCanceled"), canceled))
            await self._job.start()

        return answer, file_name, start

    async def resume(self) -> None:
        await self._job.resume()

    def reset(self) -> None:
        self._job.reset()

    async def _upload(self, job: LogJobRecord) -> After:
        """LG-1, LG-3: the file (built again if a reboot lost it), uploaded with the attempts left."""
        assert job.file_name is not None and job.location is not None

        async def build(path: Path) -> None:
            if job.log_type == DIAGNOSTICS_LOG:
                await asyncio.to_thread(build_archive, path, self._diagnostics(job.oldest, job.latest))
            else:
                await write_security_log(self._store, job.oldest, job.latest, path)

        return await self._upload_step.run(
            job.file_name, job.location, build, uploading=self._s("Uploading"), uploaded=self._s("Uploaded"),
            failed=self._s("UploadFailure"), denied=self._s("PermissionDenied"),
        )  # fmt: skip


def _iso(value: datetime | msgspec.UnsetType) -> str | None:
    return None if isinstance(value, msgspec.UnsetType) else value.astimezone(UTC).isoformat()
