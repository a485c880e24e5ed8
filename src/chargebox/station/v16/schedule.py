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
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

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
    return profile_time.timestamp() if isinstance(profile_time, datetime) else None


def recurrence(profile: ChargingProfile) -> float | None:
    """A Recurring profile's period in seconds (Daily 24 h, Weekly 7 days); None for the other kinds."""
    kind = profile.recurrency_kind
    if profile.charging_profile_kind is not ChargingProfileKindType.RECURRING or not isinstance(kind, str):
        return None
    return RECURRENCE_S[kind]


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
    return _first(_by_stack(profiles), lambda profile: profile_limit(profile, t, tx_start, volts))


def _by_stack(profiles: Iterable[ChargingProfile]) -> tuple[ChargingProfile, ...]:
    """The order SC-6 consults profiles in: highest stackLevel first, the higher id on a tie."""
    return tuple(sorted(profiles, key=lambda p: (p.stack_level, p.charging_profile_id), reverse=True))


def _first(ordered: Iterable[ChargingProfile], value: Callable[[ChargingProfile], Limit | None]) -> Limit | None:
    for profile in ordered:
        limit = value(profile)
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


@dataclass(frozen=True, slots=True)
class _Own:
    """What a connector's own limit depends on (SC-7): its TxProfiles while a transaction runs, the
    TxDefaultProfiles that apply to it (its own set, else connector 0's, SC-5), each in stack order, and its
    transaction's start. Connectors with the same ``key`` have the same limit at every instant."""

    tx: tuple[ChargingProfile, ...]
    defaults: tuple[ChargingProfile, ...]
    tx_start: float | None

    @classmethod
    def of(cls, installed: Sequence[Installed], situation: Situation, connector_id: int) -> _Own:
        tx_start = situation.tx_start.get(connector_id)
        tx = _by_stack(_of(installed, Purpose.TX_PROFILE, connector_id)) if tx_start is not None else ()
        defaults = _of(installed, Purpose.TX_DEFAULT_PROFILE, connector_id) or _of(
            installed, Purpose.TX_DEFAULT_PROFILE, 0
        )
        return cls(tx, _by_stack(defaults), tx_start)

    @property
    def key(self) -> tuple[object, ...]:
        # The start matters only where a TxProfile is consulted or a profile counts from it (Relative).
        counts = self.tx or any(p.charging_profile_kind is ChargingProfileKindType.RELATIVE for p in self.defaults)
        return tuple(map(id, self.tx)), tuple(map(id, self.defaults)), self.tx_start if counts else None

    def limit(self, max_amps: float, value: Callable[[ChargingProfile], Limit | None]) -> Limit:
        """The limit, never above the hardware; ``value`` gives a profile's limit at the instant (from this
        transaction's start)."""
        limit = self.profiled(value)
        hardware = Limit(max_amps, limit.phases if limit else DEFAULT_PHASES)
        return _tighter(limit, hardware) or hardware

    def profiled(self, value: Callable[[ChargingProfile], Limit | None]) -> Limit | None:
        """What its profiles say at the instant (SC-7: the TxProfile while a transaction runs, else the
        TxDefaultProfile); None where none says anything."""
        limit = _first(self.tx, value) if self.tx_start is not None else None
        return limit if limit is not None else _first(self.defaults, value)


def own_limit(installed: Sequence[Installed], situation: Situation, connector_id: int, t: float) -> Limit:
    """A connector's limit from its own profiles (SC-7): its TxProfile while a transaction runs, else its
    TxDefaultProfile (a connector-specific set replaces the connector-0 set, SC-5); never above the
    hardware. The ChargePointMaxProfile is applied by the caller."""
    return _own_at(_Own.of(installed, situation, connector_id), situation, t)


def _own_at(own: _Own, situation: Situation, t: float) -> Limit:
    return own.limit(situation.max_amps, lambda profile: profile_limit(profile, t, own.tx_start, situation.volts))


def station_max(installed: Sequence[Installed], situation: Situation, t: float) -> Limit | None:
    """The ChargePointMaxProfile at ``t`` (None: no cap). Relative ones count from now (no transaction)."""
    return stacked(_of(installed, Purpose.CHARGE_POINT_MAX_PROFILE, 0), t, t, situation.volts)


def governed(installed: Sequence[Installed], situation: Situation, connector_id: int, t: float) -> bool:
    """Whether some profile sets the connector's limit at ``t``: its own (SC-7) or the ChargePointMaxProfile.
    Where none does, the hardware alone governs (``limit_at`` answers its maximum)."""
    if station_max(installed, situation, t) is not None:
        return True
    own = _Own.of(installed, situation, connector_id)
    return own.profiled(lambda profile: profile_limit(profile, t, own.tx_start, situation.volts)) is not None


def limit_at(installed: Sequence[Installed], situation: Situation, connector_id: int, t: float) -> Limit:
    """The composite limit at ``t`` (CS-2): for a connector, min(own, ChargePointMax); for connector 0,
    the total the station may draw: the sum of every connector's own limit, capped by ChargePointMax
    (CS-4), expressed on 3 phases."""
    cap = station_max(installed, situation, t)
    if connector_id > 0:
        own = own_limit(installed, situation, connector_id, t)
        return _tighter(own, cap) or own
    watts = [_own_at(own, situation, t).watts(situation.volts) * count for own, count in _alike(installed, situation)]
    return _total(watts, cap, situation.volts)


def _alike(installed: Sequence[Installed], situation: Situation) -> list[tuple[_Own, int]]:
    """Connectors 1..N grouped by what their own limit depends on, each group with its size, in the order of its
    first connector: connector 0's total computed once per group, not once per connector."""
    groups: dict[tuple[object, ...], tuple[_Own, int]] = {}
    for connector_id in range(1, situation.connectors + 1):
        own = _Own.of(installed, situation, connector_id)
        first, count = groups.get(own.key, (own, 0))
        groups[own.key] = (first, count + 1)
    return list(groups.values())


def _total(watts: list[float], cap: Limit | None, volts: float) -> Limit:
    """Connector 0's limit: the watts of the connectors' own limits (a group's times its size) summed, capped."""
    total_w = sum(watts)
    if cap is not None:
        total_w = min(total_w, cap.watts(volts))
    return Limit(total_w / (volts * DEFAULT_PHASES), DEFAULT_PHASES)


def edges(installed: Sequence[Installed], situation: Situation, t0: float, t1: float) -> list[float]:
    """Every instant in (t0, t1) at which some composite may change, in order."""
    found: set[float] = set()
    for i in installed:
        # A connector-0 TxDefaultProfile runs on every connector, a Relative one from each one's own
        # transaction start: its edges are those of every connector's (found by the property test).
        tx_starts = {situation.tx_start.get(i.connector_id)}
        if i.connector_id == 0 and i.profile.charging_profile_kind is ChargingProfileKindType.RELATIVE:
            tx_starts |= {situation.tx_start.get(c) for c in range(1, situation.connectors + 1)}
        for tx_start in tx_starts:
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
    value a period shows held for all of it). Each period's value is ``limit_at`` its start, found with a
    bounded amount of work (``_Sampler``)."""
    periods: list[Period] = []
    for offset, limit in _Sampler(installed, situation, t0, duration).limits(connector_id):
        value = round_down(from_amps(limit.amps, unit, limit.phases, situation.volts))
        if periods and periods[-1].limit == value and periods[-1].phases == limit.phases:
            continue
        periods.append(Period(offset, value, limit.phases))
    return periods


# A profile's value at an instant, as the sampler keys it: the profile, the transaction start it counts from
# (None where that does not matter: it is not Relative), and whether it counts from the instant itself (a
# ChargePointMaxProfile, which has no transaction).
_Source = tuple[int, float | None, bool]


class _Sampler:
    """``limit_at`` over a window, at every whole second where it may change, for a bounded amount of work.

    GetCompositeSchedule of connector 0 on a station of 128 connectors with 16 Daily profiles of 24 periods
    evaluated the profiles of every connector at every edge of the 31 days: 1.5 million profile evaluations, 14 s
    of a blocked event loop. Here each profile is evaluated only at the whole seconds where its own value
    may change (``profile_edges``) and its value is carried between them; connectors whose own limit is alike
    (``_alike``) are one group; at each second only the groups whose profiles changed are computed again. The
    work is then the profiles' own edges in the window (at most ``ChargingScheduleMaxPeriods`` + 3 per
    recurrence and per transaction start), plus, per second where something changes, the groups it touches."""

    def __init__(self, installed: Sequence[Installed], situation: Situation, t0: float, duration: int) -> None:
        self._installed = installed
        self._situation = situation
        self._t0 = t0
        self._duration = duration

    def limits(self, connector_id: int) -> Iterator[tuple[int, Limit]]:
        """(offset, ``limit_at(t0 + offset)``) at offset 0 and at each later offset where it may change."""
        installed, situation = self._installed, self._situation
        owns = _alike(installed, situation) if connector_id == 0 else [(_Own.of(installed, situation, connector_id), 1)]
        caps = _by_stack(_of(installed, Purpose.CHARGE_POINT_MAX_PROFILE, 0))
        sources: dict[_Source, list[int]] = {}  # what each source's value is needed for: the groups (-1: the cap)
        profiles: dict[int, ChargingProfile] = {}
        for group, (own, _count) in enumerate(owns):
            for profile in (*own.tx, *own.defaults):
                profiles[id(profile)] = profile
                sources.setdefault(_source(profile, own.tx_start), []).append(group)
        for profile in caps:
            profiles[id(profile)] = profile
            sources.setdefault((id(profile), None, True), []).append(-1)
        changes: dict[int, list[tuple[_Source, Limit | None]]] = {0: []}
        for source in sources:
            profile = profiles[source[0]]
            for offset, limit in self._samples(profile, source):
                changes.setdefault(offset, []).append((source, limit))
        values: dict[_Source, Limit | None] = {}
        hardware = Limit(situation.max_amps, DEFAULT_PHASES)
        limits = [hardware] * len(owns)
        watts = [hardware.watts(situation.volts) * count for _own, count in owns]
        cap: Limit | None = None
        for offset in sorted(changes):
            dirty: set[int] = set()
            for source, limit in changes[offset]:
                values[source] = limit
                dirty.update(sources[source])
            for group in dirty - {-1}:
                own, count = owns[group]
                limits[group] = own.limit(situation.max_amps, _carried(values, own.tx_start))
                watts[group] = limits[group].watts(situation.volts) * count
            if -1 in dirty:
                cap = _first(caps, lambda p: values[(id(p), None, True)])
            if connector_id > 0:
                yield offset, _tighter(limits[0], cap) or limits[0]
            else:
                yield offset, _total(watts, cap, situation.volts)

    def _samples(self, profile: ChargingProfile, source: _Source) -> Iterator[tuple[int, Limit | None]]:
        """The profile's value at offset 0 and at each whole second after an instant where it may change."""
        _, tx_start, from_now = source
        t0, volts = self._t0, self._situation.volts
        offsets = {math.ceil(e - t0 - 1e-9) for e in profile_edges(profile, t0, t0 + self._duration, tx_start)}
        for offset in sorted({0} | {o for o in offsets if o < self._duration}):
            t = t0 + offset
            yield offset, profile_limit(profile, t, t if from_now else tx_start, volts)


def _carried(
    values: Mapping[_Source, Limit | None], tx_start: float | None
) -> Callable[[ChargingProfile], Limit | None]:
    """A profile's value as last sampled, for a connector whose transaction started at ``tx_start``."""
    return lambda profile: values[_source(profile, tx_start)]


def _source(profile: ChargingProfile, tx_start: float | None) -> _Source:
    relative = profile.charging_profile_kind is ChargingProfileKindType.RELATIVE
    return (id(profile), tx_start if relative else None, False)


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
