"""Store faults (issue 16, items 2 and 16): a write the disk refuses waits and is tried again until the disk takes it;
it is never lost, never raised at the writer, and never kills the group commit.

A full disk is this process's own RLIMIT_FSIZE, lowered to 1 byte around the writes (every write to a file then
fails with EFBIG: Python ignores SIGXFSZ); an immutable store file is ``chattr +i``, in a child process, since
without the fix the mapped ``-shm`` makes that SIGBUS.
"""

from __future__ import annotations

import asyncio
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from chargebox.clock import VirtualClock
from chargebox.errors import StoreError
from chargebox.store import FILE_NAME, Op, StoreBackend, StoreFault
from chargebox.store.core import FIRST_RETRY_S

WAIT = 10.0  # a bound on the writer thread, never a sleep


@contextmanager
def disk_full() -> Iterator[None]:
    """No room on the disk for this process while the block runs."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (1, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))


def insert(value: int) -> Op:
    return lambda db: db.execute("INSERT INTO config (station, key, value) VALUES ('', ?, '')", (f"K{value}",))


async def a_fault(backend: StoreBackend) -> StoreFault:
    """Once the writer thread's attempt has failed."""

    async def poll() -> StoreFault:
        while backend.fault is None:
            await asyncio.sleep(0.01)
        return backend.fault

    return await asyncio.wait_for(poll(), WAIT)


def keys(backend: StoreBackend) -> list[str]:
    return [str(row[0]) for row in backend.query("SELECT key FROM config WHERE key LIKE 'K%' ORDER BY key")]


@pytest.fixture
def backend(tmp_path: Path, clock: VirtualClock) -> Iterator[StoreBackend]:
    backend = StoreBackend.open(tmp_path, clock=clock)
    yield backend
    backend.close()


async def test_2_a_write_the_disk_refuses_waits_and_is_committed_once_the_disk_has_room(
    backend: StoreBackend, clock: VirtualClock
) -> None:
    heard: list[StoreFault | None] = []
    backend.watchers.append(heard.append)
    with disk_full():
        first = asyncio.ensure_future(backend.write(insert(1)))
        fault = await a_fault(backend)
    assert fault.code.startswith(("SQLITE_IOERR", "SQLITE_FULL")), fault
    second = asyncio.ensure_future(backend.write(insert(2)))  # joins the batch that waits for its next try
    await asyncio.sleep(0)
    assert (first.done(), second.done(), keys(backend), backend.waiting) == (False, False, [], 2)
    await clock.advance(FIRST_RETRY_S)  # the next try finds room
    await asyncio.wait_for(asyncio.gather(first, second), WAIT)
    assert keys(backend) == ["K1", "K2"]
    assert backend.fault is None and heard == [fault, None]


async def test_2_a_store_fault_is_logged_when_it_begins_and_when_it_ends(
    backend: StoreBackend, clock: VirtualClock, caplog: pytest.LogCaptureFixture
) -> None:
    with disk_full():
        writing = asyncio.ensure_future(backend.write(insert(1)))
        await a_fault(backend)
    await clock.advance(FIRST_RETRY_S)
    await asyncio.wait_for(writing, WAIT)
    lines = [(r.levelname, r.getMessage()) for r in caplog.records if r.name == "chargebox.store.core"]
    assert [level for level, _ in lines] == ["ERROR", "WARNING"], lines
    assert "writes fail: the disk" in lines[0][1] and "writes waiting: 1," in lines[0][1]
    assert "writes succeed again" in lines[1][1]


async def test_2_an_op_that_fails_by_itself_fails_alone_while_the_disk_is_fine(backend: StoreBackend) -> None:
    duplicate = asyncio.ensure_future(backend.write(insert(1)))
    again = asyncio.ensure_future(backend.write(insert(1)))  # the same key: a constraint, not the disk
    await duplicate
    with pytest.raises(sqlite3.IntegrityError):
        await again
    assert backend.fault is None and keys(backend) == ["K1"]


async def test_2_a_write_made_at_once_raises_store_error_and_keeps_nothing(backend: StoreBackend) -> None:
    with disk_full(), pytest.raises(StoreError, match="the disk"), backend.transaction() as db:
        insert(1)(db)
    assert keys(backend) == []
    with backend.transaction() as db:  # the connection is usable again
        insert(2)(db)
    assert keys(backend) == ["K2"]


async def test_2_close_gives_up_on_the_writes_the_disk_refuses_in_one_line(
    tmp_path: Path, clock: VirtualClock, caplog: pytest.LogCaptureFixture
) -> None:
    backend = StoreBackend.open(tmp_path, clock=clock)
    with disk_full():
        writing = asyncio.ensure_future(backend.write(insert(1)))
        await a_fault(backend)
    backend.close()  # before the next try
    with pytest.raises(asyncio.CancelledError):
        await writing
    [line] = [r.getMessage() for r in caplog.records if "not persisted" in r.getMessage()]
    assert f"{tmp_path / FILE_NAME} closed; writes not persisted: 1 (the disk" in line
    reopened = StoreBackend.open(tmp_path)
    assert keys(reopened) == []
    reopened.close()


# A store in use whose files are made immutable: the write after that is a fault, then goes through once they are
# writable again. Without unix-excl SQLite maps -shm into memory, and that process dies of SIGBUS.
IMMUTABLE = """
import asyncio, subprocess, sys
from pathlib import Path
from chargebox.store import FILE_NAME, StoreBackend

async def main(data_dir: Path) -> None:
    backend = StoreBackend.open(data_dir)
    sql = "INSERT INTO config (station, key, value) VALUES ('', ?, '')"
    add = lambda key: backend.write(lambda db: db.execute(sql, (key,)))
    await add("before")
    files = [str(path) for path in data_dir.glob(FILE_NAME + "*")]
    subprocess.run(["chattr", "+i", *files], check=True)
    try:
        writing = asyncio.ensure_future(add("during"))
        while backend.fault is None:
            await asyncio.sleep(0.01)
        before = backend.query("SELECT COUNT(*) FROM config WHERE key = 'before'")[0][0]  # reads go on
        print("fault", backend.fault.code, before, flush=True)
    finally:
        subprocess.run(["chattr", "-i", *files], check=True)
    await asyncio.wait_for(writing, 10)
    print("committed", backend.query("SELECT COUNT(*) FROM config WHERE key = 'during'")[0][0], flush=True)
    backend.close()

asyncio.run(main(Path(sys.argv[1])))
"""


def can_make_immutable(tmp_path: Path) -> bool:
    probe = tmp_path / "probe"
    probe.write_text("")
    chattr = shutil.which("chattr")
    if chattr is None or subprocess.run([chattr, "+i", str(probe)], capture_output=True).returncode != 0:
        return False
    subprocess.run([chattr, "-i", str(probe)], check=True)
    return True


def test_16_a_store_made_immutable_while_in_use_is_a_store_fault_not_sigbus(tmp_path: Path) -> None:
    if not can_make_immutable(tmp_path):
        pytest.skip("chattr +i needs CAP_LINUX_IMMUTABLE and a file system with the immutable flag")
    child = subprocess.run(
        [sys.executable, "-c", IMMUTABLE, str(tmp_path / "station")], capture_output=True, text=True, timeout=60
    )
    assert child.returncode != -signal.SIGBUS, "SIGBUS: SQLite wrote to a mapped -shm of an immutable file"
    assert (child.returncode, child.stdout.split()) == (0, ["fault", "SQLITE_IOERR_WRITE", "1", "committed", "1"]), (
        child.stderr[-2000:]
    )
