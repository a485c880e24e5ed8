"""The background tasks of one service: tracked, so that ``reset()`` and shutdown can cancel them,
and with their failures logged instead of lost (STYLE: a service tracks every task it starts)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import Any


class Tasks:
    def __init__(self, log: logging.LoggerAdapter[logging.Logger] | logging.Logger, what: str) -> None:
        self._log = log
        self._what = what
        self._running: set[asyncio.Future[Any]] = set()

    def spawn(self, coro: Awaitable[Any]) -> asyncio.Future[Any]:
        task = asyncio.ensure_future(coro)
        self._running.add(task)
        task.add_done_callback(self._done)
        return task

    def __bool__(self) -> bool:
        """Whether any of them still runs."""
        return bool(self._running)

    def cancel(self) -> None:
        for task in self._running:
            task.cancel()
        self._running.clear()

    def _done(self, task: asyncio.Future[Any]) -> None:
        self._running.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            self._log.error("! %s failed", self._what, exc_info=exc)
