"""The meter port as the services read it: a meter that cannot be read never stops a transaction.

A reading that fails (``HardwareError`` from the port) is logged once and told to the watchers (1.6's
connectors report it as a StatusNotification whose errorCode is PowerMeterFailure, the status itself
staying), and told again when the meter answers. Until then the last good register value stands in
for it, so meterStop and the MeterValues of the transaction stay monotonic (X-15) and billing goes
on from what was last known.

Clock-aligned sampling (1.6's ClockAlignedDataInterval, 2.0.1's AlignedDataCtrlr.Interval and TxEndedInterval) and
the thinning of the values a transaction's last message carries (1.6's StopTransactionMaxMeterValues, 2.0.1's Ended
event) are the same for both versions: ``clock_aligned`` and ``thin``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Protocol, TypeVar

from chargebox import hal
from chargebox.clock import Clock, sleep_or_wake
from chargebox.errors import HardwareError
from chargebox.hal import Measurand, MeterValuesUnitOfMeasure
from chargebox.log import Log

FAILURE_INFO = "meter cannot be read"
T = TypeVar("T")


def next_aligned(now: datetime, interval: float) -> datetime:
    """The first multiple of ``interval`` seconds after midnight (UTC) that is later than ``now``."""
    midnight = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    elapsed = (now - midnight).total_seconds()
    return midnight + timedelta(seconds=(elapsed // interval + 1) * interval)


async def clock_aligned(
    clock: Clock, interval: Callable[[], int], changed: asyncio.Event, tick: Callable[[datetime], Awaitable[None]]
) -> None:
    """``tick(due)`` at every multiple of ``interval()`` seconds after midnight (UTC), for ever; an interval of 0
    or less: none. ``changed`` set (the interval was changed): the interval is read again at once."""
    while True:
        changed.clear()
        seconds = interval()
        if seconds <= 0:
            await changed.wait()
            continue
        now = clock.now()
        due = next_aligned(now, seconds)
        if not await sleep_or_wake(clock, (due - now).total_seconds(), changed):
            continue
        await tick(due)


def thin(values: list[T], limit: int) -> list[T]:
    """At most ``limit`` (2 at least) of ``values``: while there are more, every other intermediate value goes (the
    first of them, the third, ...), never the first value (the start's) or the last (the end's)."""
    limit = max(limit, 2)
    while len(values) > limit:
        values = [values[0], *values[1:-1][1::2], values[-1]]
    return values


class MeterWatcher(Protocol):
    """Told when a connector's meter stops answering (``info`` says so) and when it answers again."""

    def meter_failed(self, connector_id: int, info: str) -> None: ...

    def meter_answers(self, connector_id: int) -> None: ...


class GuardedMeter:
    """``hal.EnergyMeter`` with the last good register kept per connector."""

    def __init__(
        self,
        meter: hal.EnergyMeter,
        *,
        registers: Mapping[int, int],
        log: Log,
    ) -> None:
        """``registers`` are the last persisted register values (what to use before the first reading)."""
        self._meter = meter
        self._log = log
        self.watchers: list[MeterWatcher] = []
        self._last: dict[int, int] = dict(registers)
        self._failing: set[int] = set()

    def measurands(self) -> frozenset[str]:
        return self._meter.measurands()

    def energy_wh(self, connector_id: int) -> int:
        try:
            value = self._meter.energy_wh(connector_id)
        except HardwareError as exc:
            self._failed(connector_id, exc)
            return self._last.get(connector_id, 0)
        self._good(connector_id, value)
        return self._last[connector_id]

    def read(self, connector_id: int) -> list[hal.Reading]:
        """Every reading, or only the last good register while the meter fails."""
        try:
            readings = self._meter.read(connector_id)
        except HardwareError as exc:
            self._failed(connector_id, exc)
            register = self._last.get(connector_id, 0)
            return [hal.Reading(Measurand.ENERGY_ACTIVE_IMPORT_REGISTER, register, MeterValuesUnitOfMeasure.WH)]
        for reading in readings:
            if reading.measurand is Measurand.ENERGY_ACTIVE_IMPORT_REGISTER and reading.phase is None:
                self._good(connector_id, int(reading.value))
        return readings

    def failing(self, connector_id: int) -> bool:
        return connector_id in self._failing

    def _good(self, connector_id: int, value: int) -> None:
        self._last[connector_id] = max(value, self._last.get(connector_id, 0))  # never backwards
        if connector_id in self._failing:
            self._failing.discard(connector_id)
            self._log.info("= connector %d: the meter answers again", connector_id)
            for watcher in self.watchers:
                watcher.meter_answers(connector_id)

    def _failed(self, connector_id: int, exc: HardwareError) -> None:
        if connector_id in self._failing:
            return
        self._failing.add(connector_id)
        self._log.error("! connector %d: %s (%s); using the last register, %d Wh", connector_id, FAILURE_INFO, exc,
                        self._last.get(connector_id, 0))  # fmt: skip
        for watcher in self.watchers:
            watcher.meter_failed(connector_id, FAILURE_INFO)
