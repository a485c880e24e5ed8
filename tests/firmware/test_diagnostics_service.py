"""DiagnosticsService under a virtual clock: GetDiagnostics → DiagnosticsStatusNotification (checklist 4.2)."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from chargebox.clock import VirtualClock
from chargebox.station.kernel.settings import Identity
from chargebox.store import Store
from tests.firmware.conftest import FwRig, ScriptedTransfer, iso, read_zip, settled
from tests.wire import Wire, make_csms, make_station


async def get_diagnostics(fw: FwRig, **fields: Any) -> list[Any]:
    """GetDiagnostics from the central system; returns once the archive is built and the first attempt made."""
    payload = {"location": "ftp://user:pw@files.example/uploads/", **fields}
    before = len(fw.transfer.uploads)
    answer = await fw.wire.inject(json.dumps([2, f"d{len(fw.wire.frames)}", "GetDiagnostics", payload]))
    await settled(fw.clock, lambda: len(fw.transfer.uploads) > before)
    return answer


def statuses(fw: FwRig) -> list[str]:
    return fw.statuses("DiagnosticsStatusNotification")


async def test_D_1_answers_with_the_file_name_and_journals_it(fw: FwRig) -> None:
    answer = await get_diagnostics(fw)
    file_name = answer[2]["fileName"]
    assert file_name.startswith("diagnostics-CP-1-") and file_name.endswith(".zip") and len(file_name) <= 255
    assert fw.wire.station.store.diagnostics.load().file_name == file_name


async def test_D_3_uploading_then_uploaded_into_the_directory(fw: FwRig) -> None:
    answer = await get_diagnostics(fw)
    await fw.clock.advance(0)
    assert statuses(fw) == ["Uploading", "Uploaded"]
    [(location, name, data, _)] = fw.transfer.uploads
    assert (location, name) == ("ftp://user:pw@files.example/uploads/", answer[2]["fileName"])
    assert set(read_zip(data)) == {"manifest.json", "log.txt", "transcript.jsonl", "configuration.json", "state.json"}
    assert not list(fw.wire.station.workspace.path.iterdir())  # the archive is gone once uploaded


async def test_D_3_upload_failed_only_after_the_retries(fw: FwRig) -> None:
    fw.transfer.upload_script = ["connection refused"] * 3
    await get_diagnostics(fw, retries=2, retryInterval=20)
    start = fw.clock.now().timestamp()
    await fw.clock.advance(39)
    assert statuses(fw) == ["Uploading"]
    await fw.clock.advance(1)
    assert [at.timestamp() - start for *_, at in fw.transfer.uploads] == [0, 20, 40]
    assert statuses(fw) == ["Uploading", "UploadFailed"]


async def test_D_4_trigger_idle_when_not_uploading_uploading_while_it_runs(fw: FwRig) -> None:
    await fw.trigger("DiagnosticsStatusNotification")
    fw.transfer.upload_script = ["HTTP 503"]
    await get_diagnostics(fw, retries=1, retryInterval=60)
    await fw.clock.advance(0)
    await fw.trigger("DiagnosticsStatusNotification")
    await fw.clock.advance(60)
    await fw.trigger("DiagnosticsStatusNotification")
    assert statuses(fw) == ["Idle", "Uploading", "Uploading", "Uploaded", "Idle"]


async def test_D_4_trigger_after_upload_failed_is_idle(fw: FwRig) -> None:
    fw.transfer.upload_script = ["HTTP 503"]
    await get_diagnostics(fw, retries=0)
    await fw.clock.advance(0)
    await fw.trigger("DiagnosticsStatusNotification")
    assert statuses(fw) == ["Uploading", "UploadFailed", "Idle"]


async def test_D_2_archive_holds_the_log_between_start_and_stop_time(
    fw: FwRig, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="chargebox")
    log = fw.wire.station.log
    start = fw.clock.now()
    log.info("event before the window")
    await fw.clock.advance(100)
    log.info("event inside the window")
    await fw.clock.advance(100)
    log.info("event after the window")
    await get_diagnostics(fw, startTime=iso(start, 50), stopTime=iso(start, 150))
    await fw.clock.advance(0)
    files = read_zip(fw.transfer.uploads[0][2])
    assert "event inside the window" in files["log.txt"]
    assert "before the window" not in files["log.txt"] and "after the window" not in files["log.txt"]
    manifest = json.loads(files["manifest.json"])
    assert manifest["startTime"].startswith(iso(start, 50)[:19])


async def test_D_2_archive_redacts_the_authorization_key(wired: Any, tmp_path: Any) -> None:
    wire = wired(connectors=1, data_dir=tmp_path, password="very-secret-key-0123")
    transfer = ScriptedTransfer(wire.clock)
    wire.station.diagnostics.transfer = transfer
    await wire.connect()
    await wire.inject('[2,"d","GetDiagnostics",{"location":"http://files.example/up/"}]')
    await settled(wire.clock, lambda: transfer.uploads)
    data = transfer.uploads[0][2]
    files = read_zip(data)
    assert "very-secret-key-0123" not in "".join(files.values())
    keys = {entry["key"]: entry for entry in json.loads(files["configuration.json"])}
    assert keys["AuthorizationKey"]["value"] == "***"
    assert keys["HeartbeatInterval"]["value"] == "300"
    state = json.loads(files["state.json"])
    assert state["id"] == "CP-1" and state["diagnosticsJob"]["stage"] == "uploading"


async def test_D_3_an_upload_resumes_after_a_power_loss_with_its_attempts(clock: VirtualClock, tmp_path: Any) -> None:
    store = Store.open(tmp_path / "db")
    identity = Identity(vendor="chargebox", model="Test", firmware_version="1.0.0")
    first = Wire(make_station(clock, store=store, data_dir=tmp_path, identity=identity), make_csms(clock), clock)
    transfer = ScriptedTransfer(clock, upload_script=["HTTP 503"])
    first.station.diagnostics.transfer = transfer
    await first.connect()
    await first.inject('[2,"d","GetDiagnostics",{"location":"http://f/up/","retries":1,"retryInterval":600}]')
    await settled(clock, lambda: transfer.uploads)
    await first.stop()
    first.station.reset_all()
    second = Wire(make_station(clock, store=store, data_dir=tmp_path, identity=identity), make_csms(clock), clock)
    second.station.diagnostics.transfer = transfer
    await second.connect()
    await clock.advance(599)
    assert len(transfer.uploads) == 1  # the retry interval is kept across the reboot
    await clock.advance(1)
    assert len(transfer.uploads) == 2
    assert [p["status"] for p in second.calls("DiagnosticsStatusNotification")] == ["Uploading", "Uploaded"]
    await second.stop()
