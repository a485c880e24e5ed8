"""The station's clock and the central system's currentTime (B-4, B-7, B-10; docs/reliability.md, "Time").

A ``currentTime`` is believed only inside ``TimeWindow.around(last known time)``: never before the build date,
at most ``MAX_STEP`` from the last time the station knew, never after ``LATEST``. Outside, the clock keeps its
time and the refusal is logged; the window moves with the last known time, which survives a restart.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from chargebox.clock import BUILD_DATE, LATEST, MAX_STEP, TimeWindow, VirtualClock
from chargebox.protocol import messages as m
from chargebox.station.kernel.clock_sync import LAST_KNOWN_KEY
from chargebox.store import Store
from tests.wire import Wire, make_csms, make_station, power_cut_and_restart

START = datetime(2026, 1, 1, tzinfo=UTC)  # the test clock's start


def answering(current_time: datetime) -> dict[str, Any]:
    """A central system policy: BootNotification and Heartbeat answer ``current_time``."""

    def boot(_request: m.BootNotificationRequest) -> m.BootNotificationResponse:
        return m.BootNotificationResponse(status=m.RegistrationStatus.ACCEPTED, current_time=current_time, interval=60)

    return {
        "extra_handlers": {
            m.Action.BOOT_NOTIFICATION: boot,
            m.Action.HEARTBEAT: lambda _request: m.HeartbeatResponse(current_time=current_time),
        }
    }


def events(wire: Wire) -> list[str]:
    return [entry.event_type for entry in wire.station.store.security_log.entries()]


# -- the window --------------------------------------------------------------------------------------


def test_the_window_of_a_new_station_is_the_build_date_and_ten_years_after() -> None:
    window = TimeWindow.around(None)
    assert (window.earliest, window.latest) == (BUILD_DATE, BUILD_DATE + MAX_STEP)
    assert timedelta(days=3652) <= MAX_STEP


def test_the_window_follows_the_last_known_time_but_never_before_the_build_nor_past_the_century() -> None:
    later = datetime(2050, 6, 1, tzinfo=UTC)
    assert (TimeWindow.around(later).earliest, TimeWindow.around(later).latest) == (later - MAX_STEP, later + MAX_STEP)
    assert TimeWindow.around(datetime(2027, 1, 1, tzinfo=UTC)).earliest == BUILD_DATE
    assert TimeWindow.around(datetime(9999, 1, 1, tzinfo=UTC)).latest == LATEST
    assert datetime(2200, 1, 1, tzinfo=UTC) > LATEST  # a clock plus any 32-bit interval stays far from year 9999


def test_a_time_without_a_zone_offset_is_read_as_utc() -> None:
    window = TimeWindow.around(None)
    assert datetime(2026, 6, 1) in window and datetime(1970, 1, 1) not in window


# -- refusals ----------------------------------------------------------------------------------------

ABSURD = {
    "9999": datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC),
    "1969": datetime(1969, 12, 31, 23, 0, tzinfo=UTC),
    "year-1": datetime(1, 1, 1, tzinfo=UTC),
    "a-second-past-the-window": BUILD_DATE + MAX_STEP + timedelta(seconds=1),
    "a-second-before-the-build": BUILD_DATE - timedelta(seconds=1),
    "year-1-ahead-of-utc": datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=1))),  # year 0 in UTC
}


@pytest.mark.parametrize("current_time", ABSURD.values(), ids=ABSURD.keys())
async def test_B_4_a_boot_time_outside_the_window_is_refused_and_the_clock_kept(
    wired: Callable[..., Wire], clock: VirtualClock, current_time: datetime, caplog: pytest.LogCaptureFixture
) -> None:
    wire = wired(answering(current_time))
    with caplog.at_level(logging.WARNING, "chargebox"):
        await wire.connect()
        await clock.advance(3600)  # an hour of heartbeats, each refused again; every log line stamped on the way
    assert wire.station.boot.registration is m.RegistrationStatus.ACCEPTED
    assert clock.now() == START + timedelta(hours=1)
    assert len(wire.calls("Heartbeat")) == 60
    assert sum("refused: not within" in r.getMessage() for r in caplog.records) == 61  # the boot and every heartbeat
    assert events(wire) == ["InvalidMessages"]  # once for the run of refusals
    assert wire.station.clock_sync.last_known is None


async def test_B_4_the_edges_of_the_window_are_believed(wired: Callable[..., Wire], clock: VirtualClock) -> None:
    wire = wired(answering(BUILD_DATE + MAX_STEP))
    await wire.connect()
    assert clock.now() == BUILD_DATE + MAX_STEP
    assert wire.station.clock_sync.set_time(BUILD_DATE, "Heartbeat.conf")
    assert clock.now() == BUILD_DATE
    assert events(wire) == ["SettingSystemTime", "SettingSystemTime"]  # B-10: two jumps of ten years


async def test_B_7_a_believed_time_after_refusals_ends_the_run_and_the_next_refusal_is_reported_again(
    wired: Callable[..., Wire], clock: VirtualClock
) -> None:
    wire = wired(answering(datetime(9999, 1, 1, tzinfo=UTC)))
    await wire.connect()
    sync = wire.station.clock_sync
    assert not sync.set_time(datetime(1, 1, 1, tzinfo=UTC), "Heartbeat.conf")
    assert sync.set_time(START + timedelta(seconds=2), "Heartbeat.conf")
    assert not sync.set_time(datetime(1, 1, 1, tzinfo=UTC), "Heartbeat.conf")
    assert events(wire) == ["InvalidMessages", "InvalidMessages"]
    assert [e.tech_info for e in wire.station.store.security_log.entries()] == [
        "BootNotification.conf currentTime 9999-01-01T00:00:00+00:00 refused",
        "Heartbeat.conf currentTime 0001-01-01T00:00:00+00:00 refused",
    ]


# -- the last known time -------------------------------------------------------------------------------


async def test_the_last_known_time_survives_a_restart_and_moves_the_window(clock: VirtualClock, tmp_path: Path) -> None:
    later = START.replace(year=2034)
    wire = Wire(make_station(clock, store=Store.open(tmp_path)), make_csms(clock, **answering(later)), clock)
    await wire.connect()
    assert clock.now() == later and wire.station.clock_sync.last_known == later
    farther = later.replace(year=2043)  # within ten years of 2034, not of the build date
    wire.csms.policy.extra_handlers.update(answering(farther)["extra_handlers"])
    again = await power_cut_and_restart(wire, tmp_path)
    assert clock.now() == farther and again.station.clock_sync.last_known == farther
    fresh = make_station(clock)
    assert not fresh.clock_sync.set_time(farther, "BootNotification.conf")


async def test_a_sync_is_written_to_the_store_only_an_hour_from_the_stored_time(
    wired: Callable[..., Wire], clock: VirtualClock
) -> None:
    wire = wired()
    await wire.connect()
    state, sync = wire.station.store.state, wire.station.clock_sync
    assert state.get(LAST_KNOWN_KEY) == START.isoformat()  # the boot's sync: nothing was known before
    await clock.advance(3599)
    sync.set_time(clock.now(), "Heartbeat.conf")
    await clock.advance(0)
    assert state.get(LAST_KNOWN_KEY) == START.isoformat()
    await clock.advance(1)
    sync.set_time(clock.now(), "Heartbeat.conf")
    await clock.advance(0)
    assert state.get(LAST_KNOWN_KEY) == (START + timedelta(hours=1)).isoformat()


async def test_a_stop_writes_the_last_known_time(
    wired: Callable[..., Wire], clock: VirtualClock, tmp_path: Path
) -> None:
    wire = wired(store=Store.open(tmp_path))
    await wire.connect()
    await clock.advance(600)
    await wire.station.stop()
    store = Store.open(tmp_path)
    assert store.state.get(LAST_KNOWN_KEY) == (START + timedelta(minutes=10)).isoformat()
    store.close()


async def test_a_stored_last_known_time_that_is_no_time_of_this_build_is_ignored(clock: VirtualClock) -> None:
    for text in ("9999-12-31T23:59:59+00:00", "not a time", "1970-01-01T00:00:00+00:00"):
        store = Store.open(None)
        store.state.set(LAST_KNOWN_KEY, text)
        assert make_station(clock, store=store).clock_sync.last_known is None


# -- the clock at start -------------------------------------------------------------------------------


async def test_a_clock_that_reads_before_the_build_at_start_is_set_to_the_last_known_time(tmp_path: Path) -> None:
    last_known = datetime(2027, 3, 1, tzinfo=UTC)
    store = Store.open(tmp_path)
    store.state.set(LAST_KNOWN_KEY, last_known.isoformat())
    clock = VirtualClock(start=datetime(1970, 1, 1, tzinfo=UTC))  # a controller without a real-time clock
    station = make_station(clock, store=store)
    station.clock_sync.start()
    assert clock.now() == last_known
    [entry] = store.security_log.entries()
    assert entry.event_type == "SettingSystemTime" and "1970-01-01" in (entry.tech_info or "")


async def test_a_clock_that_reads_before_the_build_on_a_new_station_is_set_to_the_build_date() -> None:
    clock = VirtualClock(start=datetime(1970, 1, 1, tzinfo=UTC))
    station = make_station(clock)
    station.clock_sync.start()
    assert clock.now() == BUILD_DATE and station.clock_sync.last_known == BUILD_DATE


async def test_a_clock_past_the_window_at_start_is_kept_but_not_believed() -> None:
    ahead = datetime(2099, 1, 1, tzinfo=UTC)
    clock = VirtualClock(start=ahead)
    station = make_station(clock)
    station.clock_sync.start()
    assert clock.now() == ahead and station.clock_sync.last_known is None
    assert station.clock_sync.set_time(START, "BootNotification.conf")  # the central system's time corrects it
    assert clock.now() == START


# -- logging never raises ------------------------------------------------------------------------------


async def test_logging_never_raises_even_with_a_clock_that_cannot_read(
    wired: Callable[..., Wire], clock: VirtualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    wire = wired()
    await wire.connect()

    def broken() -> datetime:
        raise OverflowError("date value out of range")

    monkeypatch.setattr(clock, "now", broken)
    monkeypatch.setattr(logging, "raiseExceptions", False)  # handleError stays quiet, as in production
    wire.station.log.warning("! a warning stamped by a broken clock")  # the diagnostics log ring keeps records
