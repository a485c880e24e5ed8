"""Part 6's secure firmware update cases (L01) against the ``ocpp`` library's 2.0.1 central system, with a real HTTP
server serving the image: the frames on the wire, in order, validated by both sides.

The manufacturer's root goes in as a lab would put it: InstallCertificate(ManufacturerRootCertificate) from the
central system. The station runs on the real clock with a simulated installer of 50 ms; every wait is a poll with a
timeout. Not here: TC_L_12, 13 and 16, which are for a station that cannot download while charging or can install
while charging (this one downloads at once and installs once no transaction runs: TC_L_14 and 15 are its cases).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from ocpp.routing import on
from ocpp.v201 import call, call_result
from ocpp.v201.enums import Action, RegistrationStatusEnumType

from chargebox.firmware_image import make_image
from chargebox.signing import sign_file
from chargebox.sim.installer import SimulatedInstaller
from chargebox.station.kernel.settings import Identity
from chargebox.station.station import Station
from tests.firmware.conftest import HttpFiles, http_files
from tests.interop.conftest import OcppCsms
from tests.interop.v201.conftest import SUBPROTOCOL, CsmsChargePoint201, StationRunner201, entry, wait_booted
from tests.security.conftest import Manufacturer, key_pem, manufacturer, pem

__all__ = ["http_files"]  # the real HTTP server of tests/firmware

IMAGE = make_image("2.0.0", bytes(range(256)) * 64)
FSN = "FirmwareStatusNotification"
CARD, OTHER_CARD = "04A2B3C4", "0B0B0B0B"
THROUGH = ("Downloading", "Downloaded", "SignatureVerified", "Installing", "InstallRebooting", "Installed")
ALLOW = "AllowNewSessionsPendingFirmwareUpdate"


class FirmwareCsmsPoint(CsmsChargePoint201):
    """The library's central system, answering FirmwareStatusNotification too."""

    @on(Action.firmware_status_notification)
    def on_firmware_status_notification(self, **_payload: Any) -> call_result.FirmwareStatusNotification:
        return call_result.FirmwareStatusNotification()


@pytest.fixture
async def csms() -> AsyncIterator[OcppCsms]:
    server = OcppCsms(subprotocol=SUBPROTOCOL, charge_point_class=FirmwareCsmsPoint,
                      boot_answers=[(RegistrationStatusEnumType.accepted, 300)])  # fmt: skip
    await server.start()
    yield server
    await server.stop()


async def booted(csms: OcppCsms, station_factory: StationRunner201, maker: Manufacturer, **settings: Any) -> Station:
    """A station of two EVSEs running firmware 1.0.0, booted, with the maker's root installed by the central system."""
    station = station_factory(identity=Identity(vendor="chargebox", model="Test", firmware_version="1.0.0"), **settings)
    installer = station.ports.installer
    assert isinstance(installer, SimulatedInstaller)
    installer.duration = 0.05
    await wait_booted(csms, evses=2)
    answer = await csms.call(call.InstallCertificate(certificate_type="ManufacturerRootCertificate",
                                                     certificate=pem(maker.root)))  # fmt: skip
    assert answer.status == "Accepted"
    return station


def firmware(maker: Manufacturer, http_files: HttpFiles, tmp_path: Path, *, data: bytes = IMAGE,
             signed: bytes | None = None, **more: Any) -> dict[str, Any]:  # fmt: skip
    """The firmware of an UpdateFirmware for ``data`` served over HTTP, signed over ``signed`` (by default ``data``)."""
    http_files.files["fw.img"] = data
    to_sign = tmp_path / "to-sign.img"
    to_sign.write_bytes(data if signed is None else signed)
    return {"location": f"{http_files.url}/fw.img", "retrieve_date_time": _at(-7200), "signing_certificate":
            pem(maker.signing), "signature": sign_file(to_sign, key_pem(maker.signing_key)), **more}  # fmt: skip


async def statuses_until(csms: OcppCsms, last: str, *, start: int = 0) -> list[tuple[str, int | None]]:
    """Every FirmwareStatusNotification (status, requestId) from ``start`` until one says ``last``."""
    await csms.frames.wait_for(lambda f: f.action == FSN and f.payload["status"] == last, start=start)
    return [(f.payload["status"], f.payload.get("requestId")) for f in csms.frames.calls(FSN, start=start)]


def sequence(csms: OcppCsms, start: int = 0) -> list[str]:
    """The boots and firmware statuses, in their order on the wire."""
    return [f"Boot:{f.payload['reason']}" if f.action == "BootNotification" else f"{f.action}:{f.payload['status']}"
            for f in csms.frames.calls(start=start) if f.action in ("BootNotification", FSN)]  # fmt: skip


async def security_event(csms: OcppCsms, kind: str, *, start: int = 0) -> None:
    await csms.frames.wait_for(
        lambda f: f.action == "SecurityEventNotification" and f.payload["type"] == kind, start=start
    )


def _at(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()


async def test_TC_L_01_CS_a_signed_image_is_installed_and_the_new_firmware_says_Installed(
    csms: OcppCsms, station_factory: StationRunner201, http_files: HttpFiles, tmp_path: Path
) -> None:
    maker = manufacturer("ec")
    await booted(csms, station_factory, maker)
    start = len(csms.frames.frames)
    answer = await csms.call(call.UpdateFirmware(request_id=11, firmware=firmware(maker, http_files, tmp_path)))
    assert answer.status == "Accepted"
    assert await statuses_until(csms, "Installed", start=start) == [(s, 11) for s in THROUGH]  # L01.FR.01, L01.FR.10
    assert sequence(csms, start)[-2:] == ["Boot:FirmwareUpdate", f"{FSN}:Installed"]  # L01.FR.32: by the new image
    boot = csms.frames.calls("BootNotification")[-1].payload
    assert boot["chargingStation"]["firmwareVersion"] == "2.0.0"
    await security_event(csms, "FirmwareUpdated", start=start)  # L01.FR.31


async def test_TC_L_02_CS_and_TC_L_03_CS_DownloadScheduled_and_InstallScheduled_wait_for_their_times(
    csms: OcppCsms, station_factory: StationRunner201, http_files: HttpFiles, tmp_path: Path
) -> None:
    maker = manufacturer("ec")
    await booted(csms, station_factory, maker)
    start = len(csms.frames.frames)
    retrieve, install = datetime.now(UTC) + timedelta(seconds=1), datetime.now(UTC) + timedelta(seconds=2)
    fw = firmware(maker, http_files, tmp_path, retrieve_date_time=retrieve.isoformat(),
                  install_date_time=install.isoformat())  # fmt: skip
    assert (await csms.call(call.UpdateFirmware(request_id=12, firmware=fw))).status == "Accepted"
    assert [s for s, _ in await statuses_until(csms, "Installed", start=start)] == [
        "DownloadScheduled", "Downloading", "Downloaded", "SignatureVerified", "InstallScheduled", "Installing",
        "InstallRebooting", "Installed",
    ]  # L01.FR.13, L01.FR.16  # fmt: skip
    arrived = {f.payload["status"]: f.at for f in csms.frames.calls(FSN, start=start)}
    loop_now, wall_now = asyncio.get_running_loop().time(), datetime.now(UTC)
    assert arrived["Downloading"] >= loop_now - (wall_now - retrieve).total_seconds() - 0.05  # not before its time
    assert arrived["Installing"] >= loop_now - (wall_now - install).total_seconds() - 0.05


@pytest.mark.parametrize(
    ("case", "status", "event"),
    [
        ("another maker's certificate", "InvalidCertificate", "InvalidFirmwareSigningCertificate"),  # TC_L_05_CS
        ("no certificate and signature", "InvalidCertificate", "InvalidFirmwareSigningCertificate"),  # TC_L_18_CS
    ],
)  # fmt: skip
async def test_TC_L_05_CS_and_TC_L_18_CS_a_signing_certificate_that_is_absent_or_not_trusted_is_InvalidCertificate(
    csms: OcppCsms, station_factory: StationRunner201, http_files: HttpFiles, tmp_path: Path, case: str,
    status: str, event: str,
) -> None:  # fmt: skip
    maker = manufacturer("ec")
    await booted(csms, station_factory, maker)
    start = len(csms.frames.frames)
    if case == "another maker's certificate":
        fw = firmware(manufacturer("ec", "Stranger"), http_files, tmp_path)
    else:
        fw = {k: v for k, v in firmware(maker, http_files, tmp_path).items() if k in ("location", "retrieve_date_time")}
    assert (await csms.call(call.UpdateFirmware(request_id=5, firmware=fw))).status == status  # L01.FR.22
    await security_event(csms, event, start=start)  # L01.FR.02
    await asyncio.sleep(0.2)  # a window for anything that should not come
    assert csms.frames.calls(FSN, start=start) == [] and http_files.hits == {}


async def test_TC_L_06_CS_a_bad_signature_is_InvalidSignature_and_nothing_is_installed(
    csms: OcppCsms, station_factory: StationRunner201, http_files: HttpFiles, tmp_path: Path
) -> None:
    maker = manufacturer("rsa")
    await booted(csms, station_factory, maker)
    start = len(csms.frames.frames)
    fw = firmware(maker, http_files, tmp_path, signed=make_image("2.0.0", b"another image"))
    assert (await csms.call(call.UpdateFirmware(request_id=6, firmware=fw))).status == "Accepted"
    assert await statuses_until(csms, "InvalidSignature", start=start) == [
        ("Downloading", 6), ("Downloaded", 6), ("InvalidSignature", 6)
    ]  # fmt: skip
    await security_event(csms, "InvalidFirmwareSignature", start=start)  # L01.FR.03
    assert csms.frames.calls("BootNotification", start=start) == []


async def test_TC_L_07_CS_a_download_that_fails_every_attempt_is_DownloadFailed(
    csms: OcppCsms, station_factory: StationRunner201, http_files: HttpFiles, tmp_path: Path
) -> None:
    maker = manufacturer("ec")
    await booted(csms, station_factory, maker)
    start = len(csms.frames.frames)
    http_files.fail["fw.img"] = 404
    fw = firmware(maker, http_files, tmp_path)
    assert (await csms.call(call.UpdateFirmware(request_id=7, firmware=fw, retries=0))).status == "Accepted"
    assert await statuses_until(csms, "DownloadFailed", start=start) == [
        ("Downloading", 7), ("DownloadFailed", 7)
    ]  # L01.FR.30: after the last attempt  # fmt: skip
    assert http_files.hits == {"fw.img": 1}


async def test_TC_L_08_CS_an_image_the_installer_refuses_is_InstallationFailed(
    csms: OcppCsms, station_factory: StationRunner201, http_files: HttpFiles, tmp_path: Path
) -> None:
    maker = manufacturer("ec")
    await booted(csms, station_factory, maker)
    start = len(csms.frames.frames)
    corrupt = IMAGE[:-1] + bytes([IMAGE[-1] ^ 1])  # signed as it is, but its payload breaks its own header's SHA-256
    fw = firmware(maker, http_files, tmp_path, data=corrupt)
    assert (await csms.call(call.UpdateFirmware(request_id=8, firmware=fw))).status == "Accepted"
    assert [s for s, _ in await statuses_until(csms, "InstallationFailed", start=start)] == [
        "Downloading", "Downloaded", "SignatureVerified", "Installing", "InstallationFailed"
    ]  # fmt: skip
    assert csms.frames.calls("BootNotification", start=start) == []


async def test_TC_L_10_CS_a_second_update_cancels_a_scheduled_one_and_TC_L_11_CS_not_an_install(
    csms: OcppCsms, station_factory: StationRunner201, http_files: HttpFiles, tmp_path: Path
) -> None:
    maker = manufacturer("ec")
    station = await booted(csms, station_factory, maker)
    start = len(csms.frames.frames)
    later = firmware(maker, http_files, tmp_path, retrieve_date_time=_at(3600))
    assert (await csms.call(call.UpdateFirmware(request_id=1, firmware=later))).status == "Accepted"
    await statuses_until(csms, "DownloadScheduled", start=start)
    installer = station.ports.installer
    assert isinstance(installer, SimulatedInstaller)
    installer.duration = 1.0  # long enough for a request to find the install running
    now = firmware(maker, http_files, tmp_path)
    answer = await csms.call(call.UpdateFirmware(request_id=2, firmware=now))
    assert answer.status == "AcceptedCanceled"  # L01.FR.24
    await statuses_until(csms, "Installing", start=start)
    refused = await csms.call(call.UpdateFirmware(request_id=3, firmware=now))
    assert refused.status == "Rejected"  # L01.FR.27: an install is never aborted
    assert await statuses_until(csms, "Installed", start=start) == [("DownloadScheduled", 1)] + [
        (s, 2) for s in THROUGH
    ]


async def charging(csms: OcppCsms, station: Station, evse: int, card: str) -> int:
    """A cable on ``evse``, then a card: the index of its Started event."""
    start = len(csms.frames.frames)
    await station.plugged(evse)
    await station.id_tag_presented(card)
    index, _ = await csms.frames.wait_for(
        lambda f: f.action == "TransactionEvent" and f.payload["eventType"] == "Started"
        and f.payload.get("evse", {}).get("id") == evse, start=start,
    )  # fmt: skip
    return index


async def update_while_charging(
    csms: OcppCsms, station_factory: StationRunner201, http_files: HttpFiles, tmp_path: Path, *, allow: str
) -> tuple[Station, int]:
    """AllowNewSessionsPendingFirmwareUpdate ``allow``, a transaction on EVSE 1, then an UpdateFirmware, Accepted:
    the station, and the index of the frames from the update on."""
    maker = manufacturer("ec")
    station = await booted(csms, station_factory, maker, ocpp_config=[entry("ChargingStation", ALLOW, allow)])
    await charging(csms, station, 1, CARD)
    start = len(csms.frames.frames)
    fw = firmware(maker, http_files, tmp_path)
    assert (await csms.call(call.UpdateFirmware(request_id=14, firmware=fw))).status == "Accepted"
    return station, start


def evse_statuses(csms: OcppCsms, evse: int, start: int) -> list[str]:
    return [f.payload["connectorStatus"] for f in csms.frames.calls("StatusNotification", start=start)
            if f.payload["evseId"] == evse]  # fmt: skip


async def test_TC_L_15_CS_new_sessions_not_allowed_free_EVSEs_Unavailable_until_the_new_firmware_runs(
    csms: OcppCsms, station_factory: StationRunner201, http_files: HttpFiles, tmp_path: Path
) -> None:
    station, start = await update_while_charging(csms, station_factory, http_files, tmp_path, allow="false")
    await statuses_until(csms, "InstallScheduled", start=start)  # L01.FR.34: the install waits (step 9)
    await csms.frames.wait_for(lambda f: evse_statuses(csms, 2, start)[-1:] == ["Unavailable"], start=start)  # step 11
    await station.id_tag_presented(CARD)  # the transaction ends (step 13)
    assert [s for s, _ in await statuses_until(csms, "Installed", start=start)] == [
        "Downloading", "Downloaded", "SignatureVerified", "InstallScheduled", "Installing", "InstallRebooting",
        "Installed",
    ]  # fmt: skip
    await csms.frames.wait_for(lambda f: evse_statuses(csms, 2, start)[-1:] == ["Available"], start=start)  # step 21
    ended = [f for f in csms.frames.calls("TransactionEvent", start=start) if f.payload["eventType"] == "Ended"]
    assert ended[0].payload["transactionInfo"]["stoppedReason"] == "Local"  # the driver's stop, not the update's


async def test_TC_L_14_CS_new_sessions_allowed_a_second_session_starts_and_the_install_waits_for_both(
    csms: OcppCsms, station_factory: StationRunner201, http_files: HttpFiles, tmp_path: Path
) -> None:
    station, start = await update_while_charging(csms, station_factory, http_files, tmp_path, allow="true")
    await statuses_until(csms, "InstallScheduled", start=start)  # step 9
    assert "Unavailable" not in evse_statuses(csms, 2, start)
    await charging(csms, station, 2, OTHER_CARD)  # step 11: a second session while the update waits
    await station.id_tag_presented(CARD)  # step 12: the first ends
    await csms.frames.wait_for(lambda f: f.action == "TransactionEvent" and f.payload["eventType"] == "Ended",
                               start=start)  # fmt: skip
    await asyncio.sleep(0.3)
    assert "Installing" not in [f.payload["status"] for f in csms.frames.calls(FSN, start=start)]  # L01.FR.06
    await station.id_tag_presented(OTHER_CARD)  # step 13: the second ends, the install begins
    await statuses_until(csms, "Installed", start=start)
    installing = next(i for i, f in enumerate(csms.frames.frames) if i >= start and f.action == FSN
                      and f.payload["status"] == "Installing")  # fmt: skip
    ends = [i for i, f in enumerate(csms.frames.frames) if i >= start and f.action == "TransactionEvent"
            and f.payload["eventType"] == "Ended"]  # fmt: skip
    assert len(ends) == 2 and max(ends) < installing


async def test_AllowNewSessionsPendingFirmwareUpdate_is_in_the_FullInventory_report(
    csms: OcppCsms, station_factory: StationRunner201
) -> None:
    station_factory()
    await wait_booted(csms, evses=2)
    start = len(csms.frames.frames)
    assert (await csms.call(call.GetBaseReport(request_id=1, report_base="FullInventory"))).status == "Accepted"
    await csms.frames.wait_for(lambda f: f.action == "NotifyReport" and not f.payload.get("tbc"), start=start)
    reports = csms.frames.calls("NotifyReport", start=start)
    reported = {(d["component"]["name"], d["variable"]["name"]): d for f in reports for d in f.payload["reportData"]}
    allow = reported[("ChargingStation", ALLOW)]
    assert allow["variableAttribute"] == [{"type": "Actual", "value": "false", "mutability": "ReadWrite",
                                           "persistent": True}]  # fmt: skip
    assert allow["variableCharacteristics"]["dataType"] == "boolean"
