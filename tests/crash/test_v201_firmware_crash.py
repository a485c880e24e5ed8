"""SIGKILL a real ``chargebox simulate --ocpp 2.0.1`` while it installs a signed image (L01); the job resumes.

The central system is the built-in one (both versions); the image comes from a real HTTP server in this process and
the manufacturer's root goes in by InstallCertificate. The first process is killed while Installing (a 30 s simulated
install); the second, on the same data dir, must say Installing again with the same requestId, install, reboot into
the new firmware and say Installed with that requestId (L01.FR.10, L01.FR.20): the journal (``signed_firmware_job``)
carried the job over the kill.
"""

from __future__ import annotations

import asyncio
import signal
from datetime import UTC, datetime, timedelta
from pathlib import Path

from chargebox.csms.server import CentralSystem
from chargebox.firmware_image import make_image
from chargebox.protocol.v201 import messages as m
from chargebox.signing import sign_file
from tests.firmware.conftest import HttpFiles, http_files
from tests.security.conftest import key_pem, manufacturer, pem
from tests.test_cli_v201 import csms, spawn

__all__ = ["csms", "http_files"]  # the fixtures

IMAGE = make_image("2.0.0", bytes(range(256)) * 256)
REQUEST_ID = 31


async def wire_until(system: CentralSystem, seen: list[str], last: str, timeout: float = 20) -> None:
    """Record what the station sends (``Boot:<reason>:<version>``, ``<status>:<requestId>``) until ``last``."""

    async def watch() -> None:
        while True:
            event = await system.events.get()
            if isinstance(event.request, m.BootNotificationRequest):
                seen.append(f"Boot:{event.request.reason}:{event.request.charging_station.firmware_version}")
            elif isinstance(event.request, m.FirmwareStatusNotificationRequest):
                seen.append(f"{event.request.status}:{event.request.request_id}")
                if seen[-1] == last:
                    return

    await asyncio.wait_for(watch(), timeout)


async def test_L01_FR_10_killed_while_installing_the_2_0_1_job_resumes_with_its_requestId(
    csms: tuple[CentralSystem, int], http_files: HttpFiles, tmp_path: Path
) -> None:
    system, port = csms
    maker = manufacturer("ec")
    http_files.files["fw.img"] = IMAGE
    image = tmp_path / "fw.img"
    image.write_bytes(IMAGE)
    data, seen = tmp_path / "data", list[str]()
    first = await spawn(port, data, "--firmware-version", "1.0.0", "--install-seconds", "30")
    try:
        while not seen:
            event = await asyncio.wait_for(system.events.get(), 10)
            if isinstance(event.request, m.BootNotificationRequest):
                seen.append("booted")
        root = m.InstallCertificateRequest(
            certificate_type=m.InstallCertificateUseEnumType.MANUFACTURER_ROOT_CERTIFICATE, certificate=pem(maker.root)
        )
        assert (await system.call("SIM-2", root)).response.status == "Accepted"
        firmware = m.FirmwareType(location=f"{http_files.url}/fw.img",
                                  retrieve_date_time=datetime.now(UTC) - timedelta(hours=2),  # due at once
                                  signing_certificate=pem(maker.signing),
                                  signature=sign_file(image, key_pem(maker.signing_key)))  # fmt: skip
        update = await system.call("SIM-2", m.UpdateFirmwareRequest(request_id=REQUEST_ID, firmware=firmware))
        assert update.response.status == "Accepted"
        await wire_until(system, seen, f"Installing:{REQUEST_ID}")
    finally:
        first.send_signal(signal.SIGKILL)
        await first.wait()
    again = await spawn(port, data, "--firmware-version", "1.0.0", "--install-seconds", "0.1")
    try:
        await wire_until(system, seen, f"Installed:{REQUEST_ID}")
    finally:
        again.send_signal(signal.SIGKILL)
        await again.wait()
    assert seen == [
        "booted", f"Downloading:{REQUEST_ID}", f"Downloaded:{REQUEST_ID}", f"SignatureVerified:{REQUEST_ID}",
        f"Installing:{REQUEST_ID}",
        "Boot:PowerUp:1.0.0", f"Installing:{REQUEST_ID}", f"InstallRebooting:{REQUEST_ID}",  # the kill's restart
        "Boot:FirmwareUpdate:2.0.0", f"Installed:{REQUEST_ID}",  # the new firmware runs
    ]  # fmt: skip
    assert http_files.hits == {"fw.img": 1}  # the verified image was kept over the kill
