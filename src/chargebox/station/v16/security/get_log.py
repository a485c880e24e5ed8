"""GetLog in, LogStatusNotification out (security whitepaper N01; checklist LG-1..LG-4).

On the job engine (``kernel/jobs.py``) like GetDiagnostics, journalled in ``store.log_job`` before it is answered,
so a power loss resumes the upload with the attempts it has left. ``SecurityLog`` uploads the security log rows
(``store.security_log``) between oldestTimestamp and latestTimestamp as a text file, one event a line;
``DiagnosticsLog`` uploads the archive GetDiagnostics uploads (``station/v16/diagnostics.py``) for that window.

Statuses (LG-3, LG-4: the schema's spelling): Uploading, then Uploaded, or UploadFailure after the last attempt
(PermissionDenied when the server refused our credentials); each with the request's requestId. A new GetLog
while one uploads cancels it and is answered AcceptedCanceled (LG-2). A triggered LogStatusNotification
(ExtendedTriggerMessage) reports Uploading with its requestId while an upload runs, Idle otherwise.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

import msgspec

from chargebox.clock import Clock
from chargebox.log import Log
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
from chargebox.station.feature import Feature, Needs
from chargebox.station.kernel.jobs import After, Job, retries_or_default, retry_interval_or_default
from chargebox.station.kernel.kernel import Kernel
from chargebox.station.kernel.lane import Lane
from chargebox.station.kernel.service import Permit, Service, Trigger
from chargebox.station.kernel.uploads import (
    ArchiveContents,
    FileUpload,
    Stage,
    build_archive,
    safe_name,
    station_contents,
    write_security_log,
)
from chargebox.station.v16.boot import BootService
from chargebox.station.v16.config_keys import Profile
from chargebox.station.v16.diagnostics import configuration_listing
from chargebox.station.v16.security.extended_trigger import ExtendedTriggers, ExtendedTriggerService
from chargebox.store import LogJobRecord, Store
from chargebox.transfer import Transfer, Workspace


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
        log: Log,
    ) -> None:
        """``diagnostics(oldest, latest)`` gathers what a GetDiagnostics archive holds for that window."""
        self.transfer = transfer
        self._lane = lane
        self._store = store
        self._clock = clock
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
        self._upload_step = FileUpload(job=self._job, workspace=workspace, transfer=lambda: self.transfer)

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
            self._upload_step.abandon(self._store.log_job.load().file_name)
            status = LogStatus.ACCEPTED_CANCELED
        now = self._clock.now()
        kind = "securitylog" if request.log_type is LogType.SECURITY_LOG else "diagnosticslog"
        extension = "log" if request.log_type is LogType.SECURITY_LOG else "zip"
        file_name = f"{kind}-{safe_name(self._id, 160)}-{request.request_id}-{now:%Y%m%dT%H%M%SZ}.{extension}"[:255]
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

        async def build(path: Path) -> None:
            await self._build(job, path)

        return await self._upload_step.run(
            job.file_name,
            job.location,
            build,
            uploading=UploadLogStatus.UPLOADING,
            uploaded=UploadLogStatus.UPLOADED,
            failed=UploadLogStatus.UPLOAD_FAILURE,
            denied=UploadLogStatus.PERMISSION_DENIED,
        )

    async def _build(self, job: LogJobRecord, path: Path) -> None:
        if job.log_type == LogType.DIAGNOSTICS_LOG:
            await asyncio.to_thread(build_archive, path, self._diagnostics(job.oldest, job.latest))
            return
        await write_security_log(self._store, job.oldest, job.latest, path)


def _iso(value: datetime | msgspec.UnsetType) -> str | None:
    return None if isinstance(value, msgspec.UnsetType) else value.astimezone(UTC).isoformat()


def _build(kernel: Kernel, needs: Needs) -> GetLogService:
    service = GetLogService(lane=kernel.lane, store=kernel.store, clock=kernel.clock, transfer=kernel.transfer,
                            workspace=kernel.workspace, charge_point_id=kernel.settings.charge_point_id,
                            diagnostics=station_contents(kernel, configuration_listing(kernel.config)),
                            log=kernel.log)  # fmt: skip
    needs(ExtendedTriggerService).add(service.extended_triggers(needs(BootService).permit_triggered))
    return service


FEATURE: Final = Feature(
    name="get_log",
    profile=Profile.SECURITY,
    service=GetLogService,
    build=_build,
    actions=frozenset({Action.GET_LOG}),
    tables=frozenset({"log_job"}),
    needs=(BootService, ExtendedTriggerService),
)
