"""Composite charging schedules, as pure functions (checklist 7: SC-6..SC-8, SC-12, CS-1..CS-5).

No I/O, no clock: every function takes the instants it needs (epoch seconds), so the property tests
can drive it with any profiles and any window. The smart charging service feeds it the installed
profiles and the running transactions, and turns its answers into GetCompositeSchedule replies and
into the current offered to each EV.

Units (SC-12): a limit in ``A`` is per phase; a limit in ``W`` is the total over the phases used.
    amps per phase = watts / (volts * phases)        watts = amps * volts * phases
with ``phases`` the period's numberPhases (3 when absent) and ``volts`` the station's phase voltage.
Internally every limit is held as amps per phase and a phase count, so limits of both units compare.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from chargebox.protocol.messages import (
    ChargingProfile,
    ChargingProfileKindType,
    ChargingProfilePurposeType,
    ChargingRateUnitType,
    RecurrencyKindType,
)

DEFAULT_PHASES = 3
RECURRENCE_S = {RecurrencyKindType.DAILY: 86_400.0, RecurrencyKindType.WEEKLY: 7 * 86_400.0}
Purpose = ChargingProfilePurposeType
Unit = ChargingRateUnitType


@dataclass(frozen=True, slots=True)
class Installed:
    """One installed profile and the connector it was set on (0: the station / every connector)."""

    connector_id: int
    profile: ChargingProfile


@dataclass(frozen=True, slots=True)
class Limit:
    """A limit at one instant: amps per phase on ``phases`` phases; ``min_amps`` the minChargingRate."""

    amps: float
    phases: int
    min_amps: float | None = None

    def watts(self, volts: float) -> float:
        return self.amps * volts * self.phases


@dataclass(frozen=True, slots=True)
class Situation:
    """What the composite depends on besides the profiles: the hardware and the running transactions.

    ``tx_start`` maps a connector with a running transaction to its start (epoch seconds); a Relative
    profile counts from it, and a TxProfile applies only while it runs. ``max_amps`` is what one
    connector can deliver per phase (the limit where no profile says anything)."""

    connectors: int
    volts: float
    max_amps: float
    tx_start: Mapping[int, float]


@dataclass(frozen=True, slots=True)
class Period:
    """One period of a composite schedule: from ``start`` seconds after the window start."""

    start: int
    limit: float
    phases: int


def to_amps(limit: float, unit: Unit, phases: int, volts: float) -> float:
    return limit / (volts * phases) if unit is Unit.W else limit


def from_amps(amps: float, unit: Unit, phases: int, volts: float) -> float:
    return amps * volts * phases if unit is Unit.W else amps


def epoch(profile_time: object) -> float | None:
    """A profile's optional datetime as epoch seconds (None when unset)."""
    from datetime import datetime

    return profile_time.timestamp() if isinstance(profile_time, datetime) else None


def recurrence(profile: ChargingProfile) -> float | None:
    """A Recurring profile's period in seconds (Daily 24 h, Weekly 7 days); None for the other kinds."""
    kind = profile.recurrency_kind
    if profile.charging_profile_kind is not ChargingProfileKindType.RECURRING or not isinstance(kind, str):
        return None
    return RECURRENCE_S[RecurrencyKindType(kind)]


def _starts(profile: ChargingProfile, t0: float, t1: float, tx_start: float | None) -> list[float]:
    """The instants the schedule (re)starts that matter for [t0, t1)."""
    schedule = profile.charging_schedule
    kind = profile.charging_profile_kind
    if kind is ChargingProfileKindType.RELATIVE:
        return [] if tx_start is None else [tx_start]
    start = epoch(schedule.start_schedule)
    if start is None:
        return []  # SC-3: refused at install; never reached
    period = recurrence(profile)
    if period is None:
        return [start]
    first = math.floor((t0 - start) / period)
    last = math.floor((t1 - start) / period)
    return [start + k * period for k in range(first, last + 1)]


def profile_limit(profile: ChargingProfile, t: float, tx_start: float | None, volts: float) -> Limit | None:
    """The limit the profile sets at ``t``, or None where it says nothing (not valid, not started, past
    its duration, or a Relative profile without a transaction) — SC-6, SC-8."""
    valid_from, valid_to = epoch(profile.valid_from), epoch(profile.valid_to)
    if (valid_from is not None and t < valid_from) or (valid_to is not None and t >= valid_to):
        return None
    starts = [s for s in _starts(profile, t, t, tx_start) if s <= t]
    if not starts:
        return None
    offset = t - max(starts)
    schedule = profile.charging_schedule
    duration = schedule.duration if isinstance(schedule.duration, int) else None
    if duration is not None and offset >= duration:
        return None
    period_s = recurrence(profile)
    if period_s is not None and offset >= period_s:
        return None
    current = None
    for period in schedule.charging_schedule_period:
        if period.start_period <= offset and (current is None or period.start_period >= current.start_period):
            current = period
    if current is None:
        return None
    phases = current.number_phases if isinstance(current.number_phases, int) else DEFAULT_PHASES
    unit = schedule.charging_rate_unit
    minimum = schedule.min_charging_rate
    return Limit(
        amps=to_amps(current.limit, unit, phases, volts),
        phases=phases,
        min_amps=to_amps(minimum, unit, phases, volts) if isinstance(minimum, float | int) else None,
    )


def profile_edges(profile: ChargingProfile, t0: float, t1: float, tx_start: float | None) -> set[float]:
    """Every instant in (t0, t1) at which the profile's value may change."""
    edges = {e for e in (epoch(profile.valid_from), epoch(profile.valid_to)) if e is not None}
    schedule = profile.charging_schedule
    period_s = recurrence(profile)
    for start in _starts(profile, t0, t1, tx_start):
        edges.update(start + p.start_period for p in schedule.charging_schedule_period)
        edges.add(start)
        if isinstance(schedule.duration, int):
            edges.add(start + schedule.duration)
        if period_s is not None:
            edges.add(start + period_s)
    return {e for e in edges if t0 < e < t1}


def stacked(profiles: Iterable[ChargingProfile], t: float, tx_start: float | None, volts: float) -> Limit | None:
    """SC-6: the highest stackLevel that says something at ``t`` prevails (the higher id on a tie, so
    the answer never depends on the order the profiles were installed in)."""
    ordered = sorted(profiles, key=lambda p: (p.stack_level, p.charging_profile_id), reverse=True)
    for profile in ordered:
        limit = profile_limit(profile, t, tx_start, volts)
        if limit is not None:
            return limit
    return None


def _of(installed: Sequence[Installed], purpose: Purpose, connector_id: int) -> list[ChargingProfile]:
    return [i.profile for i in installed
            if i.profile.charging_profile_purpose is purpose and i.connector_id == connector_id]  # fmt: skip


def _tighter(a: Limit | None, b: Limit | None) -> Limit | None:
    if a is None:
        return b
    if b is None:
        return a
    # Per phase the lower current, on the fewer phases: never above either limit, per phase or in total.
    winner = a if a.amps <= b.amps else b
    return Limit(winner.amps, min(a.phases, b.phases), winner.min_amps)


def own_limit(installed: Sequence[Installed], situation: Situation, connector_id: int, t: float) -> Limit:
    """A connector's limit from its own profiles (SC-7): its TxProfile while a transaction runs, else its
    TxDefaultProfile (a connector-specific set replaces the connector-0 set, SC-5); never above the
    hardware. The ChargePointMaxProfile is applied by the caller."""
    tx_start = situation.tx_start.get(connector_id)
    limit = None
    if tx_start is not None:
        limit = stacked(_of(installed, Purpose.TX_PROFILE, connector_id), t, tx_start, situation.volts)
    if limit is None:
        defaults = _of(installed, Purpose.TX_DEFAULT_PROFILE, connector_id) or _of(
            installed, Purpose.TX_DEFAULT_PROFILE, 0
        )
        limit = stacked(defaults, t, tx_start, situation.volts)
    hardware = Limit(situation.max_amps, limit.phases if limit else DEFAULT_PHASES)
    return _tighter(limit, hardware) or hardware


def station_max(installed: Sequence[Installed], situation: Situation, t: float) -> Limit | None:
    """The ChargePointMaxProfile at ``t`` (None: no cap). Relative ones count from now (no transaction)."""
    return stacked(_of(installed, Purpose.CHARGE_POINT_MAX_PROFILE, 0), t, t, situation.volts)


def limit_at(installed: Sequence[Installed], situation: Situation, connector_id: int, t: float) -> Limit:
    """The composite limit at ``t`` (CS-2): for a connector, min(own, ChargePointMax); for connector 0,
    the total the station may draw: the sum of every connector's own limit, capped by ChargePointMax
    (CS-4), expressed on 3 phases."""
    cap = station_max(installed, situation, t)
    if connector_id > 0:
        own = own_limit(installed, situation, connector_id, t)
        return _tighter(own, cap) or own
    volts = situation.volts
    total_w = sum(own_limit(installed, situation, c, t).watts(volts) for c in range(1, situation.connectors + 1))
    if cap is not None:
        total_w = min(total_w, cap.watts(volts))
    return Limit(total_w / (volts * DEFAULT_PHASES), DEFAULT_PHASES)


def edges(installed: Sequence[Installed], situation: Situation, t0: float, t1: float) -> list[float]:
    """Every instant in (t0, t1) at which some composite may change, in order."""
    found: set[float] = set()
    for i in installed:
        # A connector-0 TxDefaultProfile runs on every connector, a Relative one from each one's own
        # transaction start: its edges are those of every connector's (found by the property test).
        tx_starts = [situation.tx_start.get(i.connector_id)]
        if i.connector_id == 0:
            tx_starts += [situation.tx_start.get(c) for c in range(1, situation.connectors + 1)]
        for tx_start in set(tx_starts):
            found |= profile_edges(i.profile, t0, t1, tx_start)
    return sorted(found)


def round_down(value: float) -> float:
    """One fractional digit (the schema's multipleOf 0.1), never above the exact value."""
    return math.floor(value * 10 + 1e-6) / 10


def composite(
    installed: Sequence[Installed],
    situation: Situation,
    connector_id: int,
    t0: float,
    duration: int,
    unit: Unit,
) -> list[Period]:
    """CS-1, CS-2: the schedule from ``t0`` for ``duration`` seconds in ``unit``, equal neighbours merged.
    Period starts are whole seconds after ``t0`` (an edge inside a second starts the next one, so the
    value a period shows held for all of it)."""
    t1 = t0 + duration
    starts = [t0, *edges(installed, situation, t0, t1)]
    periods: list[Period] = []
    for at in starts:
        offset = math.ceil(at - t0 - 1e-9)
        if offset >= duration and periods:
            break
        # The value over [offset, next): the tightest the second may see, so nothing is ever above.
        limit = limit_at(installed, situation, connector_id, t0 + offset)
        value = round_down(from_amps(limit.amps, unit, limit.phases, situation.volts))
        if periods and periods[-1].start == offset:
            value = min(value, periods[-1].limit)
            periods.pop()
        if periods and periods[-1].limit == value and periods[-1].phases == limit.phases:
            continue
        periods.append(Period(offset, value, limit.phases))
    return periods


def offered_amps(
    installed: Sequence[Installed], situation: Situation, t: float
) -> dict[int, tuple[float, float | None]]:
    """What each charging connector may be offered at ``t`` (amps per phase) and its minChargingRate:
    its own limit, and the ChargePointMaxProfile shared equally among the connectors charging (SC-7)."""
    charging = sorted(situation.tx_start)
    cap = station_max(installed, situation, t)
    result: dict[int, tuple[float, float | None]] = {}
    for connector_id in charging:
        own = own_limit(installed, situation, connector_id, t)
        amps = own.amps
        if cap is not None:
            share_w = cap.watts(situation.volts) / len(charging)
            amps = min(amps, share_w / (situation.volts * own.phases))
        result[connector_id] = (amps, own.min_amps)
    return result
