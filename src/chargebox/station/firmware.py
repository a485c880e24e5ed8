"""Firmware Management profile: UpdateFirmware in, FirmwareStatusNotification out (checklist 4.1, the seed).

Answers: UpdateFirmware (F-1). Sends: FirmwareStatusNotification (F-3). TriggerMessage: FirmwareStatusNotification
(C-32, F-8).

The job is journalled in ``store.firmware`` before each step is acted on, so a power loss at any point resumes
where it was (``resume()`` after the next accepted boot). Its stages::

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
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Final

import msgspec

from chargebox import hal
from chargebox.clock import Clock, sleep_until
from chargebox.errors import HardwareError, TransferError
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
from chargebox.rpc import Handler, Reply, Rpc, SendResult
from chargebox.station.connectors import ConnectorsService
from chargebox.station.trigger import Trigger, Triggers
from chargebox.store import FirmwareJobRecord, Store
from chargebox.tasks import Tasks
from chargebox.transfer import Transfer, Workspace, partial_path

# F-4: what the CP decides when UpdateFirmware leaves retries / retryInterval out.
DEFAULT_RETRIES: Final = 3
DEFAULT_RETRY_INTERVAL: Final = 60


class Stage(enum.StrEnum):
    """Where the firmware job is (persisted in ``firmware_job.stage``)."""

    IDLE = "idle"
    SCHEDULED = "scheduled"
    DOWNLOADING = "downloading"
    DOWNLOADED = "downloaded"
    INSTALLING = "installing"
    INSTALLED = "installed"


@dataclass(frozen=True, slots=True)
class FirmwareProgress:
    """Bytes of the image downloaded so far, for the progress bar and ``/api/state``."""

    done: int = 0
    total: int | None = None

    def as_json(self) -> dict[str, int | None]:
        return {"bytesDone": self.done, "bytesTotal": self.total}


class FirmwareService:
    """UpdateFirmware, the download, the install and FirmwareStatusNotification (the seed module)."""

    def __init__(
        self,
        *,
        rpc: Rpc,
        store: Store,
        clock: Clock,
        installer: hal.FirmwareInstaller,
        transfer: Transfer,
        workspace: Workspace,
        connectors: ConnectorsService,
        reboot: Callable[[str], None],
        log: logging.LoggerAdapter[logging.Logger] | logging.Logger,
    ) -> None:
        """``reboot(version)`` restarts the station software with ``version`` as its firmwareVersion (F-7)."""
        self.installer = installer
        self.transfer = transfer  # public, like ``installer``: an integrator (or a test) may swap it
        self.progress = FirmwareProgress()
        self.listeners: list[Callable[[FirmwareStatus, FirmwareProgress], None]] = []
        self._rpc = rpc
        self._store = store
        self._clock = clock
        self._workspace = workspace
        self._connectors = connectors
        self._reboot = reboot
        self._log = log
        self._job = Tasks(log, "firmware job")
        self._downloading_sent = False  # sent since this (re)start: resent once after a reboot
        self._installing_sent = False

    def handlers(self) -> dict[Action, Handler]:
        return {Action.UPDATE_FIRMWARE: self.on_update_firmware}

    def triggers(self, permit: Callable[[Action], None]) -> Triggers:
        async def send(_connector_id: int | None) -> None:
            permit(Action.FIRMWARE_STATUS_NOTIFICATION)  # B-5: a triggered message may go while Pending
            await self.send_firmware_status_notification(self.current_status())  # F-8

        return {MessageTrigger.FIRMWARE_STATUS_NOTIFICATION: Trigger(send)}  # C-32, F-8

    # -- the seed API -----------------------------------------------------------------------------

    @property
    def status(self) -> FirmwareStatus:
        """The last status entered, as persisted."""
        return FirmwareStatus(self._store.firmware.load().status)

    @property
    def stage(self) -> Stage:
        return Stage(self._store.firmware.load().stage)

    def current_status(self) -> FirmwareStatus:
        """What a FirmwareStatusNotification reports now (F-8): Idle only when no update is under way."""
        job = self._store.firmware.load()
        status = FirmwareStatus(job.status)
        if status is FirmwareStatus.INSTALLED:
            # The update is over once installed. A trigger that crosses the Installed notification
            # (sent after the reboot, F-7) already reports Idle, so the central system never sees
            # Installed twice; a crash before Installed went out still resends it from resume().
            return FirmwareStatus.IDLE
        return status

    def set_firmware_status(self, status: FirmwareStatus) -> None:
        """Seed: SetFirmwareStatusNotificationStatus. Persisted before anything acts on it (F-3)."""
        self._store.firmware.set_status(status.value)
        self._log.info("= firmware status %s", status)
        self._notify(status)

    async def send_firmware_status_notification(
        self, status: FirmwareStatus | None = None
    ) -> SendResult[FirmwareStatusNotificationResponse]:
        """Seed: SendFirmwareStatusNotificationRequest. Sends ``status``, by default the one last set; the
        result has the seed's five outcomes. The trigger path passes ``current_status()`` (F-8)."""
        return await self._rpc.call(FirmwareStatusNotificationRequest(status=status or self.status))

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
            retries=_non_negative(request.retries, DEFAULT_RETRIES),
            retry_interval=_non_negative(request.retry_interval, DEFAULT_RETRY_INTERVAL),
            received_at=now.isoformat(),
            image=str(image),
        )
        self.set_firmware_status(FirmwareStatus.IDLE)  # a new job has entered no status yet
        self._log.info("= UpdateFirmware %s, not before %s", location, request.retrieve_date.isoformat())
        return Reply(UpdateFirmwareResponse(), then=self._start)

    # -- lifecycle ------------------------------------------------------------------------------

    async def resume(self) -> None:
        """After an accepted boot: carry on with the job a reboot or a power loss interrupted."""
        if self.stage is not Stage.IDLE:
            self._log.info("= resuming the firmware job at stage %s", self.stage)
            await self._start()

    def reset(self) -> None:
        """Seed: OCPPFirmwareStatusNotificationResetGlobals. Cancel the job's task; the journal is kept."""
        self._job.cancel()
        self._downloading_sent = self._installing_sent = False
        self.progress = FirmwareProgress()

    # -- the job --------------------------------------------------------------------------------

    async def _start(self) -> None:
        if not self._job:
            self._job.spawn(self._run())

    async def _run(self) -> None:
        while True:
            job = self._store.firmware.load()
            stage = Stage(job.stage)
            if stage in (Stage.SCHEDULED, Stage.DOWNLOADING):
                await self._download(job)
            elif stage is Stage.DOWNLOADED:
                await self._prepare_install()
            elif stage is Stage.INSTALLING:
                if await self._install(job):
                    return  # rebooting: resume() reports Installed after the new BootNotification (F-7)
            elif stage is Stage.INSTALLED:
                await self._enter(FirmwareStatus.INSTALLED)
                self._store.firmware.update(stage=Stage.IDLE, image=None)
                return
            else:
                return

    async def _download(self, job: FirmwareJobRecord) -> None:
        """F-2, F-3, F-4: not before retrieveDate; each failed attempt retried after retryInterval."""
        assert job.retrieve_date is not None and job.location is not None and job.image is not None
        await sleep_until(self._clock, datetime.fromisoformat(job.retrieve_date))  # F-2: never before retrieveDate
        image = Path(job.image)
        while True:
            job = self._store.firmware.load()
            if job.next_try_at is not None:
                await sleep_until(self._clock, datetime.fromisoformat(job.next_try_at))  # F-4, also across a reboot
            if job.attempts > job.retries:  # the last attempt was cut short by a power loss
                await self._download_failed(image)
                return
            attempt = job.attempts + 1
            self._store.firmware.update(stage=Stage.DOWNLOADING, attempts=attempt, next_try_at=None)
            if not self._downloading_sent:
                await self._enter(FirmwareStatus.DOWNLOADING)
                self._downloading_sent = True
            self._log.info("= downloading firmware, attempt %d of %d", attempt, job.retries + 1)
            try:
                size = await self.transfer.download(job.location or "", image, progress=self._on_progress)
            except TransferError as exc:
                self._log.warning("! firmware download attempt %d of %d failed: %s", attempt, job.retries + 1, exc)
                if attempt > job.retries:
                    await self._download_failed(image)  # F-4: only after the last attempt
                    return
                next_try = self._clock.now() + timedelta(seconds=job.retry_interval)
                self._store.firmware.update(next_try_at=next_try.isoformat())
                continue
            self._log.info("= firmware downloaded: %d bytes", size)
            await self._enter(FirmwareStatus.DOWNLOADED, stage=Stage.DOWNLOADED)
            return

    async def _download_failed(self, image: Path) -> None:
        _remove(image)
        await self._enter(FirmwareStatus.DOWNLOAD_FAILED, stage=Stage.IDLE)

    async def _prepare_install(self) -> None:
        """F-6: free connectors Unavailable, wait for every transaction to end (never abort one), then Installing."""
        self._connectors.set_maintenance(True)
        if self._connectors.transaction_running():
            self._log.info("= firmware ready; installing once no transaction runs (F-6)")
        await self._connectors.wait_until_no_transactions()
        previous = self.installer.running_version()
        await self._enter(FirmwareStatus.INSTALLING, stage=Stage.INSTALLING, previous_version=previous)
        self._installing_sent = True

    async def _install(self, job: FirmwareJobRecord) -> bool:
        """Install the image; True if the station is rebooting (the job goes on in ``resume()``)."""
        self._connectors.set_maintenance(True)  # again after a reboot, which ends maintenance
        await self._connectors.wait_until_no_transactions()
        running = self.installer.running_version()
        if running != job.previous_version:  # a reboot happened after the install: the new version runs
            self._store.firmware.update(stage=Stage.INSTALLED, new_version=running)
            return False
        assert job.image is not None
        if not self._installing_sent:  # a power cut interrupted the install: it starts again, said again
            await self._enter(FirmwareStatus.INSTALLING)
            self._installing_sent = True
        try:
            version = await self.installer.install(Path(job.image))
        except HardwareError as exc:
            self._log.warning("! firmware installation failed: %s", exc)
            _remove(Path(job.image))
            self._connectors.set_maintenance(False)
            await self._enter(FirmwareStatus.INSTALLATION_FAILED, stage=Stage.IDLE)
            return False
        self._store.firmware.update(stage=Stage.INSTALLED, new_version=version)
        _remove(Path(job.image))
        self._log.info("= firmware %s installed; rebooting", version)
        self._reboot(version)  # F-7: reboot first, then Installed after the new BootNotification
        return True

    async def _enter(self, status: FirmwareStatus, stage: Stage | None = None, **fields: str | None) -> None:
        """F-3: a status is persisted (with the stage it belongs to) before it is sent."""
        if stage is not None or fields:
            self._store.firmware.update(**({"stage": stage.value} if stage else {}), **fields)
        self.set_firmware_status(status)
        result = await self.send_firmware_status_notification()
        if not result.ok:
            self._log.warning("! FirmwareStatusNotification %s not delivered: %s", status, result.outcome.value)

    def _abandon(self) -> None:
        """A replaced job: stop it, drop its files, give the connectors back (F-6 maintenance)."""
        self._job.cancel()
        job = self._store.firmware.load()
        if job.image is not None:
            _remove(Path(job.image))
        self._connectors.set_maintenance(False)
        self._downloading_sent = self._installing_sent = False
        self.progress = FirmwareProgress()

    def _on_progress(self, done: int, total: int | None) -> None:
        self.progress = FirmwareProgress(done, total)
        self._notify(FirmwareStatus.DOWNLOADING)

    def _notify(self, status: FirmwareStatus) -> None:
        for listener in self.listeners:
            listener(status, self.progress)


def _non_negative(value: int | msgspec.UnsetType, default: int) -> int:
    return default if value is msgspec.UNSET else max(0, value)


def _remove(image: Path) -> None:
    image.unlink(missing_ok=True)
    partial_path(image).unlink(missing_ok=True)
