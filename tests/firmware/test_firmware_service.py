"""FirmwareService under a virtual clock: UpdateFirmware → FirmwareStatusNotification (checklist 4.1)."""

from __future__ import annotations

import json
from typing import Any

from chargebox.clock import VirtualClock
from chargebox.firmware_image import make_image
from chargebox.protocol.messages import Action, FirmwareStatus
from chargebox.sim.installer import VERSION_KEY
from chargebox.station.v16.firmware import Stage
from chargebox.store import Store
from tests.firmware.conftest import FwRig, ScriptedTransfer, settled
from tests.wire import Wire, make_csms, make_station

GOOD = make_image("2.0.0", b"new firmware" * 100)


def corrupt(image: bytes) -> bytes:
    return image[:-1] + bytes([image[-1] ^ 1])


async def install_until_reboot(fw: FwRig) -> None:
    """Download at once, then the simulated install (1 s of the station's clock, then a check in a thread)."""
    await fw.clock.advance(0)
    await fw.clock.advance(1)
    station = fw.wire.station
    await settled(fw.clock, lambda: station.boot.registration is None or "InstallationFailed" in fw.statuses())


async def test_F_1_answers_empty_at_once_and_journals_before_answering(fw: FwRig) -> None:
    journalled_at: list[int] = []
    save_job = fw.wire.station.store.firmware.save_job

    def spy(**fields: Any) -> None:
        save_job(**fields)
        journalled_at.append(len(fw.wire.frames))

    fw.wire.station.store.firmware.save_job = spy  # type: ignore[method-assign]
    fw.transfer.script = [GOOD]
    answer = await fw.update_firmware(delay=600)
    assert answer[0] == 3 and answer[2] == {}
    answer_index = next(i for i, (d, f) in enumerate(fw.wire.frames) if d == ">" and f[0] == 3 and f[1] == answer[1])
    assert journalled_at and journalled_at[0] <= answer_index
    job = fw.wire.station.store.firmware.load()
    assert (job.stage, job.location, job.retries) == ("scheduled", "http://files.example/fw.img", 3)


async def test_F_2_never_downloads_before_retrieve_date(fw: FwRig) -> None:
    fw.transfer.script = [GOOD]
    await fw.update_firmware(delay=3600)
    retrieve = fw.clock.now().timestamp() + 3600
    await fw.clock.advance(3599)
    assert fw.transfer.downloads == []
    assert fw.statuses() == []
    await fw.clock.advance(1)
    assert len(fw.transfer.downloads) == 1
    assert fw.transfer.downloads[0][1].timestamp() >= retrieve
    assert fw.statuses()[:2] == ["Downloading", "Downloaded"]


async def test_F_3_statuses_in_order_each_persisted_before_it_is_sent(fw: FwRig) -> None:
    persisted_when_sent: list[tuple[str, str]] = []
    store = fw.wire.station.store

    def record(request: Any) -> Any:
        from chargebox.protocol.messages import FirmwareStatusNotificationResponse

        persisted_when_sent.append((request.status.value, store.firmware.load().status))
        return FirmwareStatusNotificationResponse()

    fw.wire.csms.sessions[fw.wire.station.id].rpc.handlers[Action.FIRMWARE_STATUS_NOTIFICATION] = record
    fw.transfer.script = [GOOD]
    await fw.update_firmware()
    await install_until_reboot(fw)
    await fw.power_cycle()
    fw.wire.csms.sessions[fw.wire.station.id].rpc.handlers[Action.FIRMWARE_STATUS_NOTIFICATION] = record
    await fw.clock.advance(0)
    assert fw.statuses() == ["Downloading", "Downloaded", "Installing", "Installed"]
    assert all(sent == stored for sent, stored in persisted_when_sent)
    assert [sent for sent, _ in persisted_when_sent] == ["Downloading", "Downloaded", "Installing"]


async def test_F_4_retries_retry_interval_apart_then_download_failed(fw: FwRig) -> None:
    fw.transfer.script = ["HTTP 404", "connection refused", "truncated"]
    await fw.update_firmware(retries=2, retryInterval=30)
    start = fw.clock.now().timestamp()
    await fw.clock.advance(29)
    assert len(fw.transfer.downloads) == 1
    assert fw.statuses() == ["Downloading"]
    await fw.clock.advance(31)
    times = [at.timestamp() - start for _, at in fw.transfer.downloads]
    assert times == [0, 30, 60]
    assert fw.statuses() == ["Downloading", "DownloadFailed"]
    assert fw.wire.station.firmware.stage is Stage.IDLE


async def test_F_4_a_retry_that_succeeds_goes_on_to_downloaded(fw: FwRig) -> None:
    fw.transfer.script = ["HTTP 503", GOOD]
    await fw.update_firmware(retries=1, retryInterval=10)
    await fw.clock.advance(10)
    assert len(fw.transfer.downloads) == 2
    assert fw.statuses()[:2] == ["Downloading", "Downloaded"]


async def test_F_4_without_retries_a_single_failure_is_final(fw: FwRig) -> None:
    fw.transfer.script = ["HTTP 404"]
    await fw.update_firmware(retries=0)
    await fw.clock.advance(3600)
    assert len(fw.transfer.downloads) == 1
    assert fw.statuses() == ["Downloading", "DownloadFailed"]


async def test_F_6_installs_only_after_transactions_end(fw: FwRig) -> None:
    station = fw.wire.station
    station.connectors[1].transaction_ref = 1  # the transactions engineer's contract: a session runs on 1
    fw.transfer.script = [GOOD]
    await fw.update_firmware()
    await fw.clock.advance(3600)
    assert fw.statuses() == ["Downloading", "Downloaded"]
    connector_2 = [p["status"] for p in fw.wire.calls("StatusNotification") if p["connectorId"] == 2]
    assert connector_2[-1] == "Unavailable"  # free connectors go Unavailable meanwhile
    assert station.connectors[1].transaction_ref == 1  # never aborted
    station.connectors[1].transaction_ref = None
    station.connectors.refresh(1)
    await fw.clock.advance(0)
    assert fw.statuses() == ["Downloading", "Downloaded", "Installing"]
    connector_1 = [p["status"] for p in fw.wire.calls("StatusNotification") if p["connectorId"] == 1]
    assert connector_1[-1] == "Unavailable"  # and stays so until installed


async def test_F_7_reboots_then_reports_installed_after_the_new_boot_notification(fw: FwRig) -> None:
    fw.transfer.script = [GOOD]
    await fw.update_firmware()
    await install_until_reboot(fw)
    assert fw.wire.station.boot.registration is None  # rebooted: boots again on the next connection
    await fw.power_cycle()
    actions = [(f[2], f[3]) for d, f in fw.wire.frames if d == ">" and f[0] == 2]
    boots = [i for i, (action, _) in enumerate(actions) if action == "BootNotification"]
    installed = [i for i, (a, p) in enumerate(actions) if p.get("status") == "Installed"]
    assert len(boots) == 2 and installed and installed[0] > boots[1]
    assert actions[boots[1]][1]["firmwareVersion"] == "2.0.0"
    assert fw.wire.station.ports.installer.running_version() == "2.0.0"
    statuses = [p["status"] for p in fw.wire.calls("StatusNotification") if p["connectorId"] == 2]
    assert statuses[-1] == "Available"  # the reboot ended the maintenance


async def test_F_3_corrupt_image_fails_installation_and_keeps_the_old_version(fw: FwRig) -> None:
    before = fw.wire.station.ports.installer.running_version()
    fw.transfer.script = [corrupt(GOOD)]
    await fw.update_firmware()
    await install_until_reboot(fw)
    assert fw.statuses() == ["Downloading", "Downloaded", "Installing", "InstallationFailed"]
    assert fw.wire.station.boot.registration is not None  # no reboot
    assert fw.wire.station.ports.installer.running_version() == before
    assert [p["status"] for p in fw.wire.calls("StatusNotification") if p["connectorId"] == 2][-1] == "Available"
    assert not list((fw.wire.station.workspace.path).iterdir())  # the refused image is not kept


async def test_F_7_an_opaque_file_installs_as_a_new_version(fw: FwRig) -> None:
    fw.transfer.script = [b"any vendor's firmware blob"]
    before = fw.wire.station.ports.installer.running_version()
    await fw.update_firmware()
    await install_until_reboot(fw)
    await fw.power_cycle()
    assert fw.statuses()[-1] == "Installed"
    version = fw.wire.calls("BootNotification")[-1]["firmwareVersion"]
    assert version.startswith(f"{before}+") and len(version) == len(f"{before}+") + 8


async def test_F_8_trigger_when_no_update_is_under_way_sends_idle(fw: FwRig) -> None:
    answer = await fw.trigger()
    assert answer[2] == {"status": "Accepted"}
    assert fw.statuses() == ["Idle"]
    order = [f for d, f in fw.wire.frames if d == ">"][-2:]
    assert order[0][0] == 3 and order[1][2] == "FirmwareStatusNotification"  # C-27: the answer first


async def test_F_8_trigger_during_the_download_sends_downloading(fw: FwRig) -> None:
    import asyncio

    fw.transfer.hold = asyncio.Event()
    await fw.update_firmware()
    await fw.clock.advance(0)
    await fw.trigger()
    assert fw.statuses() == ["Downloading", "Downloading"]
    fw.transfer.hold.set()


async def test_F_8_trigger_after_a_failure_reports_the_failure_until_the_next_update(fw: FwRig) -> None:
    fw.transfer.script = ["HTTP 404"]
    await fw.update_firmware(retries=0)
    await fw.clock.advance(0)
    await fw.trigger()
    assert fw.statuses() == ["Downloading", "DownloadFailed", "DownloadFailed"]
    await fw.update_firmware(delay=600)
    await fw.trigger()
    assert fw.statuses()[-1] == "Idle"  # a new job, waiting for its retrieveDate


async def test_F_3_a_new_update_after_a_failed_one_sends_downloading_again(fw: FwRig) -> None:
    fw.transfer.script = ["HTTP 404", GOOD]
    await fw.update_firmware(retries=0)
    await fw.clock.advance(0)
    await fw.update_firmware()
    await fw.clock.advance(0)
    assert fw.statuses()[:4] == ["Downloading", "DownloadFailed", "Downloading", "Downloaded"]


async def test_F_8_trigger_after_installed_sends_idle(fw: FwRig) -> None:
    fw.transfer.script = [GOOD]
    await fw.update_firmware()
    await install_until_reboot(fw)
    await fw.power_cycle()
    await fw.trigger()
    assert fw.statuses() == ["Downloading", "Downloaded", "Installing", "Installed", "Idle"]


async def test_F_second_update_firmware_replaces_a_job_still_downloading(fw: FwRig) -> None:
    import asyncio

    fw.transfer.hold = asyncio.Event()
    await fw.update_firmware(location="http://files.example/old.img")
    await fw.clock.advance(0)
    fw.transfer.hold = None
    fw.transfer.script = [GOOD]
    await fw.update_firmware(location="http://files.example/new.img")
    await install_until_reboot(fw)
    await fw.power_cycle()
    assert [url for url, _ in fw.transfer.downloads] == ["http://files.example/old.img", "http://files.example/new.img"]
    assert fw.statuses() == ["Downloading", "Downloading", "Downloaded", "Installing", "Installed"]


async def test_F_second_update_firmware_while_installing_is_ignored(fw: FwRig) -> None:
    fw.transfer.script = [GOOD]
    await fw.update_firmware()
    await fw.clock.advance(0)
    assert fw.statuses()[-1] == "Installing"
    answer = await fw.update_firmware(location="http://files.example/other.img")
    assert answer[2] == {}
    await install_until_reboot(fw)
    await fw.power_cycle()
    assert fw.statuses() == ["Downloading", "Downloaded", "Installing", "Installed"]
    assert [url for url, _ in fw.transfer.downloads] == ["http://files.example/fw.img"]


async def test_F_4_a_power_loss_does_not_reset_the_attempts(clock: VirtualClock, tmp_path: Any) -> None:
    """Two failed attempts, the power goes, the station comes back: one attempt is left of retries=2."""
    store = Store.open(tmp_path / "db")
    first = Wire(make_station(clock, store=store, data_dir=tmp_path), make_csms(clock), clock)
    transfer = ScriptedTransfer(clock, script=["HTTP 500", "HTTP 500"])
    first.station.firmware.transfer = transfer
    await first.connect()
    request = {"location": "http://x/fw", "retrieveDate": clock.now().isoformat(), "retries": 2, "retryInterval": 60}
    await first.inject(json.dumps([2, "u", "UpdateFirmware", request]))
    await clock.advance(60)
    assert len(transfer.downloads) == 2
    await first.stop()
    first.station.reset_all()  # the power goes: nothing of the first station's runtime survives
    second = Wire(make_station(clock, store=store, data_dir=tmp_path), make_csms(clock), clock)
    transfer.script = ["HTTP 500"]
    second.station.firmware.transfer = transfer
    await second.connect()
    await clock.advance(3600)
    assert len(transfer.downloads) == 3
    assert [p["status"] for p in second.calls("FirmwareStatusNotification")] == ["Downloading", "DownloadFailed"]
    assert store.firmware.load().attempts == 3
    await second.stop()


async def test_F_7_simulated_flash_keeps_the_new_version_across_a_restart(clock: VirtualClock, tmp_path: Any) -> None:
    store = Store.open(tmp_path / "db")
    store.state.set(VERSION_KEY, "3.1.4")
    station = make_station(clock, store=store)
    assert station.boot.identity.firmware_version == "3.1.4"
    assert station.firmware.status is FirmwareStatus.IDLE
