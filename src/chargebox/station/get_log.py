"""GetLog in, LogStatusNotification out (security whitepaper N01; checklist LG-1..LG-4).

On the job engine (``station/jobs.py``) like GetDiagnostics, journalled in ``store.log_job`` before it is answered,
so a power loss resumes the upload with the attempts it has left. ``SecurityLog`` uploads the security log rows
(``store.security_log``) between oldestTimestamp and latestTimestamp as a text file, one event a line;
``DiagnosticsLog`` uploads the archive GetDiagnostics uploads (``station/diagnostics.py``) for that window.

Statuses (LG-3, LG-4: the schema's spelling): Uploading, then Uploaded, or UploadFailure after the last attempt
(PermissionDenied when the server refused our credentials); each with the request's requestId. A new GetLog
while one uploads cancels it and is answered AcceptedCanceled (LG-2). A triggered LogStatusNotification
(ExtendedTriggerMessage) reports Uploading with its requestId while an upload runs, Idle otherwise.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO, Final

import msgspec

from chargebox.clock import Clock
from chargebox.errors import TransferError
from chargebox.protocol.messages import (
    Action,
    ExtendedMessageTrigger,
    GetLogRequest,
    GetLogResponse,
    LogStatus,
    LogStatusNotificationRequest,
    LogStatusNotificationResponse,
    LogType,
    UploadLogStatus,
)
from chargebox.redact import redact
from chargebox.rpc import Handler, Reply, SendResult
from chargebox.station.diagnostics import ArchiveContents, build_archive
from chargebox.station.extended_trigger import ExtendedTriggers
from chargebox.station.jobs import After, Job, retries_or_default, retry_interval_or_default
from chargebox.station.lane import Lane
from chargebox.station.service import Permit, Service
from chargebox.station.trigger import Trigger
from chargebox.store import LogJobRecord, Store
from chargebox.transfer import Transfer, Workspace, write_durably

_UNSAFE_NAME_RE: Final = re.compile(r"[^A-Za-z0-9._-]+")
_DENIED_RE: Final = re.compile(r"\b(401|403|530)\b|permission|denied|login", re.IGNORECASE)


class Stage(enum.StrEnum):
    IDLE = "idle"
    UPLOADING = "uploading"


class GetLogService(Service):
    """GetLog, the log file, its upload and LogStatusNotification."""

    def __init__(
        self,
        *,
        lane: Lane,
        store: Store,
        clock: Clock,
        transfer: Transfer,
        workspace: Workspace,
        charge_point_id: str,
        diagnostics: Callable[[str | None, str | None], ArchiveContents],
        log: logging.LoggerAdapter[logging.Logger] | logging.Logger,
    ) -> None:
        """``diagnostics(oldest, latest)`` gathers what a GetDiagnostics archive holds for that window."""
        self.transfer = transfer
        self._lane = lane
        self._store = store
        self._clock = clock
        self._workspace = workspace
        self._id = charge_point_id
        self._diagnostics = diagnostics
        self._log = log
        self._job = Job(
            name="log",
            journal=store.log_job,
            statuses=UploadLogStatus,
            steps={Stage.UPLOADING: self._upload},
            send=self.send_log_status_notification,
            clock=clock,
            log=log,
        )

    def handlers(self) -> dict[Action, Handler]:
        return {Action.GET_LOG: self.on_get_log}

    def extended_triggers(self, permit: Permit) -> ExtendedTriggers:
        async def send(_connector_id: int | None) -> None:
            permit(Action.LOG_STATUS_NOTIFICATION)
            await self.send_log_status_notification(self.current_status())

        return {ExtendedMessageTrigger.LOG_STATUS_NOTIFICATION: Trigger(send)}

    @property
    def status(self) -> UploadLogStatus:
        return self._job.status

    def current_status(self) -> UploadLogStatus:
        """LG-3: Uploading while an upload runs, Idle otherwise."""
        job = self._store.log_job.load()
        return UploadLogStatus(job.status) if job.stage == Stage.UPLOADING else UploadLogStatus.IDLE

    async def send_log_status_notification(
        self, status: UploadLogStatus | None = None
    ) -> SendResult[LogStatusNotificationResponse]:
        """LG-3: every status carries the requestId, but a triggered Idle (no upload is meant by it)."""
        status = status or self.status
        job = self._store.log_job.load()
        request_id = msgspec.UNSET if status is UploadLogStatus.IDLE or job.request_id is None else job.request_id
        return await self._lane.call(LogStatusNotificationRequest(status=status, request_id=request_id))

    def on_get_log(self, request: GetLogRequest) -> Reply[GetLogResponse]:
        """LG-1, LG-2: journal the request and answer with the file name; build and upload after the answer."""
        status = LogStatus.ACCEPTED
        if self._job.stage == Stage.UPLOADING:
            self._log.info("= GetLog replaces the upload under way (LG-2)")
            self._abandon()
            status = LogStatus.ACCEPTED_CANCELED
        now = self._clock.now()
        kind = "securitylog" if request.log_type is LogType.SECURITY_LOG else "diagnosticslog"
        extension = "log" if request.log_type is LogType.SECURITY_LOG else "zip"
        safe_id = _UNSAFE_NAME_RE.sub("_", self._id)[:160]
        file_name = f"{kind}-{safe_id}-{request.request_id}-{now:%Y%m%dT%H%M%SZ}.{extension}"[:255]
        self._store.log_job.update(
            stage=Stage.UPLOADING,
            status=UploadLogStatus.IDLE.value,
            request_id=request.request_id,
            log_type=request.log_type.value,
            location=request.log.remote_location,
            file_name=file_name,
            retries=retries_or_default(request.retries, self.transfer.settings),
            retry_interval=retry_interval_or_default(request.retry_interval, self.transfer.settings),
            oldest=_iso(request.log.oldest_timestamp),
            latest=_iso(request.log.latest_timestamp),
            attempts=0,
            next_try_at=None,
            received_at=now.isoformat(),
        )
        self._log.info("= GetLog %s: %s to %s", request.log_type, file_name, redact(request.log.remote_location))
        return Reply(GetLogResponse(status=status, filename=file_name), then=self._job.start)

    async def resume(self) -> None:
        await self._job.resume()

    def reset(self) -> None:
        self._job.reset()

    async def _upload(self, job: LogJobRecord) -> After:
        """LG-1, LG-3: the file (built again if a reboot lost it), uploaded with the attempts left."""
        assert job.file_name is not None and job.location is not None
        location, file_name = job.location, job.file_name
        path = self._workspace.file(file_name)
        if not path.exists():
            await self._build(job, path)
        denied = False

        async def upload() -> None:
            nonlocal denied
            try:
                await self.transfer.upload(path, location, file_name)
            except TransferError as exc:
                denied = bool(_DENIED_RE.search(str(exc)))
                raise

        uploaded = await self._job.attempt("upload", upload, announce=UploadLogStatus.UPLOADING)
        path.unlink(missing_ok=True)
        if uploaded:
            status = UploadLogStatus.UPLOADED
        else:
            status = UploadLogStatus.PERMISSION_DENIED if denied else UploadLogStatus.UPLOAD_FAILURE
        await self._job.enter(status, stage=Stage.IDLE)
        return After.NEXT

    async def _build(self, job: LogJobRecord, path: Path) -> None:
        if job.log_type == LogType.DIAGNOSTICS_LOG:
            await asyncio.to_thread(build_archive, path, self._diagnostics(job.oldest, job.latest))
            return
        oldest = datetime.fromisoformat(job.oldest) if job.oldest else None
        latest = datetime.fromisoformat(job.latest) if job.latest else None
        lines = [
            f"{entry.timestamp} {entry.event_type}{' critical' if entry.critical else ''}"
            f"{' ' + entry.tech_info if entry.tech_info else ''}\n"
            for entry in self._store.security_log.entries(oldest, latest)
        ]

        def write(file: BinaryIO) -> None:
            file.write("".join(lines).encode())

        await asyncio.to_thread(write_durably, path, write)

    def _abandon(self) -> None:
        self._job.reset()
        file_name = self._store.log_job.load().file_name
        if file_name:
            self._workspace.file(file_name).unlink(missing_ok=True)


def _iso(value: datetime | msgspec.UnsetType) -> str | None:
    return None if isinstance(value, msgspec.UnsetType) else value.astimezone(UTC).isoformat()
