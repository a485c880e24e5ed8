"""GetDiagnostics in, DiagnosticsStatusNotification out (checklist 4.2), and the diagnostics archive.

Answers: GetDiagnostics (D-1). Sends: DiagnosticsStatusNotification (D-3). TriggerMessage:
DiagnosticsStatusNotification (C-32, D-4).

GetDiagnostics is journalled in ``store.diagnostics`` before it is answered with the file name, and runs on the
job engine (``kernel/jobs.py``); the archive is built after the answer and uploaded to the directory ``location``
(D-2) with ``retries`` further attempts ``retryInterval`` apart: Uploading → Uploaded, or UploadFailed after the
last attempt (D-3). A reboot resumes the upload with the attempts already used (the archive is built again if it
was lost). A second GetDiagnostics while one uploads replaces it (the latest request wins, as with
UpdateFirmware). A triggered DiagnosticsStatusNotification reports Uploading while an upload runs and Idle
otherwise (D-4), also after UploadFailed: nothing is left half done by a failed upload, unlike a failed firmware
update.

The archive and the upload step are the kernel's (``kernel/uploads.py``), shared with GetLog of either version;
the archive's ``configuration.json`` lists every 1.6 key (AuthorizationKey and any URL password redacted).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

import msgspec

from chargebox.clock import Clock
from chargebox.log import Log
from chargebox.protocol.messages import (
    Action,
    DiagnosticsStatus,
    DiagnosticsStatusNotificationRequest,
    DiagnosticsStatusNotificationResponse,
    GetDiagnosticsRequest,
    GetDiagnosticsResponse,
    MessageTrigger,
)
from chargebox.redact import REDACTED, redact
from chargebox.rpc import Handler, Reply, SendResult
from chargebox.station.feature import Feature, Needs
from chargebox.station.kernel.config import Configuration
from chargebox.station.kernel.jobs import After, Job, retries_or_default, retry_interval_or_default
from chargebox.station.kernel.kernel import Kernel
from chargebox.station.kernel.lane import Lane
from chargebox.station.kernel.service import Service, Trigger, Triggers
from chargebox.station.kernel.uploads import Contents, FileUpload, Stage, build_archive, safe_name, station_contents
from chargebox.station.v16.config_keys import Profile
from chargebox.store import DiagnosticsJobRecord, Store
from chargebox.transfer import Transfer, Workspace

SECRET_KEYS: Final = frozenset({"authorizationkey"})


class DiagnosticsService(Service):
    """GetDiagnostics, the archive, its upload and DiagnosticsStatusNotification."""

    def __init__(
        self,
        *,
        lane: Lane,
        store: Store,
        clock: Clock,
        transfer: Transfer,
        workspace: Workspace,
        charge_point_id: str,
        contents: Contents,
        log: Log,
    ) -> None:
        """``contents(start, stop)`` gathers what the archive holds for a window (``station_contents``)."""
        self.transfer = transfer  # public: an integrator (or a test) may swap it
        self._lane = lane
        self._store = store
        self._clock = clock
        self._id = charge_point_id
        self.contents = contents
        self._log = log
        self._job = Job(
            name="diagnostics",
            journal=store.diagnostics,
            statuses=DiagnosticsStatus,
            steps={Stage.UPLOADING: self._upload},
            send=self.send_diagnostics_status_notification,
            clock=clock,
            log=log,
        )
        self._upload_step = FileUpload(job=self._job, workspace=workspace, transfer=lambda: self.transfer)

    def handlers(self) -> dict[Action, Handler]:
        return {Action.GET_DIAGNOSTICS: self.on_get_diagnostics}

    def triggers(self, permit: Callable[[Action], None]) -> Triggers:
        async def send(_connector_id: int | None) -> None:
            permit(Action.DIAGNOSTICS_STATUS_NOTIFICATION)
            await self.send_diagnostics_status_notification(self.current_status())  # D-4

        return {MessageTrigger.DIAGNOSTICS_STATUS_NOTIFICATION: Trigger(send)}  # C-32, D-4

    # -- status -----------------------------------------------------------------------------------

    @property
    def status(self) -> DiagnosticsStatus:
        """The last status entered, as persisted."""
        return self._job.status

    def current_status(self) -> DiagnosticsStatus:
        """D-4: Uploading while an upload runs, Idle otherwise."""
        job = self._store.diagnostics.load()
        return DiagnosticsStatus(job.status) if job.stage == Stage.UPLOADING else DiagnosticsStatus.IDLE

    def set_diagnostics_status(self, status: DiagnosticsStatus) -> None:
        """Persisted before it is sent (D-3)."""
        self._job.set_status(status)

    async def send_diagnostics_status_notification(
        self, status: DiagnosticsStatus | None = None
    ) -> SendResult[DiagnosticsStatusNotificationResponse]:
        """Sends ``status``, by default the one last set (the trigger passes ``current_status()``, D-4)."""
        return await self._lane.call(DiagnosticsStatusNotificationRequest(status=status or self.status))

    # -- GetDiagnostics -------------------------------------------------------------------------

    def on_get_diagnostics(self, request: GetDiagnosticsRequest) -> Reply[GetDiagnosticsResponse]:
        """D-1: journal the request and answer with the file name; build and upload after the answer."""
        if self._job.stage == Stage.UPLOADING:
            self._log.info("= GetDiagnostics replaces the upload under way")
            self._upload_step.abandon(self._store.diagnostics.load().file_name)
        now = self._clock.now()
        file_name = f"diagnostics-{safe_name(self._id, 180)}-{now:%Y%m%dT%H%M%SZ}.zip"
        self._store.diagnostics.save_job(
            location=request.location,
            file_name=file_name,
            retries=retries_or_default(request.retries, self.transfer.settings),
            retry_interval=retry_interval_or_default(request.retry_interval, self.transfer.settings),
            start_time=None if request.start_time is msgspec.UNSET else request.start_time.isoformat(),
            stop_time=None if request.stop_time is msgspec.UNSET else request.stop_time.isoformat(),
            received_at=now.isoformat(),
        )
        self._log.info("= GetDiagnostics: %s to %s", file_name, redact(request.location))
        return Reply(GetDiagnosticsResponse(file_name=file_name), then=self._job.start)

    # -- lifecycle ------------------------------------------------------------------------------

    async def resume(self) -> None:
        """After an accepted boot: finish an upload a reboot or a power loss interrupted."""
        await self._job.resume()

    def reset(self) -> None:
        """Seed: the DiagnosticStatusNotification module's ResetGlobals. The journal is kept."""
        self._job.reset()

    # -- the upload: the job's one step -----------------------------------------------------------

    async def _upload(self, job: DiagnosticsJobRecord) -> After:
        """D-2, D-3: the archive (built again if a reboot lost it), uploaded with the attempts left."""
        assert job.file_name is not None and job.location is not None

        async def build(archive: Path) -> None:
            await asyncio.to_thread(build_archive, archive, self.contents(job.start_time, job.stop_time))

        return await self._upload_step.run(
            job.file_name,
            job.location,
            build,
            uploading=DiagnosticsStatus.UPLOADING,
            uploaded=DiagnosticsStatus.UPLOADED,
            failed=DiagnosticsStatus.UPLOAD_FAILED,
        )


def configuration_listing(config: Configuration) -> Callable[[], list[dict[str, Any]]]:
    """Every key of the 1.6 configuration, as an archive lists it (AuthorizationKey redacted)."""

    def listing() -> list[dict[str, Any]]:
        return [
            {"key": key.name, "value": REDACTED if key.name.lower() in SECRET_KEYS else config.configured(key.name),
             "readonly": key.readonly}
            for key in config.keys()  # noqa: SIM118 (a list of ConfigKey, not a dict)
        ]  # fmt: skip

    return listing


def _build(kernel: Kernel, _needs: Needs) -> DiagnosticsService:
    return DiagnosticsService(lane=kernel.lane, store=kernel.store, clock=kernel.clock, transfer=kernel.transfer,
                              workspace=kernel.workspace, charge_point_id=kernel.settings.charge_point_id,
                              contents=station_contents(kernel, configuration_listing(kernel.config)),
                              log=kernel.log)  # fmt: skip


FEATURE: Final = Feature(
    name="diagnostics",
    profile=Profile.FIRMWARE_MANAGEMENT,
    service=DiagnosticsService,
    build=_build,
    actions=frozenset({Action.GET_DIAGNOSTICS}),
    tables=frozenset({"diagnostics_job"}),
)
