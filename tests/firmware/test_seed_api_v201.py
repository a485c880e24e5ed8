"""The 2.0.1 column of docs/seed-api.md: what each seed call is on a 2.0.1 station, one test per row that has one."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from chargebox.clock import VirtualClock
from chargebox.protocol.v201 import messages as m
from chargebox.rpc import Rpc, SendOutcome
from chargebox.station.kernel.signed_firmware import Stage
from chargebox.station.v201.evses import EvsesService
from chargebox.station.v201.firmware import FirmwareService
from chargebox.station.v201.get_log import GetLogService
from chargebox.station.v201.reset import ResetService
from chargebox.station.v201.transactions import TransactionService
from chargebox.station.v201.unlock import UnlockService
from tests.wire import Wire, make_csms, make_station

S = m.FirmwareStatusEnumType


@pytest.fixture
async def wire() -> AsyncIterator[Wire]:
    clock = VirtualClock()
    wired = Wire(make_station(clock, ocpp="2.0.1", connectors=1), make_csms(clock), clock)
    await wired.connect()
    await wired.until(lambda: wired.station.lane.pending() == 0)
    yield wired
    await wired.stop()
    await wired.station.stop()


def firmware(wire: Wire) -> FirmwareService:
    return wire.station.features.need(FirmwareService)


async def test_seed_SendFirmwareStatusNotificationRequest_v201_sends_the_last_status_with_its_outcome(
    wire: Wire,
) -> None:
    result = await firmware(wire).send_status_notification()
    assert result.outcome is SendOutcome.RESPONSE_SUCCESS
    assert wire.calls("FirmwareStatusNotification") == [{"status": "Idle"}]  # L01.FR.20: no requestId on Idle


async def test_seed_TriggerMessage_FirmwareStatusNotification_v201_sends_idle_when_idle(wire: Wire) -> None:
    answer = await wire.inject('[2,"t1","TriggerMessage",{"requestedMessage":"FirmwareStatusNotification"}]')
    await wire.until(lambda: bool(wire.calls("FirmwareStatusNotification")))
    assert answer == [3, "t1", {"status": "Accepted"}]
    assert wire.calls("FirmwareStatusNotification") == [{"status": "Idle"}]


MODULES: dict[str, type[Any]] = {
    "Utilities": Rpc,
    "UpdateFirmware": FirmwareService,
    "FirmwareStatusNotification": FirmwareService,
    "GetDiagnostics": GetLogService,
    "DiagnosticStatusNotification": GetLogService,
    "UnlockConnector": UnlockService,
    "StartTransaction": TransactionService,
    "StopTransaction": TransactionService,
    "StatusNotification": EvsesService,
    "Reset": ResetService,
}


@pytest.mark.parametrize("module", list(MODULES))
async def test_seed_module_reset_v201(wire: Wire, module: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The 2.0.1 service that does the module's work has a reset(), and Station.reset_all calls it."""
    kind = MODULES[module]
    service = wire.station.rpc if kind is Rpc else wire.station.features.need(kind)
    called: list[bool] = []
    monkeypatch.setattr(service, "reset", lambda: called.append(True))
    wire.station.reset_all()
    assert called


async def test_seed_module_LocalStorage_v201_keeps_a_firmware_job_through_a_reset(wire: Wire) -> None:
    """OCPPResetAllGlobals keeps the store: a 2.0.1 job's stage, journaled in signed_firmware_job, stays."""
    wire.station.store.signed_firmware.update(stage=Stage.SCHEDULED, status=S.IDLE.value, request_id=7)
    wire.station.reset_all()
    assert firmware(wire).stage is Stage.SCHEDULED
    assert wire.station.store.signed_firmware.load().request_id == 7
