"""Firmware of a 2.0.1 station (station/v201/firmware.py, use case L01): UpdateFirmware of a signed image and the
FirmwareStatusNotifications the central system sees, in order, each with the requestId."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from chargebox.firmware_image import make_image
from chargebox.signing import sign_file
from chargebox.station.kernel.settings import Identity
from chargebox.station.v201.firmware import FirmwareService
from tests.firmware.conftest import ScriptedTransfer, settled
from tests.security.conftest import Manufacturer, install_root, key_pem, manufacturer, pem
from tests.wire import Wire

IMAGE = make_image("2.0.0", b"signed firmware payload")
STATUS = "FirmwareStatusNotification"


async def station(
    wired: Callable[..., Wire], tmp_path: Path, maker: Manufacturer, **settings: Any
) -> tuple[Wire, ScriptedTransfer]:
    identity = Identity(vendor="chargebox", model="Test", firmware_version="1.0.0")
    wire = wired(ocpp="2.0.1", connectors=2, data_dir=tmp_path, identity=identity, **settings)
    transfer = ScriptedTransfer(wire.clock)
    wire.station.features.need(FirmwareService).transfer = transfer
    install_root(wire, maker.root)
    await wire.connect()
    await wire.until(lambda: len(wire.calls("StatusNotification")) == 2)
    return wire, transfer


def update(maker: Manufacturer, tmp_path: Path, *, request_id: int = 7, data: bytes = IMAGE, **more: Any) -> str:
    path = tmp_path / "to-sign.img"
    path.write_bytes(data)
    firmware = {"location": "http://files.example/fw.img", "retrieveDateTime": "2020-01-01T00:00:00Z",
                "signingCertificate": pem(maker.signing), "signature": sign_file(path, key_pem(maker.signing_key)),
                **more}  # fmt: skip
    return json.dumps([2, f"u{request_id}", "UpdateFirmware", {"requestId": request_id, "retries": 0,
                                                                 "firmware": firmware}])  # fmt: skip


def statuses(wire: Wire) -> list[tuple[str, int | None]]:
    return [(p["status"], p.get("requestId")) for p in wire.calls(STATUS)]


async def until_status(wire: Wire, status: str) -> None:
    await settled(wire.clock, lambda: status in [s for s, _ in statuses(wire)])


async def test_L01_FR_01_FR_10_a_signed_image_goes_through_every_status_with_the_requestId(
    wired: Callable[..., Wire], tmp_path: Path
) -> None:
    maker = manufacturer("ec")
    wire, transfer = await station(wired, tmp_path, maker)
    transfer.script = [IMAGE]
    answer = await wire.inject(update(maker, tmp_path))
    assert answer[2] == {"status": "Accepted"}
    await until_status(wire, "Installing")
    await wire.clock.advance(1)  # the simulated install takes a second
    await until_status(wire, "InstallRebooting")
    await wire.disconnect()
    await wire.connect()  # the reboot (L01.FR.32): a new BootNotification, then Installed
    await until_status(wire, "Installed")
    assert statuses(wire) == [(s, 7) for s in ("Downloading", "Downloaded", "SignatureVerified", "Installing",
                                               "InstallRebooting", "Installed")]  # fmt: skip
    boots = wire.calls("BootNotification")
    assert boots[-1]["reason"] == "FirmwareUpdate"
    assert boots[-1]["chargingStation"]["firmwareVersion"] == "2.0.0"
    await settled(wire.clock, lambda: "FirmwareUpdated" in [e["type"] for e in wire.calls("SecurityEventNotification")])
    actions = wire.sent_actions()
    assert actions.index("BootNotification", 1) < len(actions) - actions[::-1].index(STATUS)  # Installed after boot


async def test_TC_L_18_CS_without_signing_certificate_and_signature_is_InvalidCertificate(
    wired: Callable[..., Wire], tmp_path: Path
) -> None:
    maker = manufacturer("ec")
    wire, transfer = await station(wired, tmp_path, maker)
    frame = json.dumps([2, "u1", "UpdateFirmware", {"requestId": 1, "firmware": {
        "location": "http://files.example/fw.img", "retrieveDateTime": "2020-01-01T00:00:00Z"}}])  # fmt: skip
    answer = await wire.inject(frame)
    assert answer[2] == {"status": "InvalidCertificate"}
    await settled(wire.clock, lambda: wire.calls("SecurityEventNotification"))
    assert wire.calls("SecurityEventNotification")[-1]["type"] == "InvalidFirmwareSigningCertificate"  # L01.FR.02
    assert transfer.downloads == [] and statuses(wire) == []


async def test_L01_FR_03_a_bad_signature_is_InvalidSignature_with_its_security_event(
    wired: Callable[..., Wire], tmp_path: Path
) -> None:
    maker = manufacturer("rsa")
    wire, transfer = await station(wired, tmp_path, maker)
    transfer.script = [make_image("2.0.0", b"another payload")]
    assert (await wire.inject(update(maker, tmp_path)))[2] == {"status": "Accepted"}
    await until_status(wire, "InvalidSignature")
    assert [s for s, _ in statuses(wire)] == ["Downloading", "Downloaded", "InvalidSignature"]
    await settled(wire.clock, lambda: wire.calls("SecurityEventNotification"))
    assert wire.calls("SecurityEventNotification")[-1]["type"] == "InvalidFirmwareSignature"


async def update_while_charging(wired: Callable[..., Wire], tmp_path: Path, **settings: Any) -> Wire:
    """A transaction on EVSE 1 (cable, then card), then an UpdateFirmware of a good image, Accepted."""
    maker = manufacturer("ec")
    wire, transfer = await station(wired, tmp_path, maker, **settings)
    await wire.station.plugged(1)
    await wire.station.id_tag_presented("04A2B3C4")
    await wire.until(lambda: len(wire.calls("TransactionEvent")) == 1)
    transfer.script = [IMAGE]
    assert (await wire.inject(update(maker, tmp_path)))[2] == {"status": "Accepted"}
    return wire


async def test_L01_FR_06_FR_07_the_install_waits_for_the_transaction_with_free_EVSEs_Unavailable(
    wired: Callable[..., Wire], tmp_path: Path
) -> None:
    wire = await update_while_charging(wired, tmp_path)
    await until_status(wire, "InstallScheduled")  # L01.FR.34
    await wire.until(lambda: wire.calls("StatusNotification")[-1]["connectorStatus"] == "Unavailable")
    assert wire.calls("StatusNotification")[-1]["evseId"] == 2  # the free one; no transaction is aborted
    assert "Installing" not in [s for s, _ in statuses(wire)]
    await wire.station.id_tag_presented("04A2B3C4")  # the driver stops
    await until_status(wire, "Installing")
    ended = [e for e in wire.calls("TransactionEvent") if e["eventType"] == "Ended"]
    assert ended[0]["transactionInfo"]["stoppedReason"] == "Local"
    order = [f[3].get("eventType") or f[3].get("status") for d, f in wire.frames if d == ">" and f[0] == 2
             and f[2] in ("TransactionEvent", STATUS)]  # fmt: skip
    assert order.index("InstallScheduled") < order.index("Ended") < order.index("Installing")


ALLOW_NEW_SESSIONS = {"component": {"name": "ChargingStation"},
                      "variable": {"name": "AllowNewSessionsPendingFirmwareUpdate"}}  # fmt: skip


def evse_statuses(wire: Wire, evse: int) -> list[str]:
    return [p["connectorStatus"] for p in wire.calls("StatusNotification") if p["evseId"] == evse]


async def test_TC_L_14_CS_new_sessions_allowed_keep_free_EVSEs_Available_and_put_the_install_off(
    wired: Callable[..., Wire], tmp_path: Path
) -> None:
    wire = await update_while_charging(wired, tmp_path, ocpp_config=[{**ALLOW_NEW_SESSIONS, "value": "true"}])
    await until_status(wire, "InstallScheduled")  # L01.FR.34
    assert evse_statuses(wire, 2) == ["Available"]  # L01.FR.07 does not apply: EVSE 2 stays open
    await wire.station.plugged(2)
    await wire.station.id_tag_presented("0B0B0B0B")  # a second session starts while the install waits
    await wire.until(lambda: [e["evse"]["id"] for e in wire.calls("TransactionEvent") if "evse" in e] == [1, 2])
    await wire.station.id_tag_presented("04A2B3C4")  # the first ends: the second still runs
    await wire.until(lambda: [e["eventType"] for e in wire.calls("TransactionEvent")].count("Ended") == 1)
    await wire.clock.advance(5)
    assert "Installing" not in [s for s, _ in statuses(wire)]  # L01.FR.06
    assert evse_statuses(wire, 1)[-1] != "Unavailable"
    await wire.station.id_tag_presented("0B0B0B0B")  # the last ends: the install begins, nothing may start now
    await until_status(wire, "Installing")
    assert evse_statuses(wire, 1)[-1] == evse_statuses(wire, 2)[-1] == "Unavailable"
    order = [f[3].get("eventType") or f[3].get("status") for d, f in wire.frames if d == ">" and f[0] == 2
             and f[2] in ("TransactionEvent", STATUS)]  # fmt: skip
    assert order.count("Ended") == 2 and order.index("Installing") > len(order) - 1 - order[::-1].index("Ended")


async def test_L01_FR_07_AllowNewSessionsPendingFirmwareUpdate_set_while_the_install_waits_applies_at_once(
    wired: Callable[..., Wire], tmp_path: Path
) -> None:
    wire = await update_while_charging(wired, tmp_path)
    await wire.until(lambda: evse_statuses(wire, 2)[-1] == "Unavailable")  # false by default: TC_L_15_CS
    set_true = {"setVariableData": [{**ALLOW_NEW_SESSIONS, "attributeValue": "true"}]}
    answer = await wire.inject(json.dumps([2, "s1", "SetVariables", set_true]))
    assert answer[2]["setVariableResult"][0]["attributeStatus"] == "Accepted"
    await wire.until(lambda: evse_statuses(wire, 2)[-1] == "Available")
    set_false = {"setVariableData": [{**ALLOW_NEW_SESSIONS, "attributeValue": "false"}]}
    await wire.inject(json.dumps([2, "s2", "SetVariables", set_false]))
    await wire.until(lambda: evse_statuses(wire, 2)[-1] == "Unavailable")
    assert evse_statuses(wire, 1)[-1] == "Occupied"  # the transaction's EVSE is never touched


async def test_L01_FR_24_a_second_UpdateFirmware_cancels_the_first_AcceptedCanceled(
    wired: Callable[..., Wire], tmp_path: Path
) -> None:
    maker = manufacturer("ec")
    wire, _transfer = await station(wired, tmp_path, maker)
    later = "2999-01-01T00:00:00Z"
    assert (await wire.inject(update(maker, tmp_path, request_id=1, retrieveDateTime=later)))[2] == {
        "status": "Accepted"
    }
    await until_status(wire, "DownloadScheduled")  # L01.FR.13
    answer = await wire.inject(update(maker, tmp_path, request_id=2, retrieveDateTime=later))
    assert answer[2] == {"status": "AcceptedCanceled"}
    await settled(wire.clock, lambda: statuses(wire).count(("DownloadScheduled", 2)) == 1)
    assert statuses(wire) == [("DownloadScheduled", 1), ("DownloadScheduled", 2)]


async def test_L01_FR_25_FR_26_a_triggered_status_is_the_last_one_and_Idle_without_requestId_at_first(
    wired: Callable[..., Wire], tmp_path: Path
) -> None:
    maker = manufacturer("ec")
    wire, _transfer = await station(wired, tmp_path, maker)
    service = wire.station.features.need(FirmwareService)
    trigger = service.triggers(lambda _action: None)["FirmwareStatusNotification"]
    await trigger.send(None)
    await wire.inject(update(maker, tmp_path, request_id=3, retrieveDateTime="2999-01-01T00:00:00Z"))
    await until_status(wire, "DownloadScheduled")
    await trigger.send(None)
    await settled(wire.clock, lambda: len(statuses(wire)) == 3)
    assert statuses(wire) == [("Idle", None), ("DownloadScheduled", 3), ("DownloadScheduled", 3)]
