"""End to end against the ``ocpp`` library's central system (an independent implementation that validates every
frame against the whitepaper's schemas) with real HTTP servers: ExtendedTriggerMessage, GetLog and a signed
firmware update to Installed. The station runs on the real clock; every wait is a poll with a timeout."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from ocpp.v16 import call

from chargebox.firmware_image import make_image
from chargebox.sim.installer import SimulatedInstaller
from chargebox.sim.simulator import simulated_station
from chargebox.station.kernel.settings import Identity
from chargebox.station.station import Station, StationSettings
from chargebox.transport import ReconnectPolicy
from tests.firmware.conftest import HttpFiles
from tests.loopback import running
from tests.security.conftest import SecurityCsms, install_root, key_pem, manufacturer, pem

IMAGE = make_image("2.0.0", bytes(range(256)) * 512)
SFSN = "SignedFirmwareStatusNotification"


@pytest.fixture
async def security_csms() -> AsyncIterator[SecurityCsms]:
    async with running(SecurityCsms()) as server:
        yield server


@pytest.fixture
async def station(security_csms: SecurityCsms, tmp_path: Path) -> AsyncIterator[Station]:
    settings = StationSettings(
        charge_point_id="CP-SEC",
        csms_url=security_csms.url,
        connectors=1,
        data_dir=tmp_path / "station",
        identity=Identity(vendor="chargebox", model="Test", firmware_version="1.0.0"),
        signed_firmware_only=True,
        reconnect=ReconnectPolicy(initial=0.05, maximum=0.2, jitter=0.1),
    )
    running = simulated_station(settings)
    assert isinstance(running.ports.installer, SimulatedInstaller)
    running.ports.installer.duration = 0.05
    task = asyncio.ensure_future(running.run())
    yield running
    await running.stop()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task


async def test_interop_extended_trigger_get_log_and_a_signed_update(
    security_csms: SecurityCsms, station: Station, http_files: HttpFiles, tmp_path: Path
) -> None:
    await security_csms.wait_for("BootNotification")
    await security_csms.wait_for("SecurityEventNotification", type="StartupOfTheDevice")  # B-10

    answer: Any = await security_csms.call(call.ExtendedTriggerMessage(requested_message="Heartbeat"))
    assert answer.status == "Accepted"
    await security_csms.wait_for("Heartbeat")

    log = {"remote_location": f"{http_files.url}/uploads/"}
    answer = await security_csms.call(call.GetLog(log=log, log_type="SecurityLog", request_id=3))
    assert answer.status == "Accepted"
    await security_csms.wait_for("LogStatusNotification", status="Uploaded", requestId=3)
    assert b"StartupOfTheDevice critical" in http_files.uploads[answer.filename]

    maker = manufacturer("rsa")
    install_root_into(station, maker.root)
    image = tmp_path / "fw.img"
    image.write_bytes(IMAGE)
    http_files.files["fw.img"] = IMAGE
    from chargebox.signing import sign_file

    firmware = {
        "location": f"{http_files.url}/fw.img",
        "retrieve_date_time": datetime.now(UTC).isoformat(),
        "signing_certificate": pem(maker.signing),
        "signature": openssl_base64(sign_file(image, key_pem(maker.signing_key))),
    }
    answer = await security_csms.call(call.SignedUpdateFirmware(request_id=21, firmware=firmware))
    assert answer.status == "Accepted"
    await security_csms.wait_for(SFSN, status="Installed", requestId=21)
    assert security_csms.sequence(SFSN, "BootNotification") == [
        "Boot:1.0.0", f"{SFSN}:Downloading", f"{SFSN}:Downloaded", f"{SFSN}:SignatureVerified", f"{SFSN}:Installing",
        f"{SFSN}:InstallRebooting", "Boot:2.0.0", f"{SFSN}:Installed",
    ]  # fmt: skip
    await security_csms.wait_for("SecurityEventNotification", type="FirmwareUpdated")


def openssl_base64(text: str) -> str:
    """As ``openssl base64`` writes it: lines of 64 characters (RFC 4648 §3.3 allows the breaks)."""
    return "".join(text[i : i + 64] + "\n" for i in range(0, len(text), 64))


def install_root_into(station: Station, root: Any) -> None:
    class _Wire:  # install_root takes a Wire; only its station is used
        pass

    wire: Any = _Wire()
    wire.station = station
    install_root(wire, root)
