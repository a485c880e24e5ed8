"""Boot, registration and heartbeat (checklist section 2), under a virtual clock."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from chargebox.clock import VirtualClock
from chargebox.protocol.messages import Action, RegistrationStatus
from chargebox.rpc import SendOutcome
from chargebox.station.kernel.settings import Identity
from chargebox.station.v16.boot import UNANSWERED_BOOT_RETRY
from tests.wire import Wire

Accepted, Pending, Rejected = RegistrationStatus.ACCEPTED, RegistrationStatus.PENDING, RegistrationStatus.REJECTED


async def test_B_1_first_call_is_boot_notification_with_identity(wired: Callable[..., Wire]) -> None:
    wire = wired()
    await wire.connect()
    assert wire.sent_actions()[0] == "BootNotification"
    assert wire.calls("BootNotification")[0] == {"chargePointVendor": "chargebox", "chargePointModel": "Simulator"}


async def test_B_4_accepted_sets_heartbeat_interval_and_reports_every_connector(wired: Callable[..., Wire]) -> None:
    wire = wired({"heartbeat_interval": 123}, connectors=2)
    await wire.connect()
    assert wire.station.config.get("HeartbeatInterval") == "123"
    assert [p["connectorId"] for p in wire.calls("StatusNotification")] == [0, 1, 2]
    assert all(p["status"] == "Available" and p["errorCode"] == "NoError" for p in wire.calls("StatusNotification"))


async def test_B_4_clock_is_set_from_current_time(wired: Callable[..., Wire], clock: VirtualClock) -> None:
    wire = wired()
    wire.csms._clock = VirtualClock(start=clock.now().replace(year=2030))
    await wire.connect()
    assert clock.now().year == 2030


async def test_B_5_pending_sends_nothing_but_boot_and_boots_again_after_interval(
    wired: Callable[..., Wire], clock: VirtualClock
) -> None:
    wire = wired({"registration": Pending, "heartbeat_interval": 50})
    await wire.connect()
    assert wire.station.boot.registration is Pending
    wire.station.connectors.plugged(1)
    await clock.advance(49)
    assert wire.sent_actions() == ["BootNotification"]
    wire.csms.policy.registration = Accepted
    await clock.advance(1)
    assert wire.sent_actions()[:2] == ["BootNotification", "BootNotification"]
    assert wire.station.boot.registration is Accepted


async def test_B_5_pending_still_answers_csms_calls(wired: Callable[..., Wire]) -> None:
    wire = wired({"registration": Pending})
    await wire.connect()
    answer = await wire.inject('[2,"g1","GetConfiguration",{"key":["HeartbeatInterval"]}]')
    assert answer[0] == 3


async def test_B_5_interval_zero_waits_a_default_not_flooding(wired: Callable[..., Wire], clock: VirtualClock) -> None:
    wire = wired({"registration": Pending, "heartbeat_interval": 0})
    await wire.connect()
    await clock.advance(59)
    assert wire.sent_actions() == ["BootNotification"]
    await clock.advance(1)
    assert wire.sent_actions() == ["BootNotification", "BootNotification"]


async def test_B_6_rejected_answers_nothing_until_interval_then_boots_again(
    wired: Callable[..., Wire], clock: VirtualClock
) -> None:
    wire = wired({"registration": Rejected, "heartbeat_interval": 30})
    await wire.connect()
    assert await wire.inject('[2,"g1","GetConfiguration",{}]') == []
    wire.csms.policy.registration = Accepted
    await clock.advance(29)
    assert wire.sent_actions() == ["BootNotification"]
    await clock.advance(1)
    assert wire.sent_actions()[1] == "BootNotification"
    assert (await wire.inject('[2,"g2","GetConfiguration",{}]'))[0] == 3


async def test_B_7_heartbeat_after_interval_without_other_traffic(
    wired: Callable[..., Wire], clock: VirtualClock
) -> None:
    wire = wired({"heartbeat_interval": 100})
    await wire.connect()
    await clock.advance(99)
    assert wire.calls("Heartbeat") == []
    await clock.advance(1)
    assert wire.calls("Heartbeat") == [{}]
    await clock.advance(100)
    assert len(wire.calls("Heartbeat")) == 2


async def test_B_7_other_traffic_postpones_the_heartbeat(wired: Callable[..., Wire], clock: VirtualClock) -> None:
    wire = wired({"heartbeat_interval": 100}, ocpp_config={"ConnectionTimeOut": 600})  # no Finishing meanwhile
    await wire.connect()
    await clock.advance(60)
    wire.station.connectors.plugged(1)
    await clock.advance(40)
    assert wire.calls("Heartbeat") == []
    await clock.advance(60)
    assert wire.calls("Heartbeat") == [{}]


async def test_B_7_heartbeat_interval_change_takes_effect_at_once(
    wired: Callable[..., Wire], clock: VirtualClock
) -> None:
    wire = wired({"heartbeat_interval": 86400})
    await wire.connect()
    answer = await wire.inject('[2,"c1","ChangeConfiguration",{"key":"HeartbeatInterval","value":"10"}]')
    assert answer == [3, "c1", {"status": "Accepted"}]
    await clock.advance(10)
    assert wire.calls("Heartbeat") == [{}]


async def test_B_7_heartbeat_zero_disables_heartbeats(wired: Callable[..., Wire], clock: VirtualClock) -> None:
    wire = wired({"heartbeat_interval": 0})
    await wire.connect()
    await clock.advance(10_000)
    assert wire.calls("Heartbeat") == []


async def test_T_34_reconnect_after_accepted_boot_sends_no_new_boot(
    wired: Callable[..., Wire], clock: VirtualClock
) -> None:
    wire = wired()
    await wire.connect()
    await wire.disconnect()
    await wire.connect()
    assert wire.sent_actions().count("BootNotification") == 1


async def test_B_1_reset_all_boots_again_on_next_connection(wired: Callable[..., Wire]) -> None:
    wire = wired()
    await wire.connect()
    await wire.disconnect()
    wire.station.reset_all()
    await wire.connect()
    assert wire.sent_actions().count("BootNotification") == 2


async def test_T_22_unanswered_boot_times_out_and_is_retried(wired: Callable[..., Wire], clock: VirtualClock) -> None:
    never = asyncio.Event()

    async def silent(_request: object) -> object:
        await never.wait()
        return None

    wire = wired({"extra_handlers": {Action.BOOT_NOTIFICATION: silent}})
    wire.station.config.change("MessageTimeout", "10")
    await wire.connect()
    await clock.advance(10)
    assert wire.station.rpc.last_outcome[Action.BOOT_NOTIFICATION] is SendOutcome.RESPONSE_FAILED
    await clock.advance(UNANSWERED_BOOT_RETRY - 1)
    assert wire.sent_actions() == ["BootNotification"]
    await clock.advance(1)
    assert wire.sent_actions() == ["BootNotification", "BootNotification"]


async def test_B_1_serial_number_goes_in_both_serial_fields(wired: Callable[..., Wire]) -> None:
    wire = wired(identity=Identity(vendor="chargebox", model="Simulator", serial_number="SN-42"))
    await wire.connect()
    boot = wire.calls("BootNotification")[0]
    assert boot["chargePointSerialNumber"] == boot["chargeBoxSerialNumber"] == "SN-42"  # the latter deprecated


@pytest.mark.parametrize("interval", [-5, 2**31])
async def test_B_4_interval_outside_0_to_int32_keeps_the_current_heartbeat_interval(
    wired: Callable[..., Wire], clock: VirtualClock, interval: int
) -> None:
    wire = wired({"heartbeat_interval": interval})
    await wire.connect()
    assert wire.station.boot.registration is Accepted
    assert wire.station.config.get("HeartbeatInterval") == "86400"
    await clock.advance(86400)
    assert wire.calls("Heartbeat") == [{}]


async def test_B_5_negative_interval_while_pending_waits_the_default(
    wired: Callable[..., Wire], clock: VirtualClock
) -> None:
    wire = wired({"registration": Pending, "heartbeat_interval": -5})
    await wire.connect()
    await clock.advance(59)
    assert wire.sent_actions() == ["BootNotification"]
    await clock.advance(1)
    assert wire.sent_actions() == ["BootNotification", "BootNotification"]
