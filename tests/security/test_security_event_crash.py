"""A security event journaled while offline survives a SIGKILL of a real ``chargebox simulate`` and reaches the
central system exactly once (Q-8, T-45, B-10). The central system is the ``ocpp`` library's.

Each start of the station is a StartupOfTheDevice event (critical). Life 1 runs with no central system listening:
its event waits in the outbox, and the process is killed. Life 2 finds a central system: it delivers the event of
life 1 and its own. Life 2 is killed in turn once the outbox is empty, and life 3 adds only its own event: nothing
was delivered twice.
"""

from __future__ import annotations

import contextlib
import sqlite3
import subprocess
from pathlib import Path

from tests.crash.conftest import running_copy
from tests.firmware.conftest import FirmwareCsms
from tests.loopback import StationLives, free_port, until
from tests.security.conftest import SecurityCsms

EVENT = "SecurityEventNotification"


def outbox(data_dir: Path, process: subprocess.Popen[bytes]) -> int:
    """Security events waiting in the station's outbox (in a copy: the running station's file is locked)."""
    if not (data_dir / "station.sqlite").exists():
        return -1
    path = running_copy(data_dir, process.pid, data_dir.with_name("copy"))
    try:
        with contextlib.closing(sqlite3.connect(path)) as db:
            return int(db.execute("SELECT COUNT(*) FROM outbox WHERE action = ?", (EVENT,)).fetchone()[0])
    except sqlite3.OperationalError:  # the first migration is not committed yet
        return -1


START = 60.0  # a process start on a loaded machine (2 cores, many test runs) may take this long: a bound, not a sleep


def simulate(lives: StationLives, port: int) -> subprocess.Popen[bytes]:
    return lives.start(f"ws://127.0.0.1:{port}", "CP-SEC")


def startups(csms: FirmwareCsms) -> list[str]:
    return [str(f.payload["timestamp"]) for f in csms.frames.calls(EVENT) if f.payload["type"] == "StartupOfTheDevice"]


async def test_Q_8_an_event_queued_offline_survives_sigkill_and_is_delivered_once(lives: StationLives) -> None:
    data_dir, port = lives.data_dir, free_port()
    first = simulate(lives, port)  # nobody listens on the port: offline
    await until(lambda: outbox(data_dir, first) == 1, timeout=START, poll=0.02)
    await lives.kill(first)
    csms = SecurityCsms()
    await csms.start(port)
    try:
        second = simulate(lives, port)
        await until(lambda: len(startups(csms)) >= 2, timeout=START, poll=0.02)
        await until(lambda: outbox(data_dir, second) == 0, timeout=START, poll=0.02)
        await lives.kill(second)
        third = simulate(lives, port)
        await until(lambda: len(startups(csms)) >= 3, timeout=START, poll=0.02)
        await until(lambda: outbox(data_dir, third) == 0, timeout=START, poll=0.02)
        await lives.kill(third)
        stamps = startups(csms)
        assert len(stamps) == 3 and len(set(stamps)) == 3, stamps  # each life's event once, none twice
        assert stamps == sorted(stamps)  # life 1's event first: it was journaled first
    finally:
        await csms.stop()
