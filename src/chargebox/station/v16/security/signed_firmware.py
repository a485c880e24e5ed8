"""SignedUpdateFirmware in, SignedFirmwareStatusNotification out (security whitepaper L01; checklist SF-1..SF-10).

On the job engine (``kernel/jobs.py``), journalled in ``store.signed_firmware`` before each step is acted on, like
UpdateFirmware, so a power loss resumes where it was. Its stages and the statuses entered (SF-4)::

    scheduled ─▶ downloading ─▶ downloaded ─▶ verified ─▶ installing ─▶ installed ─▶ idle
    DownloadScheduled  Downloading   Downloaded    SignatureVerified  Installing    Installed (after the boot)
    (retrieveDateTime) (retries)     │ (SF-5)      InstallScheduled   InstallRebooting
                         │           │             (installDateTime)    │
                         ▼           ▼                                  ▼
                  DownloadFailed  InvalidSignature                 InstallationFailed

Decisions:
- The signing certificate is checked before the answer (SF-1): not issued by an installed
  ManufacturerRootCertificate, or not valid now → ``InvalidCertificate``, security event
  InvalidFirmwareSigningCertificate, nothing started. (Edition 2 has no InvalidCertificate *firmware status*.)
- The signature is checked over the whole downloaded file before anything is installed (SF-5); a bad one ends the
  job with InvalidSignature and the security event InvalidFirmwareSignature; the file is deleted.
- A new request while a job has not begun installing cancels it: ``AcceptedCanceled`` (SF-2); once installing,
  ``Rejected`` (an install is never aborted).
- Every status carries the requestId (SF-3); a triggered Idle does not.
- A station that offers this answers plain UpdateFirmware NotSupported (SF-10: the station does it), so it is offered
  only with the ``signed_firmware_only`` switch (``--signed-firmware-only``), never with the Security profile alone.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, Final

import msgspec

from chargebox import hal
from chargebox.clock import Clock
from chargebox.log import Log
from chargebox.protocol.messages import (
    Action,
    ExtendedMessageTrigger,
    SignedFirmwareStatus,
    SignedFirmwareStatusNotificationRequest,
    SignedFirmwareStatusNotificationResponse,
    SignedUpdateFirmwareRequest,
    SignedUpdateFirmwareResponse,
    UpdateFirmwareStatus,
)
from chargebox.redact import redact
from chargebox.rpc import Handler, Reply, SendResult
from chargebox.signing import SignatureError, check_signing_certificate, verify_file
from chargebox.station.feature import Feature, Needs
from chargebox.station.kernel.firmware import ImageInstall
from chargebox.station.kernel.jobs import After, Job, JobProgress, retries_or_default, retry_interval_or_default
from chargebox.station.kernel.kernel import Kernel
from chargebox.station.kernel.lane import Lane
from chargebox.station.kernel.service import Permit, Service, Trigger
from chargebox.station.v16.boot import BootService, reboot_with_firmware
from chargebox.station.v16.connectors import ConnectorsService
from chargebox.station.v16.offer import SIGNED_FIRMWARE_ONLY
from chargebox.station.v16.security.events import SecurityService
from chargebox.station.v16.security.extended_trigger import ExtendedTriggers, ExtendedTriggerService
from chargebox.store import SignedFirmwareJobRecord, Store
from chargebox.transfer import Transfer, Workspace, remove_download

S = SignedFirmwareStatus


class Stage(enum.StrEnum):
    IDLE = "idle"
    SCHEDULED = "scheduled"
    DOWNLOADING = "downloading"
    DOWNLOADED = "downloaded"
    VERIFIED = "verified"
    INSTALLING = "installing"
    INSTALLED = "installed"


class SignedFirmwareService(Service):
    """SignedUpdateFirmware, the download, the signature, the install and SignedFirmwareStatusNotification."""

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
        security: SecurityService,
        reboot: Callable[[str], None],
        log: Log,
    ) -> None:
        self.installer = installer
        self.transfer = transfer
        self._lane = lane
        self._store = store
        self._clock = clock
        self._workspace = workspace
        self._connectors = connectors
        self._security = security
        self._reboot = reboot
        self._log = log
        self._job = Job(
            name="signed firmware",
            journal=store.signed_firmware,
            statuses=SignedFirmwareStatus,
            steps={
                Stage.SCHEDULED: self._download,
                Stage.DOWNLOADING: self._download,
                Stage.DOWNLOADED: self._verify,
                Stage.VERIFIED: self._prepare_install,
                Stage.INSTALLING: self._install,
                Stage.INSTALLED: self._installed,
            },
            send=self.send_status_notification,
            clock=clock,
            log=log,
        )
        self._image = ImageInstall(job=self._job, installer=lambda: self.installer, connectors=connectors, log=log)

    def handlers(self) -> dict[Action, Handler]:
        return {Action.SIGNED_UPDATE_FIRMWARE: self.on_signed_update_firmware}

    def extended_triggers(self, permit: Permit) -> ExtendedTriggers:
        async def send(_connector_id: int | None) -> None:
            permit(Action.SIGNED_FIRMWARE_STATUS_NOTIFICATION)
            await self.send_status_notification(self.current_status())  # SF-9

        return {ExtendedMessageTrigger.FIRMWARE_STATUS_NOTIFICATION: Trigger(send)}

    @property
    def status(self) -> SignedFirmwareStatus:
        return self._job.status

    @property
    def stage(self) -> Stage:
        return Stage(self._job.stage)

    @property
    def progress(self) -> JobProgress:
        return self._job.progress

    def current_status(self) -> SignedFirmwareStatus:
        """SF-9: the last status sent, but Idle once Installed was sent."""
        status = self.status
        return S.IDLE if status is S.INSTALLED else status

    async def send_status_notification(
        self, status: SignedFirmwareStatus | None = None
    ) -> SendResult[SignedFirmwareStatusNotificationResponse]:
        """SF-3: the requestId on every status but Idle."""
        status = status or self.status
        request_id = self._store.signed_firmware.load().request_id
        request = SignedFirmwareStatusNotificationRequest(
            status=status, request_id=msgspec.UNSET if status is S.IDLE or request_id is None else request_id
        )
        return await self._lane.call(request)

    def on_signed_update_firmware(
        self, request: SignedUpdateFirmwareRequest
    ) -> SignedUpdateFirmwareResponse | Reply[Any]:
        """SF-1, SF-2: check the signing certificate, journal the job, answer; the work starts after the answer."""
        firmware = request.firmware
        location = redact(firmware.location)
        try:
            check_signing_certificate(
                firmware.signing_certificate,
                self._store.certificates.pems("ManufacturerRootCertificate"),
                self._clock.now(),
            )
        except SignatureError as exc:
            self._log.warning("! SignedUpdateFirmware %s refused: %s", location, exc)
            self._security.report("InvalidFirmwareSigningCertificate", str(exc))  # SF-1
            return SignedUpdateFirmwareResponse(status=UpdateFirmwareStatus.INVALID_CERTIFICATE)
        stage = self.stage
        if stage in (Stage.INSTALLING, Stage.INSTALLED):
            self._log.warning("! SignedUpdateFirmware %s rejected: an install is under way (SF-2)", location)
            return SignedUpdateFirmwareResponse(status=UpdateFirmwareStatus.REJECTED)
        status = UpdateFirmwareStatus.ACCEPTED
        if stage is not Stage.IDLE:
            self._log.info("= SignedUpdateFirmware %s cancels the %s job (SF-2)", location, stage)
            self._abandon()
            status = UpdateFirmwareStatus.ACCEPTED_CANCELED
        now = self._clock.now()
        image = self._workspace.file(f"signed-firmware-{request.request_id}-{now:%Y%m%dT%H%M%S%f}.img")
        install = firmware.install_date_time
        self._store.signed_firmware.update(
            stage=Stage.SCHEDULED,
            status=S.IDLE.value,
            request_id=request.request_id,
            location=firmware.location,
            retrieve_date=firmware.retrieve_date_time.isoformat(),
            install_date=None if isinstance(install, msgspec.UnsetType) else install.isoformat(),
            signing_certificate=firmware.signing_certificate,
            signature=firmware.signature,
            retries=retries_or_default(request.retries, self.transfer.settings),
            retry_interval=retry_interval_or_default(request.retry_interval, self.transfer.settings),
            attempts=0,
            next_try_at=None,
            image=str(image),
            previous_version=None,
            new_version=None,
            received_at=now.isoformat(),
        )
        self._log.info("= SignedUpdateFirmware %d %s", request.request_id, location)
        return Reply(SignedUpdateFirmwareResponse(status=status), then=self._job.start)

    async def resume(self) -> None:
        await self._job.resume()

    def reset(self) -> None:
        self._job.reset()

    # -- the steps ----------------------------------------------------------------------------

    async def _download(self, job: SignedFirmwareJobRecord) -> After:
        assert job.retrieve_date is not None and job.location is not None and job.image is not None
        retrieve = datetime.fromisoformat(job.retrieve_date)
        if retrieve > self._clock.now():
            await self._job.announce(S.DOWNLOAD_SCHEDULED)
            await self._job.wait_until(retrieve)
        await self._image.download(
            job.location, Path(job.image), transfer=self.transfer, downloading=S.DOWNLOADING, downloaded=S.DOWNLOADED,
            failed=S.DOWNLOAD_FAILED, disk_full=lambda exc: self._security.report("MemoryExhausted", str(exc)),
        )  # fmt: skip
        return After.NEXT

    async def _verify(self, job: SignedFirmwareJobRecord) -> After:
        """SF-5: the signature over the whole file, with the signing certificate, before any install."""
        assert job.image is not None and job.signing_certificate is not None and job.signature is not None
        image = Path(job.image)
        try:
            certificate = check_signing_certificate(
                job.signing_certificate, self._store.certificates.pems("ManufacturerRootCertificate"), self._clock.now()
            )
            await asyncio.to_thread(verify_file, image, job.signature, certificate)
        except (SignatureError, OSError) as exc:
            self._log.warning("! signed firmware %s: %s", job.request_id, exc)
            remove_download(image)
            self._security.report("InvalidFirmwareSignature", str(exc))
            await self._job.enter(S.INVALID_SIGNATURE, stage=Stage.IDLE)
            return After.NEXT
        await self._job.enter(S.SIGNATURE_VERIFIED, stage=Stage.VERIFIED)
        return After.NEXT

    async def _prepare_install(self, job: SignedFirmwareJobRecord) -> After:
        """SF-4 installDateTime, SF-7: connectors Unavailable, every transaction ended, then Installing."""
        if job.install_date is not None and datetime.fromisoformat(job.install_date) > self._clock.now():
            await self._job.announce(S.INSTALL_SCHEDULED)
            await self._job.wait_until(datetime.fromisoformat(job.install_date))
        await self._image.prepare(S.INSTALLING)
        return After.NEXT

    async def _install(self, job: SignedFirmwareJobRecord) -> After:
        installed = await self._image.install(job, installing=S.INSTALLING, failed=S.INSTALLATION_FAILED)
        if installed is None:
            return After.NEXT
        version, image = installed
        await self._job.enter(S.INSTALL_REBOOTING, stage=Stage.INSTALLED, new_version=version)  # SF-4
        remove_download(image)
        self._reboot(version)
        return After.REBOOT

    async def _installed(self, job: SignedFirmwareJobRecord) -> After:
        await self._job.enter(S.INSTALLED)
        self._security.report("FirmwareUpdated", job.new_version)  # F-9
        self._store.signed_firmware.update(stage=Stage.IDLE, image=None)
        return After.NEXT

    def _abandon(self) -> None:
        self._image.abandon(self._store.signed_firmware.load())


def _build(kernel: Kernel, needs: Needs) -> SignedFirmwareService:
    boot = needs(BootService)
    service = SignedFirmwareService(
        lane=kernel.lane,
        store=kernel.store,
        installer=kernel.ports.installer,
        transfer=kernel.transfer,
        workspace=kernel.workspace,
        connectors=needs(ConnectorsService),
        security=needs(SecurityService),
        reboot=reboot_with_firmware(kernel, boot),
        clock=kernel.clock,
        log=kernel.log,
    )
    needs(ExtendedTriggerService).add(service.extended_triggers(boot.permit_triggered))
    return service


FEATURE: Final = Feature(
    name="signed_firmware",
    profile=SIGNED_FIRMWARE_ONLY,  # the switch, not the Security profile: it withdraws UpdateFirmware
    service=SignedFirmwareService,
    build=_build,
    actions=frozenset({Action.SIGNED_UPDATE_FIRMWARE}),
    withdraws=frozenset({Action.UPDATE_FIRMWARE}),  # SF-10: a station with signed updates refuses unsigned ones
    tables=frozenset({"signed_firmware_job"}),
    needs=(BootService, ConnectorsService, SecurityService, ExtendedTriggerService),
)
