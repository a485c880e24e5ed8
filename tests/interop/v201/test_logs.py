"""GetLog (N01) and the triggers of LogStatusNotification and FirmwareStatusNotification (F06) against the ``ocpp``
library's 2.0.1 central system, with real upload servers: Part 6's TC_N_25, TC_N_26, TC_N_35, TC_N_36 and TC_F_15
to TC_F_19.

The logs go to an HTTP server taking PUT and to an FTP server (pyftpdlib), on loopback. An upload or a download
that stays under way is aimed at a listening socket that never answers: the request goes out and waits, as it
would for a slow server, until the next GetLog cancels it or the test ends. The ``ocpp`` central system here
answers LogStatusNotification and FirmwareStatusNotification (``StatusCsms``).
"""

from __future__ import annotations

import io
import socket
import zipfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from ocpp.routing import on
from ocpp.v201 import call, call_result
from ocpp.v201.enums import Action, MessageTriggerEnumType

from chargebox.signing import sign_file
from chargebox.transfer import TransferSettings
from tests.firmware.conftest import FtpServer, HttpFiles
from tests.firmware.conftest import ftp_server as ftp_server
from tests.firmware.conftest import http_files as http_files
from tests.interop.conftest import OcppCsms
from tests.interop.v201.conftest import SUBPROTOCOL, CsmsChargePoint201, StationRunner201, wait_booted
from tests.interop.v201.test_network import unused_port
from tests.security.conftest import key_pem, manufacturer, pem

LOG_STATUS = "LogStatusNotification"
FIRMWARE_STATUS = "FirmwareStatusNotification"


class StatusCsms(CsmsChargePoint201):
    @on(Action.log_status_notification)
    def on_log_status_notification(self, **_payload: Any) -> call_result.LogStatusNotification:
        return call_result.LogStatusNotification()

    @on(Action.firmware_status_notification)
    def on_firmware_status_notification(self, **_payload: Any) -> call_result.FirmwareStatusNotification:
        return call_result.FirmwareStatusNotification()


@pytest.fixture
async def csms() -> AsyncIterator[OcppCsms]:
    server = OcppCsms(subprotocol=SUBPROTOCOL, charge_point_class=StatusCsms)
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
def silent() -> Iterator[str]:
    """``127.0.0.1:port`` of a socket that listens and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield f"127.0.0.1:{listener.getsockname()[1]}"


async def booted(csms: OcppCsms, station_factory: StationRunner201, **settings: Any) -> int:
    station_factory(connectors=1, transfer=TransferSettings(min_retry_interval=0), **settings)
    return await wait_booted(csms, evses=1)


async def get_log(csms: OcppCsms, log_type: str, request_id: int, location: str, **more: Any) -> Any:
    request = call.GetLog(log={"remote_location": location}, log_type=log_type, request_id=request_id, **more)
    return await csms.call(request)


async def log_statuses(csms: OcppCsms, start: int, last: str) -> list[tuple[str, int | None]]:
    """The LogStatusNotifications from frame ``start`` on, up to the first with status ``last``."""
    await csms.frames.wait_for(lambda f: f.action == LOG_STATUS and f.payload["status"] == last, start=start)
    return [(f.payload["status"], f.payload.get("requestId")) for f in csms.frames.calls(LOG_STATUS, start=start)]


async def test_TC_N_35_CS_the_security_log_is_uploaded_over_ftp(
    csms: OcppCsms, station_factory: StationRunner201, ftp_server: FtpServer
) -> None:
    start = await booted(csms, station_factory)
    answer = await get_log(csms, "SecurityLog", 5, f"{ftp_server.url}/uploads/")
    assert answer.status == "Accepted"  # N01.FR.01, N01.FR.02: the file's name in the answer
    assert await log_statuses(csms, start, "Uploaded") == [("Uploading", 5), ("Uploaded", 5)]  # N01.FR.07-09
    uploaded = (ftp_server.root / "uploads" / answer.filename).read_text()
    assert "StartupOfTheDevice" in uploaded  # the security log: the boot's event


async def test_TC_N_25_CS_the_diagnostics_log_is_uploaded_over_http(
    csms: OcppCsms, station_factory: StationRunner201, http_files: HttpFiles
) -> None:
    start = await booted(csms, station_factory)
    answer = await get_log(csms, "DiagnosticsLog", 6, f"{http_files.url}/uploads/")
    assert answer.status == "Accepted"
    assert await log_statuses(csms, start, "Uploaded") == [("Uploading", 6), ("Uploaded", 6)]
    archive = zipfile.ZipFile(io.BytesIO(http_files.uploads[answer.filename]))
    assert "configuration.json" in archive.namelist()  # the device model goes with the diagnostics


async def test_TC_N_26_CS_an_upload_that_fails_is_UploadFailure(
    csms: OcppCsms, station_factory: StationRunner201
) -> None:
    start = await booted(csms, station_factory)
    refusing = f"http://127.0.0.1:{unused_port()}/uploads/"  # N01.FR.10: every attempt is refused
    answer = await get_log(csms, "DiagnosticsLog", 7, refusing, retries=1, retry_interval=0)
    assert answer.status == "Accepted"
    assert await log_statuses(csms, start, "UploadFailure") == [("Uploading", 7), ("UploadFailure", 7)]


async def test_TC_N_36_CS_a_second_GetLog_cancels_the_upload_under_way(
    csms: OcppCsms, station_factory: StationRunner201, ftp_server: FtpServer, silent: str
) -> None:
    start = await booted(csms, station_factory)
    assert (await get_log(csms, "SecurityLog", 8, f"http://{silent}/uploads/")).status == "Accepted"
    await log_statuses(csms, start, "Uploading")
    second = await get_log(csms, "SecurityLog", 9, f"{ftp_server.url}/uploads/")
    assert second.status == "AcceptedCanceled"  # N01.FR.12
    assert await log_statuses(csms, start, "Uploaded") == [
        ("Uploading", 8), ("AcceptedCanceled", 8), ("Uploading", 9), ("Uploaded", 9),
    ]  # fmt: skip
    assert (ftp_server.root / "uploads" / second.filename).exists()


async def triggered(csms: OcppCsms, action: str, request: Any, start: int) -> dict[str, Any]:
    """Send a TriggerMessage, Accepted; the payload of the ``action`` CALL that follows its answer (F06.FR.04)."""
    before = len(csms.frames.frames)
    assert (await csms.call(request)).status == "Accepted"
    answer, _ = await csms.frames.wait_for(lambda f: isinstance(f.data, list) and f.data[0] == 3, start=before)
    index, frame = await csms.wait_call(action, start=max(start, before))
    assert answer < index
    return dict(frame.payload)


async def test_TC_F_15_CS_trigger_log_status_notification_while_idle(
    csms: OcppCsms, station_factory: StationRunner201
) -> None:
    start = await booted(csms, station_factory)
    request = call.TriggerMessage(requested_message=MessageTriggerEnumType.log_status_notification)
    assert await triggered(csms, LOG_STATUS, request, start) == {"status": "Idle"}  # N01.FR.13: no requestId


async def test_TC_F_16_CS_trigger_log_status_notification_while_uploading(
    csms: OcppCsms, station_factory: StationRunner201, silent: str
) -> None:
    start = await booted(csms, station_factory)
    assert (await get_log(csms, "DiagnosticsLog", 4, f"http://{silent}/uploads/")).status == "Accepted"
    await log_statuses(csms, start, "Uploading")
    request = call.TriggerMessage(requested_message=MessageTriggerEnumType.log_status_notification)
    index = len(csms.frames.frames)
    assert await triggered(csms, LOG_STATUS, request, index) == {"status": "Uploading", "requestId": 4}


async def test_TC_F_17_CS_and_TC_F_18_CS_trigger_firmware_status_notification_while_idle(
    csms: OcppCsms, station_factory: StationRunner201
) -> None:
    start = await booted(csms, station_factory)
    trigger = MessageTriggerEnumType.firmware_status_notification
    for request in (call.TriggerMessage(requested_message=trigger, evse={"id": 1}),  # F06.FR.03: evse ignored
                    call.TriggerMessage(requested_message=trigger)):  # fmt: skip
        index = len(csms.frames.frames)
        assert await triggered(csms, FIRMWARE_STATUS, request, max(start, index)) == {"status": "Idle"}  # L01.FR.25


async def test_TC_F_19_CS_trigger_firmware_status_notification_while_downloading(
    csms: OcppCsms, station_factory: StationRunner201, silent: str, tmp_path: Path
) -> None:
    start = await booted(csms, station_factory)
    maker = manufacturer("ec")
    installed = call.InstallCertificate(certificate_type="ManufacturerRootCertificate", certificate=pem(maker.root))
    assert (await csms.call(installed)).status == "Accepted"
    image = tmp_path / "fw.img"
    image.write_bytes(b"an image the station never receives")
    signature = sign_file(image, key_pem(maker.signing_key))
    firmware = {"location": f"http://{silent}/fw.img", "retrieve_date_time": "2020-01-01T00:00:00Z",
                "signing_certificate": pem(maker.signing), "signature": signature}  # fmt: skip
    assert (await csms.call(call.UpdateFirmware(request_id=3, firmware=firmware))).status == "Accepted"
    await csms.frames.wait_for(
        lambda f: f.action == FIRMWARE_STATUS and f.payload["status"] == "Downloading", start=start
    )
    request = call.TriggerMessage(requested_message=MessageTriggerEnumType.firmware_status_notification)
    index = len(csms.frames.frames)
    assert await triggered(csms, FIRMWARE_STATUS, request, index) == {
        "status": "Downloading",
        "requestId": 3,
    }  # L01.FR.26
