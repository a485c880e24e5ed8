"""GetLog of a 2.0.1 station (station/v201/get_log.py, use case N01): the file, its upload and the
LogStatusNotifications the central system sees, in order, each with the requestId."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from pathlib import Path

from chargebox.station.v201.get_log import GetLogService
from tests.firmware.conftest import ScriptedTransfer, settled
from tests.wire import Wire

STATUS = "LogStatusNotification"


async def station(wired: Callable[..., Wire], tmp_path: Path) -> tuple[Wire, ScriptedTransfer]:
    wire = wired(ocpp="2.0.1", data_dir=tmp_path)
    transfer = ScriptedTransfer(wire.clock)
    wire.station.features.need(GetLogService).transfer = transfer
    await wire.connect()
    await wire.until(lambda: len(wire.calls("StatusNotification")) == 1)
    return wire, transfer


def get_log(log_type: str, request_id: int, *, retries: int = 0) -> str:
    return json.dumps([2, f"g{request_id}", "GetLog", {
        "logType": log_type, "requestId": request_id, "retries": retries, "retryInterval": 30,
        "log": {"remoteLocation": "ftp://logs.example/in/"}}])  # fmt: skip


def statuses(wire: Wire) -> list[tuple[str, int | None]]:
    return [(p["status"], p.get("requestId")) for p in wire.calls(STATUS)]


async def test_TC_N_35_CS_the_security_log_is_uploaded_Uploading_then_Uploaded(
    wired: Callable[..., Wire], tmp_path: Path
) -> None:
    wire, transfer = await station(wired, tmp_path)
    wire.station.security_events.report("InvalidMessages", "a frame it could not read")
    answer = await wire.inject(get_log("SecurityLog", 5))
    assert answer[2]["status"] == "Accepted" and answer[2]["filename"].startswith("securitylog-")
    await settled(wire.clock, lambda: ("Uploaded", 5) in statuses(wire))
    assert statuses(wire) == [("Uploading", 5), ("Uploaded", 5)]
    (upload,) = transfer.uploads
    assert upload[1] == answer[2]["filename"] and b"InvalidMessages a frame it could not read" in upload[2]


async def test_TC_N_25_CS_the_diagnostics_log_is_an_archive_with_the_device_model(
    wired: Callable[..., Wire], tmp_path: Path
) -> None:
    wire, transfer = await station(wired, tmp_path)
    await wire.inject(get_log("DiagnosticsLog", 6))
    await settled(wire.clock, lambda: ("Uploaded", 6) in statuses(wire))
    archive = zipfile.ZipFile(io.BytesIO(transfer.uploads[0][2]))
    configuration = json.loads(archive.read("configuration.json"))
    names = {(e["component"]["name"], e["variable"]["name"]) for e in configuration}
    assert ("OCPPCommCtrlr", "HeartbeatInterval") in names


async def test_TC_N_26_CS_a_failed_upload_is_UploadFailure_after_the_last_attempt(
    wired: Callable[..., Wire], tmp_path: Path
) -> None:
    wire, transfer = await station(wired, tmp_path)
    transfer.upload_script = ["connection refused", "connection refused"]
    await wire.inject(get_log("SecurityLog", 7, retries=1))
    await settled(wire.clock, lambda: len(transfer.uploads) == 1)
    await wire.clock.advance(30)
    await settled(wire.clock, lambda: ("UploadFailure", 7) in statuses(wire))
    assert statuses(wire) == [("Uploading", 7), ("UploadFailure", 7)]  # Uploading once, not per attempt
    assert len(transfer.uploads) == 2


async def test_TC_N_36_CS_a_second_GetLog_cancels_the_first_AcceptedCanceled(
    wired: Callable[..., Wire], tmp_path: Path
) -> None:
    wire, transfer = await station(wired, tmp_path)
    transfer.upload_script = ["connection refused"]
    await wire.inject(get_log("SecurityLog", 8, retries=3))
    await settled(wire.clock, lambda: len(transfer.uploads) == 1)
    answer = await wire.inject(get_log("SecurityLog", 9))
    assert answer[2]["status"] == "AcceptedCanceled"
    await settled(wire.clock, lambda: ("Uploaded", 9) in statuses(wire))
    assert statuses(wire) == [("Uploading", 8), ("AcceptedCanceled", 8), ("Uploading", 9), ("Uploaded", 9)]  # N01.FR.20


async def test_N01_FR_13_a_triggered_status_is_Idle_without_requestId_when_nothing_uploads(
    wired: Callable[..., Wire], tmp_path: Path
) -> None:
    wire, _transfer = await station(wired, tmp_path)
    trigger = wire.station.features.need(GetLogService).triggers(lambda _action: None)["LogStatusNotification"]
    await trigger.send(None)
    await settled(wire.clock, lambda: statuses(wire))
    assert statuses(wire) == [("Idle", None)]
