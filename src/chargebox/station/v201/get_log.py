"""Logs of a 2.0.1 station (use case N01): GetLog in, LogStatusNotification out.

GetLog is journalled in ``store.log_job`` (the whitepaper's GetLog job, the same columns) before it is answered
Accepted with the file's name (N01.FR.01), and runs on the kernel's job engine with the upload step and archive
1.6 uses (``kernel/uploads.py``): the file is built after the answer (DiagnosticsLog: the diagnostics archive, its
configuration the device model's entries, the write-only password left out; SecurityLog: the security log's
entries between oldestTimestamp and latestTimestamp) and uploaded to remoteLocation through the kernel's transfer
(FTP, FTPS, HTTP, HTTPS), ``retries`` further attempts ``retryInterval`` apart: Uploading, then Uploaded, or
UploadFailure after the last attempt (PermissionDenied when the server refused our credentials), each with the
requestId (N01.FR.07 to N01.FR.10, N01.FR.13). A reboot resumes the upload with the attempts already used. A second
GetLog during an upload cancels it: answered AcceptedCanceled (N01.FR.12), and the cancelled upload's
LogStatusNotification says AcceptedCanceled with its requestId before the new one starts (N01.FR.20). A triggered
LogStatusNotification sends Uploading while an upload runs, else Idle without a requestId (N01.FR.13).
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
from chargebox.protocol.v201 import messages as m
from chargebox.redact import redact
from chargebox.rpc import Handler, Reply, SendResult
from chargebox.station.feature import Feature, Needs
from chargebox.station.kernel.jobs import After, Job, retries_or_default, retry_interval_or_default
from chargebox.station.kernel.kernel import Kernel
from chargebox.station.kernel.lane import Lane
from chargebox.station.kernel.service import Permit, Service, Trigger, Triggers
from chargebox.station.kernel.uploads import (
    ArchiveContents,
    FileUpload,
    Stage,
    build_archive,
    safe_name,
    station_contents,
    write_security_log,
)
from chargebox.station.v201.device_model import DeviceModel
from chargebox.station.v201.offer import Block
from chargebox.store import LogJobRecord, Store
from chargebox.transfer import Transfer, Workspace

U = m.UploadLogStatusEnumType


class GetLogService(Service[m.Action]):
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
        """``diagnostics(oldest, latest)`` gathers what a diagnostics archive holds for that window."""
        self.transfer = transfer  # public: an integrator (or a test) may swap it
        self._lane = lane
        self._store = store
        self._clock = clock
        self._id = charge_point_id
        self._diagnostics = diagnostics
        self._log = log
        self._job = Job(
            name="log",
            journal=store.log_job,
            statuses=U,
            steps={Stage.UPLOADING: self._upload},
            send=self.send_log_status_notification,
            clock=clock,
            log=log,
        )
        self._upload_step = FileUpload(job=self._job, workspace=workspace, transfer=lambda: self.transfer)

    def handlers(self) -> dict[m.Action, Handler]:
        return {m.Action.GET_LOG: self.on_get_log}

    def triggers(self, permit: Permit) -> Triggers:
        async def send(_evse: int | None) -> None:
            permit(m.Action.LOG_STATUS_NOTIFICATION)  # B02.FR.02
            await self.send_log_status_notification(self.current_status())  # N01.FR.13

        return {m.MessageTriggerEnumType.LOG_STATUS_NOTIFICATION: Trigger(send)}

    @property
    def status(self) -> m.UploadLogStatusEnumType:
        return self._job.status

    def current_status(self) -> m.UploadLogStatusEnumType:
        """N01.FR.13: Uploading while an upload runs, Idle otherwise."""
        job = self._store.log_job.load()
        return U(job.status) if job.stage == Stage.UPLOADING else U.IDLE

    async def send_log_status_notification(
        self, status: m.UploadLogStatusEnumType | None = None
    ) -> SendResult[m.LogStatusNotificationResponse]:
        """N01.FR.07 to N01.FR.10, N01.FR.13: every status with the requestId, but Idle (no upload is meant by it)."""
        status = status or self.status
        request_id = self._store.log_job.load().request_id
        named = request_id if request_id is not None and status is not U.IDLE else msgspec.UNSET
        return await self._lane.call(m.LogStatusNotificationRequest(status=status, request_id=named))

    def on_get_log(self, request: m.GetLogRequest) -> Reply[m.GetLogResponse]:
        """N01.FR.01, N01.FR.12: journal the request, answer with the file name; build and upload after."""
        status = m.LogStatusEnumType.ACCEPTED
        canceled: int | None = None
        if self._job.stage == Stage.UPLOADING:
            self._log.info("= GetLog cancels the upload under way (N01.FR.12)")
            job = self._store.log_job.load()
            self._upload_step.abandon(job.file_name)
            status, canceled = m.LogStatusEnumType.ACCEPTED_CANCELED, job.request_id
        now = self._clock.now()
        security = request.log_type is m.LogEnumType.SECURITY_LOG
        kind, extension = ("securitylog", "log") if security else ("diagnosticslog", "zip")
        file_name = f"{kind}-{safe_name(self._id, 160)}-{request.request_id}-{now:%Y%m%dT%H%M%SZ}.{extension}"[:255]
        self._store.log_job.update(
            stage=Stage.UPLOADING, status=U.IDLE.value, request_id=request.request_id,
            log_type=request.log_type.value, location=request.log.remote_location, file_name=file_name,
            retries=retries_or_default(request.retries, self.transfer.settings),
            retry_interval=retry_interval_or_default(request.retry_interval, self.transfer.settings),
            oldest=_iso(request.log.oldest_timestamp), latest=_iso(request.log.latest_timestamp),
            attempts=0, next_try_at=None, received_at=now.isoformat(),
        )  # fmt: skip
        self._log.info("= GetLog %s: %s to %s", request.log_type, file_name, redact(request.log.remote_location))

        async def start() -> None:
            if canceled is not None:  # N01.FR.20
                await self._lane.call(m.LogStatusNotificationRequest(status=U.ACCEPTED_CANCELED, request_id=canceled))
            await self._job.start()

        return Reply(m.GetLogResponse(status=status, filename=file_name), then=start)

    async def resume(self) -> None:
        await self._job.resume()

    def reset(self) -> None:
        self._job.reset()

    async def _upload(self, job: LogJobRecord) -> After:
        assert job.file_name is not None and job.location is not None

        async def build(path: Path) -> None:
            await self._build(job, path)

        return await self._upload_step.run(job.file_name, job.location, build, uploading=U.UPLOADING,
                                           uploaded=U.UPLOADED, failed=U.UPLOAD_FAILURE,
                                           denied=U.PERMISSION_DENIED)  # fmt: skip

    async def _build(self, job: LogJobRecord, path: Path) -> None:
        if job.log_type == m.LogEnumType.DIAGNOSTICS_LOG:
            await asyncio.to_thread(build_archive, path, self._diagnostics(job.oldest, job.latest))
            return
        await write_security_log(self._store, job.oldest, job.latest, path)


def _iso(value: datetime | msgspec.UnsetType) -> str | None:
    return None if isinstance(value, msgspec.UnsetType) else value.astimezone(UTC).isoformat()


def _build(kernel: Kernel[DeviceModel], _needs: Needs) -> GetLogService:
    return GetLogService(lane=kernel.lane, store=kernel.store, clock=kernel.clock, transfer=kernel.transfer,
                         workspace=kernel.workspace, charge_point_id=kernel.settings.charge_point_id,
                         diagnostics=station_contents(kernel, kernel.config.entries), log=kernel.log)  # fmt: skip


FEATURE: Final = Feature(
    name="get_log",
    profile=Block.DIAGNOSTICS,
    service=GetLogService,
    build=_build,
    actions=frozenset({m.Action.GET_LOG}),
    tables=frozenset({"log_job"}),
)
