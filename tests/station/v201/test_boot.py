"""Provisioning's boot (station/v201/boot.py) on the wire, under a virtual clock: BootNotification and its reasons,
Pending and Rejected (B01 to B03), Heartbeat and the time (G02, B01.FR.06)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from chargebox.protocol import messages as m16
from chargebox.protocol.v201 import messages as m
from chargebox.rpc import SendOutcome
from chargebox.station.v201.boot import BootService
from tests.wire import Wire

PENDING, REJECTED, ACCEPTED = (m16.RegistrationStatus.PENDING, m16.RegistrationStatus.REJECTED,
                               m16.RegistrationStatus.ACCEPTED)  # fmt: skip


def boot(wire: Wire) -> BootService:
    return wire.station.features.need(BootService)


async def started(wired: Callable[..., Wire], **policy: object) -> Wire:
    wire = wired(policy, ocpp="2.0.1", connectors=1)
    await wire.connect()
    await wire.until(lambda: boot(wire).registration is not None)
    return wire


async def test_B01_FR_04_an_accepted_interval_is_the_heartbeat_interval_and_G02_a_heartbeat_follows_it(
    wired: Callable[..., Wire],
) -> None:
    wire = await started(wired, heartbeat_interval=120)
    assert wire.station.config.get("OCPPCommCtrlr.HeartbeatInterval") == "120"
    await wire.clock.advance(119)
    assert "Heartbeat" not in wire.sent_actions()
    await wire.clock.advance(1)
    await wire.until(lambda: "Heartbeat" in wire.sent_actions())


async def test_B01_FR_06_the_central_system_s_time_sets_the_clock(wired: Callable[..., Wire]) -> None:
    wire = wired({}, ocpp="2.0.1")
    wire.csms._clock.set_time(datetime(2027, 3, 1, 12, tzinfo=UTC))  # type: ignore[attr-defined]
    await wire.connect()
    await wire.until(lambda: boot(wire).accepted)
    assert wire.station.clock.now().date().isoformat() == "2027-03-01"
    assert wire.station.config.get(
        "ClockCtrlr.DateTime",
    ).startswith("2027-03-01T")  # type: ignore[union-attr]


async def test_B02_FR_02_pending_sends_nothing_but_what_the_central_system_asked_for(
    wired: Callable[..., Wire],
) -> None:
    wire = await started(wired, registration=PENDING, heartbeat_interval=100)
    await wire.station.plugged(1)
    await wire.clock.advance(99)
    assert wire.sent_actions() == ["BootNotification"]  # no status, no heartbeat (B01.FR.08)
    boot(wire).permit(m.Action.NOTIFY_REPORT)
    result = await wire.station.lane.call(
        m.NotifyReportRequest(request_id=1, generated_at=datetime(2027, 1, 1, tzinfo=UTC), seq_no=0)
    )
    assert result.outcome is SendOutcome.RESPONSE_SUCCESS
    again = await wire.station.lane.call(
        m.NotifyReportRequest(request_id=1, generated_at=datetime(2027, 1, 1, tzinfo=UTC), seq_no=1)
    )
    assert again.outcome is SendOutcome.FAILED  # one permit, one message
    await wire.clock.advance(1)  # B02.FR.08: the interval passed
    await wire.until(lambda: wire.sent_actions().count("BootNotification") == 2)


async def test_F06_FR_17_a_triggered_boot_notification_goes_at_once_while_pending_with_reason_Triggered(
    wired: Callable[..., Wire],
) -> None:
    wire = await started(wired, registration=PENDING, heartbeat_interval=3600)
    trigger = wire.station.kernel.triggers[m.MessageTriggerEnumType.BOOT_NOTIFICATION]
    assert trigger.accepts(None)
    await trigger.send(None)
    await wire.until(lambda: wire.sent_actions().count("BootNotification") == 2)
    assert wire.calls("BootNotification")[1]["reason"] == "Triggered"  # B01.FR.09


async def test_B03_FR_08_rejected_answers_every_call_security_error_until_the_interval_passed(
    wired: Callable[..., Wire],
) -> None:
    wire = await started(wired, registration=REJECTED, heartbeat_interval=60)
    answer = await wire.inject('[2,"r1","GetVariables",{"getVariableData":[{"component":{"name":"OCPPCommCtrlr"},'
                               '"variable":{"name":"OfflineThreshold"}}]}]')  # fmt: skip
    assert answer[:3] == [4, "r1", "SecurityError"]
    wire.csms.policy.registration = ACCEPTED
    await wire.clock.advance(60)  # B03.FR.06
    await wire.until(lambda: boot(wire).accepted)
    answer = await wire.inject('[2,"r2","GetVariables",{"getVariableData":[{"component":{"name":"OCPPCommCtrlr"},'
                               '"variable":{"name":"OfflineThreshold"}}]}]')  # fmt: skip
    assert answer[0] == 3
    assert wire.sent_actions()[:3] == ["BootNotification", "BootNotification", "StatusNotification"]  # B03.FR.02


async def test_B02_FR_07_an_interval_of_0_is_the_station_s_own_wait(wired: Callable[..., Wire]) -> None:
    wire = await started(wired, registration=PENDING, heartbeat_interval=0)
    await wire.clock.advance(59)
    assert wire.sent_actions() == ["BootNotification"]
    await wire.clock.advance(1)
    await wire.until(lambda: wire.sent_actions().count("BootNotification") == 2)


async def test_the_identity_and_reason_of_a_boot(wired: Callable[..., Wire]) -> None:
    wire = await started(wired)
    request = wire.calls("BootNotification")[0]
    assert request == {"chargingStation": {"model": "Simulator", "vendorName": "chargebox"}, "reason": "PowerUp"}
