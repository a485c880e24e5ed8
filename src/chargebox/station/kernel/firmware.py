"""The download and install steps of a firmware job, for UpdateFirmware (1.6), SignedUpdateFirmware (the whitepaper)
and 2.0.1's UpdateFirmware (L01): on the job engine (``jobs.py``), they differ in their status names, in what comes
between download and install (a signature) and in what each journals after the install, not in these.

What runs on the connectors is the version's to know: the steps ask it through ``Maintenance`` (1.6's connectors,
2.0.1's EVSEs with its transactions), so an install waits for every transaction to end and never aborts one (F-6,
SF-7, L01.FR.06/07).
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

from chargebox import hal
from chargebox.errors import HardwareError
from chargebox.log import Log
from chargebox.station.kernel.jobs import Job
from chargebox.transfer import DiskFull, Transfer, remove_download

S = TypeVar("S", bound=enum.StrEnum)


class Stage(enum.StrEnum):
    """Where the firmware job is (persisted in ``firmware_job.stage``). The signed job's stages have the same
    names, and one more (``verified``): ``ImageInstall`` journals these for both."""

    IDLE = "idle"
    SCHEDULED = "scheduled"
    DOWNLOADING = "downloading"
    DOWNLOADED = "downloaded"
    INSTALLING = "installing"
    INSTALLED = "installed"


class Maintenance(Protocol):
    """What an install asks of the charging side: free connectors Unavailable meanwhile, and no transaction."""

    def set_maintenance(self, on: bool) -> None:
        """``on``: every free connector (and each one that becomes free) Unavailable until ``False``."""
        ...

    def transaction_running(self) -> bool: ...

    async def wait_until_no_transactions(self) -> None:
        """Returns once no transaction runs (at once if none does); never ends one."""
        ...


class ImageRecord(Protocol):
    """What the install steps read of a firmware job's journal row (both firmware services' records have it)."""

    @property
    def image(self) -> str | None: ...
    @property
    def previous_version(self) -> str | None: ...


class ImageInstall(Generic[S]):
    """The steps UpdateFirmware and SignedUpdateFirmware share: the download, and the install once the image is
    downloaded (and, signed, verified). They differ in their status names, in what comes between (the signature)
    and in what each journals after the install, not in these."""

    def __init__(
        self,
        *,
        job: Job[S, Any],
        installer: Callable[[], hal.FirmwareInstaller],
        connectors: Maintenance,
        log: Log,
    ) -> None:
        """``installer()`` is the service's installer at the time (a public attribute, which may be swapped)."""
        self._installer = installer
        self._job = job
        self._connectors = connectors
        self._log = log

    async def download(
        self,
        location: str,
        image: Path,
        *,
        transfer: Transfer,
        downloading: S,
        downloaded: S,
        failed: S,
        disk_full: Callable[[DiskFull], None] | None = None,
    ) -> None:
        """F-3, F-4, SF-3: the download in attempts ``retryInterval`` apart, ``downloaded`` once the image is whole;
        after the last failed attempt, the partial image removed and ``failed`` (``disk_full`` hears of a
        download refused for the disk's free space before it counts as a failure)."""

        async def attempt() -> None:
            try:
                size = await transfer.download(location, image, progress=self._job.on_progress)
            except DiskFull as exc:
                if disk_full is not None:
                    disk_full(exc)
                raise
            self._log.info("= firmware downloaded: %d bytes", size)

        if await self._job.attempt("download", attempt, announce=downloading, stage=Stage.DOWNLOADING):
            await self._job.enter(downloaded, stage=Stage.DOWNLOADED)
        else:
            remove_download(image)
            await self._job.enter(failed, stage=Stage.IDLE)  # F-4: after the last attempt

    async def prepare(self, installing: S) -> None:
        """F-6, SF-7: free connectors Unavailable, every transaction ended (never aborted), then ``installing``."""
        self._connectors.set_maintenance(True)
        if self._connectors.transaction_running():
            self._log.info("= firmware ready; installing once no transaction runs (F-6)")
        await self._connectors.wait_until_no_transactions()
        await self._job.enter(installing, stage=Stage.INSTALLING, previous_version=self._installer().running_version())

    async def install(self, job: ImageRecord, *, installing: S, failed: S) -> tuple[str, Path] | None:
        """The install, unless the version running shows that the reboot after it happened (the stage is then
        journalled ``installed``). Returns the version installed now and its image, for the caller to journal
        before it drops the image and reboots; None when the step is over: that reboot happened, or the install
        failed (``failed`` entered, the image removed, the connectors given back)."""
        self._connectors.set_maintenance(True)  # again after a reboot, which ends maintenance
        await self._connectors.wait_until_no_transactions()
        running = self._installer().running_version()
        if running != job.previous_version:  # a reboot happened after the install: the new version runs
            self._job.update(stage=Stage.INSTALLED, new_version=running)
            return None
        assert job.image is not None
        image = Path(job.image)
        await self._job.announce(installing)  # a power cut interrupted the install: said again
        try:
            version = await self._installer().install(image)
        except HardwareError as exc:
            self._log.warning("! firmware installation failed: %s", exc)
            remove_download(image)
            self._connectors.set_maintenance(False)
            await self._job.enter(failed, stage=Stage.IDLE)
            return None
        return version, image

    def abandon(self, job: ImageRecord) -> None:
        """A replaced job: stop it, drop its image, give the connectors back (F-6 maintenance)."""
        self._job.reset()
        if job.image is not None:
            remove_download(Path(job.image))
        self._connectors.set_maintenance(False)
