"""The signed-firmware job, for the whitepaper's SignedUpdateFirmware (1.6) and 2.0.1's UpdateFirmware (L01).

The two are one use case (L01 is the whitepaper's backported): the same request fields, the same statuses (their
enums hold the same values), journalled in the same store row (``store.signed_firmware``, table
``signed_firmware_job``) before each step is acted on, so a power cut resumes where it was after the next accepted
boot. What differs per version is given to ``SignedFirmwareJob``: the status enum, the notification message, the
names the log shows, the way a security event is reported, what runs on the connectors (``Maintenance``) and how
the station reboots into the new image. Stages and the statuses entered::

    scheduled ─▶ downloading ─▶ downloaded ─▶ verified ─▶ installing ─▶ installed ─▶ idle
    DownloadScheduled  Downloading   Downloaded    SignatureVerified  Installing    Installed (after the boot)
    (retrieveDateTime) (retries)     │             InstallScheduled   InstallRebooting
                         │           │             (installDateTime)    │
                         ▼           ▼                                  ▼
                  DownloadFailed  InvalidSignature                 InstallationFailed

Decisions (rule ids of both versions: SF-* the whitepaper's, L01.FR.* 2.0.1's):
- The signing certificate is checked before the answer (SF-1, L01.FR.21, L01.FR.22): absent (TC_L_18_CS, only 2.0.1's
  schema lets it be), not issued by an installed ManufacturerRootCertificate or not valid now, the answer is
  InvalidCertificate with the security event InvalidFirmwareSigningCertificate (L01.FR.02), and nothing starts.
- The signature is checked over the whole image before anything is installed (SF-5, L01.FR.04, L01.FR.12); a bad
  one deletes the image and ends the job InvalidSignature, security event InvalidFirmwareSignature (L01.FR.03).
- A new request cancels a job that has not begun installing: AcceptedCanceled (SF-2, L01.FR.24); once installing,
  Rejected (L01.FR.27: an install is never aborted).
- Every status but Idle carries the requestId (SF-3, L01.FR.20); a triggered one is Idle after Installed, else the
  last status (SF-9, L01.FR.25, L01.FR.26).
- The station reboots into the new image: InstallRebooting, then Installed once it runs (L01.FR.15, L01.FR.32),
  with the security event FirmwareUpdated (F-9, L01.FR.31).
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Final, Generic, Protocol

import msgspec

from chargebox import hal
from chargebox.clock import Clock
from chargebox.log import Log
from chargebox.protocol.base import Message
from chargebox.redact import redact
from chargebox.rpc import SendResult
from chargebox.signing import SignatureError, check_signing_certificate, verify_file
from chargebox.station.kernel.firmware import ImageInstall, Maintenance
from chargebox.station.kernel.jobs import (
    After,
    Job,
    JobProgress,
    JobRequest,
    S,
    retries_or_default,
    retry_interval_or_default,
)
from chargebox.station.kernel.lane import Lane
from chargebox.store import SignedFirmwareJobRecord, Store
from chargebox.transfer import Transfer, Workspace, remove_download

MANUFACTURER_ROOT: Final = "ManufacturerRootCertificate"  # the certificate use both versions spell so


class Stage(enum.StrEnum):
    """Where the signed-firmware job is (persisted in ``signed_firmware_job.stage``)."""

    IDLE = "idle"
    SCHEDULED = "scheduled"
    DOWNLOADING = "downloading"
    DOWNLOADED = "downloaded"
    VERIFIED = "verified"
    INSTALLING = "installing"
    INSTALLED = "installed"


class Answer(enum.StrEnum):
    """The answer to the request, in both versions' spelling (UpdateFirmwareStatus, UpdateFirmwareStatusEnumType)."""

    ACCEPTED = "Accepted"
    REJECTED = "Rejected"
    ACCEPTED_CANCELED = "AcceptedCanceled"
    INVALID_CERTIFICATE = "InvalidCertificate"


class FirmwareOrder(Protocol):
    """The request's firmware (1.6's and 2.0.1's ``Firmware`` type have these fields)."""

    @property
    def location(self) -> str: ...
    @property
    def retrieve_date_time(self) -> datetime: ...
    @property
    def install_date_time(self) -> datetime | msgspec.UnsetType: ...
    @property
    def signing_certificate(self) -> str | msgspec.UnsetType: ...
    @property
    def signature(self) -> str | msgspec.UnsetType: ...


class FirmwareRequest(JobRequest, Protocol):
    """The request (SignedUpdateFirmware, 2.0.1's UpdateFirmware)."""

    @property
    def firmware(self) -> FirmwareOrder: ...


@dataclass(frozen=True, slots=True)
class Terms(Generic[S]):
    """What a version gives the job: its status enum, its notification (``notification(status, requestId)``), the
    name of its request (``request``) and of the job (``job``, also the image file's prefix) in the log, and
    whether InstallScheduled also says that the install waits for transactions (2.0.1's L01.FR.34; the
    whitepaper says it only for installDateTime)."""

    statuses: type[S]
    notification: Callable[[S, int | msgspec.UnsetType], Message]
    request: str
    job: str
    scheduled_while_busy: bool


class SignedFirmwareJob(Generic[S]):
    """The job behind a version's signed-firmware service, which adds its handlers and triggers."""

    def __init__(
        self,
        *,
        terms: Terms[S],
        lane: Lane,
        store: Store,
        clock: Clock,
        installer: hal.FirmwareInstaller,
        transfer: Transfer,
        workspace: Workspace,
        maintenance: Maintenance,
        security_event: Callable[[str, str | None], None],
        reboot: Callable[[str], None],
        log: Log,
    ) -> None:
        """``reboot(version)`` restarts the station into the firmware just installed (its next boot says so)."""
        self.installer = installer
        self.transfer = transfer  # public: an integrator (or a test) may swap it
        self._terms = terms
        self._s = terms.statuses
        self._lane = lane
        self._store = store
        self._clock = clock
        self._workspace = workspace
        self._maintenance = maintenance
        self._security_event = security_event
        self._reboot = reboot
        self._log = log
        self._job = Job(
            name=terms.job,
            journal=store.signed_firmware,
            statuses=terms.statuses,
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
        self._image = ImageInstall(job=self._job, installer=lambda: self.installer, connectors=maintenance, log=log)

    @property
    def status(self) -> S:
        """The last status entered, as persisted."""
        return self._job.status

    @property
    def stage(self) -> Stage:
        return Stage(self._job.stage)

    @property
    def progress(self) -> JobProgress:
        return self._job.progress

    def current_status(self) -> S:
        """SF-9, L01.FR.25, L01.FR.26: Idle once Installed was sent, else the last status."""
        status = self.status
        return self._s("Idle") if status == "Installed" else status

    async def send_status_notification(self, status: S | None = None) -> SendResult[Any]:
        """SF-3, L01.FR.20: the requestId on every status but Idle."""
        status = status or self.status
        request_id = self._store.signed_firmware.load().request_id
        named = request_id if request_id is not None and status != "Idle" else msgspec.UNSET
        return await self._lane.call(self._terms.notification(status, named))

    def order(self, request: FirmwareRequest) -> tuple[Answer, bool]:
        """SF-1, SF-2, L01.FR.21, L01.FR.24: check the signing certificate, journal the job; the answer, and
        whether the job is to start once it is written (``Reply.then``: ``start``)."""
        firmware, name = request.firmware, self._terms.request
        location = redact(firmware.location)
        if firmware.signing_certificate is msgspec.UNSET or firmware.signature is msgspec.UNSET:
            return self._invalid_certificate(location, "no signing certificate and signature"), False  # TC_L_18_CS
        try:
            check_signing_certificate(
                firmware.signing_certificate, self._store.certificates.pems(MANUFACTURER_ROOT), self._clock.now()
            )
        except SignatureError as exc:
            return self._invalid_certificate(location, str(exc)), False
        stage = self.stage
        if stage in (Stage.INSTALLING, Stage.INSTALLED):
            self._log.warning("! %s %s rejected: an install is under way (SF-2, L01.FR.27)", name, location)
            return Answer.REJECTED, False
        answer = Answer.ACCEPTED
        if stage is not Stage.IDLE:
            self._log.info("= %s %s cancels the %s job (SF-2, L01.FR.24)", name, location, stage)
            self._image.abandon(self._store.signed_firmware.load())
            answer = Answer.ACCEPTED_CANCELED
        now = self._clock.now()
        image = self._workspace.file(
            f"{self._terms.job.replace(' ', '-')}-{request.request_id}-{now:%Y%m%dT%H%M%S%f}.img"
        )
        install = firmware.install_date_time
        self._store.signed_firmware.update(
            stage=Stage.SCHEDULED, status="Idle", request_id=request.request_id, location=firmware.location,
            retrieve_date=firmware.retrieve_date_time.isoformat(),
            install_date=None if isinstance(install, msgspec.UnsetType) else install.isoformat(),
            signing_certificate=firmware.signing_certificate, signature=firmware.signature,
            retries=retries_or_default(request.retries, self.transfer.settings),
            retry_interval=retry_interval_or_default(request.retry_interval, self.transfer.settings),
            attempts=0, next_try_at=None, image=str(image), previous_version=None, new_version=None,
            received_at=now.isoformat(),
        )  # fmt: skip
        self._log.info("= %s %d %s", name, request.request_id, location)
        return answer, True

    async def start(self) -> None:
        """Run the job journalled by ``order`` (a ``Reply.then``)."""
        await self._job.start()

    async def resume(self) -> None:
        """After an accepted boot: carry on with the job a reboot or a power cut interrupted."""
        await self._job.resume()

    def reset(self) -> None:
        self._job.reset()

    def installing(self, _evse: int | None) -> str | None:
        """A Reset veto (B11.FR.06): an install is never interrupted."""
        return "a firmware installation runs" if self.stage in (Stage.INSTALLING, Stage.INSTALLED) else None

    # -- the steps ----------------------------------------------------------------------------

    def _invalid_certificate(self, location: str, why: str) -> Answer:
        self._log.warning("! %s %s refused: %s", self._terms.request, location, why)
        self._security_event("InvalidFirmwareSigningCertificate", why)  # SF-1, L01.FR.02
        return Answer.INVALID_CERTIFICATE  # L01.FR.22

    async def _download(self, job: SignedFirmwareJobRecord) -> After:
        assert job.retrieve_date is not None and job.location is not None and job.image is not None
        retrieve = datetime.fromisoformat(job.retrieve_date)
        if retrieve > self._clock.now():
            await self._job.announce(self._s("DownloadScheduled"))  # L01.FR.13
            await self._job.wait_until(retrieve)
        await self._image.download(
            job.location, Path(job.image), transfer=self.transfer, downloading=self._s("Downloading"),
            downloaded=self._s("Downloaded"), failed=self._s("DownloadFailed"),
            disk_full=lambda exc: self._security_event("MemoryExhausted", str(exc)),
        )  # fmt: skip  # L01.FR.30: DownloadFailed after the last attempt
        return After.NEXT

    async def _verify(self, job: SignedFirmwareJobRecord) -> After:
        """SF-5, L01.FR.04, L01.FR.12: the signature over the whole file, with the signing certificate."""
        assert job.image is not None and job.signing_certificate is not None and job.signature is not None
        image = Path(job.image)
        try:
            certificate = check_signing_certificate(
                job.signing_certificate, self._store.certificates.pems(MANUFACTURER_ROOT), self._clock.now()
            )
            await asyncio.to_thread(verify_file, image, job.signature, certificate)
        except (SignatureError, OSError) as exc:
            self._log.warning("! %s %s: %s", self._terms.job, job.request_id, exc)
            remove_download(image)
            self._security_event("InvalidFirmwareSignature", str(exc))  # L01.FR.03
            await self._job.enter(self._s("InvalidSignature"), stage=Stage.IDLE)
            return After.NEXT
        await self._job.enter(self._s("SignatureVerified"), stage=Stage.VERIFIED)
        return After.NEXT

    async def _prepare_install(self, job: SignedFirmwareJobRecord) -> After:
        """SF-4, L01.FR.16 installDateTime; SF-7, L01.FR.06, L01.FR.07: free connectors Unavailable, every
        transaction ended, then Installing; L01.FR.34: InstallScheduled while transactions run (2.0.1)."""
        install = datetime.fromisoformat(job.install_date) if job.install_date is not None else None
        busy = self._terms.scheduled_while_busy and self._maintenance.transaction_running()
        if (install is not None and install > self._clock.now()) or busy:
            await self._job.announce(self._s("InstallScheduled"))
        if install is not None:
            await self._job.wait_until(install)
        await self._image.prepare(self._s("Installing"))
        return After.NEXT

    async def _install(self, job: SignedFirmwareJobRecord) -> After:
        installed = await self._image.install(
            job, installing=self._s("Installing"), failed=self._s("InstallationFailed")
        )
        if installed is None:
            return After.NEXT
        version, image = installed
        await self._job.enter(self._s("InstallRebooting"), stage=Stage.INSTALLED, new_version=version)  # L01.FR.15
        remove_download(image)
        self._reboot(version)
        return After.REBOOT

    async def _installed(self, job: SignedFirmwareJobRecord) -> After:
        """L01.FR.28, L01.FR.31: Installed once the new firmware runs, and the security event FirmwareUpdated (F-9);
        the connectors given back; the stage goes idle only after it is sent, so a power cut before that sends it
        again."""
        await self._job.enter(self._s("Installed"))
        self._security_event("FirmwareUpdated", job.new_version)
        self._maintenance.set_maintenance(False)
        self._store.signed_firmware.update(stage=Stage.IDLE, image=None)
        return After.NEXT
