"""Time, injected: every service reads and schedules time through a ``Clock``.

``SystemClock`` follows the event loop; ``VirtualClock`` stands still until a test moves it, so
hours of heartbeats, retries and waits run in milliseconds. The wall clock can be set from the
central system's ``currentTime`` (B-4, B-7) without disturbing the monotonic clock that timers use.

``TimeWindow`` says which wall-clock times a station believes (docs/reliability.md, "Time"): the station
sets its clock only to a time inside it, so no timestamp, deadline or delay computed from the clock can
overflow (a ``datetime`` ends with year 9999) or lie centuries away.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Literal, Protocol

# The earliest time this build believes: no later than the day it was built (nothing real predates it).
# A controller without a real-time clock starts in 1970, or at the time its image was made.
BUILD_DATE: Final = datetime(2026, 1, 1, tzinfo=UTC)
# How far a believed time may lie from the last one the station knew, either way: a charger's service life.
# A station switched off, or stored, for longer than that refuses the true time until its own clock is right.
MAX_STEP: Final = timedelta(days=3653)
# The latest time any station of this build believes, whatever a central system walks it to step by step: a
# century after the build, so a clock plus any 32-bit interval in seconds (68 years) stays far from year 9999.
LATEST: Final = BUILD_DATE + timedelta(days=36525)
# A wait for a wall-clock time reads the clock again at least this often (seconds): a time sync moves it too.
RECHECK: Final = 300.0


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """The wall-clock times a station believes: from ``earliest`` to ``latest``, both included."""

    earliest: datetime
    latest: datetime

    @classmethod
    def around(cls, last_known: datetime | None) -> TimeWindow:
        """``MAX_STEP`` either side of the last known time (the build date when none is known), never before
        ``BUILD_DATE`` nor after ``LATEST``."""
        reference = min(max(BUILD_DATE, aware(last_known or BUILD_DATE)), LATEST)
        return cls(max(BUILD_DATE, reference - MAX_STEP), min(reference + MAX_STEP, LATEST))

    def __contains__(self, moment: object) -> bool:
        return isinstance(moment, datetime) and self.earliest <= aware(moment) <= self.latest

    def __str__(self) -> str:
        return f"{self.earliest.isoformat()} to {self.latest.isoformat()}"


class TimerHandle(Protocol):
    def cancel(self) -> None: ...


class Clock(Protocol):
    """What services need of time."""

    def now(self) -> datetime:
        """Wall-clock time, timezone-aware UTC, as synchronised with the central system."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never jumps; all timers use it."""
        ...

    def set_time(self, now: datetime) -> None:
        """Set the wall clock (BootNotification / Heartbeat ``currentTime``)."""
        ...

    def call_later(self, delay: float, callback: Callable[[], object]) -> TimerHandle: ...

    async def sleep(self, delay: float) -> None: ...


async def sleep_until(clock: Clock, when: datetime, recheck: float = RECHECK) -> None:
    """Sleep until the wall clock reads ``when`` (F-2 retrieveDate and the like), reading it again at
    least every ``recheck`` seconds so that a time sync (B-4, B-7) moves the wake-up too."""
    while (delay := (when - clock.now()).total_seconds()) > 0:
        await clock.sleep(min(delay, recheck))


class SystemClock:
    """The real clock, driven by the running event loop."""

    def __init__(self) -> None:
        self._offset = timedelta(0)

    def now(self) -> datetime:
        return datetime.now(UTC) + self._offset

    def monotonic(self) -> float:
        return asyncio.get_running_loop().time()

    def set_time(self, now: datetime) -> None:
        self._offset = aware(now) - datetime.now(UTC)

    def call_later(self, delay: float, callback: Callable[[], object]) -> TimerHandle:
        return asyncio.get_running_loop().call_later(max(delay, 0.0), callback)

    async def sleep(self, delay: float) -> None:
        await asyncio.sleep(max(delay, 0.0))


class _VirtualTimer:
    __slots__ = ("callback", "cancelled", "when")

    def __init__(self, when: float, callback: Callable[[], object]) -> None:
        self.when = when
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class VirtualClock:
    """A clock that moves only when told to, for tests and fast-forward simulations.

    ``await clock.advance(s)`` walks through every timer due within ``s`` seconds in order,
    letting the event loop run the woken tasks between timers, as trio's MockClock does.
    """

    def __init__(self, start: datetime | None = None) -> None:
        self._mono = 0.0
        self._wall0 = aware(start) if start else datetime(2026, 1, 1, tzinfo=UTC)
        self._wall_offset = timedelta(0)
        self._timers: list[tuple[float, int, _VirtualTimer]] = []
        self._seq = itertools.count()

    def now(self) -> datetime:
        return self._wall0 + timedelta(seconds=self._mono) + self._wall_offset

    def monotonic(self) -> float:
        return self._mono

    def set_time(self, now: datetime) -> None:
        self._wall_offset += aware(now) - self.now()

    def call_later(self, delay: float, callback: Callable[[], object]) -> TimerHandle:
        timer = _VirtualTimer(self._mono + max(delay, 0.0), callback)
        heapq.heappush(self._timers, (timer.when, next(self._seq), timer))
        return timer

    async def sleep(self, delay: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def wake() -> None:
            if not future.done():
                future.set_result(None)

        handle = self.call_later(delay, wake)
        try:
            await future
        finally:
            handle.cancel()

    async def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds``, firing due timers in order."""
        target = self._mono + seconds
        await _settle()
        while self._timers and self._timers[0][0] <= target:
            when, _, timer = heapq.heappop(self._timers)
            if timer.cancelled:
                continue
            self._mono = max(self._mono, when)
            timer.callback()
            await _settle()
        self._mono = target
        await _settle()

    def pending(self) -> int:
        """How many live timers are waiting (for assertions in tests)."""
        return sum(1 for _, _, t in self._timers if not t.cancelled)


async def _settle(rounds: int = 100, quiet: int = 3) -> None:
    """Let ready tasks run until the loop is quiet for this instant: nothing else ready for ``quiet`` rounds
    in a row, or at most ``rounds`` rounds. Stopping early matters: ``advance`` settles after every timer,
    and a day of a station's one-second timers is some 86,400 of them. (asyncio's loop keeps what is ready
    in ``_ready``; a loop that does not, such as uvloop, gets every round.)"""
    ready = getattr(asyncio.get_running_loop(), "_ready", None)
    calm = 0
    for _ in range(rounds):
        await asyncio.sleep(0)
        calm = calm + 1 if ready is not None and not ready else 0
        if calm >= quiet:
            return


def aware(moment: datetime) -> datetime:
    """A time without a zone offset is read as UTC (G-3: UTC is what OCPP recommends)."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# The waiters of an Event nobody has awaited yet: shared, never appended to (a deque of length 0 drops anything).
_NO_WAITERS: Final[deque[asyncio.Future[Any]]] = deque(maxlen=0)


class Event(asyncio.Event):
    """An ``asyncio.Event`` whose queue of waiters is made at its first wait.

    An empty deque is ~600 bytes, and a station holds a dozen events (a boot answered, a lane emptied, a
    configuration changed) that nobody awaits while it idles: the memory of a fleet's idle stations (issue 20)."""

    def __init__(self) -> None:  # asyncio.Event's own, but for the deque
        self._value = False
        self._waiters = _NO_WAITERS

    async def wait(self) -> Literal[True]:
        if self._waiters is _NO_WAITERS:
            self._waiters = deque()
        return await super().wait()


async def sleep_or_wake(clock: Clock, delay: float, wake: asyncio.Event) -> bool:
    """Sleep ``delay`` seconds unless ``wake`` is set first; True if the full delay passed.

    Services use it where a configuration change must take effect at once (B-7, T-30).
    """
    if wake.is_set():
        return False
    # The wait is cut short by cancelling it from a timer, as asyncio.timeout does, rather than raced against a
    # sleep: two tasks and a set of them less per wait, and an idle station waits like this all the time (bench/).
    task = asyncio.current_task()
    assert task is not None
    cancelling = task.cancelling()
    expired = False

    def expire() -> None:
        nonlocal expired
        expired = True
        task.cancel()

    timer = clock.call_later(delay, expire)
    try:
        await wake.wait()
    except asyncio.CancelledError:
        if expired and task.uncancel() <= cancelling:  # our own cancel, and nobody else's: the delay passed
            return not wake.is_set()
        raise
    finally:
        timer.cancel()
    return False
