"""The simulated firmware installer (``hal.FirmwareInstaller``).

A CSMS operator points a simulator at whatever file they have, so the simulated installer accepts any file
as an opaque image; files in chargebox's own image format (``firmware_image.py``, written by
``chargebox firmware-image --version V --output FILE``) are verified, so a corrupt one fails installation
(InstallationFailed, TC_044_3_CS).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Final

from chargebox.clock import Clock
from chargebox.errors import HardwareError
from chargebox.firmware_image import ImageError, verify_image
from chargebox.store import Store

VERSION_KEY: Final = "sim.firmware_version"  # station_state: the version the simulated flash holds


class SimulatedInstaller:
    """``hal.FirmwareInstaller`` for a simulated station: the "flash" is a row in the station's store.

    Installing takes ``duration`` seconds of the station's clock (a window in which a power cut can hit,
    for the crash tests), verifies the image, and records the new version, which survives a restart of
    the process as a real charger's flash would (``--firmware-version`` is then only the factory version).
    """

    def __init__(self, *, store: Store, clock: Clock, factory_version: str | None, duration: float = 1.0) -> None:
        self.duration = duration
        self._store = store
        self._clock = clock
        self._factory_version = factory_version

    def running_version(self) -> str | None:
        return self._store.state.get(VERSION_KEY) or self._factory_version

    async def install(self, image: Path) -> str:
        previous = self.running_version()
        await self._clock.sleep(self.duration)
        try:
            version = await asyncio.to_thread(verify_image, image, previous)
        except (ImageError, OSError) as exc:
            raise HardwareError(f"firmware image {image.name} refused: {exc}") from exc
        self._store.state.set(VERSION_KEY, version)
        return version
