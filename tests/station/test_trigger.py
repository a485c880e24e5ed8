"""TriggerMessage for every requestedMessage, with and without connectorId (C-27..C-32, B-9, TC_054/055_CS)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chargebox.clock import VirtualClock
from chargebox.protocol import messages as m
from tests.wire import Wire

# requestedMessage -> the CALL it makes the station send
SENDS = {
    "DiagnosticsStatusNotification": "DiagnosticsStatusNotification",
    "FirmwareStatusNotification": "FirmwareStatusNotification",
    "Heartbeat": "Heartbeat",
    "MeterValues": "MeterValues",
    "StatusNotification": "StatusNotification",
}


def trigger(message: str, connector_id: int | None = None) -> str:
    payload: dict[str, Any] = {"requestedMessage": message}
    if connector_id is not None:
        payload["connectorId"] = connector_id
    return json.dumps([2, "t", "TriggerMessage", payload])


def after(wire: Wire, index: int) -> list[tuple[str, list[Any]]]:
    return wire.frames[index:]


async def triggered(wire: Wire, clock: VirtualClock, frame: str) -> tuple[str, list[dict[str, Any]], list[str]]:
    """The answer's status, the payloads of the CALLs sent after it, and the order (answer first)."""
    start = len(wire.frames)
    answer = await wire.inject(frame)
    await clock.advance(0)
    out = [(d, f) for d, f in after(wire, start) if d == ">"]
    order = ["answer" if f[0] == 3 else f[2] for _, f in out if f[0] in (2, 3)]
    return str(answer[2]["status"]), [f[3] for _, f in out if f[0] == 2], order


@pytest.mark.parametrize("message", sorted(SENDS))
@pytest.mark.parametrize("connector_id", [None, 1])
async def test_C_27_TC_054_CS_every_message_is_sent_after_the_answer(
    station: Any, clock: VirtualClock, message: str, connector_id: int | None
) -> None:
    wire, _ = await station(connectors=2, ocpp_config={"MeterValueSampleInterval": 0})
    status, payloads, order = await triggered(wire, clock, trigger(message, connector_id))
    assert status == "Accepted"
    assert order[0] == "answer" and set(order[1:]) == {SENDS[message]}  # C-27: the answer first
    if message == "StatusNotification":  # C-29: all (0..N) without connectorId, only that one with it
        assert [p["connectorId"] for p in payloads] == ([0, 1, 2] if connector_id is None else [1])
    elif message == "MeterValues":  # C-30: every connector without connectorId, context Trigger
        assert [p["connectorId"] for p in payloads] == ([1, 2] if connector_id is None else [1])
        assert {v["context"] for p in payloads for v in p["meterValue"][0]["sampledValue"]} == {"Trigger"}
    elif message in ("DiagnosticsStatusNotification", "FirmwareStatusNotification"):
        assert payloads == [{"status": "Idle"}]  # C-32, D-4, F-8: nothing under way
    else:
        assert payloads == [{}]  # C-31: a connectorId is ignored


@pytest.mark.parametrize("message", [*sorted(SENDS), "BootNotification"])
async def test_trigger_with_a_connector_that_does_not_exist_is_rejected(
    station: Any, clock: VirtualClock, message: str
) -> None:
    wire, _ = await station(connectors=2)
    status, payloads, _ = await triggered(wire, clock, trigger(message, 3))
    assert status == "Rejected" and payloads == []


async def test_B_9_TC_055_CS_boot_notification_after_an_accepted_boot_is_rejected(
    station: Any, clock: VirtualClock
) -> None:
    wire, _ = await station()
    status, payloads, _ = await triggered(wire, clock, trigger("BootNotification"))
    assert status == "Rejected" and payloads == []


async def test_B_9_boot_notification_while_pending_is_sent_after_the_answer(wired: Any, clock: VirtualClock) -> None:
    wire = wired({"registration": m.RegistrationStatus.PENDING, "heartbeat_interval": 3600})
    await wire.connect()
    await clock.advance(0)
    status, payloads, order = await triggered(wire, clock, trigger("BootNotification"))
    assert status == "Accepted"
    assert order[:2] == ["answer", "BootNotification"] and len(payloads) == 1


async def test_B_9_a_triggered_boot_answered_accepted_ends_pending_at_once(wired: Any, clock: VirtualClock) -> None:
    """The central system accepts the BootNotification it asked for: the station is registered then, not an
    hour later at the next interval, and sends its StatusNotifications."""
    wire = wired({"registration": m.RegistrationStatus.PENDING, "heartbeat_interval": 3600})
    await wire.connect()
    await clock.advance(0)
    wire.csms.policy.registration = m.RegistrationStatus.ACCEPTED
    status, _, _ = await triggered(wire, clock, trigger("BootNotification"))
    await clock.advance(1)
    assert status == "Accepted"
    assert wire.station.boot.registration is m.RegistrationStatus.ACCEPTED
    assert wire.sent_actions().count("BootNotification") == 2 and "StatusNotification" in wire.sent_actions()
