"""The Store: its connections, the group commit, and opening a data dir safely.

A file store holds two connections to ``<data-dir>/station.sqlite`` (WAL, ``synchronous=FULL``):
the event loop's, for reads and rare writes that commit at once (a configuration change), and the
writer's, used by ``Store.write`` alone, in its own thread. The writer **group-commits**: writes
that arrive while a commit is under way join the next one, and each caller resumes only after the
commit holding its write has returned (one fsync costs about a loopback round trip).

Opening refuses what would otherwise fail later with a traceback, or quietly lose the journal: a
file that is not a store, corrupt, truncated, empty or read-only, a schema newer than this code,
and a data dir another chargebox is using. Each is one ``ConfigError`` line naming the path.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import sqlite3
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import IO, Any, Final, TypeVar

from chargebox.errors import ConfigError
from chargebox.store.auth import AuthCacheTable
from chargebox.store.certificates import CertificatesTable
from chargebox.store.charging_profiles import ChargingProfilesTable
from chargebox.store.config import ConfigTable, StateTable
from chargebox.store.connectors import ConnectorsTable
from chargebox.store.jobs import DiagnosticsJobTable, FirmwareJobTable
from chargebox.store.keys import PrivateKeysTable
from chargebox.store.local_list import LocalListTable
from chargebox.store.outbox import DeadLettersTable, OutboxTable
from chargebox.store.reservations import ReservationsTable
from chargebox.store.schema import FILE_NAME, migrate
from chargebox.store.security_log import LogJobTable, SecurityLogTable, SignedFirmwareJobTable
from chargebox.store.table import Op
from chargebox.store.transactions import TransactionsTable

T = TypeVar("T")

LOCK_NAME: Final = "lock"
# What a write that fails raises (a full disk, a file gone read-only): the layers above catch it by this name, so
# that only store/ imports sqlite3.
StoreError = sqlite3.Error


class StoreBackend:
    """The file (or in-memory database) behind one or many stations' stores: its connections, the
    writer thread and the group commit. A fleet opens one and gives each station a view
    (``backend.station(id)``): every station's write joins the same group commit, so one fsync
    serves the whole fleet, and the data dir's lock covers every station in the file.
    """

    def __init__(
        self, db: sqlite3.Connection, writer: sqlite3.Connection | None = None, *, lock: IO[bytes] | None = None
    ) -> None:
        self._db = db
        self._writer_db = writer
        self._lock = lock
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="chargebox-store") if writer else None
        self._batch: list[tuple[Op, asyncio.Future[Any]]] = []
        self._committing = False
        self._committer: asyncio.Future[None] | None = None
        self.commits = 0

    @classmethod
    def open(cls, data_dir: Path | None) -> StoreBackend:
        """Open (or create) the data dir's store file and hold its lock until ``close``.

        Raises:
            ConfigError: the data dir or its store is unusable, or another chargebox is using it.
        """
        if data_dir is None:
            # Small pages and no statement cache keep an in-memory store small (measured by bench/).
            db = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False, cached_statements=0)
            db.execute("PRAGMA page_size=512")
            migrate(db)
            return cls(db)
        lock = _lock(data_dir)
        try:
            db, writer = _open_file(data_dir / FILE_NAME)
        except BaseException:
            lock.close()
            raise
        return cls(db, writer, lock=lock)

    def station(self, station: str) -> Store:
        """The view of one station's rows; closing it leaves the backend open (the fleet closes that)."""
        return Store(self, station, owner=False)

    def close(self) -> None:
        """Finish the writer, close the connections, and release the data dir's lock last, so the next process
        finds it free."""
        if self._executor is not None:
            self._executor.shutdown(wait=True)
        if self._writer_db is not None:
            self._writer_db.close()
        self._db.close()
        if self._lock is not None:  # last: the next chargebox finds every connection closed
            self._lock.close()
            self._lock = None

    async def idle(self) -> None:
        """Wait until every write handed to ``write`` is committed (tests, shutdown)."""
        while self._committer is not None and not self._committer.done():
            await asyncio.shield(self._committer)

    async def write(self, op: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``op`` inside the next group commit; return once that commit is durable."""
        if self._executor is None:  # in memory: nothing to wait for
            with self.transaction() as db:
                self.commits += 1
                return op(db)
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._batch.append((op, future))
        if not self._committing:
            self._committing = True
            self._committer = asyncio.ensure_future(self._commit_batches())
        return await future

    async def _commit_batches(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._batch:
                batch, self._batch = self._batch, []
                assert self._executor is not None
                results = await loop.run_in_executor(self._executor, self._commit, [op for op, _ in batch])
                self.commits += 1
                for (_, future), (ok, value) in zip(batch, results, strict=True):
                    if future.done():
                        continue
                    if ok:
                        future.set_result(value)
                    else:
                        future.set_exception(value)
        finally:
            self._committing = False

    def _commit(self, ops: list[Op]) -> list[tuple[bool, Any]]:
        """One transaction for the batch; each op in its own savepoint so one failure spoils no other."""
        db = self._writer_db
        assert db is not None
        results: list[tuple[bool, Any]] = []
        db.execute("BEGIN IMMEDIATE")
        try:
            for op in ops:
                db.execute("SAVEPOINT op")
                try:
                    results.append((True, op(db)))
                except Exception as exc:
                    db.execute("ROLLBACK TO op")
                    results.append((False, exc))
                db.execute("RELEASE op")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        return results

    @property
    def version(self) -> int:
        """The last migration applied (``PRAGMA user_version``): a store newer than this chargebox is refused."""
        return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic, durable write: committed (and fsynced) when the block ends."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def query(self, sql: str, args: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
        """Rows as tuples, for the few readers that need no column names (tests, the schema check)."""
        return self._db.execute(sql, args).fetchall()

    def rows(self, sql: str, args: tuple[object, ...] = ()) -> list[sqlite3.Row]:
        """Like ``query``, but each row is read by column name, so a column added later shifts nothing."""
        cursor = self._db.cursor()
        cursor.row_factory = sqlite3.Row
        return cursor.execute(sql, args).fetchall()


class Store:
    """One station's persistent state: a light view of a ``StoreBackend`` reading and writing the rows
    of ``station`` only. ``Store.open(data_dir)`` is a single station's store (station ``''``, the
    backend its own); ``Store.open(None)`` keeps it in memory (tests)."""

    def __init__(self, backend: StoreBackend, station: str = "", *, owner: bool = True) -> None:
        self.backend = backend
        self.station = station  # the rows of which station this store reads and writes (see ``Table``)
        self._owner = owner
        self.config = ConfigTable(self)
        self.state = StateTable(self)
        self.connectors = ConnectorsTable(self)
        self.auth_cache = AuthCacheTable(self)
        self.outbox = OutboxTable(self)
        self.dead_letters = DeadLettersTable(self)
        self.transactions = TransactionsTable(self)
        self.firmware = FirmwareJobTable(self)
        self.diagnostics = DiagnosticsJobTable(self)
        self.certificates = CertificatesTable(self)
        self.local_list = LocalListTable(self)
        self.reservations = ReservationsTable(self)
        self.security_log = SecurityLogTable(self)
        self.log_job = LogJobTable(self)
        self.signed_firmware = SignedFirmwareJobTable(self)
        self.private_keys = PrivateKeysTable(self)
        self.charging_profiles = ChargingProfilesTable(self)

    @classmethod
    def open(cls, data_dir: Path | None) -> Store:
        """Open (or create) the data dir's store and hold its lock until ``close``.

        Raises:
            ConfigError: the data dir or its store is unusable, or another chargebox is using it.
        """
        return cls(StoreBackend.open(data_dir))

    def close(self) -> None:
        """Close the backend if this store owns it; a fleet's station leaves the shared one open."""
        if self._owner:
            self.backend.close()

    @property
    def commits(self) -> int:
        """Group commits the backend made so far: the bench and tests measure how many writes share an fsync."""
        return self.backend.commits

    @property
    def version(self) -> int:
        """The backend's schema version (a fleet's stations share one)."""
        return self.backend.version

    async def idle(self) -> None:
        """Wait until every write handed to the backend is durable (tests, shutdown)."""
        await self.backend.idle()

    async def write(self, op: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``op`` in the backend's next group commit: durable when it returns, off the event loop."""
        return await self.backend.write(op)

    def transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        """One commit made at once on the calling thread, for rare small writes that the caller waits on."""
        return self.backend.transaction()

    def query(self, sql: str, args: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
        """The backend's ``query``."""
        return self.backend.query(sql, args)

    def rows(self, sql: str, args: tuple[object, ...] = ()) -> list[sqlite3.Row]:
        """The backend's ``rows``: every table reads by column name."""
        return self.backend.rows(sql, args)


def _lock(data_dir: Path) -> IO[bytes]:
    """Create the data dir if need be and lock it for this process: two stations on one journal
    would each send, and delete, the other's queued messages. The lock goes with the open file,
    so even a SIGKILL leaves no stale lock behind."""
    try:
        data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)  # it holds the AuthorizationKey
    except OSError as exc:
        raise ConfigError(f"cannot create data dir {data_dir}: {exc.strerror or exc}") from exc
    if not os.access(data_dir, os.R_OK | os.W_OK | os.X_OK):
        raise ConfigError(f"data dir {data_dir} is read-only: chargebox writes its store and journal there")
    try:
        lock = (data_dir / LOCK_NAME).open("ab")
    except OSError as exc:
        raise ConfigError(f"cannot open {data_dir / LOCK_NAME}: {exc.strerror or exc}") from exc
    try:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError as exc:
        lock.close()
        raise ConfigError(f"data dir {data_dir} is in use by another chargebox process") from exc
    except OSError as exc:
        lock.close()
        raise ConfigError(f"cannot lock {data_dir / LOCK_NAME}: {exc.strerror or exc}") from exc
    return lock


def _open_file(path: Path) -> tuple[sqlite3.Connection, sqlite3.Connection]:
    """The event loop's and the writer's connections to a checked, migrated store file."""
    if not path.exists():
        _create(path)
    if path.exists():
        if path.stat().st_size == 0:
            # SQLite would take it for a new store: the station would boot as a new one and forget
            # its transactions, queue and configuration without a word.
            raise ConfigError(f"{path} is empty (0 bytes), so it was damaged; move it away to start as a new station")
        if not os.access(path, os.R_OK | os.W_OK):
            raise ConfigError(f"{path} is read-only: chargebox must write to its store")
    opened: list[sqlite3.Connection] = []
    try:
        for _ in range(2):
            opened.append(sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30))
            opened[-1].execute("PRAGMA journal_mode=WAL")
            opened[-1].execute("PRAGMA synchronous=FULL")
        db, writer = opened
        _check(path, db)
        migrate(db)
    except BaseException as exc:
        for connection in opened:
            connection.close()
        if isinstance(exc, sqlite3.Error):
            raise ConfigError(f"{path}: {_problem(exc)}") from exc
        raise
    return db, writer


def _create(path: Path) -> None:
    """A new store appears whole or not at all: it is made and migrated under another name, then
    renamed. A power cut during a station's very first start then leaves no store (it is made again),
    never an empty or half-made one, so an empty store file can only mean damage."""
    new = path.with_name(path.name + ".new")
    for stale in (new, new.with_name(new.name + "-journal")):
        stale.unlink(missing_ok=True)  # what a cut first start left
    try:
        db = sqlite3.connect(new, isolation_level=None)
        try:
            migrate(db)
        finally:
            db.close()
    except sqlite3.Error as exc:
        new.unlink(missing_ok=True)
        raise ConfigError(f"{path}: cannot create the store: {_problem(exc)}") from exc
    with new.open("rb+") as file:
        os.fsync(file.fileno())
    os.replace(new, path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)  # the rename itself survives a power cut
    finally:
        os.close(directory)


def _check(path: Path, db: sqlite3.Connection) -> None:
    """Find damage now, not when a later read reaches the damaged page in the middle of a session."""
    result = str(db.execute("PRAGMA quick_check(1)").fetchone()[0])
    if result != "ok":
        found = " ".join(line for line in result.splitlines() if not line.startswith("***"))  # one line
        raise ConfigError(f"{path}: the store is corrupt ({found}); {_MOVE_AWAY}")


_MOVE_AWAY: Final = "restore it from a backup, or move it away to start as a new station"
_PROBLEMS: Final = {
    "SQLITE_NOTADB": f"not a chargebox store (corrupt, or some other file); {_MOVE_AWAY}",
    "SQLITE_CORRUPT": f"the store is corrupt or truncated; {_MOVE_AWAY}",
    "SQLITE_READONLY": "cannot write to the store or its journal (-wal, -shm): check their owner and mode",
    "SQLITE_CANTOPEN": "cannot open the store or its journal (-wal, -shm): check their owner and mode",
    "SQLITE_PERM": "cannot write to the store or its journal (-wal, -shm): check their owner and mode",
}


def _problem(exc: sqlite3.Error) -> str:
    """What is wrong, in the operator's words; SQLite's own words follow in brackets."""
    name = getattr(exc, "sqlite_errorname", None) or ""  # absent when chargebox raised it (migrate)
    primary = "_".join(name.split("_")[:2])  # SQLITE_READONLY_DBMOVED -> SQLITE_READONLY
    problem = _PROBLEMS.get(primary)
    return f"{problem} ({exc})" if problem else str(exc)
