"""The background tasks of one service: tracked, so that ``reset()`` and shutdown can cancel them,
and with their failures logged instead of lost (STYLE: a service tracks every task it starts).
A task that must keep running (a sampler, a delivery loop) is ``supervise``d: if it fails, the
failure is logged with its traceback and the task starts again after a pause. A ``HardwareError`` is a part that
is missing or broken, not a bug: its one line says what, without a traceback."""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Awaitable, Callable
from typing import Any, Final

from chargebox.clock import Clock
from chargebox.errors import HardwareError
from chargebox.log import Log

FIRST_PAUSE: Final = 1.0  # seconds before a failed supervised task starts again; doubled while it keeps failing
LAST_PAUSE: Final = 60.0


class Tasks:
    def __init__(self, log: Log, what: str) -> None:
        self._log = log
        self._what = what
        # A dict as an ordered set: an empty one is 64 bytes, an empty set 216, and a station holds ~15 Tasks
        self._running: dict[asyncio.Future[Any], None] = {}

    def spawn(self, coro: Awaitable[Any]) -> asyncio.Future[Any]:
        task = asyncio.ensure_future(coro)
        self._running[task] = None
        task.add_done_callback(self._done)
        return task

    def supervise(self, run: Callable[[], Awaitable[None]], clock: Clock, what: str) -> asyncio.Future[Any]:
        """Run ``run()`` until it returns or is cancelled, starting it again whenever it fails."""

        async def supervisor() -> None:
            pause = FIRST_PAUSE
            while True:
                try:
                    await run()
                    return
                except HardwareError as exc:  # a driver's source is missing or broken: its message says which
                    self._log.warning("! %s failed: %s; starting it again in %ss", what, exc, pause)
                except Exception:
                    self._log.exception("! %s failed; starting it again in %ss", what, pause)
                await clock.sleep(pause)
                pause = min(pause * 2, LAST_PAUSE)

        return self.spawn(supervisor())

    def __bool__(self) -> bool:
        """Whether any of them still runs."""
        return bool(self._running)

    def cancel(self) -> None:
        for task in self._running:
            task.cancel()
        self._running.clear()

    def _done(self, task: asyncio.Future[Any]) -> None:
        self._running.pop(task, None)
        if not task.cancelled() and (exc := task.exception()) is not None:
            self._log.error("! %s failed", self._what, exc_info=exc)


def event_loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's event loop when it is installed (``pip install chargebox[fast]``), asyncio's otherwise: what every
    process of the ``chargebox`` command runs on (``fleet --processes`` starts several)."""
    try:
        uvloop = importlib.import_module("uvloop")
    except ImportError:
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory
