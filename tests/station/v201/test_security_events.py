"""Security events of a 2.0.1 station (station/v201/security_events.py, use case A04): every event in the security
log, the critical ones journaled and sent in the order reported, after the boot and across an offline period."""

from __future__ import annotations

from collections.abc import Callable

from chargebox.station.v201.security_events import SecurityEventsService
from tests.wire import Wire


async def booted(wired: Callable[..., Wire]) -> Wire:
    """Started as ``Station.run`` starts: StartupOfTheDevice reported before the first connection."""
    wire = wired(ocpp="2.0.1")
    wire.station.security_events.report("StartupOfTheDevice")
    await wire.connect()
    await wire.until(lambda: len(wire.calls("StatusNotification")) >= 1)
    return wire


async def test_A04_FR_01_the_startup_event_is_sent_after_the_accepted_boot(wired: Callable[..., Wire]) -> None:
    wire = await booted(wired)
    await wire.until(lambda: len(wire.calls("SecurityEventNotification")) == 1)
    (event,) = wire.calls("SecurityEventNotification")
    assert event["type"] == "StartupOfTheDevice"
    assert wire.sent_actions().index("BootNotification") < wire.sent_actions().index("SecurityEventNotification")
    assert "." not in event["timestamp"]  # to the second, as every 2.0.1 dateTime of this station


async def test_A04_FR_02_critical_events_made_offline_are_sent_in_order_after_the_reconnect(
    wired: Callable[..., Wire],
) -> None:
    wire = await booted(wired)
    await wire.until(lambda: len(wire.calls("SecurityEventNotification")) == 1)
    await wire.disconnect()
    events = wire.station.security_events
    events.report("SettingSystemTime", "set by hand")
    events.report("InvalidFirmwareSignature", "bad signature")  # L01.FR.03: sent though not critical
    events.report("MemoryExhausted")
    await wire.station.features.need(SecurityEventsService).journaled()
    assert len(wire.calls("SecurityEventNotification")) == 1  # nothing goes while offline
    await wire.connect()
    await wire.until(lambda: len(wire.calls("SecurityEventNotification")) == 4)
    sent = [(e["type"], e.get("techInfo")) for e in wire.calls("SecurityEventNotification")[1:]]
    assert sent == [("SettingSystemTime", "set by hand"), ("InvalidFirmwareSignature", "bad signature"),
                    ("MemoryExhausted", None)]  # fmt: skip


async def test_A04_FR_04_every_event_is_logged_and_only_the_critical_ones_are_sent(wired: Callable[..., Wire]) -> None:
    wire = await booted(wired)
    await wire.until(lambda: len(wire.calls("SecurityEventNotification")) == 1)
    wire.station.security_events.report("InvalidMessages", "a frame it could not read")
    wire.station.security_events.report("ResetOrReboot")
    await wire.until(lambda: len(wire.calls("SecurityEventNotification")) == 2)
    assert [e["type"] for e in wire.calls("SecurityEventNotification")] == ["StartupOfTheDevice", "ResetOrReboot"]
    logged = [entry.event_type for entry in wire.station.store.security_log.entries()]
    assert logged == ["StartupOfTheDevice", "InvalidMessages", "ResetOrReboot"]
