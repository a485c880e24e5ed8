"""SecurityEventNotification and the security log (T-45, T-41, B-10, F-9; whitepaper A04)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from chargebox.errors import RemoteProtocolError
from chargebox.protocol import messages as m
from chargebox.sim.simulator import Simulator
from chargebox.station.kernel.events import CRITICAL
from chargebox.store import Store
from tests.security.conftest import SecRig
from tests.wire import Wire, make_csms, make_station


async def delivered(rig: SecRig, count: int = 1) -> list[str]:
    """The event types sent, once ``count`` of them went and were answered."""
    await rig.wire.until(lambda: len(rig.wire.calls("SecurityEventNotification")) >= count)
    await rig.wire.until(lambda: rig.wire.station.lane.pending() == 0)
    return [p["type"] for p in rig.wire.calls("SecurityEventNotification")]


async def not_sent(rig: SecRig) -> list[str]:
    await rig.wire.station.store.idle()
    await rig.clock.advance(1)
    return [p["type"] for p in rig.wire.calls("SecurityEventNotification")]


async def test_T_45_a_critical_event_is_logged_and_sent_with_its_timestamp(sec: SecRig) -> None:
    sec.wire.station.security.report("ResetOrReboot", "by the test")
    assert await delivered(sec) == ["ResetOrReboot"]
    [call] = sec.wire.calls("SecurityEventNotification")
    assert call["techInfo"] == "by the test" and call["timestamp"].startswith(sec.clock.now().isoformat()[:19])
    [entry] = sec.wire.station.store.security_log.entries()
    assert (entry.event_type, entry.tech_info, entry.critical) == ("ResetOrReboot", "by the test", True)


async def test_T_45_a_non_critical_event_is_logged_not_sent(sec: SecRig) -> None:
    sec.wire.station.security.report("InvalidMessages", "a bad frame")
    assert await not_sent(sec) == []
    assert [e.event_type for e in sec.wire.station.store.security_log.entries()] == ["InvalidMessages"]


async def test_T_45_unknown_event_type_is_a_programming_error(sec: SecRig) -> None:
    with pytest.raises(ValueError, match="unknown security event"):
        sec.wire.station.security.report("ResetOrRebot")
    assert sec.wire.station.store.security_log.count() == 0


async def test_T_45_tech_info_is_cut_to_255_characters(sec: SecRig) -> None:
    sec.wire.station.security.report("StartupOfTheDevice", "x" * 400)
    await delivered(sec)
    assert len(sec.wire.calls("SecurityEventNotification")[0]["techInfo"]) == 255


async def test_Q_8_events_while_offline_are_journaled_and_delivered_once_after_the_boot(sec: SecRig) -> None:
    await sec.wire.disconnect()
    sec.wire.station._on_close()
    sec.wire.station.security.report("FirmwareUpdated", "2.0.0")
    sec.wire.station.security.report("TamperDetectionActivated")
    await sec.wire.until(lambda: sec.wire.station.lane.pending() == 2)
    assert sec.wire.calls("SecurityEventNotification") == []
    await sec.wire.connect()
    assert await delivered(sec, 2) == ["FirmwareUpdated", "TamperDetectionActivated"]
    await sec.clock.advance(3600)
    assert len(sec.wire.calls("SecurityEventNotification")) == 2


async def test_Q_8_an_event_survives_a_power_cut_before_it_was_sent(clock: object, tmp_path: Path) -> None:
    from chargebox.clock import VirtualClock

    assert isinstance(clock, VirtualClock)
    store = Store.open(tmp_path / "db")
    first = make_station(clock, store=store, data_dir=tmp_path)
    first.security.report("MemoryExhausted", "no room")
    await first.security.journaled()
    first.reset_all()  # the power goes: nothing but the store survives
    first.store.close()
    second = Wire(make_station(clock, store=Store.open(tmp_path / "db"), data_dir=tmp_path),
                  make_csms(clock), clock)  # fmt: skip
    await second.connect()
    await second.until(lambda: second.station.lane.pending() == 0)
    assert [p["type"] for p in second.calls("SecurityEventNotification")] == ["MemoryExhausted"]
    await second.stop()
    second.station.store.close()


async def test_T_45_every_station_sends_security_events_without_naming_security(wired: Callable[..., Wire]) -> None:
    wire = wired(ocpp_config={"SupportedFeatureProfiles": "Core"})  # the whitepaper is offered beside any profiles
    await wire.connect()
    wire.station.security.report("ResetOrReboot")
    await wire.until(lambda: wire.calls("SecurityEventNotification") != [] and wire.station.lane.pending() == 0)
    assert [p["type"] for p in wire.calls("SecurityEventNotification")] == ["ResetOrReboot"]


async def test_Q_8_a_central_system_without_the_whitepaper_costs_one_answer_and_holds_nothing_up(
    wired: Callable[..., Wire],
) -> None:
    """NotImplemented (or NotSupported) is no failure to process (Q-4): no retry can succeed, so the event is set
    aside at once, kept in the security log, and the StartTransaction behind it goes without a retry pause."""

    def without_the_whitepaper(_request: m.SecurityEventNotificationRequest) -> m.SecurityEventNotificationResponse:
        raise RemoteProtocolError("NotImplemented", "no handler for SecurityEventNotification")

    wire = wired(csms_policy={"extra_handlers": {m.Action.SECURITY_EVENT_NOTIFICATION: without_the_whitepaper}})
    await wire.connect()
    wire.station.security.report("ResetOrReboot")
    await wire.station.security.journaled()
    sim = Simulator(wire.station)
    await sim.plug(1)
    await sim.swipe("TAG-1", 1)
    await wire.until(lambda: wire.calls("StartTransaction") != [] and wire.station.lane.pending() == 0)
    assert wire.sent_actions().index("SecurityEventNotification") < wire.sent_actions().index("StartTransaction")
    [letter] = wire.station.store.dead_letters.all()
    assert letter.action == "SecurityEventNotification" and "NotImplemented" in letter.reason
    await wire.clock.advance(3600)
    assert len(wire.calls("SecurityEventNotification")) == 1  # not retried
    assert [e.event_type for e in wire.station.store.security_log.entries()][-1] == "ResetOrReboot"


async def test_T_45_the_security_log_keeps_the_newest_rows(sec: SecRig) -> None:
    log = sec.wire.station.store.security_log
    log.max_rows = 5
    for n in range(12):
        sec.wire.station.security.report("InvalidMessages", f"frame {n}")
    assert [e.tech_info for e in log.entries()] == [f"frame {n}" for n in range(7, 12)]
    assert log.count() == 5


async def test_T_45_the_security_log_of_one_station_is_its_own(clock: object) -> None:
    store = Store.open(None)
    store.security_log.add("2026-01-01T00:00:00+00:00", "ResetOrReboot", None, critical=True)
    store.station = "CP-2"
    assert store.security_log.entries() == [] and store.security_log.count() == 0


async def test_B_10_reset_is_reset_or_reboot(sec: SecRig) -> None:
    answer = await sec.call("Reset", {"type": "Soft"})
    assert answer[2] == {"status": "Accepted"}
    await sec.clock.advance(120)  # C-23: the reset waits a moment for the queue to drain
    assert "ResetOrReboot" in [e.event_type for e in sec.wire.station.store.security_log.entries()]


async def test_B_10_a_clock_set_far_is_setting_system_time_a_small_sync_is_not(sec: SecRig) -> None:
    clock_sync = sec.wire.station.clock_sync
    clock_sync.set_time(sec.clock.now() + timedelta(seconds=5), "Heartbeat.conf")
    assert sec.wire.station.store.security_log.count() == 0
    clock_sync.set_time(sec.clock.now() + timedelta(hours=2), "Heartbeat.conf")
    assert await delivered(sec) == ["SettingSystemTime"]


async def test_B_4_a_refused_time_is_an_invalid_messages_event_sent_to_the_central_system(sec: SecRig) -> None:
    assert not sec.wire.station.clock_sync.set_time(datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC), "Heartbeat.conf")
    assert await delivered(sec) == ["InvalidMessages"]  # not critical: sent on purpose
    [call] = sec.wire.calls("SecurityEventNotification")
    assert call["techInfo"] == "Heartbeat.conf currentTime 9999-12-31T23:59:59+00:00 refused"


async def test_T_41_changing_a_security_key_is_logged_without_its_value(sec: SecRig) -> None:
    answer = await sec.call("ChangeConfiguration", {"key": "AuthorizationKey", "value": "00112233445566778899aabb"})
    assert answer[2] == {"status": "Accepted"}
    [entry] = sec.wire.station.store.security_log.entries()
    assert entry.event_type == "ReconfigurationOfSecurityParameters"
    assert entry.tech_info == "AuthorizationKey changed" and "0011" not in json.dumps(sec.wire.frames[-1])


def test_T_45_the_critical_events_are_the_whitepapers() -> None:
    assert {
        "FirmwareUpdated", "SettingSystemTime", "StartupOfTheDevice", "ResetOrReboot", "SecurityLogWasCleared",
        "MemoryExhausted", "TamperDetectionActivated",
    } == CRITICAL  # fmt: skip
