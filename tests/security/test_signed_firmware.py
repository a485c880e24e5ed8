"""SignedUpdateFirmware → SignedFirmwareStatusNotification (checklist 4.3, SF-1..SF-10; whitepaper L01)."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from chargebox.clock import VirtualClock
from chargebox.firmware_image import make_image
from chargebox.signing import sign_file
from chargebox.store import Store
from chargebox.transfer import Transfer, TransferSettings
from tests.firmware.conftest import HttpFiles, ScriptedTransfer, iso, settled
from tests.security.conftest import (
    Manufacturer,
    SecRig,
    install_root,
    key_pem,
    manufacturer,
    pem,
)
from tests.wire import Wire, make_csms, make_station

IMAGE = make_image("2.0.0", b"signed firmware payload")
STATUS = "SignedFirmwareStatusNotification"


def signature_of(data: bytes, maker: Manufacturer, tmp_path: Path) -> str:
    path = tmp_path / "to-sign.img"
    path.write_bytes(data)
    return sign_file(path, key_pem(maker.signing_key))


def request(maker: Manufacturer, signature: str, *, request_id: int = 7, **firmware: Any) -> dict[str, Any]:
    return {
        "requestId": request_id,
        "retries": 1,
        "retryInterval": 30,
        "firmware": {
            "location": "http://files.example/fw.img",
            "retrieveDateTime": "2020-01-01T00:00:00+00:00",
            "signingCertificate": pem(maker.signing),
            "signature": signature,
            **firmware,
        },
    }


async def until_status(rig: SecRig, status: str) -> None:
    await settled(rig.clock, lambda: status in rig.statuses(STATUS))


async def install_until_reboot(rig: SecRig) -> None:
    """The simulated install takes 1 s of the station's clock, then checks the image in a thread."""
    await until_status(rig, "Installing")
    await rig.clock.advance(1)
    await until_status(rig, "InstallRebooting")


@pytest.mark.parametrize("kind", ["rsa", "ec"])
async def test_SF_4_a_valid_signature_goes_through_every_status_to_installed(
    sec: SecRig, tmp_path: Path, kind: str
) -> None:
    maker = manufacturer(kind)
    install_root(sec.wire, maker.root)
    sec.transfer.script = [IMAGE]
    answer = await sec.call("SignedUpdateFirmware", request(maker, signature_of(IMAGE, maker, tmp_path)))
    assert answer[2] == {"status": "Accepted"}
    await install_until_reboot(sec)
    await sec.wire.disconnect()
    await sec.wire.connect()  # the reboot: a new BootNotification, then Installed (F-7)
    await until_status(sec, "Installed")
    assert sec.statuses(STATUS) == [
        "Downloading", "Downloaded", "SignatureVerified", "Installing", "InstallRebooting", "Installed",
    ]  # fmt: skip
    assert {p["requestId"] for p in sec.wire.calls(STATUS)} == {7}  # SF-3
    assert sec.wire.station.boot.identity.firmware_version == "2.0.0"
    assert "FirmwareUpdated" in [e.event_type for e in sec.wire.station.store.security_log.entries()]  # F-9


async def test_SF_4_download_and_install_scheduled_when_their_times_are_ahead(sec: SecRig, tmp_path: Path) -> None:
    maker = manufacturer("ec")
    install_root(sec.wire, maker.root)
    sec.transfer.script = [IMAGE]
    times = {"retrieveDateTime": iso(sec.clock.now(), 600), "installDateTime": iso(sec.clock.now(), 1200)}
    await sec.call("SignedUpdateFirmware", request(maker, signature_of(IMAGE, maker, tmp_path), **times))
    await sec.clock.advance(599)
    assert sec.statuses(STATUS) == ["DownloadScheduled"] and sec.transfer.downloads == []
    await sec.clock.advance(1)
    await until_status(sec, "InstallScheduled")
    await sec.clock.advance(599)
    assert "Installing" not in sec.statuses(STATUS)
    await sec.clock.advance(1)
    await install_until_reboot(sec)
    assert sec.statuses(STATUS)[:5] == [
        "DownloadScheduled", "Downloading", "Downloaded", "SignatureVerified", "InstallScheduled",
    ]  # fmt: skip


@pytest.mark.parametrize("kind", ["rsa", "ec"])
async def test_SF_5_a_bad_signature_is_invalid_signature_and_nothing_installs(
    sec: SecRig, tmp_path: Path, kind: str
) -> None:
    maker = manufacturer(kind)
    install_root(sec.wire, maker.root)
    sec.transfer.script = [IMAGE]
    tampered = signature_of(IMAGE + b"x", maker, tmp_path)  # a signature of another file
    await sec.call("SignedUpdateFirmware", request(maker, tampered))
    await until_status(sec, "InvalidSignature")
    await sec.clock.advance(60)
    assert sec.statuses(STATUS) == ["Downloading", "Downloaded", "InvalidSignature"]
    assert sec.wire.station.boot.identity.firmware_version == "1.0.0"
    assert not list(sec.wire.station.workspace.path.iterdir())  # the image is gone

    def events() -> list[str]:
        return [p["type"] for p in sec.wire.calls("SecurityEventNotification")]

    await settled(sec.clock, lambda: "InvalidFirmwareSignature" in events())


async def test_SF_5_a_signature_wrapped_every_64_characters_as_openssl_writes_it_is_verified(
    sec: SecRig, tmp_path: Path
) -> None:
    """RFC 4648 §3.1/3.3: MIME-style base64 (``openssl base64``) breaks its lines; the breaks are no data."""
    maker = manufacturer("rsa")
    install_root(sec.wire, maker.root)
    sec.transfer.script = [IMAGE]
    signature = signature_of(IMAGE, maker, tmp_path)
    wrapped = "\n".join(signature[i : i + 64] for i in range(0, len(signature), 64)) + "\n"
    assert (await sec.call("SignedUpdateFirmware", request(maker, wrapped)))[2] == {"status": "Accepted"}
    await until_status(sec, "SignatureVerified")
    assert "InvalidSignature" not in sec.statuses(STATUS)


async def test_SF_5_a_signature_that_is_not_base64_is_invalid_signature(sec: SecRig) -> None:
    maker = manufacturer("ec")
    install_root(sec.wire, maker.root)
    sec.transfer.script = [IMAGE]
    await sec.call("SignedUpdateFirmware", request(maker, "not base64 at all!"))
    await until_status(sec, "InvalidSignature")


@pytest.mark.parametrize("kind", ["rsa", "ec"])
async def test_SF_1_a_signing_certificate_of_another_manufacturer_is_invalid_certificate(
    sec: SecRig, tmp_path: Path, kind: str
) -> None:
    install_root(sec.wire, manufacturer(kind, "Ours").root)
    theirs = manufacturer(kind, "Theirs")
    answer = await sec.call("SignedUpdateFirmware", request(theirs, signature_of(IMAGE, theirs, tmp_path)))
    assert answer[2] == {"status": "InvalidCertificate"}
    await sec.clock.advance(60)
    assert sec.statuses(STATUS) == [] and sec.transfer.downloads == []  # nothing started
    assert sec.wire.station.store.signed_firmware.load().stage == "idle"
    await settled(
        sec.clock,
        lambda: (
            [p["type"] for p in sec.wire.calls("SecurityEventNotification")] == ["InvalidFirmwareSigningCertificate"]
        ),
    )


async def test_SF_1_no_manufacturer_root_installed_is_invalid_certificate(sec: SecRig, tmp_path: Path) -> None:
    maker = manufacturer("ec")
    answer = await sec.call("SignedUpdateFirmware", request(maker, signature_of(IMAGE, maker, tmp_path)))
    assert answer[2] == {"status": "InvalidCertificate"}


async def test_SF_2_a_new_request_cancels_a_download_under_way(sec: SecRig, tmp_path: Path) -> None:
    maker = manufacturer("ec")
    install_root(sec.wire, maker.root)
    sec.transfer.hold = asyncio.Event()
    sec.transfer.script = [IMAGE, IMAGE]
    signature = signature_of(IMAGE, maker, tmp_path)
    await sec.call("SignedUpdateFirmware", request(maker, signature, request_id=1))
    await until_status(sec, "Downloading")
    answer = await sec.call("SignedUpdateFirmware", request(maker, signature, request_id=2))
    assert answer[2] == {"status": "AcceptedCanceled"}
    sec.transfer.hold.set()
    await until_status(sec, "SignatureVerified")
    assert sec.wire.calls(STATUS)[-1]["requestId"] == 2


async def test_SF_9_extended_trigger_after_installed_sends_idle_without_request_id(sec: SecRig) -> None:
    answer = await sec.call("ExtendedTriggerMessage", {"requestedMessage": "FirmwareStatusNotification"})
    assert answer[2] == {"status": "Accepted"}
    await settled(sec.clock, lambda: sec.wire.calls(STATUS))
    assert sec.wire.calls(STATUS) == [{"status": "Idle"}]


async def test_SF_10_plain_update_firmware_is_not_supported(sec: SecRig) -> None:
    answer = await sec.call("UpdateFirmware", {"location": "http://x/fw", "retrieveDate": iso(sec.clock.now())})
    assert answer[0] == 4 and answer[2] == "NotSupported"
    assert sec.wire.station.store.firmware.load().stage == "idle"


async def test_SF_10_without_the_switch_update_firmware_is_answered_and_signed_update_firmware_is_not(
    wired: Callable[..., Wire],
) -> None:
    """signed_firmware_only is off by default: a central system that knows only UpdateFirmware can update."""
    wire = wired()
    await wire.connect()
    plain = {"location": "http://x/fw", "retrieveDate": "2030-01-01T00:00:00Z"}
    assert await wire.inject(json.dumps([2, "u", "UpdateFirmware", plain])) == [3, "u", {}]
    signed = await wire.inject(json.dumps([2, "s", "SignedUpdateFirmware", request(manufacturer("ec"), "AAAA")]))
    assert signed[:3] == [4, "s", "NotSupported"]
    assert wire.station.signed_firmware is None and wire.station.certificates is not None


async def test_SF_4_a_power_cut_mid_download_resumes_with_the_attempts_left(
    clock: VirtualClock, tmp_path: Path
) -> None:
    """One failed attempt, the power goes, the station comes back: the job goes on to SignatureVerified."""
    maker = manufacturer("rsa")
    first = Wire(make_station(clock, store=Store.open(tmp_path / "db"), data_dir=tmp_path,
                              signed_firmware_only=True), make_csms(clock), clock)  # fmt: skip
    install_root(first, maker.root)
    transfer = ScriptedTransfer(clock, script=["HTTP 500"])
    first.station.signed_firmware.transfer = transfer
    await first.connect()
    signature = signature_of(IMAGE, maker, tmp_path)
    payload = {**request(maker, signature, request_id=42), "retries": 2}
    await first.inject(json.dumps([2, "s", "SignedUpdateFirmware", payload]))
    await clock.advance(1)
    assert len(transfer.downloads) == 1
    await first.stop()
    first.station.reset_all()  # the power goes
    first.station.store.close()
    second = Wire(make_station(clock, store=Store.open(tmp_path / "db"), data_dir=tmp_path,
                               signed_firmware_only=True), make_csms(clock), clock)  # fmt: skip
    transfer.script = [IMAGE]
    second.station.signed_firmware.transfer = transfer
    await second.connect()
    await clock.advance(60)
    await settled(clock, lambda: "SignatureVerified" in [p["status"] for p in second.calls(STATUS)])
    assert len(transfer.downloads) == 2
    assert {p["requestId"] for p in second.calls(STATUS)} == {42}
    assert second.station.store.signed_firmware.load().attempts == 2
    await second.stop()
    second.station.store.close()


def test_SF_5_sign_file_makes_a_base64_signature(tmp_path: Path) -> None:
    maker = manufacturer("ec")
    assert base64.b64decode(signature_of(IMAGE, maker, tmp_path), validate=True)


async def test_SF_6_a_download_the_disk_cannot_hold_fails_and_is_memory_exhausted(
    sec: SecRig, tmp_path: Path, http_files: HttpFiles
) -> None:
    maker = manufacturer("ec")
    install_root(sec.wire, maker.root)
    http_files.files["fw.img"] = IMAGE
    sec.wire.station.signed_firmware.transfer = Transfer(TransferSettings(min_free_bytes=2**62))
    payload = request(maker, signature_of(IMAGE, maker, tmp_path), location=f"{http_files.url}/fw.img")
    payload["retries"] = 0
    await sec.call("SignedUpdateFirmware", payload)
    await until_status(sec, "DownloadFailed")
    assert "MemoryExhausted" in [e.event_type for e in sec.wire.station.store.security_log.entries()]


@pytest.mark.parametrize("kind", ["rsa", "ec"])
async def test_firmware_image_sign_writes_a_signature_the_station_accepts(tmp_path: Path, kind: str) -> None:
    from chargebox.signing import check_signing_certificate, verify_file
    from tests.test_cli import run_cli

    maker = manufacturer(kind)
    (tmp_path / "key.pem").write_bytes(key_pem(maker.signing_key))
    (tmp_path / "cert.pem").write_text(pem(maker.signing))
    image = tmp_path / "fw.img"
    code, out, err = await run_cli(
        "firmware-image", "--version", "2.0.0", "--output", str(image),
        "--sign", str(tmp_path / "key.pem"), "--cert", str(tmp_path / "cert.pem"),
    )  # fmt: skip
    assert code == 0, err
    assert "fw.img.sig" in out
    certificate = check_signing_certificate(pem(maker.signing), [pem(maker.root)], maker.signing.not_valid_before_utc)
    verify_file(image, (tmp_path / "fw.img.sig").read_text().strip(), certificate)


async def test_firmware_image_sign_with_a_certificate_of_another_key_is_one_line_exit_2(tmp_path: Path) -> None:
    from tests.test_cli import assert_one_line_error, run_cli

    ours, theirs = manufacturer("ec"), manufacturer("ec", "Theirs")
    (tmp_path / "key.pem").write_bytes(key_pem(ours.signing_key))
    (tmp_path / "cert.pem").write_text(pem(theirs.signing))
    code, _out, err = await run_cli(
        "firmware-image", "--version", "2.0.0", "--output", str(tmp_path / "fw.img"),
        "--sign", str(tmp_path / "key.pem"), "--cert", str(tmp_path / "cert.pem"),
    )  # fmt: skip
    assert_one_line_error(code, err, "does not belong to --sign")
    code, _out, err = await run_cli(
        "firmware-image",
        "--version",
        "2.0.0",
        "--output",
        str(tmp_path / "fw.img"),
        "--sign",
        str(tmp_path / "key.pem"),
    )
    assert_one_line_error(code, err, "--sign and --cert go together")
