"""The firmware part of ``chargebox demo`` (its progress bar is ``sim.progress``, which ``simulate`` shows too).

The tour serves a real image in the simulator's format over HTTP from the demo process (paced, so the bar has
something to show), has the central system send UpdateFirmware, draws the download with a ``rich`` progress
bar, and waits for the reboot: a BootNotification with the new firmwareVersion, then Installed (F-7).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Final

from aiohttp import web
from rich.console import Console

from chargebox.csms.server import CentralSystem, CsmsEvent
from chargebox.firmware_image import default_payload, make_image
from chargebox.protocol import messages as m
from chargebox.sim.installer import SimulatedInstaller
from chargebox.sim.progress import DownloadProgress
from chargebox.station.station import Station
from chargebox.station.v16.firmware import FirmwareProgress

NEW_VERSION: Final = "0.2.0"
IMAGE_SIZE: Final = 4 << 20
PACE: Final = 64  # chunks the demo server sends the image in, 20 ms apart: about 1.3 s of download
Expect = Callable[[CentralSystem, str, Callable[[CsmsEvent], bool]], Awaitable[None]]


async def firmware_tour(csms: CentralSystem, station: Station, console: Console, expect: Expect) -> None:
    """UpdateFirmware served from this process, with its progress bar; TimeoutError if a step does not happen."""
    image = make_image(NEW_VERSION, default_payload(NEW_VERSION, IMAGE_SIZE))
    runner, url = await serve(image)
    bar = DownloadProgress(console)
    firmware = station.firmware
    assert firmware is not None, "the demo's station offers Firmware Management"
    firmware.listeners.append(bar.update)
    if isinstance(station.ports.installer, SimulatedInstaller):
        station.ports.installer.duration = 0.5
    try:
        console.print(f"[dim]— the central system asks for firmware {NEW_VERSION} from {url}[/]")
        request = m.UpdateFirmwareRequest(location=url, retrieve_date=datetime.now(UTC))
        await csms.call(station.id, request)
        for status in ("Downloading", "Downloaded", "Installing"):
            await expect(csms, status, _firmware_status(status))
        await expect(csms, f"BootNotification with firmware {NEW_VERSION}", _booted_with(NEW_VERSION))
        await expect(csms, "Installed", _firmware_status("Installed"))
    finally:
        bar.update(m.FirmwareStatus.IDLE, FirmwareProgress())
        firmware.listeners.remove(bar.update)
        await runner.cleanup()


async def serve(image: bytes) -> tuple[web.AppRunner, str]:
    """``image`` over HTTP on a free loopback port, paced so a progress bar has something to show; the runner to
    clean up and the image's URL."""

    async def firmware(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        response.content_length = len(image)
        await response.prepare(request)
        step = len(image) // PACE + 1
        for start in range(0, len(image), step):
            await response.write(image[start : start + step])
            await asyncio.sleep(0.02)
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_get("/firmware-0.2.0.img", firmware)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    return runner, f"http://127.0.0.1:{port}/firmware-0.2.0.img"


def _firmware_status(status: str) -> Callable[[CsmsEvent], bool]:
    def match(event: CsmsEvent) -> bool:
        return isinstance(event.request, m.FirmwareStatusNotificationRequest) and event.request.status == status

    return match


def _booted_with(version: str) -> Callable[[CsmsEvent], bool]:
    def match(event: CsmsEvent) -> bool:
        request = event.request
        return isinstance(request, m.BootNotificationRequest) and request.firmware_version == version

    return match
