"""End to end against an independent central system (the mobilityhouse ``ocpp`` library) and real file servers.

The station runs on the real clock here; every wait is a poll with a timeout, never a fixed sleep.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import zipfile
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from ocpp.v16 import call
from ocpp.v16.enums import MessageTrigger

from chargebox.firmware_image import make_image
from chargebox.sim.installer import SimulatedInstaller
from chargebox.sim.simulator import simulated_station
from chargebox.station.kernel.settings import Identity
from chargebox.station.station import Station, StationSettings
from chargebox.transfer import TransferSettings, UploadMethod
from chargebox.transport import ReconnectPolicy
from tests.firmware.conftest import WAIT, FirmwareCsms, FtpServer, HttpFiles, TlsFiles

IMAGE = make_image("2.0.0", bytes(range(256)) * 2048)
FSN = "FirmwareStatusNotification"
DSN = "DiagnosticsStatusNotification"
HAPPY = ["Boot:1.0.0", f"{FSN}:Downloading", f"{FSN}:Downloaded", f"{FSN}:Installing", "Boot:2.0.0", f"{FSN}:Installed"]

Runner = Callable[..., Station]


@pytest.fixture
async def run_station(csms: FirmwareCsms, tmp_path: Path) -> AsyncIterator[Runner]:
    tasks: list[tuple[Station, asyncio.Task[None]]] = []

    def start(**settings: Any) -> Station:
        settings.setdefault("charge_point_id", "CP-FW")
        settings.setdefault("csms_url", csms.url)
        settings.setdefault("connectors", 2)
        settings.setdefault("data_dir", tmp_path / "station")
        settings.setdefault("identity", Identity(vendor="chargebox", model="Test", firmware_version="1.0.0"))
        settings.setdefault("reconnect", ReconnectPolicy(initial=0.05, maximum=0.2, jitter=0.1))
        station = simulated_station(StationSettings(**settings))
        assert isinstance(station.ports.installer, SimulatedInstaller)
        station.ports.installer.duration = 0.05
        tasks.append((station, asyncio.ensure_future(station.run())))
        return station

    yield start
    for station, task in tasks:
        await station.stop()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task


async def booted(csms: FirmwareCsms) -> None:
    index = await csms.wait_for("BootNotification")
    await csms.wait_for("StatusNotification", start=index, connectorId=2)


async def update(csms: FirmwareCsms, location: str, *, delay: float = 0, **fields: Any) -> None:
    retrieve = (datetime.now(UTC) + timedelta(seconds=delay)).isoformat()
    await csms.call(call.UpdateFirmware(location=location, retrieve_date=retrieve, **fields))


def sequence(csms: FirmwareCsms) -> list[str]:
    return csms.sequence("BootNotification", FSN)


@pytest.mark.parametrize("scheme", ["http", "https", "ftp", "ftps"])
async def test_TC_044_1_full_update_over_each_scheme(
    scheme: str,
    csms: FirmwareCsms,
    run_station: Runner,
    http_files: HttpFiles,
    ftp_server: FtpServer,
    ftps_server: FtpServer,
    tls: TlsFiles,
) -> None:
    location = {"http": http_files.url, "ftp": ftp_server.url, "ftps": ftps_server.url}
    location = {name: f"{url}/fw.img" for name, url in location.items()}
    http_files.files["fw.img"] = IMAGE
    (ftp_server.root / "fw.img").write_bytes(IMAGE)
    (ftps_server.root / "fw.img").write_bytes(IMAGE)
    if scheme == "https":
        location["https"] = await https_server(IMAGE, tls)
    run_station(transfer=TransferSettings(ssl_context=tls.client_context))
    await booted(csms)
    await update(csms, location[scheme])
    await csms.wait_for(FSN, status="Installed")
    assert sequence(csms) == HAPPY


async def https_server(body: bytes, tls: TlsFiles) -> str:
    from aiohttp import web

    async def serve(_request: web.Request) -> web.Response:
        return web.Response(body=body)

    app = web.Application()
    app.router.add_get("/fw.img", serve)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0, ssl_context=tls.server_context).start()
    return f"https://localhost:{runner.addresses[0][1]}/fw.img"


async def test_F_2_retrieve_date_in_the_future(csms: FirmwareCsms, run_station: Runner, http_files: HttpFiles) -> None:
    http_files.files["fw.img"] = IMAGE
    run_station()
    await booted(csms)
    not_before = datetime.now(UTC) + timedelta(seconds=0.5)
    await update(csms, f"{http_files.url}/fw.img", delay=0.5)
    await csms.wait_for(FSN, status="Downloading")
    assert datetime.now(UTC) >= not_before
    await csms.wait_for(FSN, status="Installed")
    assert http_files.hits == {"fw.img": 1}


@pytest.mark.parametrize("problem", ["404", "refused", "truncated"])
async def test_TC_044_2_download_failed_after_the_retries_counted_by_the_server(
    problem: str, csms: FirmwareCsms, run_station: Runner, http_files: HttpFiles
) -> None:
    http_files.files["fw.img"] = IMAGE
    location = f"{http_files.url}/{'missing.img' if problem == '404' else 'fw.img'}"
    if problem == "truncated":
        http_files.truncate["fw.img"] = 5000
    if problem == "refused":
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            location = f"http://127.0.0.1:{s.getsockname()[1]}/fw.img"
    station = run_station(transfer=TransferSettings(min_retry_interval=0))  # the real clock: no pause
    await booted(csms)
    await update(csms, location, retries=2, retry_interval=0)
    await csms.wait_for(FSN, status="DownloadFailed")
    assert sequence(csms) == ["Boot:1.0.0", f"{FSN}:Downloading", f"{FSN}:DownloadFailed"]
    assert station.store.firmware.load().attempts == 3
    if problem != "refused":
        assert sum(http_files.hits.values()) == 3


async def test_TC_044_3_corrupt_image_installation_failed(
    csms: FirmwareCsms, run_station: Runner, http_files: HttpFiles
) -> None:
    http_files.files["fw.img"] = IMAGE[:-10] + b"0123456789"
    run_station()
    await booted(csms)
    await update(csms, f"{http_files.url}/fw.img")
    await csms.wait_for(FSN, status="InstallationFailed")
    assert sequence(csms) == ["Boot:1.0.0", f"{FSN}:Downloading", f"{FSN}:Downloaded", f"{FSN}:Installing",
                              f"{FSN}:InstallationFailed"]  # fmt: skip


async def test_F_6_a_running_transaction_delays_the_installation(
    csms: FirmwareCsms, run_station: Runner, http_files: HttpFiles
) -> None:
    http_files.files["fw.img"] = IMAGE
    station = run_station()
    await booted(csms)
    station.connectors[1].transaction_ref = 1  # a session runs on connector 1
    start = len(csms.frames.frames)
    await update(csms, f"{http_files.url}/fw.img")
    downloaded = await csms.wait_for(FSN, status="Downloaded")
    await csms.wait_for("StatusNotification", start=start, connectorId=2, status="Unavailable")
    ended_at = len(csms.frames.frames)
    assert f"{FSN}:Installing" not in sequence(csms)
    station.connectors[1].transaction_ref = None  # the driver stops charging
    station.connectors.refresh(1)
    installing = await csms.wait_for(FSN, start=downloaded, status="Installing")
    assert installing >= ended_at
    await csms.wait_for(FSN, status="Installed")


async def test_F_8_triggers_during_and_after_an_update(
    csms: FirmwareCsms, run_station: Runner, http_files: HttpFiles
) -> None:
    http_files.files["fw.img"] = IMAGE
    http_files.gate["fw.img"] = asyncio.Event()
    run_station()
    await booted(csms)
    trigger = call.TriggerMessage(requested_message=MessageTrigger.firmware_status_notification)
    assert (await csms.call(trigger)).status == "Accepted"
    await csms.wait_for(FSN, status="Idle")
    await update(csms, f"{http_files.url}/fw.img")
    await asyncio.wait_for(http_files.sent_half.wait(), WAIT)
    assert (await csms.call(trigger)).status == "Accepted"
    index = await csms.wait_for(FSN, status="Downloading")
    await csms.wait_for(FSN, start=index + 1, status="Downloading")
    http_files.gate["fw.img"].set()
    await csms.wait_for(FSN, status="Installed")
    before = len(csms.frames.frames)
    await csms.call(trigger)
    await csms.wait_for(FSN, start=before, status="Idle")
    assert sequence(csms)[-2:] == [f"{FSN}:Installed", f"{FSN}:Idle"]


@pytest.mark.parametrize("method", ["ftp", "PUT", "POST"])
async def test_TC_045_1_diagnostics_upload_with_a_time_window(
    method: str,
    csms: FirmwareCsms,
    run_station: Runner,
    http_files: HttpFiles,
    ftp_server: FtpServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="chargebox")
    upload = UploadMethod.POST if method == "POST" else UploadMethod.PUT
    station = run_station(transfer=TransferSettings(upload_method=upload))
    await booted(csms)
    station.log.info("= an event before the window")
    # the station's clock, synchronised from currentTime (B-4), stamps its log records
    start = station.clock.now() + timedelta(milliseconds=1)
    await asyncio.sleep(0.002)  # the only way to put real time between two log records
    station.log.info("= an event inside the window")
    location = f"{ftp_server.url}/uploads/" if method == "ftp" else f"{http_files.url}/uploads/"
    answer = await csms.call(call.GetDiagnostics(location=location, start_time=start.isoformat()))
    await csms.wait_for(DSN, status="Uploaded")
    assert csms.sequence(DSN) == [f"{DSN}:Uploading", f"{DSN}:Uploaded"]
    if method == "ftp":
        data = (ftp_server.root / "uploads" / answer.file_name).read_bytes()
    else:
        data = http_files.uploads[answer.file_name]
    log = zipfile.ZipFile(BytesIO(data)).read("log.txt").decode()
    assert "inside the window" in log and "before the window" not in log


async def test_TC_045_2_unreachable_upload_location_upload_failed_after_retries(
    csms: FirmwareCsms, run_station: Runner
) -> None:
    station = run_station(transfer=TransferSettings(min_retry_interval=0))  # the real clock: no pause
    await booted(csms)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        location = f"ftp://127.0.0.1:{s.getsockname()[1]}/uploads/"
    await csms.call(call.GetDiagnostics(location=location, retries=2, retry_interval=0))
    await csms.wait_for(DSN, status="UploadFailed")
    assert csms.sequence(DSN) == [f"{DSN}:Uploading", f"{DSN}:UploadFailed"]
    assert station.store.diagnostics.load().attempts == 3
    trigger = call.TriggerMessage(requested_message=MessageTrigger.diagnostics_status_notification)
    await csms.call(trigger)
    await csms.wait_for(DSN, status="Idle")
