"""The virtual clock that lets tests run hours of protocol time in milliseconds."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from chargebox.clock import Event, VirtualClock, sleep_or_wake, sleep_until


async def test_sleepers_wake_in_order_when_time_advances() -> None:
    clock = VirtualClock()
    woke: list[int] = []

    async def sleeper(n: int) -> None:
        await clock.sleep(n)
        woke.append(n)

    tasks = [asyncio.ensure_future(sleeper(n)) for n in (3, 1, 2)]
    await clock.advance(2.5)
    assert woke == [1, 2]
    await clock.advance(1)
    assert woke == [1, 2, 3]
    await asyncio.gather(*tasks)


async def test_set_time_moves_the_wall_clock_but_not_timers() -> None:
    clock = VirtualClock()
    fired: list[float] = []
    clock.call_later(10, lambda: fired.append(clock.monotonic()))
    clock.set_time(datetime(2031, 5, 1, tzinfo=UTC))
    await clock.advance(10)
    assert fired == [10] and clock.now() == datetime(2031, 5, 1, 0, 0, 10, tzinfo=UTC)


async def test_sleep_until_wall_time() -> None:
    clock = VirtualClock(start=datetime(2026, 1, 1, tzinfo=UTC))
    task = asyncio.ensure_future(sleep_until(clock, datetime(2026, 1, 1, 0, 1, tzinfo=UTC)))
    await clock.advance(59)
    assert not task.done()
    await clock.advance(1)
    assert task.done()


async def test_sleep_or_wake_returns_early_on_the_event() -> None:
    clock = VirtualClock()
    wake = asyncio.Event()
    task = asyncio.ensure_future(sleep_or_wake(clock, 100, wake))
    await clock.advance(1)
    wake.set()
    await clock.advance(0)
    assert task.result() is False
    assert clock.pending() == 0


async def test_sleep_or_wake_returns_true_once_the_delay_passed() -> None:
    clock = VirtualClock()
    task = asyncio.ensure_future(sleep_or_wake(clock, 5, asyncio.Event()))
    await clock.advance(4.9)
    assert not task.done()
    await clock.advance(0.1)
    await asyncio.sleep(0)
    assert task.result() is True
    assert clock.pending() == 0


async def test_sleep_or_wake_cancelled_from_outside_is_cancelled() -> None:
    """It ends its wait by cancelling itself: a cancel of its caller's is not taken for the delay passing."""
    clock = VirtualClock()
    task = asyncio.ensure_future(sleep_or_wake(clock, 5, asyncio.Event()))
    await asyncio.sleep(0)
    task.cancel()
    await clock.advance(5)
    await asyncio.gather(task, return_exceptions=True)
    assert task.cancelled()
    assert clock.pending() == 0


async def test_event_wakes_every_waiter_and_holds_no_queue_until_awaited() -> None:
    event = Event()
    assert not event.is_set()
    event.set()  # set and cleared before anyone waits: still no queue of its own
    event.clear()
    assert len(event._waiters) == 0 and event._waiters.maxlen == 0
    waiters = [asyncio.ensure_future(event.wait()) for _ in range(3)]
    await asyncio.sleep(0)
    assert len(event._waiters) == 3
    event.set()
    assert await asyncio.gather(*waiters) == [True, True, True]
    assert await event.wait() is True  # already set: no wait
    event.clear()
    late = asyncio.ensure_future(event.wait())
    await asyncio.sleep(0)
    assert not late.done()
    event.set()
    assert await late is True


async def test_event_wakes_sleep_or_wake() -> None:
    clock = VirtualClock()
    wake = Event()
    task = asyncio.ensure_future(sleep_or_wake(clock, 100, wake))
    await asyncio.sleep(0)
    wake.set()
    assert await task is False
