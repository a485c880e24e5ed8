"""ExtendedTriggerMessage (every requested message; CT-1, SF-9, LG-3) and GetLog / LogStatusNotification
(LG-1..LG-4), the uploads scripted or through real HTTP and FTP servers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from chargebox.clock import VirtualClock
from chargebox.store import Store
from chargebox.transfer import Transfer
from tests.firmware.conftest import FtpServer, HttpFiles, ScriptedTransfer, read_zip, settled
from tests.security.conftest import SecRig
from tests.wire import Wire, make_csms, make_station

LSN = "LogStatusNotification"


async def extended(rig: SecRig, message: str, **fields: Any) -> str:
    answer = await rig.call("ExtendedTriggerMessage", {"requestedMessage": message, **fields})
    return str(answer[2]["status"])


@pytest.mark.parametrize(
    ("message", "action"),
    [
        ("BootNotification", None),  # B-9: Rejected after an accepted boot
        ("LogStatusNotification", "LogStatusNotification"),
        ("FirmwareStatusNotification", "SignedFirmwareStatusNotification"),  # SF-9
        ("Heartbeat", "Heartbeat"),
        ("MeterValues", "MeterValues"),
        ("StatusNotification", "StatusNotification"),
    ],
)
async def test_extended_trigger_message_sends_each_requested_message(
    sec: SecRig, message: str, action: str | None
) -> None:
    before = len(sec.wire.calls(action)) if action else 0
    status = await extended(sec, message, connectorId=1)
    if action is None:
        assert status == "Rejected"
        return
    assert status == "Accepted"
    await settled(sec.clock, lambda: len(sec.wire.calls(action)) > before)


async def test_CT_1_sign_charge_point_certificate_sends_a_sign_certificate_with_a_csr(sec: SecRig) -> None:
    sec.wire.station.config.set_internal("CpoName", "chargebox test CPO")  # the CSR's O (CT-1)
    assert await extended(sec, "SignChargePointCertificate") == "Accepted"
    await settled(sec.clock, lambda: sec.wire.calls("SignCertificate"))
    (request,) = sec.wire.calls("SignCertificate")
    assert request["csr"].startswith("-----BEGIN CERTIFICATE REQUEST-----")


async def test_C_31_extended_trigger_for_an_unknown_connector_is_rejected(sec: SecRig) -> None:
    assert await extended(sec, "StatusNotification", connectorId=9) == "Rejected"


async def test_LG_3_triggered_log_status_is_idle_without_request_id(sec: SecRig) -> None:
    await extended(sec, "LogStatusNotification")
    await settled(sec.clock, lambda: sec.wire.calls(LSN))
    assert sec.wire.calls(LSN) == [{"status": "Idle"}]


async def get_log(rig: SecRig, log_type: str, location: str, request_id: int = 5, **fields: Any) -> list[Any]:
    payload = {"logType": log_type, "requestId": request_id, "log": {"remoteLocation": location}, **fields}
    return await rig.wire.inject(json.dumps([2, f"g{len(rig.wire.frames)}", "GetLog", payload]))


async def test_LG_1_security_log_uploads_the_log_rows_with_uploading_then_uploaded(sec: SecRig) -> None:
    sec.wire.station.security.report("InvalidMessages", "frame one")
    sec.wire.station.security.report("ResetOrReboot")
    answer = await get_log(sec, "SecurityLog", "ftp://u:p@files.example/logs/")
    assert answer[2]["status"] == "Accepted" and answer[2]["filename"].startswith("securitylog-CP-1-5-")
    await settled(sec.clock, lambda: "Uploaded" in sec.statuses(LSN))
    assert sec.wire.calls(LSN) == [{"status": "Uploading", "requestId": 5}, {"status": "Uploaded", "requestId": 5}]
    [(_, name, data, _)] = sec.transfer.uploads
    lines = data.decode().splitlines()
    assert name == answer[2]["filename"] and len(lines) == 2
    assert lines[0].endswith("InvalidMessages frame one") and lines[1].endswith("ResetOrReboot critical")


async def test_LG_1_the_window_limits_the_security_log(sec: SecRig) -> None:
    sec.wire.station.security.report("InvalidMessages", "old")
    await sec.clock.advance(3600)
    start = sec.clock.now().isoformat()
    sec.wire.station.security.report("InvalidMessages", "new")
    await get_log(
        sec, "SecurityLog", "ftp://u:p@files.example/", log={"remoteLocation": "ftp://x/", "oldestTimestamp": start}
    )
    await settled(sec.clock, lambda: "Uploaded" in sec.statuses(LSN))
    assert sec.transfer.uploads[0][2].decode().strip().endswith("InvalidMessages new")
    assert b"old" not in sec.transfer.uploads[0][2]


async def test_LG_3_upload_failure_only_after_the_retries(sec: SecRig) -> None:
    sec.transfer.upload_script = ["connection refused"] * 3
    await get_log(sec, "SecurityLog", "ftp://x/", retries=2, retryInterval=20)
    await settled(sec.clock, lambda: len(sec.transfer.uploads) == 1)
    await sec.clock.advance(39)
    assert sec.statuses(LSN) == ["Uploading"]
    await sec.clock.advance(1)
    await settled(sec.clock, lambda: "UploadFailure" in sec.statuses(LSN))  # LG-4: not "UploadFailed"
    assert len(sec.transfer.uploads) == 3


async def test_LG_3_a_refused_login_is_permission_denied(sec: SecRig) -> None:
    sec.transfer.upload_script = ["HTTP 403 Forbidden"]
    await get_log(sec, "SecurityLog", "http://x/", retries=0)
    await settled(sec.clock, lambda: "PermissionDenied" in sec.statuses(LSN))


async def test_LG_2_a_new_get_log_during_an_upload_is_accepted_canceled(sec: SecRig) -> None:
    sec.transfer.upload_script = ["HTTP 503"]
    await get_log(sec, "SecurityLog", "ftp://x/", request_id=1, retries=1, retryInterval=600)
    await settled(sec.clock, lambda: len(sec.transfer.uploads) == 1)
    answer = await get_log(sec, "DiagnosticsLog", "ftp://x/", request_id=2)
    assert answer[2]["status"] == "AcceptedCanceled"
    await settled(sec.clock, lambda: "Uploaded" in sec.statuses(LSN))
    assert sec.wire.calls(LSN)[-1] == {"status": "Uploaded", "requestId": 2}


async def test_LG_1_both_logs_over_real_http_and_ftp(sec: SecRig, http_files: HttpFiles, ftp_server: FtpServer) -> None:
    real = Transfer()
    sec.wire.station.get_log.transfer = real
    sec.wire.station.security.report("TamperDetectionActivated", "lid opened")
    answer = await get_log(sec, "SecurityLog", f"{http_files.url}/uploads/", request_id=11)
    await settled(sec.clock, lambda: "Uploaded" in sec.statuses(LSN))
    assert b"TamperDetectionActivated critical lid opened" in http_files.uploads[answer[2]["filename"]]
    answer = await get_log(sec, "DiagnosticsLog", f"{ftp_server.url}/uploads/", request_id=12)
    await settled(sec.clock, lambda: sec.wire.calls(LSN)[-1] == {"status": "Uploaded", "requestId": 12})
    archive = read_zip((ftp_server.root / "uploads" / answer[2]["filename"]).read_bytes())
    assert {"manifest.json", "log.txt", "configuration.json", "state.json"} <= set(archive)


async def test_LG_1_a_power_cut_mid_upload_resumes_with_the_attempts_left(clock: VirtualClock, tmp_path: Path) -> None:
    def station() -> Wire:
        return Wire(make_station(clock, store=Store.open(tmp_path / "db"), data_dir=tmp_path),
                    make_csms(clock), clock)  # fmt: skip

    first = station()
    transfer = ScriptedTransfer(clock, upload_script=["HTTP 500"])
    first.station.get_log.transfer = transfer
    await first.connect()
    payload = {"logType": "SecurityLog", "requestId": 9, "log": {"remoteLocation": "ftp://x/"}, "retries": 1}
    await first.inject(json.dumps([2, "g", "GetLog", payload]))
    await settled(clock, lambda: len(transfer.uploads) == 1)
    await first.stop()
    first.station.reset_all()  # the power goes
    first.station.store.close()
    second = station()
    second.station.get_log.transfer = transfer
    await second.connect()
    await clock.advance(60)
    await settled(clock, lambda: second.calls(LSN) and second.calls(LSN)[-1]["status"] == "Uploaded")
    assert len(transfer.uploads) == 2 and {p["requestId"] for p in second.calls(LSN)} == {9}
    await second.stop()
    second.station.store.close()
