"""One test per row of docs/seed-api.md: the C library's Firmware Status Notification API, kept (DESIGN.md)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import msgspec
import pytest

from chargebox.protocol.messages import (
    Action,
    FirmwareStatus,
    FirmwareStatusNotificationRequest,
    FirmwareStatusNotificationResponse,
)
from chargebox.rpc import Rpc, SendOutcome
from chargebox.station.v16.boot import BootService
from chargebox.station.v16.connectors import ConnectorsService
from chargebox.station.v16.diagnostics import DiagnosticsService
from chargebox.station.v16.firmware import FirmwareService, Stage
from chargebox.station.v16.reset import ResetService
from chargebox.station.v16.smart_charging import SmartChargingService
from chargebox.station.v16.transactions import TransactionService
from chargebox.store import Store
from tests.firmware.conftest import FwRig
from tests.wire import make_station


def answer_firmware_status_with(fw: FwRig, handler: Any) -> None:
    fw.wire.csms.sessions[fw.wire.station.id].rpc.handlers[Action.FIRMWARE_STATUS_NOTIFICATION] = handler


# -- FIRMWARE_STATUS_NOTIFICATION_STATE_T: the five outcomes of a send ---------------------------------


async def test_seed_outcome_SUCCESS_while_the_answer_is_awaited(fw: FwRig) -> None:
    answer_firmware_status_with(fw, lambda _r: asyncio.get_running_loop().create_future())  # never answers
    send = asyncio.ensure_future(fw.wire.station.firmware.send_firmware_status_notification())
    await fw.clock.advance(1)
    assert fw.wire.station.rpc.last_outcome[Action.FIRMWARE_STATUS_NOTIFICATION] is SendOutcome.SUCCESS
    await fw.clock.advance(60)
    await send


async def test_seed_outcome_FAILED_when_not_connected(fw: FwRig) -> None:
    await fw.wire.disconnect()
    result = await fw.wire.station.firmware.send_firmware_status_notification()
    assert result.outcome is SendOutcome.FAILED


async def test_seed_outcome_RESPONSE_FAILED_when_no_answer_comes(fw: FwRig) -> None:
    answer_firmware_status_with(fw, lambda _r: asyncio.get_running_loop().create_future())
    send = asyncio.ensure_future(fw.wire.station.firmware.send_firmware_status_notification())
    await fw.clock.advance(fw.wire.station.rpc.call_timeout + 1)
    assert (await send).outcome is SendOutcome.RESPONSE_FAILED


async def test_seed_outcome_RESPONSE_ACCEPT_FAILED_on_a_callerror(fw: FwRig) -> None:
    def refuse(_request: Any) -> Any:
        raise RuntimeError("the central system cannot take it")

    answer_firmware_status_with(fw, refuse)
    result = await fw.wire.station.firmware.send_firmware_status_notification()
    assert result.outcome is SendOutcome.RESPONSE_ACCEPT_FAILED and result.error_code == "InternalError"


async def test_seed_outcome_RESPONSE_SUCCESS_on_a_valid_answer(fw: FwRig) -> None:
    result = await fw.wire.station.firmware.send_firmware_status_notification()
    assert result.outcome is SendOutcome.RESPONSE_SUCCESS and result.ok
    assert isinstance(result.response, FirmwareStatusNotificationResponse)


# -- FIRMWARESTATUSNOTIFICATION_T: the seven states ---------------------------------------------------

SEED_STATES = {
    "FW_IDLE": FirmwareStatus.IDLE,
    "FW_DOWNLOADING": FirmwareStatus.DOWNLOADING,
    "FW_DOWNLOADED": FirmwareStatus.DOWNLOADED,
    "FW_DOWNLOADFAILED": FirmwareStatus.DOWNLOAD_FAILED,
    "FW_INSTALLING": FirmwareStatus.INSTALLING,
    "FW_INSTALLED": FirmwareStatus.INSTALLED,
    "FW_INSTALLATIONFAILED": FirmwareStatus.INSTALLATION_FAILED,
}


@pytest.mark.parametrize("seed_name", list(SEED_STATES))
async def test_seed_firmware_status(fw: FwRig, seed_name: str) -> None:
    """Each state: set, persisted, sent with its OCPP spelling."""
    status = SEED_STATES[seed_name]
    assert status.value.upper() == seed_name.removeprefix("FW_")
    fw.wire.station.firmware.set_firmware_status(status)
    await fw.wire.station.firmware.send_firmware_status_notification()
    assert fw.statuses() == [status.value]
    assert fw.wire.station.store.firmware.load().status == status.value


# -- the functions ----------------------------------------------------------------------------------


async def test_seed_SendFirmwareStatusNotificationRequest_sends_the_status_last_set(fw: FwRig) -> None:
    fw.wire.station.firmware.set_firmware_status(FirmwareStatus.DOWNLOADED)
    result = await fw.wire.station.firmware.send_firmware_status_notification()
    assert result.ok and fw.wire.calls("FirmwareStatusNotification") == [{"status": "Downloaded"}]


async def test_seed_ProcessFirmwareStatusNotificationResponse_matches_an_answer_to_its_call(fw: FwRig) -> None:
    """NOT_OK: a frame that is not this message's response changes nothing; OK: its response resolves it."""
    await fw.wire.disconnect()
    station = fw.wire.station
    sent: list[str | bytes] = []

    async def capture(data: str | bytes) -> None:
        sent.append(data)

    station.rpc.attach(capture)
    send = asyncio.ensure_future(station.firmware.send_firmware_status_notification())
    await fw.clock.advance(0)
    message_id = json.loads(sent[-1])[1]
    await station.rpc.receive('[3,"not-this-call",{}]')  # NOT_OK
    await fw.clock.advance(0)
    assert not send.done()
    await station.rpc.receive(f'[3,"{message_id}",{{}}]')  # OK
    assert (await send).outcome is SendOutcome.RESPONSE_SUCCESS


async def test_seed_SetFirmwareStatusNotificationStatus_is_persisted_across_a_restart(fw: FwRig, tmp_path: Any) -> None:
    store = Store.open(tmp_path / "db")
    first = make_station(fw.clock, store=store)
    first.firmware.set_firmware_status(FirmwareStatus.DOWNLOAD_FAILED)
    second = make_station(fw.clock, store=store)
    assert second.firmware.status is FirmwareStatus.DOWNLOAD_FAILED


async def test_seed_OCPPFirmwareStatusNotificationResetGlobals_cancels_the_job_and_keeps_the_journal(
    fw: FwRig,
) -> None:
    fw.transfer.hold = asyncio.Event()
    await fw.update_firmware()
    await fw.clock.advance(0)
    fw.wire.station.firmware.reset()
    fw.transfer.hold.set()
    await fw.clock.advance(3600)
    assert fw.statuses() == ["Downloading"]  # the download's task is gone: nothing more happens
    assert fw.wire.station.firmware.stage is Stage.DOWNLOADING  # the journal is kept for resume()


async def test_seed_TriggerMessage_FirmwareStatusNotification_sends_idle_when_idle(fw: FwRig) -> None:
    assert (await fw.trigger())[2] == {"status": "Accepted"}
    assert fw.statuses() == ["Idle"]


def test_seed_RX_FIRMWARE_STATUS_NOTIFICATION_is_the_typed_message_body() -> None:
    body = msgspec.json.encode(FirmwareStatusNotificationRequest(status=FirmwareStatus.INSTALLING))
    assert body == b'{"status":"Installing"}'
    with pytest.raises(msgspec.ValidationError):
        msgspec.json.decode(b'{"status":"Flashing"}', type=FirmwareStatusNotificationRequest)


async def test_seed_OCPPResetAllGlobals_resets_every_service(fw: FwRig, monkeypatch: pytest.MonkeyPatch) -> None:
    station = fw.wire.station
    every = [station.rpc, station.lane, station.link, *station.services]  # the kernel's, then every feature's
    called: list[object] = []
    for service in every:
        monkeypatch.setattr(service, "reset", lambda service=service: called.append(service))
    station.reset_all()
    assert called == every
    kinds = {type(service) for service in called}
    assert {FirmwareService, DiagnosticsService, ConnectorsService, TransactionService, ResetService, Rpc} <= kinds
    assert BootService in kinds


# -- the modules OCPPResetAllGlobals names ------------------------------------------------------------

MODULES: dict[str, type[Any]] = {
    "Utilities": Rpc,
    "UpdateFirmware": FirmwareService,
    "GetDiagnostics": DiagnosticsService,
    "FirmwareStatusNotification": FirmwareService,
    "DiagnosticStatusNotification": DiagnosticsService,
    "UnlockConnector": ResetService,
    "StopTransaction": TransactionService,
    "StatusNotification": ConnectorsService,
    "StartTransaction": TransactionService,
    "Reset": ResetService,
    "SetChargingProfile": SmartChargingService,
    "GetCompositeSchedule": SmartChargingService,
    "ClearChargingProfile": SmartChargingService,
}


@pytest.mark.parametrize("module", list(MODULES))
async def test_seed_module_reset(fw: FwRig, module: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The module's service has a reset() and OCPPResetAllGlobals (Station.reset_all) calls it."""
    station = fw.wire.station
    kind = MODULES[module]
    service = station.rpc if kind is Rpc else station.features.need(kind)
    called: list[bool] = []
    monkeypatch.setattr(service, "reset", lambda: called.append(True))
    fw.wire.station.reset_all()
    assert called


async def test_seed_module_LocalStorage_is_the_store_and_survives_a_reset(fw: FwRig) -> None:
    await fw.update_firmware(delay=600)
    fw.wire.station.reset_all()
    assert fw.wire.station.store.firmware.load().stage == "scheduled"
