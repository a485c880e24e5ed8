"""Real parts on this machine that the tests share: WebSocket servers on 127.0.0.1, ``chargebox simulate``
processes killed as a power cut kills them, free ports, and bounded polls (never a fixed sleep)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Protocol, TypeVar

from websockets.asyncio.server import Server, ServerConnection, serve

CLI: Final = [sys.executable, "-m", "chargebox.cli"]
WAIT: Final = 10.0  # the longest an expected event of a real process or server may take: a poll timeout


async def until(condition: Callable[[], object], *, timeout: float = WAIT, poll: float = 0.01) -> None:
    """Poll ``condition`` until it holds; TimeoutError after ``timeout``."""

    async def check() -> None:
        while not condition():
            await asyncio.sleep(poll)

    await asyncio.wait_for(check(), timeout)


def free_port() -> int:
    """A port nothing listens on now (for a server a test starts later, or a central system that is not there)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LoopbackServer:
    """A websockets server on 127.0.0.1: ``listen`` (port 0: any free one), ``url``, ``stop``."""

    port: int = 0
    _server: Server | None = field(default=None, repr=False)

    async def listen(self, handler: Callable[[ServerConnection], Awaitable[None]], port: int, **options: Any) -> int:
        self._server = await serve(handler, "127.0.0.1", port, ping_interval=None, **options)
        self.port = int(next(iter(self._server.sockets)).getsockname()[1])
        return self.port

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"


class Startable(Protocol):
    async def start(self, port: int = 0) -> Any: ...
    async def stop(self) -> None: ...


S = TypeVar("S", bound=Startable)


@contextlib.asynccontextmanager
async def running(server: S, port: int = 0) -> AsyncIterator[S]:
    """``server`` listening on ``port`` (0: any free one) for the block, and stopped after it."""
    await server.start(port)
    try:
        yield server
    finally:
        await server.stop()


class Runnable(Protocol):
    async def run(self) -> None: ...
    async def stop(self) -> None: ...


R = TypeVar("R", bound=Runnable)


@contextlib.asynccontextmanager
async def run_until_stopped(station: R) -> AsyncIterator[R]:
    """``station.run()`` (a ``Simulator``'s, a ``Station``'s) as a task for the block; stopped cleanly after it."""
    task = asyncio.ensure_future(station.run())
    try:
        yield station
    finally:
        await station.stop()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


class StationLives:
    """The lives of one station: ``chargebox simulate`` processes started one after the other on the same data dir
    (``<tmp>/station``), each logging to its own file, and ended the way a power cut ends them (``kill``)."""

    def __init__(self, tmp_path: Path) -> None:
        self.data_dir = tmp_path / "station"
        self.processes: list[subprocess.Popen[bytes]] = []
        self._logs = tmp_path

    def start(self, csms_url: str, charge_point_id: str, *options: str) -> subprocess.Popen[bytes]:
        """One more life, with one connector and these further options."""
        with (self._logs / f"simulate-{len(self.processes)}.log").open("wb") as log:
            process = subprocess.Popen(
                [*CLI, "simulate", "--csms", csms_url, "--id", charge_point_id, "--data-dir", str(self.data_dir),
                 "--connectors", "1", *options],
                stdout=log,
                stderr=subprocess.STDOUT,
            )  # fmt: skip
        self.processes.append(process)
        return process

    async def kill(self, process: subprocess.Popen[bytes]) -> None:
        """The power goes: SIGKILL, no clean-up of any kind."""
        os.kill(process.pid, signal.SIGKILL)
        await asyncio.to_thread(process.wait, WAIT)

    def close(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
            process.wait(WAIT)
