"""The Heartbeat's timing, the same in both versions (1.6 B-7, 2.0.1 G02): a Heartbeat after the interval
without any other CALL of the station, counted from the connection's start at the earliest (after a reconnect the
queue goes first, Q-5). Each version's boot service runs it for the connection with its own interval and send."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from chargebox.clock import Clock, sleep_or_wake
from chargebox.rpc import Rpc


async def keep_alive(
    *,
    clock: Clock,
    rpc: Rpc[Any],
    interval: Callable[[], int],
    changed: asyncio.Event,
    send: Callable[[], Awaitable[object]],
) -> None:
    """Run for one connection: ``interval()`` seconds (0 or less: no Heartbeats until ``changed`` is set), the
    last CALL from ``rpc.last_sent_at``, ``send()`` the Heartbeat; ``changed`` wakes it when the interval changes."""
    connected_at = clock.monotonic()
    while True:
        changed.clear()
        seconds = interval()
        if seconds <= 0:
            await changed.wait()
            continue
        due = max(rpc.last_sent_at, connected_at) + seconds
        delay = due - clock.monotonic()
        if delay > 0:
            await sleep_or_wake(clock, delay, changed)
            continue
        await send()
        if rpc.last_sent_at + seconds <= clock.monotonic():
            # Not sent (offline, or no answer): try again after a full interval.
            await sleep_or_wake(clock, seconds, changed)
