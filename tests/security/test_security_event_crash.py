"""A security event journaled while offline survives a SIGKILL of a real ``chargebox simulate`` and reaches the
central system exactly once (Q-8, T-45, B-10). The central system is the ``ocpp`` library's.

Each start of the station is a StartupOfTheDevice event (critical). Life 1 runs with no central system listening:
its event waits in the outbox, and the process is killed. Life 2 finds a central system: it delivers the event of
life 1 and its own. Life 2 is killed in turn once the outbox is empty, and life 3 adds only its own event: nothing
was delivered twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from tests.firmware.conftest import WAIT, FirmwareCsms
from tests.security.conftest import SecurityCsms

EVENT = "SecurityEventNotification"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def outbox(data_dir: Path) -> int:
    """Security events waiting in the station's outbox (read-only, beside the running station)."""
    path = data_dir / "station.sqlite"
    if not path.exists():
        return -1
    try:
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
            return int(db.execute("SELECT COUNT(*) FROM outbox WHERE action = ?", (EVENT,)).fetchone()[0])
    except sqlite3.OperationalError:  # the first migration is not committed yet
        return -1


START = 60.0  # a process start on a loaded machine (2 cores, many test runs) may take this long: a bound, not a sleep


async def until(condition: Callable[[], object]) -> None:
    async def poll() -> None:
        while not condition():
            await asyncio.sleep(0.02)

    await asyncio.wait_for(poll(), START)


@pytest.fixture
async def spawn(tmp_path: Path) -> AsyncIterator[Callable[[int], subprocess.Popen[bytes]]]:
    processes: list[subprocess.Popen[bytes]] = []

    def start(port: int) -> subprocess.Popen[bytes]:
        log = (tmp_path / f"simulate-{len(processes)}.log").open("wb")
        process = subprocess.Popen(
            [sys.executable, "-m", "chargebox.cli", "simulate", "--csms", f"ws://127.0.0.1:{port}", "--id", "CP-SEC",
             "--data-dir", str(tmp_path / "station"), "--connectors", "1"],
            stdout=log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        processes.append(process)
        return process

    yield start
    for process in processes:
        if process.poll() is None:
            process.kill()
        process.wait(WAIT)


async def kill(process: subprocess.Popen[bytes]) -> None:
    os.kill(process.pid, signal.SIGKILL)
    await asyncio.to_thread(process.wait, WAIT)


def startups(csms: FirmwareCsms) -> list[str]:
    return [str(f.payload["timestamp"]) for f in csms.frames.calls(EVENT) if f.payload["type"] == "StartupOfTheDevice"]


async def test_Q_8_an_event_queued_offline_survives_sigkill_and_is_delivered_once(
    spawn: Callable[[int], subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    data_dir, port = tmp_path / "station", free_port()
    first = spawn(port)  # nobody listens on the port: offline
    await until(lambda: outbox(data_dir) == 1)
    await kill(first)
    csms = SecurityCsms()
    await csms.listen(port)
    try:
        second = spawn(port)
        await until(lambda: len(startups(csms)) >= 2)
        await until(lambda: outbox(data_dir) == 0)
        await kill(second)
        third = spawn(port)
        await until(lambda: len(startups(csms)) >= 3)
        await until(lambda: outbox(data_dir) == 0)
        await kill(third)
        stamps = startups(csms)
        assert len(stamps) == 3 and len(set(stamps)) == 3, stamps  # each life's event once, none twice
        assert stamps == sorted(stamps)  # life 1's event first: it was journaled first
    finally:
        await csms.stop()
