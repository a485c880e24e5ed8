"""Firmware Management profile: UpdateFirmware in, FirmwareStatusNotification out (checklist 4.1, the seed).

Answers: UpdateFirmware (F-1). Sends: FirmwareStatusNotification (F-3). TriggerMessage: FirmwareStatusNotification
(C-32, F-8).

The job runs on the job engine (``station/kernel/jobs.py``), journalled in ``store.firmware`` before each step is acted
on, so a power loss at any point resumes where it was (``resume()`` after the next accepted boot). Its stages::

    scheduled ──▶ downloading ──▶ downloaded ──▶ installing ──▶ installed ──▶ idle
    (retrieveDate)  │  (retries)     (F-6 wait)      │  (reboot)   (Installed after the BootNotification, F-7)
                    └─▶ idle: DownloadFailed         └─▶ idle: InstallationFailed

Decisions (docs/howto/firmware.md):
- A second UpdateFirmware replaces a job that has not started installing (the partial download is dropped; the
  CSMS's latest word wins, as OCPP 2.0.1 does); once installing has begun it is answered ``{}`` and ignored
  (logged), because an install is never aborted.
- A download attempt counts once it starts, even if a power cut ends it: retries are never reset by a reboot,
  and an image that crashes the station cannot make it download for ever (F-4).
- Triggered status (F-8): Idle when no update is under way (also while waiting for retrieveDate, before any
  status was entered, and once Installed was entered); the stage's status while one runs; after a failure,
  the failure (DownloadFailed, InstallationFailed) until the next UpdateFirmware, so a CSMS that missed the
  notification still learns the update did not happen.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, Final, TypeVar

from chargebox import hal
from chargebox.clock import Clock
from chargebox.log import Log
from chargebox.protocol.messages import (
    Action,
    FirmwareStatus,
    FirmwareStatusNotificationRequest,
    FirmwareStatusNotificationResponse,
    MessageTrigger,
    UpdateFirmwareRequest,
    UpdateFirmwareResponse,
)
from chargebox.redact import redact
from chargebox.rpc import Handler, Reply, SendResult
from chargebox.station.feature import Feature, Needs
from chargebox.station.kernel.firmware import ImageInstall, Stage
from chargebox.station.kernel.jobs import After, Job, JobProgress, retries_or_default, retry_interval_or_default
from chargebox.station.kernel.kernel import Kernel
from chargebox.station.kernel.lane import Lane
from chargebox.station.kernel.service import Service, Trigger, Triggers
from chargebox.station.v16.boot import BootService, reboot_with_firmware
from chargebox.station.v16.config_keys import Profile
from chargebox.station.v16.connectors import ConnectorsService
from chargebox.store import FirmwareJobRecord, Store
from chargebox.transfer import Transfer, Workspace, remove_download

FirmwareProgress = JobProgress  # the name the demo's progress bar knows it by
S = TypeVar("S", bound=enum.StrEnum)


class FirmwareService(Service):
    """UpdateFirmware, the download, the install and FirmwareStatusNotification (the seed module)."""

    def __init__(
        self,
        *,
        lane: Lane,
        store: Store,
        clock: Clock,
        installer: hal.FirmwareInstaller,
        transfer: Transfer,
        workspace: Workspace,
        connectors: ConnectorsService,
        reboot: Callable[[str], None],
        log: Log,
    ) -> None:
        """``reboot(version)`` restarts the station software with ``version`` as its firmwareVersion (F-7)."""
        self.installer = installer
        self.transfer = transfer  # public, like ``installer``: an integrator (or a test) may swap it
        self._lane = lane
        self._store = store
        self._clock = clock
        self._workspace = workspace
        self._connectors = connectors
        self._reboot = reboot
        self._log = log
        self._job = Job(
            name="firmware",
            journal=store.firmware,
            statuses=FirmwareStatus,
            steps={
                Stage.SCHEDULED: self._download,
                Stage.DOWNLOADING: self._download,
                Stage.DOWNLOADED: self._prepare_install,
                Stage.INSTALLING: self._install,
                Stage.INSTALLED: self._installed,
            },
            send=self.send_firmware_status_notification,
            clock=clock,
            log=log,
        )
        self._image = ImageInstall(job=self._job, installer=lambda: self.installer, connectors=connectors, log=log)

    def handlers(self) -> dict[Action, Handler]:
        return {Action.UPDATE_FIRMWARE: self.on_update_firmware}

    def triggers(self, permit: Callable[[Action], None]) -> Triggers:
        async def send(_connector_id: int | None) -> None:
            permit(Action.FIRMWARE_STATUS_NOTIFICATION)  # B-5: a triggered message may go while Pending
            await self.send_firmware_status_notification(self.current_status())  # F-8

        return {MessageTrigger.FIRMWARE_STATUS_NOTIFICATION: Trigger(send)}  # C-32, F-8

    @property
    def progress(self) -> FirmwareProgress:
        """Bytes of the image downloaded so far."""
        return self._job.progress

    @property
    def listeners(self) -> list[Callable[[FirmwareStatus, FirmwareProgress], None]]:
        """Called on every status set and every chunk downloaded (the progress bar); append to follow."""
        return self._job.listeners

    # -- the seed API -----------------------------------------------------------------------------

    @property
    def status(self) -> FirmwareStatus:
        """The last status entered, as persisted."""
        return self._job.status

    @property
    def stage(self) -> Stage:
        return Stage(self._job.stage)

    def current_status(self) -> FirmwareStatus:
        """What a FirmwareStatusNotification reports now (F-8): Idle only when no update is under way."""
        status = self.status
        if status is FirmwareStatus.INSTALLED:
            # The update is over once installed. A trigger that crosses the Installed notification
            # (sent after the reboot, F-7) already reports Idle, so the central system never sees
            # Installed twice; a crash before Installed went out still resends it from resume().
            return FirmwareStatus.IDLE
        return status

    def set_firmware_status(self, status: FirmwareStatus) -> None:
        """Seed: SetFirmwareStatusNotificationStatus. Persisted before anything acts on it (F-3)."""
        self._job.set_status(status)

    async def send_firmware_status_notification(
        self, status: FirmwareStatus | None = None
    ) -> SendResult[FirmwareStatusNotificationResponse]:
        """Seed: SendFirmwareStatusNotificationRequest. Sends ``status``, by default the one last set; the
        result has the seed's five outcomes. The trigger path passes ``current_status()`` (F-8)."""
        return await self._lane.call(FirmwareStatusNotificationRequest(status=status or self.status))

    # -- UpdateFirmware -------------------------------------------------------------------------

    def on_update_firmware(self, request: UpdateFirmwareRequest) -> UpdateFirmwareResponse | Reply[Any]:
        """F-1: journal the job, answer ``{}`` at once; the work starts once the answer is written."""
        stage = self.stage
        location = redact(request.location)
        if stage in (Stage.INSTALLING, Stage.INSTALLED):
            self._log.warning("! UpdateFirmware %s ignored: an install is under way and is never aborted", location)
            return UpdateFirmwareResponse()
        if stage is not Stage.IDLE:
            self._log.info("= UpdateFirmware %s replaces the %s job", location, stage)
            self._abandon()
        now = self._clock.now()
        image = self._workspace.file(f"firmware-{now:%Y%m%dT%H%M%S%f}.img")
        self._store.firmware.save_job(
            location=request.location,
            retrieve_date=request.retrieve_date.isoformat(),
            retries=retries_or_default(request.retries, self.transfer.settings),
            retry_interval=retry_interval_or_default(request.retry_interval, self.transfer.settings),
            received_at=now.isoformat(),
            image=str(image),
        )
        self.set_firmware_status(FirmwareStatus.IDLE)  # a new job has entered no status yet
        self._log.info("= UpdateFirmware %s, not before %s", location, request.retrieve_date.isoformat())
        return Reply(UpdateFirmwareResponse(), then=self._job.start)

    # -- lifecycle ------------------------------------------------------------------------------

    async def resume(self) -> None:
        """After an accepted boot: carry on with the job a reboot or a power loss interrupted."""
        await self._job.resume()

    def reset(self) -> None:
        """Seed: OCPPFirmwareStatusNotificationResetGlobals. Cancel the job's task; the journal is kept."""
        self._job.reset()

    # -- the steps of the job (the engine runs the one of the journalled stage) -------------------

    async def _download(self, job: FirmwareJobRecord) -> After:
        """F-2, F-3, F-4: not before retrieveDate; each failed attempt retried after retryInterval."""
        assert job.retrieve_date is not None and job.location is not None and job.image is not None
        await self._job.wait_until(datetime.fromisoformat(job.retrieve_date))  # F-2: never before retrieveDate
        await self._image.download(job.location, Path(job.image), transfer=self.transfer,
                                   downloading=FirmwareStatus.DOWNLOADING, downloaded=FirmwareStatus.DOWNLOADED,
                                   failed=FirmwareStatus.DOWNLOAD_FAILED)  # fmt: skip
        return After.NEXT

    async def _prepare_install(self, _job: FirmwareJobRecord) -> After:
        """F-6: free connectors Unavailable, wait for every transaction to end (never abort one), then Installing."""
        await self._image.prepare(FirmwareStatus.INSTALLING)
        return After.NEXT

    async def _install(self, job: FirmwareJobRecord) -> After:
        """Install the image and reboot; after the reboot this step finds the new version running."""
        installed = await self._image.install(job, installing=FirmwareStatus.INSTALLING,
                                              failed=FirmwareStatus.INSTALLATION_FAILED)  # fmt: skip
        if installed is None:
            return After.NEXT
        version, image = installed
        self._job.update(stage=Stage.INSTALLED, new_version=version)
        remove_download(image)
        self._log.info("= firmware %s installed; rebooting", version)
        self._reboot(version)  # F-7: reboot first, then Installed after the new BootNotification
        return After.REBOOT

    async def _installed(self, _job: FirmwareJobRecord) -> After:
        """F-7: Installed is sent once the new version runs; the stage goes idle only after it is sent, so a
        power cut before that sends it again."""
        await self._job.enter(FirmwareStatus.INSTALLED)
        self._store.firmware.update(stage=Stage.IDLE, image=None)
        return After.NEXT

    def _abandon(self) -> None:
        """A replaced job: stop it, drop its files, give the connectors back (F-6 maintenance)."""
        self._image.abandon(self._store.firmware.load())


def _build(kernel: Kernel, needs: Needs) -> FirmwareService:
    boot = needs(BootService)
    service = FirmwareService(
        lane=kernel.lane,
        store=kernel.store,
        installer=kernel.ports.installer,
        transfer=kernel.transfer,
        workspace=kernel.workspace,
        connectors=needs(ConnectorsService),
        reboot=reboot_with_firmware(kernel, boot),
        clock=kernel.clock,
        log=kernel.log,
    )

    def installed(status: FirmwareStatus, _progress: FirmwareProgress) -> None:
        if status is FirmwareStatus.INSTALLED:
            kernel.security_events.report("FirmwareUpdated", boot.identity.firmware_version)  # F-9

    service.listeners.append(installed)
    return service


FEATURE: Final = Feature(
    name="firmware",
    profile=Profile.FIRMWARE_MANAGEMENT,
    service=FirmwareService,
    build=_build,
    actions=frozenset({Action.UPDATE_FIRMWARE}),
    keys=frozenset({"SupportedFileTransferProtocols"}),
    tables=frozenset({"firmware_job"}),
    needs=(BootService, ConnectorsService),
)
