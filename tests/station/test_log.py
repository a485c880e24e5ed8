"""The station's logger limits repeated warnings and errors (issue 16, item 14), on the station's own clock."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest

from chargebox.clock import VirtualClock
from chargebox.station.kernel.log import BURST, WINDOW, StationLog
from tests.wire import Wire


@pytest.fixture
def records(caplog: pytest.LogCaptureFixture) -> Callable[[], list[logging.LogRecord]]:
    caplog.set_level(logging.DEBUG, "chargebox")
    return lambda: [r for r in caplog.records if r.name == "chargebox.station.test"]


def station_log(clock: VirtualClock) -> StationLog:
    return StationLog(logging.getLogger("chargebox.station.test"), "CP-1", clock)


async def test_a_repeated_warning_is_logged_BURST_times_a_window_then_counted(
    clock: VirtualClock, records: Callable[[], list[logging.LogRecord]]
) -> None:
    log = station_log(clock)
    for n in range(BURST + 15):
        log.warning("! frame %d rejected", n)
    logged = records()
    assert [r.getMessage().split(" (")[0] for r in logged] == [f"! frame {n} rejected" for n in range(BURST)]
    counted = f"(repeated: more like it in the next {WINDOW:g} s are counted, not logged)"
    assert logged[-1].getMessage().endswith(counted)
    assert all(r.cp == "CP-1" for r in logged)  # type: ignore[attr-defined]
    await clock.advance(WINDOW)
    log.warning("! frame %d rejected", 99)
    left_out = f"(and 15 more like it in the {WINDOW:g} s before, not logged)"
    assert records()[-1].getMessage() == f"! frame 99 rejected {left_out}"


async def test_each_kind_has_its_own_count_and_info_is_never_limited(
    clock: VirtualClock, records: Callable[[], list[logging.LogRecord]]
) -> None:
    log = station_log(clock)
    for _ in range(3 * BURST):
        log.warning("! one kind")
        log.error("! another kind")
        log.info("= an operator's line")
        log.error("! one kind")
    messages = [r.getMessage().split(" (")[0] for r in records()]
    assert messages.count("! one kind") == 2 * BURST  # a warning and an error are two kinds
    assert messages.count("! another kind") == BURST
    assert messages.count("= an operator's line") == 3 * BURST


async def test_a_repeated_traceback_is_limited_too_and_records_name_their_caller(
    clock: VirtualClock, records: Callable[[], list[logging.LogRecord]]
) -> None:
    log = station_log(clock)
    for _ in range(2 * BURST):
        try:
            raise RuntimeError("the handler's bug")
        except RuntimeError:
            log.exception("! handler for %s failed", "Reset")
    logged = records()
    assert len(logged) == BURST and all(r.exc_info is not None for r in logged)
    assert {r.filename for r in logged} == {"test_log.py"}


async def test_the_station_logs_through_it(wired: Callable[..., Wire], caplog: pytest.LogCaptureFixture) -> None:
    wire = wired()
    await wire.connect()
    with caplog.at_level(logging.WARNING, "chargebox"):
        for n in range(100):  # unknown actions: a CALLERROR each, and a warning each before the limit
            answer = await wire.inject(f'[2,"u{n}","NoSuchAction",{{}}]')
            assert answer[:3] == [4, f"u{n}", "NotImplemented"]
    station = [r for r in caplog.records if r.name == "chargebox.station"]
    assert sum("NoSuchAction" in r.getMessage() for r in station) == BURST
