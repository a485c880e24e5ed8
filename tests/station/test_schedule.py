"""The composite schedule (checklist 7: SC-6..SC-8, SC-12, CS-1..CS-4): hand-computed cases and properties."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from chargebox.protocol.messages import (
    ChargingProfile,
    ChargingProfileKindType,
    ChargingProfilePurposeType,
    ChargingRateUnitType,
    ChargingSchedule,
    ChargingSchedulePeriod,
    RecurrencyKindType,
)
from chargebox.station.v16 import schedule
from chargebox.station.v16.schedule import Installed, Period, Situation

A, W = ChargingRateUnitType.A, ChargingRateUnitType.W
ABS, REL, REC = ChargingProfileKindType.ABSOLUTE, ChargingProfileKindType.RELATIVE, ChargingProfileKindType.RECURRING
MAX, DEFAULT, TX = (
    ChargingProfilePurposeType.CHARGE_POINT_MAX_PROFILE,
    ChargingProfilePurposeType.TX_DEFAULT_PROFILE,
    ChargingProfilePurposeType.TX_PROFILE,
)
T0 = datetime(2026, 1, 1, tzinfo=UTC)
T = T0.timestamp()


def profile(
    pid: int,
    purpose: ChargingProfilePurposeType,
    periods: list[tuple[int, float]],
    *,
    stack: int = 0,
    kind: ChargingProfileKindType = ABS,
    start: datetime | None = T0,
    duration: int | None = None,
    unit: ChargingRateUnitType = A,
    phases: int | None = None,
    recurrency: RecurrencyKindType | None = None,
    valid_from: datetime | None = None,
    valid_to: datetime | None = None,
) -> ChargingProfile:
    extra: dict[str, Any] = {}
    if recurrency is not None:
        extra["recurrency_kind"] = recurrency
    if valid_from is not None:
        extra["valid_from"] = valid_from
    if valid_to is not None:
        extra["valid_to"] = valid_to
    sched: dict[str, Any] = {}
    if duration is not None:
        sched["duration"] = duration
    if start is not None and kind is not REL:
        sched["start_schedule"] = start
    return ChargingProfile(
        charging_profile_id=pid,
        stack_level=stack,
        charging_profile_purpose=purpose,
        charging_profile_kind=kind,
        charging_schedule=ChargingSchedule(
            charging_rate_unit=unit,
            charging_schedule_period=[
                ChargingSchedulePeriod(start_period=s, limit=v, **({} if phases is None else {"number_phases": phases}))
                for s, v in periods
            ],
            **sched,
        ),
        **extra,
    )


def situation(tx_start: dict[int, float] | None = None) -> Situation:
    return Situation(connectors=2, volts=230.0, max_amps=32.0, tx_start=tx_start or {})


# -- hand-computed: connector 0 with overlapping TxDefault and ChargePointMax and a running TxProfile -------------
#
# Two connectors, 230 V, 32 A per connector at most, window from T (2026-01-01 00:00Z) for 7200 s.
#   ChargePointMax (connector 0): Absolute from T: 40 A until +1800, 20 A until +3600 (duration 3600), then no cap.
#   TxDefault (connector 0, every connector): Absolute from T, 16 A, no duration.
#   TxProfile (connector 1, transaction started at T-600): Relative, 10 A then 6 A from +1200 of the
#     transaction, duration 2400: 10 A until T+600, 6 A until T+1800, then back to the TxDefault, 16 A.
# Connector 1's own limit: 10 | 6 | 16 (edges +600, +1800); connector 2's: 16 throughout.
# Connector 0 = min(sum of own limits, ChargePointMax) on 3 phases:
#   [0, 600): min(26, 40) = 26;  [600, 1800): min(22, 40) = 22;  [1800, 3600): min(32, 20) = 20;  [3600, 7200): 32.
# In W (x 230 V x 3 phases): 17940, 15180, 13800, 22080.
# Connector 1 = min(own, ChargePointMax): 10 | 6 | 16 (min(16, 20), then uncapped 16) -> merged: 10, 6, 16.

HAND = [
    Installed(0, profile(1, MAX, [(0, 40.0), (1800, 20.0)], duration=3600)),
    Installed(0, profile(2, DEFAULT, [(0, 16.0)])),
    Installed(1, profile(3, TX, [(0, 10.0), (1200, 6.0)], kind=REL, duration=2400)),
]
HAND_SITUATION = situation({1: T - 600})


def test_CS_4_connector_0_overlapping_txdefault_chargepointmax_and_txprofile_in_amps() -> None:
    periods = schedule.composite(HAND, HAND_SITUATION, 0, T, 7200, A)
    assert periods == [Period(0, 26.0, 3), Period(600, 22.0, 3), Period(1800, 20.0, 3), Period(3600, 32.0, 3)]


def test_CS_4_connector_0_overlapping_profiles_in_watts() -> None:
    periods = schedule.composite(HAND, HAND_SITUATION, 0, T, 7200, W)
    assert [(p.start, p.limit) for p in periods] == [(0, 17940.0), (600, 15180.0), (1800, 13800.0), (3600, 22080.0)]


def test_SC_7_connector_with_txprofile_capped_by_chargepointmax() -> None:
    assert schedule.composite(HAND, HAND_SITUATION, 1, T, 7200, A) == [
        Period(0, 10.0, 3), Period(600, 6.0, 3), Period(1800, 16.0, 3)
    ]  # fmt: skip
    assert schedule.composite(HAND, HAND_SITUATION, 2, T, 7200, A) == [Period(0, 16.0, 3)]


def test_SC_10_without_the_transaction_the_txprofile_does_not_apply() -> None:
    assert schedule.composite(HAND, situation(), 1, T, 7200, A) == [Period(0, 16.0, 3)]


def test_SC_8_recurring_daily_restarts_each_day_and_falls_back_after_its_duration() -> None:
    # Daily from 01:00 (three days ago): 8 A for 2 h, then 16 A until its 3 h duration ends; no limit otherwise.
    daily = profile(1, DEFAULT, [(0, 8.0), (7200, 16.0)], kind=REC, recurrency=RecurrencyKindType.DAILY,
                    start=T0 - timedelta(days=3) + timedelta(hours=1), duration=10800)  # fmt: skip
    periods = schedule.composite([Installed(0, daily)], situation(), 1, T, 2 * 86400, A)
    assert [(p.start, p.limit) for p in periods] == [
        (0, 32.0), (3600, 8.0), (10800, 16.0), (14400, 32.0),
        (90000, 8.0), (97200, 16.0), (100800, 32.0),
    ]  # fmt: skip


def test_SC_8_weekly_recurrence() -> None:
    weekly = profile(1, DEFAULT, [(0, 6.0)], kind=REC, recurrency=RecurrencyKindType.WEEKLY,
                     start=T0 - timedelta(days=7), duration=3600)  # fmt: skip
    periods = schedule.composite([Installed(0, weekly)], situation(), 1, T, 8 * 86400, A)
    assert [(p.start, p.limit) for p in periods] == [(0, 6.0), (3600, 32.0), (7 * 86400, 6.0), (7 * 86400 + 3600, 32.0)]


def test_SC_6_higher_stack_level_prevails_and_falls_back_when_it_ends() -> None:
    low = profile(1, DEFAULT, [(0, 20.0)], stack=0)
    high = profile(2, DEFAULT, [(0, 10.0)], stack=1, duration=600)
    periods = schedule.composite([Installed(0, low), Installed(0, high)], situation(), 1, T, 1200, A)
    assert periods == [Period(0, 10.0, 3), Period(600, 20.0, 3)]


def test_SC_6_valid_from_and_valid_to_bound_a_profile() -> None:
    bounded = profile(1, DEFAULT, [(0, 10.0)], valid_from=T0 + timedelta(seconds=300),
                      valid_to=T0 + timedelta(seconds=900))  # fmt: skip
    periods = schedule.composite([Installed(0, bounded)], situation(), 1, T, 1200, A)
    assert periods == [Period(0, 32.0, 3), Period(300, 10.0, 3), Period(900, 32.0, 3)]


def test_SC_12_watts_to_amps_with_number_phases() -> None:
    # 6900 W on 1 phase = 6900 / (230 x 1) = 30 A; on 3 phases = 6900 / 690 = 10 A per phase.
    one = profile(1, DEFAULT, [(0, 6900.0)], unit=W, phases=1)
    three = profile(2, DEFAULT, [(0, 6900.0)], unit=W)
    assert schedule.composite([Installed(1, one)], situation(), 1, T, 60, A) == [Period(0, 30.0, 1)]
    assert schedule.composite([Installed(1, three)], situation(), 1, T, 60, A) == [Period(0, 10.0, 3)]
    assert schedule.composite([Installed(1, three)], situation(), 1, T, 60, W) == [Period(0, 6900.0, 3)]


def test_SC_5_connector_txdefault_replaces_the_connector_0_set_for_that_connector() -> None:
    every = Installed(0, profile(1, DEFAULT, [(0, 16.0)]))
    own = Installed(2, profile(2, DEFAULT, [(0, 8.0)]))
    assert schedule.composite([every, own], situation(), 1, T, 60, A) == [Period(0, 16.0, 3)]
    assert schedule.composite([every, own], situation(), 2, T, 60, A) == [Period(0, 8.0, 3)]


def test_SC_7_chargepointmax_shared_among_charging_connectors() -> None:
    cap = Installed(0, profile(1, MAX, [(0, 20.0)]))
    offered = schedule.offered_amps([cap], situation({1: T, 2: T}), T)
    assert offered == {1: (10.0, None), 2: (10.0, None)}


# -- properties -------------------------------------------------------------------------------------------------

PURPOSE_CONNECTORS = {MAX: [0], DEFAULT: [0, 1, 2], TX: [1, 2]}


@st.composite
def installed_profiles(draw: st.DrawFn, pid: int) -> Installed:
    purpose = draw(st.sampled_from([MAX, DEFAULT, TX]))
    connector = draw(st.sampled_from(PURPOSE_CONNECTORS[purpose]))
    kind = draw(st.sampled_from([ABS, REL, REC]))
    unit = draw(st.sampled_from([A, W]))
    starts = sorted(draw(st.sets(st.integers(1, 20_000), max_size=4)))
    scale = 230.0 * 3 if unit is W else 1.0
    periods = [(s, draw(st.integers(0, 400)) / 10 * scale) for s in [0, *starts]]
    return Installed(connector, profile(
        pid, purpose, periods,
        stack=draw(st.integers(0, 3)),
        kind=kind,
        start=T0 + timedelta(seconds=draw(st.integers(-90_000, 20_000))),
        duration=draw(st.one_of(st.none(), st.integers(1, 30_000))),
        unit=unit,
        phases=draw(st.sampled_from([None, 1, 3])),
        recurrency=draw(st.sampled_from(list(RecurrencyKindType))) if kind is REC else None,
        valid_from=draw(st.one_of(st.none(), st.just(T0 + timedelta(seconds=draw(st.integers(-5000, 10_000)))))),
        valid_to=draw(st.one_of(st.none(), st.just(T0 + timedelta(seconds=draw(st.integers(10_001, 40_000)))))),
    ))  # fmt: skip


@st.composite
def cases(draw: st.DrawFn) -> tuple[list[Installed], Situation]:
    count = draw(st.integers(0, 6))
    installed = [draw(installed_profiles(pid)) for pid in range(1, count + 1)]
    tx = draw(st.dictionaries(st.sampled_from([1, 2]), st.integers(-20_000, 0).map(lambda d: T + d)))
    return installed, situation(tx)


def value_at(periods: list[Period], offset: float) -> float:
    return [p for p in periods if p.start <= offset][-1].limit


def test_CS_2_a_relative_connector_0_default_changes_the_total_at_each_transaction_s_own_edge() -> None:
    """Found by the property test: a Relative TxDefaultProfile on connector 0 runs from each connector's
    own transaction start, so connector 0's total changes at that connector's period edges.
    Connector 1 charges from T: 0 A for 1 s, then 0.1 A; connector 2 has no transaction, so the
    Relative profile says nothing there and the hardware's 32 A holds. Total: 32.0 A, then 32.1 A."""
    installed = [Installed(0, profile(1, DEFAULT, [(0, 0.0), (1, 0.1)], kind=REL))]
    assert schedule.composite(installed, situation({1: T}), 0, T, 2, A) == [Period(0, 32.0, 3), Period(1, 32.1, 3)]


@settings(max_examples=60, deadline=None)
@given(cases(), st.sampled_from([0, 1, 2]), st.integers(1, 40_000), st.sampled_from([A, W]), st.randoms())
def test_CS_2_composite_properties(
    case: tuple[list[Installed], Situation], connector: int, duration: int, unit: ChargingRateUnitType,
    rnd: random.Random,
) -> None:  # fmt: skip
    installed, sit = case
    periods = schedule.composite(installed, sit, connector, T, duration, unit)
    # Covers the window: starts at 0, increasing, every start inside it; piecewise constant (neighbours differ).
    assert periods[0].start == 0
    assert all(a.start < b.start for a, b in itertools.pairwise(periods))
    assert all(p.start < duration for p in periods)
    assert all((a.limit, a.phases) != (b.limit, b.phases) for a, b in itertools.pairwise(periods))
    # The same answer whatever order the profiles were installed in.
    shuffled = list(installed)
    rnd.shuffle(shuffled)
    assert schedule.composite(shuffled, sit, connector, T, duration, unit) == periods
    # At any instant: exactly the limit then, so never above any applicable limit (ChargePointMax, hardware).
    for offset in [p.start for p in periods] + [rnd.randrange(duration) for _ in range(10)]:
        limit = schedule.limit_at(installed, sit, connector, T + offset)
        shown = value_at(periods, offset)
        assert shown == schedule.round_down(schedule.from_amps(limit.amps, unit, limit.phases, 230.0))
        cap = schedule.station_max(installed, sit, T + offset)
        if cap is not None:
            assert schedule.to_amps(shown, unit, limit.phases, 230.0) * limit.phases <= cap.amps * cap.phases + 1e-6
        per_phase = schedule.to_amps(shown, unit, limit.phases, 230.0)
        assert per_phase <= 32.0 * (2 if connector == 0 else 1) * 3 / limit.phases + 1e-6


# -- the work is bounded (counted, not timed) --------------------------------------------------------------------

DAYS = 31
HOURLY = [(h * 3600, 6.0 + h % 10) for h in range(24)]  # ChargingScheduleMaxPeriods (24) periods a day


class Counted:
    """``schedule.profile_limit`` with a count of its calls: the unit of work of a composite."""

    def __init__(self, monkeypatch: Any) -> None:
        self.calls = 0
        self._real = schedule.profile_limit
        monkeypatch.setattr(schedule, "profile_limit", self)

    def __call__(self, *args: Any) -> schedule.Limit | None:
        self.calls += 1
        return self._real(*args)


def test_CS_2_composite_of_connector_0_evaluates_each_profile_at_its_own_edges_only(monkeypatch: Any) -> None:
    """16 Daily profiles of 24 periods (8 TxDefault, 8 ChargePointMax) on 128 connectors, connector 0 for 31 days:
    each profile is evaluated at its own edges in the window, 24 a day, and no more. Before, every profile of every
    connector was evaluated at every edge of every profile: 1,535,616 evaluations, and 14 to 22 s of a blocked
    event loop for one GetCompositeSchedule (0.4 s after, measured on the same loaded machine)."""
    installed = [
        Installed(0, profile(n, (DEFAULT, MAX)[n % 2], HOURLY, stack=n // 2, kind=REC,
                             recurrency=RecurrencyKindType.DAILY, start=T0 + timedelta(seconds=61 * n)))
        for n in range(16)
    ]  # fmt: skip
    counted = Counted(monkeypatch)
    sit = Situation(connectors=128, volts=230.0, max_amps=32.0, tx_start={})
    periods = schedule.composite(installed, sit, 0, T + 3600, DAYS * 86_400, A)
    assert counted.calls <= len(installed) * 24 * (DAYS + 1)
    assert len(periods) == 24 * DAYS + 1  # the highest TxDefault's hours (the caps are higher), from 01:00


def test_CS_2_composite_with_a_transaction_on_every_connector_is_bounded_by_the_connectors_own_edges(
    monkeypatch: Any,
) -> None:
    """The other extreme: 16 Relative TxDefaultProfiles on connector 0, each run from the start of each of 128
    transactions: each profile is evaluated at its edges from each transaction's start, once."""
    installed = [Installed(0, profile(n, DEFAULT, HOURLY, stack=n, kind=REL)) for n in range(16)]
    sit = Situation(connectors=128, volts=230.0, max_amps=32.0, tx_start={c: T - 97 * c for c in range(1, 129)})
    counted = Counted(monkeypatch)
    schedule.composite(installed, sit, 0, T, DAYS * 86_400, A)
    assert counted.calls <= len(installed) * 128 * (24 + 1)
