"""core.py: durability settings, and a bad data dir refused in one line at open (ConfigError)."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from chargebox.errors import ConfigError
from chargebox.store import FILE_NAME, LOCK_NAME, SCHEMA_VERSION, Store

# A second chargebox process, reduced to opening the store: the CLI prints a UserError's message alone.
OPEN = """
import sys, time
from pathlib import Path
from chargebox.errors import ConfigError
from chargebox.store import Store
try:
    store = Store.open(Path(sys.argv[1]))
except ConfigError as exc:
    sys.exit(str(exc))
print("opened", flush=True)
if sys.argv[2:] == ["hold"]:
    time.sleep(60)
store.close()
"""


def open_in_another_process(data_dir: Path, *, bound_by_file_modes: bool = False) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*_bound_by_file_modes(), sys.executable, "-c", OPEN, str(data_dir)] if bound_by_file_modes else
        [sys.executable, "-c", OPEN, str(data_dir)],
        capture_output=True,
        text=True,
        timeout=30,
    )  # fmt: skip


def _bound_by_file_modes() -> list[str]:
    """Root ignores file modes (CAP_DAC_OVERRIDE); the child drops that capability to see them."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: a read-only file is writable for this process")
    drop = "-dac_override,-dac_read_search"
    return [setpriv, f"--bounding-set={drop}", f"--inh-caps={drop}"]


def refusal(data_dir: Path) -> str:
    """The one line ``Store.open`` refuses with; the data dir is free again afterwards."""
    with pytest.raises(ConfigError) as raised:
        Store.open(data_dir)
    message = str(raised.value)
    assert "\n" not in message
    return message


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    """A data dir whose store exists, is closed, and holds a few rows (several pages)."""
    store = Store.open(tmp_path / "station")
    for i in range(300):
        store.config.save(f"Key{i}", "x" * 100)
    store.close()
    yield tmp_path / "station"
    for path in (tmp_path / "station", tmp_path / "station" / FILE_NAME):
        path.chmod(0o700)


def test_file_store_is_wal_with_full_sync(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    assert store.query("PRAGMA journal_mode")[0][0] == "wal"
    assert store.query("PRAGMA synchronous")[0][0] == 2  # FULL
    store.close()


def test_failed_write_leaves_nothing_behind(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    with pytest.raises(RuntimeError), store.transaction() as db:
        db.execute("INSERT INTO config (key, value) VALUES ('A', '1')")
        raise RuntimeError("power cut mid-write")
    assert store.config.load() == {}
    store.close()


def test_a_file_of_garbage_is_refused(data_dir: Path) -> None:
    (data_dir / FILE_NAME).write_bytes(bytes(range(256)) * 16)
    message = refusal(data_dir)
    assert message.startswith(f"{data_dir / FILE_NAME}: not a chargebox store")
    assert "move it away" in message


def test_damage_deep_inside_is_found_at_open_not_mid_session(data_dir: Path) -> None:
    path = data_dir / FILE_NAME
    content = path.read_bytes()
    path.write_bytes(content[:4096] + b"\x5a" * (len(content) - 4096))  # page 1 intact, every table page not
    assert refusal(data_dir).startswith(f"{path}: the store is corrupt")


def test_a_truncated_file_is_refused(data_dir: Path) -> None:
    path = data_dir / FILE_NAME
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    assert refusal(data_dir).startswith(f"{path}: the store is corrupt or truncated")


def test_a_zero_length_file_is_refused_not_taken_for_a_new_station(data_dir: Path) -> None:
    path = data_dir / FILE_NAME
    path.write_bytes(b"")
    assert refusal(data_dir) == f"{path} is empty (0 bytes), so it was damaged; move it away to start as a new station"
    path.unlink()
    Store.open(data_dir).close()  # the refusal left no lock behind


def test_a_first_start_cut_short_leaves_no_store_and_the_next_start_makes_one(tmp_path: Path) -> None:
    """A new store is made under another name and renamed once migrated: a power cut during a station's very
    first start leaves no store file (never an empty one, which would be refused) and the next start begins anew."""
    data_dir = tmp_path / "fresh"
    data_dir.mkdir()
    (data_dir / f"{FILE_NAME}.new").write_bytes(b"half-made by a first start the power cut")
    store = Store.open(data_dir)
    try:
        assert store.version == SCHEMA_VERSION
        assert not (data_dir / f"{FILE_NAME}.new").exists()
    finally:
        store.close()
    assert sorted(p.name for p in data_dir.iterdir() if p.name.startswith(FILE_NAME)) == [FILE_NAME]


def test_a_schema_newer_than_this_chargebox_is_refused(data_dir: Path) -> None:
    db = sqlite3.connect(data_dir / FILE_NAME)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    message = refusal(data_dir)
    assert message == (
        f"{data_dir / FILE_NAME}: schema version {SCHEMA_VERSION + 1} is newer than this chargebox ({SCHEMA_VERSION})"
    )


def test_a_read_only_store_file_is_refused(data_dir: Path) -> None:
    (data_dir / FILE_NAME).chmod(0o400)
    child = open_in_another_process(data_dir, bound_by_file_modes=True)
    assert (child.returncode, child.stderr.strip()) == (
        1,
        f"{data_dir / FILE_NAME} is read-only: chargebox must write to its store",
    )


def test_a_read_only_data_dir_is_refused(data_dir: Path) -> None:
    data_dir.chmod(0o500)
    child = open_in_another_process(data_dir, bound_by_file_modes=True)
    assert (child.returncode, child.stderr.strip()) == (
        1,
        f"data dir {data_dir} is read-only: chargebox writes its store and journal there",
    )


def test_a_data_dir_that_cannot_be_created_is_refused(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    message = refusal(tmp_path / "file" / "station")
    assert message.startswith(f"cannot create data dir {tmp_path / 'file' / 'station'}: ")


def test_a_second_process_on_the_same_data_dir_is_refused(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    child = open_in_another_process(tmp_path)
    assert (child.returncode, child.stderr.strip()) == (
        1,
        f"data dir {tmp_path} is in use by another chargebox process",
    )
    store.close()
    assert open_in_another_process(tmp_path).stdout == "opened\n"  # close released the lock


def test_a_second_store_in_the_same_process_is_refused(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    assert refusal(tmp_path) == f"data dir {tmp_path} is in use by another chargebox process"
    store.close()
    Store.open(tmp_path).close()


def test_a_killed_process_leaves_no_stale_lock(tmp_path: Path) -> None:
    child = subprocess.Popen([sys.executable, "-c", OPEN, str(tmp_path), "hold"], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline() == "opened\n"
        assert refusal(tmp_path) == f"data dir {tmp_path} is in use by another chargebox process"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
        child.stdout.close()  # type: ignore[union-attr]
    Store.open(tmp_path).close()


def test_close_twice_is_harmless(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    store.close()
    store.close()
    Store.open(tmp_path).close()


# -- issue 16: file modes (6) and the store file's own lock (17) -------------------------------------------------------


@pytest.fixture
def umask_022() -> Iterator[None]:
    """The usual umask, under which a file is created 0644 unless its creator says otherwise."""
    old = os.umask(0o022)
    yield
    os.umask(old)


def mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


async def test_6_every_store_file_is_private_in_a_data_dir_open_to_every_user(
    tmp_path: Path, umask_022: None, caplog: pytest.LogCaptureFixture
) -> None:
    data_dir = tmp_path / "station"
    data_dir.mkdir(mode=0o755)  # as systemd's StateDirectory= makes it without StateDirectoryMode
    store = Store.open(data_dir)
    await store.write(lambda db: db.execute("INSERT INTO config (station, key, value) VALUES ('', 'K', 'v')"))
    files = {path.name: mode(path) for path in data_dir.iterdir()}
    store.close()
    assert files == {FILE_NAME: 0o600, f"{FILE_NAME}-wal": 0o600, LOCK_NAME: 0o600}  # no -shm at all
    [warning] = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert f"data dir {data_dir} is open to other users (mode 0755)" in warning and "StateDirectoryMode=0700" in warning


def test_6_a_private_data_dir_is_not_warned_about(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    Store.open(tmp_path / "station").close()  # created 0700
    assert mode(tmp_path / "station") == 0o700
    assert not [r for r in caplog.records if r.levelname == "WARNING"]


def test_6_a_store_an_older_chargebox_left_readable_is_made_private_at_open(data_dir: Path, umask_022: None) -> None:
    for name in (FILE_NAME, f"{FILE_NAME}-wal", f"{FILE_NAME}-shm", LOCK_NAME):
        (data_dir / name).touch()
        (data_dir / name).chmod(0o644)
    Store.open(data_dir).close()
    assert {path.name: mode(path) for path in data_dir.iterdir() if path.exists()} == {
        FILE_NAME: 0o600, f"{FILE_NAME}-shm": 0o600, LOCK_NAME: 0o600,
    }  # fmt: skip


def test_17_removing_the_lock_file_lets_no_second_process_open_the_store(tmp_path: Path) -> None:
    child = subprocess.Popen([sys.executable, "-c", OPEN, str(tmp_path), "hold"], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline() == "opened\n"
        (tmp_path / LOCK_NAME).unlink()
        second = open_in_another_process(tmp_path)
        assert second.returncode == 1 and second.stderr.count("\n") == 1, second.stderr
        assert second.stderr.startswith(f"{tmp_path / FILE_NAME}: in use by another process"), second.stderr
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
        child.stdout.close()  # type: ignore[union-attr]
    Store.open(tmp_path).close()  # the lock went with the killed process


def test_17_a_program_reading_the_store_of_a_running_station_is_refused(tmp_path: Path) -> None:
    """Only a copy of a running station's store can be read (tests/crash/conftest.py ``running_copy``)."""
    store = Store.open(tmp_path)
    reader = subprocess.run(
        [sys.executable, "-c", f"import sqlite3; sqlite3.connect({str(tmp_path / FILE_NAME)!r}, timeout=0)"
         ".execute('SELECT COUNT(*) FROM config').fetchall()"],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    store.close()
    assert "database is locked" in reader.stderr
