"""The firmware download's progress bar, for ``demo`` and ``simulate``: a module of its own, so that ``simulate``
does not import the demo's HTTP file server (aiohttp) to draw it."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TaskID, TransferSpeedColumn

from chargebox.protocol import messages as m
from chargebox.station.v16.firmware import FirmwareProgress, FirmwareService


class DownloadProgress:
    """A ``rich`` bar for each firmware download of a station (only on a terminal: logs stay clean)."""

    def __init__(self, console: Console) -> None:
        self._console = console
        self._progress: Progress | None = None
        self._task: TaskID | None = None

    def follow(self, firmware: FirmwareService) -> None:
        if self._console.is_terminal:
            firmware.listeners.append(self.update)

    def update(self, status: m.FirmwareStatus, progress: FirmwareProgress) -> None:
        if status is m.FirmwareStatus.DOWNLOADING and progress.done:
            if self._progress is None:
                self._progress = Progress(
                    "[cyan]firmware",
                    BarColumn(),
                    DownloadColumn(),
                    TransferSpeedColumn(),
                    console=self._console,
                )
                self._progress.start()
                self._task = self._progress.add_task("download", total=progress.total)
            assert self._task is not None
            self._progress.update(self._task, completed=progress.done, total=progress.total)
        elif status is not m.FirmwareStatus.DOWNLOADING and self._progress is not None:
            self._progress.stop()
            self._progress = self._task = None
