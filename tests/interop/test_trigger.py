"""TriggerMessage against the ``ocpp`` library's central system (C-27..C-32, B-9, TC_054/055_CS).

MeterValues, StatusNotification and Heartbeat with and without connectorId are in test_operations.py;
this file adds the firmware and diagnostics statuses, BootNotification, and connectors that do not exist.
"""

from __future__ import annotations

import pytest
from ocpp.v16 import call
from ocpp.v16.enums import MessageTrigger, TriggerMessageStatus

from tests.interop.conftest import StationRunner
from tests.interop.transactions_csms import TransactionsCsms, boot, call_result_index, nothing_more

CSMS = TransactionsCsms  # the central system of the ``csms`` fixture


@pytest.mark.parametrize(
    "message", [MessageTrigger.diagnostics_status_notification, MessageTrigger.firmware_status_notification]
)
@pytest.mark.parametrize("connector_id", [None, 1])
async def test_C_32_TC_054_CS_idle_status_after_the_answer(
    csms: TransactionsCsms, station_factory: StationRunner, message: MessageTrigger, connector_id: int | None
) -> None:
    await boot(csms, station_factory)
    before = len(csms.frames.frames)
    result = await csms.call(call.TriggerMessage(requested_message=message, connector_id=connector_id))
    assert result.status == TriggerMessageStatus.accepted
    index, sent = await csms.wait_call(message.value, start=before)
    assert call_result_index(csms, {"status": "Accepted"}, start=before) < index  # C-27
    assert sent.payload == {"status": "Idle"}  # D-4, F-8


async def test_B_9_TC_055_CS_boot_notification_after_accepted_boot_is_rejected(
    csms: TransactionsCsms, station_factory: StationRunner
) -> None:
    await boot(csms, station_factory)
    before = len(csms.frames.frames)
    result = await csms.call(call.TriggerMessage(requested_message=MessageTrigger.boot_notification))
    assert result.status == TriggerMessageStatus.rejected
    await nothing_more(csms, "BootNotification", start=before)


# The six values of OCPP 1.6 TriggerMessage (the library's enum also holds the security whitepaper's).
REQUESTED = [
    MessageTrigger.boot_notification,
    MessageTrigger.diagnostics_status_notification,
    MessageTrigger.firmware_status_notification,
    MessageTrigger.heartbeat,
    MessageTrigger.meter_values,
    MessageTrigger.status_notification,
]


@pytest.mark.parametrize("message", REQUESTED)
async def test_TC_055_CS_trigger_for_a_connector_that_does_not_exist_is_rejected(
    csms: TransactionsCsms, station_factory: StationRunner, message: MessageTrigger
) -> None:
    await boot(csms, station_factory)
    before = len(csms.frames.frames)
    result = await csms.call(call.TriggerMessage(requested_message=message, connector_id=5))
    assert result.status == TriggerMessageStatus.rejected
    await nothing_more(csms, message.value, start=before, within=0.2)
