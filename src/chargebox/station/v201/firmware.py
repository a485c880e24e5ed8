"""Firmware of a 2.0.1 station (use case L01): UpdateFirmware of a signed image, FirmwareStatusNotification.

On the kernel's job engine (``kernel/jobs.py``) with the download and install steps 1.6 uses
(``kernel/firmware.py``), journalled in ``store.signed_firmware`` (the whitepaper's job is L01 backported: the same
columns) before each step is acted on, so a power cut resumes where it was after the next accepted boot. Its stages
and the statuses entered, each with the UpdateFirmware's requestId (L01.FR.01, L01.FR.10, L01.FR.20)::

    scheduled ─▶ downloading ─▶ downloaded ─▶ verified ─▶ installing ─▶ installed ─▶ idle
    DownloadScheduled  Downloading   Downloaded    SignatureVerified  Installing    Installed (after the boot)
    (retrieveDateTime) (retries)     │             InstallScheduled   InstallRebooting
                         │           │             (installDateTime,    │
                         ▼           ▼              transactions)       ▼
                  DownloadFailed  InvalidSignature                 InstallationFailed

Decisions:
- The signing certificate is checked before the answer (L01.FR.21, L01.FR.22): absent (TC_L_18_CS), not issued by
  an installed ManufacturerRootCertificate or not valid now, the answer is InvalidCertificate with the security
  event InvalidFirmwareSigningCertificate (L01.FR.02), and nothing starts.
- The signature is checked over the whole image before anything is installed (L01.FR.04, L01.FR.12); a bad one
  ends the job InvalidSignature with the security event InvalidFirmwareSignature (L01.FR.03).
- Installing waits for every transaction to end (L01.FR.06), reported InstallScheduled meanwhile (L01.FR.34), with
  every free EVSE Unavailable until the install is done (L01.FR.07); no transaction is ever aborted for it, and a
  Reset is refused while the install runs (B11.FR.06).
- A new UpdateFirmware cancels a job that has not begun installing: AcceptedCanceled (L01.FR.24); once installing,
  Rejected (L01.FR.27: an install is never aborted).
- The station reboots into the new image: InstallRebooting, then Installed once it runs (L01.FR.15, L01.FR.32),
  with the security event FirmwareUpdated (L01.FR.31) and a BootNotification saying FirmwareUpdate.
- A triggered FirmwareStatusNotification sends Idle after Installed (L01.FR.25), else the last status again
  (L01.FR.26), with the requestId unless Idle.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any, Final

import msgspec

from chargebox import hal
from chargebox.clock import Clock
from chargebox.log import Log
from chargebox.protocol.v201 import messages as m
from chargebox.redact import redact
from chargebox.rpc import Handler, Reply, SendResult
from chargebox.signing import SignatureError, check_signing_certificate, verify_file
from chargebox.station.feature import Feature, Needs
from chargebox.station.kernel.events import SecurityEvent
from chargebox.station.kernel.firmware import ImageInstall
from chargebox.station.kernel.jobs import After, Job, JobProgress, retries_or_default, retry_interval_or_default
from chargebox.station.kernel.kernel import Kernel
from chargebox.station.kernel.lane import Lane
from chargebox.station.kernel.service import Permit, Service, Trigger, Triggers
from chargebox.station.v201.boot import BootService
from chargebox.station.v201.device_model import DeviceModel
from chargebox.station.v201.evses import EvsesService
from chargebox.station.v201.offer import Block
from chargebox.station.v201.reset import ResetService
from chargebox.station.v201.variables import declare
from chargebox.store import SignedFirmwareJobRecord, Store
from chargebox.transfer import Transfer, Workspace, remove_download

S = m.FirmwareStatusEnumType
Answer = m.UpdateFirmwareStatusEnumType
MANUFACTURER_ROOT: Final = m.InstallCertificateUseEnumType.MANUFACTURER_ROOT_CERTIFICATE.value

FILE_TRANSFER_PROTOCOLS: Final = declare(
    "OCPPCommCtrlr", "FileTransferProtocols", default="FTP,FTPS,HTTP,HTTPS", values=("FTP", "FTPS", "HTTP", "HTTPS"),
    description="How firmware is downloaded and logs uploaded: the kernel's transfer (SFTP is not offered)",
)  # fmt: skip


class Stage(enum.StrEnum):
    IDLE = "idle"
    SCHEDULED = "scheduled"
    DOWNLOADING = "downloading"
    DOWNLOADED = "downloaded"
    VERIFIED = "verified"
    INSTALLING = "installing"
    INSTALLED = "installed"


class EvseMaintenance:
    """What an install asks of a 2.0.1 station's charging side (``kernel.firmware.Maintenance``): its EVSEs and the
    transactions (the Reset participants) that run on them."""

    def __init__(self, *, evses: EvsesService, reset: ResetService) -> None:
        self._evses = evses
        self._reset = reset
        self._on = False
        self._idle = asyncio.Event()
        evses.sources.append(self.status_of)
        reset.idle_listeners.append(self._idle.set)

    def status_of(self, evse: int, _connector: int) -> m.ConnectorStatusEnumType | None:
        """L01.FR.07: a free EVSE is Unavailable while an install waits or runs."""
        return m.ConnectorStatusEnumType.UNAVAILABLE if self._on and not self._reset.busy(evse) else None

    def set_maintenance(self, on: bool) -> None:
        if on != self._on:
            self._on = on
            self._evses.refresh()

    def transaction_running(self) -> bool:
        return self._reset.busy(None)

    async def wait_until_no_transactions(self) -> None:
        """L01.FR.06: returns once nothing runs (never ends a transaction); each end frees its EVSE at once."""
        while self._reset.busy(None):
            self._idle.clear()
            await self._idle.wait()
            self._evses.refresh()


class FirmwareService(Service[m.Action]):
    """UpdateFirmware, the download, the signature, the install and FirmwareStatusNotification."""

    def __init__(
        self,
        *,
        lane: Lane,
        store: Store,
        clock: Clock,
        installer: hal.FirmwareInstaller,
        transfer: Transfer,
        workspace: Workspace,
        maintenance: EvseMaintenance,
        security_event: SecurityEvent,
        reboot: Callable[[str], None],
        log: Log,
    ) -> None:
        """``reboot(version)`` restarts the station into the firmware just installed (its next boot says so)."""
        self.installer = installer
        self.transfer = transfer  # public, as 1.6's: an integrator (or a test) may swap it
        self._lane = lane
        self._store = store
        self._clock = clock
        self._workspace = workspace
        self._maintenance = maintenance
        self._security_event = security_event
        self._reboot = reboot
        self._log = log
        self._job = Job(
            name="firmware",
            journal=store.signed_firmware,
            statuses=S,
            steps={
                Stage.SCHEDULED: self._download,
                Stage.DOWNLOADING: self._download,
                Stage.DOWNLOADED: self._verify,
                Stage.VERIFIED: self._prepare_install,
                Stage.INSTALLING: self._install,
                Stage.INSTALLED: self._installed,
            },
            send=self.send_firmware_status_notification,
            clock=clock,
            log=log,
        )
        self._image = ImageInstall(job=self._job, installer=lambda: self.installer, connectors=maintenance, log=log)

    def handlers(self) -> dict[m.Action, Handler]:
        return {m.Action.UPDATE_FIRMWARE: self.on_update_firmware}

    def triggers(self, permit: Permit) -> Triggers:
        async def send(_evse: int | None) -> None:
            permit(m.Action.FIRMWARE_STATUS_NOTIFICATION)  # B02.FR.02: a triggered message may go while Pending
            await self.send_firmware_status_notification(self.current_status())  # L01.FR.25, L01.FR.26

        return {m.MessageTriggerEnumType.FIRMWARE_STATUS_NOTIFICATION: Trigger(send)}

    @property
    def status(self) -> m.FirmwareStatusEnumType:
        """The last status entered, as persisted."""
        return self._job.status

    @property
    def stage(self) -> Stage:
        return Stage(self._job.stage)

    @property
    def progress(self) -> JobProgress:
        return self._job.progress

    def current_status(self) -> m.FirmwareStatusEnumType:
        """L01.FR.25, L01.FR.26: Idle once Installed was sent, else the last status."""
        status = self.status
        return S.IDLE if status is S.INSTALLED else status

    async def send_firmware_status_notification(
        self, status: m.FirmwareStatusEnumType | None = None
    ) -> SendResult[m.FirmwareStatusNotificationResponse]:
        """L01.FR.20: the requestId on every status but Idle."""
        status = status or self.status
        request_id = self._store.signed_firmware.load().request_id
        named = request_id if request_id is not None and status is not S.IDLE else msgspec.UNSET
        return await self._lane.call(m.FirmwareStatusNotificationRequest(status=status, request_id=named))

    def on_update_firmware(self, request: m.UpdateFirmwareRequest) -> m.UpdateFirmwareResponse | Reply[Any]:
        """L01.FR.21, L01.FR.24: check the signing certificate, journal the job, answer; the work starts after."""
        firmware = request.firmware
        location = redact(firmware.location)
        if firmware.signing_certificate is msgspec.UNSET or firmware.signature is msgspec.UNSET:
            return self._invalid_certificate(location, "no signing certificate and signature")  # TC_L_18_CS
        try:
            check_signing_certificate(
                firmware.signing_certificate, self._store.certificates.pems(MANUFACTURER_ROOT), self._clock.now()
            )
        except SignatureError as exc:
            return self._invalid_certificate(location, str(exc))
        stage = self.stage
        if stage in (Stage.INSTALLING, Stage.INSTALLED):
            self._log.warning("! UpdateFirmware %s rejected: an install is under way (L01.FR.27)", location)
            return m.UpdateFirmwareResponse(status=Answer.REJECTED)
        status = Answer.ACCEPTED
        if stage is not Stage.IDLE:
            self._log.info("= UpdateFirmware %s cancels the %s job (L01.FR.24)", location, stage)
            self._image.abandon(self._store.signed_firmware.load())
            status = Answer.ACCEPTED_CANCELED
        now = self._clock.now()
        image = self._workspace.file(f"firmware-{request.request_id}-{now:%Y%m%dT%H%M%S%f}.img")
        install = firmware.install_date_time
        self._store.signed_firmware.update(
            stage=Stage.SCHEDULED, status=S.IDLE.value, request_id=request.request_id, location=firmware.location,
            retrieve_date=firmware.retrieve_date_time.isoformat(),
            install_date=None if isinstance(install, msgspec.UnsetType) else install.isoformat(),
            signing_certificate=firmware.signing_certificate, signature=firmware.signature,
            retries=retries_or_default(request.retries, self.transfer.settings),
            retry_interval=retry_interval_or_default(request.retry_interval, self.transfer.settings),
            attempts=0, next_try_at=None, image=str(image), previous_version=None, new_version=None,
            received_at=now.isoformat(),
        )  # fmt: skip
        self._log.info("= UpdateFirmware %d %s", request.request_id, location)
        return Reply(m.UpdateFirmwareResponse(status=status), then=self._job.start)

    async def resume(self) -> None:
        """After an accepted boot: carry on with the job a reboot or a power cut interrupted."""
        await self._job.resume()

    def reset(self) -> None:
        self._job.reset()

    def installing(self, _evse: int | None) -> str | None:
        """A Reset veto (B11.FR.06): an install is never interrupted."""
        return "a firmware installation runs" if self.stage in (Stage.INSTALLING, Stage.INSTALLED) else None

    # -- the steps ----------------------------------------------------------------------------

    def _invalid_certificate(self, location: str, why: str) -> m.UpdateFirmwareResponse:
        self._log.warning("! UpdateFirmware %s refused: %s", location, why)
        self._security_event("InvalidFirmwareSigningCertificate", why)  # L01.FR.02
        return m.UpdateFirmwareResponse(status=Answer.INVALID_CERTIFICATE)  # L01.FR.22

    async def _download(self, job: SignedFirmwareJobRecord) -> After:
        assert job.retrieve_date is not None and job.location is not None and job.image is not None
        retrieve = datetime.fromisoformat(job.retrieve_date)
        if retrieve > self._clock.now():
            await self._job.announce(S.DOWNLOAD_SCHEDULED)  # L01.FR.13
            await self._job.wait_until(retrieve)
        await self._image.download(
            job.location, Path(job.image), transfer=self.transfer, downloading=S.DOWNLOADING, downloaded=S.DOWNLOADED,
            failed=S.DOWNLOAD_FAILED, disk_full=lambda exc: self._security_event("MemoryExhausted", str(exc)),
        )  # fmt: skip  # L01.FR.30: DownloadFailed after the last attempt
        return After.NEXT

    async def _verify(self, job: SignedFirmwareJobRecord) -> After:
        """L01.FR.04, L01.FR.12: the signature over the whole file, with the signing certificate."""
        assert job.image is not None and job.signing_certificate is not None and job.signature is not None
        image = Path(job.image)
        try:
            certificate = check_signing_certificate(
                job.signing_certificate, self._store.certificates.pems(MANUFACTURER_ROOT), self._clock.now()
            )
            await asyncio.to_thread(verify_file, image, job.signature, certificate)
        except (SignatureError, OSError) as exc:
            self._log.warning("! firmware %s: %s", job.request_id, exc)
            remove_download(image)
            self._security_event("InvalidFirmwareSignature", str(exc))  # L01.FR.03
            await self._job.enter(S.INVALID_SIGNATURE, stage=Stage.IDLE)
            return After.NEXT
        await self._job.enter(S.SIGNATURE_VERIFIED, stage=Stage.VERIFIED)
        return After.NEXT

    async def _prepare_install(self, job: SignedFirmwareJobRecord) -> After:
        """L01.FR.16 installDateTime; L01.FR.06, L01.FR.07, L01.FR.34: InstallScheduled while transactions run."""
        install = datetime.fromisoformat(job.install_date) if job.install_date is not None else None
        if (install is not None and install > self._clock.now()) or self._maintenance.transaction_running():
            await self._job.announce(S.INSTALL_SCHEDULED)
        if install is not None:
            await self._job.wait_until(install)
        await self._image.prepare(S.INSTALLING)
        return After.NEXT

    async def _install(self, job: SignedFirmwareJobRecord) -> After:
        installed = await self._image.install(job, installing=S.INSTALLING, failed=S.INSTALLATION_FAILED)
        if installed is None:
            return After.NEXT
        version, image = installed
        await self._job.enter(S.INSTALL_REBOOTING, stage=Stage.INSTALLED, new_version=version)  # L01.FR.15
        remove_download(image)
        self._reboot(version)
        return After.REBOOT

    async def _installed(self, job: SignedFirmwareJobRecord) -> After:
        """L01.FR.28, L01.FR.31: Installed once the new firmware runs, and the security event FirmwareUpdated; the
        stage goes idle only after it is sent, so a power cut before that sends it again."""
        await self._job.enter(S.INSTALLED)
        self._security_event("FirmwareUpdated", job.new_version)
        self._maintenance.set_maintenance(False)
        self._store.signed_firmware.update(stage=Stage.IDLE, image=None)
        return After.NEXT


def _build(kernel: Kernel[DeviceModel], needs: Needs) -> FirmwareService:
    boot, reset = needs(BootService), needs(ResetService)

    def reboot(version: str) -> None:
        boot.reason = m.BootReasonEnumType.FIRMWARE_UPDATE  # B01.FR.09
        kernel.host.reboot(identity=replace(boot.identity, firmware_version=version))

    service = FirmwareService(
        lane=kernel.lane, store=kernel.store, clock=kernel.clock, installer=kernel.ports.installer,
        transfer=kernel.transfer, workspace=kernel.workspace,
        maintenance=EvseMaintenance(evses=needs(EvsesService), reset=reset),
        security_event=kernel.security_events.report, reboot=reboot, log=kernel.log,
    )  # fmt: skip
    reset.vetoes.append(service.installing)
    return service


FEATURE: Final = Feature(
    name="firmware",
    profile=Block.FIRMWARE_MANAGEMENT,
    service=FirmwareService,
    build=_build,
    actions=frozenset({m.Action.UPDATE_FIRMWARE}),
    variables=(FILE_TRANSFER_PROTOCOLS,),
    tables=frozenset({"signed_firmware_job"}),
    needs=(BootService, EvsesService, ResetService),
)
