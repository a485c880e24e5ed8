"""The Store: its connections, the group commit, and opening a data dir safely.

A file store holds two connections to ``<data-dir>/station.sqlite`` (WAL, ``synchronous=FULL``):
the event loop's, for reads and rare writes that commit at once (a configuration change), and the
writer's, used by ``Store.write`` alone, in its own thread. The writer **group-commits**: writes
that arrive while a commit is under way join the next one, and each caller resumes only after the
commit holding its write has returned (one fsync costs about a loopback round trip).

A write the disk refuses (full, read-only, immutable, failing) is a **store fault**, never lost and
never raised at its caller: the batch is rolled back and tried again, every second at first, then
every 8 s, until the disk takes it, and its callers wait for that commit. ``StoreBackend.fault`` says
what is wrong meanwhile and ``watchers`` hear when a fault begins and ends (the station stops energy
and reports it). A write made at once (``transaction``) cannot wait: it raises ``StoreError``.

Opening refuses what would otherwise fail later with a traceback, or quietly lose the journal: a
file that is not a store, corrupt, truncated, empty or read-only, a schema newer than this code,
and a data dir or store file another process is using. Each is one ``ConfigError`` line naming the
path. SQLite's ``unix-excl`` VFS locks the store file itself for this process (removing
``data/lock`` lets no second process in) and keeps the WAL index in memory instead of a mapped
``-shm`` file, which a disk gone read-only or immutable would turn into SIGBUS. Every store file
is created 0600 whatever the umask: it holds the AuthorizationKey and the private keys.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import sqlite3
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Final, TypeVar

from chargebox.clock import Clock, SystemClock
from chargebox.errors import ConfigError, StoreError
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
FIRST_RETRY_S: Final = 1.0  # a batch the disk refused is tried again after this pause, doubled up to LAST_RETRY_S
LAST_RETRY_S: Final = 8.0
REMIND_S: Final = 60.0  # while the fault lasts, one reminder line a minute
PRIVATE: Final = 0o600  # every store file: it holds the AuthorizationKey and the private keys
_log = logging.getLogger(__name__)
_BatchItem = tuple[Op, "asyncio.Future[Any]"]


@dataclass(frozen=True, slots=True)
class StoreFault:
    """Why the store refuses writes: SQLite's error ``code`` (``SQLITE_FULL``, ``SQLITE_IOERR_WRITE``...),
    the operator's words (``problem``) and a line short enough for a StatusNotification's info (CiString50)."""

    code: str
    problem: str

    @property
    def info(self) -> str:
        return f"store write failed: {_SHORT.get(_primary(self.code), 'error')}"


# A watcher of the store's health: called with the fault when writes begin to fail, None when they succeed again.
Watcher = Callable[[StoreFault | None], None]


class StoreBackend:
    """The file (or in-memory database) behind one or many stations' stores: its connections, the
    writer thread and the group commit. A fleet opens one and gives each station a view
    (``backend.station(id)``): every station's write joins the same group commit, so one fsync
    serves the whole fleet, and the data dir's lock covers every station in the file.
    """

    def __init__(
        self,
        db: sqlite3.Connection,
        writer: sqlite3.Connection | None = None,
        *,
        lock: IO[bytes] | None = None,
        clock: Clock | None = None,
        path: Path | None = None,
    ) -> None:
        """``clock`` paces the retries of a batch the disk refused; ``path`` names the file in log lines."""
        self._db = db
        self._writer_db = writer
        self._lock = lock
        self._clock: Clock = clock or SystemClock()
        self.path = path
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="chargebox-store") if writer else None
        self._batch: list[_BatchItem] = []
        self._in_flight: list[_BatchItem] = []  # the batch the writer is committing now
        self._attempt: Future[list[tuple[bool, Any]]] | None = None
        self._committing = False
        self._committer: asyncio.Future[None] | None = None
        self.commits = 0
        self.fault: StoreFault | None = None  # set while the disk refuses the waiting writes
        self.watchers: list[Watcher] = []
        self._fault_since = self._reminded = 0.0

    @classmethod
    def open(cls, data_dir: Path | None, *, clock: Clock | None = None) -> StoreBackend:
        """Open (or create) the data dir's store file and hold its locks until ``close``.

        Raises:
            ConfigError: the data dir or its store is unusable, or another process is using it.
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
        return cls(db, writer, lock=lock, clock=clock, path=data_dir / FILE_NAME)

    def station(self, station: str) -> Store:
        """The view of one station's rows; closing it leaves the backend open (the fleet closes that)."""
        return Store(self, station, owner=False)

    def close(self) -> None:
        """Finish the writer and close the connections, releasing the data dir's lock last, so the next process
        finds it free. Writes the disk still refuses are given up on, said in one line, and their callers
        cancelled (a stop must not wait for a disk that may never take them)."""
        if self._committer is not None and not self._committer.done():
            self._committer.cancel()
        if self._executor is not None:
            self._executor.shutdown(wait=True)
        self._give_up()
        if self._writer_db is not None:
            self._writer_db.close()
        self._db.close()
        if self._lock is not None:  # last: the next chargebox finds every connection closed
            self._lock.close()
            self._lock = None

    def _give_up(self) -> None:
        attempt = self._attempt
        committed = attempt is not None and attempt.done() and not attempt.cancelled() and not attempt.exception()
        lost = [*([] if committed else self._in_flight), *self._batch]
        self._in_flight, self._batch = [], []
        if lost:
            why = self.fault.problem if self.fault is not None else "closed before they were committed"
            _log.error("! store %s closed; writes not persisted: %d (%s)", self.path, len(lost), why)
        for _, future in lost:
            if not future.done():
                future.cancel()

    async def idle(self) -> None:
        """Wait until every write handed to ``write`` is committed (tests, shutdown); during a store fault
        that is once the disk takes them."""
        while self._committer is not None and not self._committer.done():
            await asyncio.shield(self._committer)

    @property
    def immediate(self) -> bool:
        """Whether ``write`` commits on the spot (the in-memory store): awaiting it then never suspends."""
        return self._executor is None

    @property
    def waiting(self) -> int:
        """Writes handed to ``write`` and not committed yet."""
        return len(self._batch) + len(self._in_flight)

    async def write(self, op: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``op`` inside the next group commit; return once that commit is durable.

        During a store fault it returns once the disk has taken it, however long that is, so ``op`` may run
        more than once (each time in a transaction then rolled back): it must do nothing but SQL."""
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
        """Commit what waits, batch after batch; a batch the disk refuses goes back to the head of the queue
        and is tried again, with what arrived meanwhile, after a pause (the store fault)."""
        assert self._executor is not None
        pause = FIRST_RETRY_S
        try:
            while self._batch:
                batch, self._batch = self._batch, []
                self._in_flight = batch
                self._attempt = self._executor.submit(self._commit, [op for op, _ in batch])
                try:
                    results = await asyncio.wrap_future(self._attempt)
                except sqlite3.Error as exc:
                    self._in_flight, self._batch = [], [*batch, *self._batch]
                    self._failed(_fault(exc) or StoreFault(str(getattr(exc, "sqlite_errorname", "")), _problem(exc)))
                    await self._clock.sleep(pause)
                    pause = min(pause * 2, LAST_RETRY_S)
                    continue
                except Exception as exc:  # a bug in the commit itself: every caller hears of it, none waits
                    self._in_flight = []
                    _log.exception("! store %s: a commit failed", self.path)
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                self._in_flight = []
                self.commits += 1
                pause = FIRST_RETRY_S
                self._recovered()
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
        """One transaction for the batch; each op in its own savepoint so one failure spoils no other. A
        store fault, in an op or at COMMIT, rolls the whole batch back and is raised: the disk, not the op,
        is what failed."""
        db = self._writer_db
        assert db is not None
        results: list[tuple[bool, Any]] = []
        try:
            db.execute("BEGIN IMMEDIATE")
            for op in ops:
                db.execute("SAVEPOINT op")
                try:
                    results.append((True, op(db)))
                except Exception as exc:
                    if isinstance(exc, sqlite3.Error) and _fault(exc) is not None:
                        raise
                    db.execute("ROLLBACK TO op")
                    results.append((False, exc))
                db.execute("RELEASE op")
            db.execute("COMMIT")
        except BaseException:
            _roll_back(db)
            raise
        return results

    def _failed(self, fault: StoreFault) -> None:
        now = self._clock.monotonic()
        if self.fault is None:
            self._fault_since = self._reminded = now
            _log.error("! store %s: writes fail: %s; writes waiting: %d, tried again every %.0f to %.0f s "
                       "until the disk takes them", self.path, fault.problem, self.waiting, FIRST_RETRY_S,
                       LAST_RETRY_S)  # fmt: skip
            self._tell(fault)
        elif now - self._reminded >= REMIND_S:
            self._reminded = now
            _log.error("! store %s: writes still fail after %.0f s: %s; writes waiting: %d", self.path,
                       now - self._fault_since, fault.problem, self.waiting)  # fmt: skip
        self.fault = fault

    def _recovered(self) -> None:
        if self.fault is None:
            return
        _log.warning("= store %s: writes succeed again after %.0f s; the writes that waited are committed",
                     self.path, self._clock.monotonic() - self._fault_since)  # fmt: skip
        self._tell(None)

    def _tell(self, fault: StoreFault | None) -> None:
        self.fault = fault
        for watcher in list(self.watchers):
            try:
                watcher(fault)
            except Exception:  # one watcher's bug must not keep the others from hearing it
                _log.exception("! store %s: a watcher of its faults failed", self.path)

    @property
    def version(self) -> int:
        """The last migration applied (``PRAGMA user_version``): a store newer than this chargebox is refused."""
        return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic, durable write: committed (and fsynced) when the block ends.

        Raises:
            StoreError: the disk refused it (nothing of it was kept).
        """
        try:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                _roll_back(self._db)
                raise
            self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            fault = _fault(exc)
            if fault is None:
                raise
            _roll_back(self._db)
            raise StoreError(f"{self.path}: {fault.problem}") from exc

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
    def open(cls, data_dir: Path | None, *, clock: Clock | None = None) -> Store:
        """Open (or create) the data dir's store and hold its locks until ``close``; ``clock`` paces the
        retries of writes the disk refuses.

        Raises:
            ConfigError: the data dir or its store is unusable, or another process is using it.
        """
        return cls(StoreBackend.open(data_dir, clock=clock))

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

    @property
    def fault(self) -> StoreFault | None:
        """What keeps the waiting writes from the disk, or None (see ``StoreBackend.fault``)."""
        return self.backend.fault

    @property
    def immediate(self) -> bool:
        """Whether a write commits on the spot (see ``StoreBackend.immediate``)."""
        return self.backend.immediate

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
    so even a SIGKILL leaves no stale lock behind (the store file is locked too: ``_connect``)."""
    try:
        data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)  # it holds the AuthorizationKey
    except OSError as exc:
        raise ConfigError(f"cannot create data dir {data_dir}: {exc.strerror or exc}") from exc
    if not os.access(data_dir, os.R_OK | os.W_OK | os.X_OK):
        raise ConfigError(f"data dir {data_dir} is read-only: chargebox writes its store and journal there")
    mode = data_dir.stat().st_mode & 0o777
    if mode & 0o077:
        _log.warning("! data dir %s is open to other users (mode %04o): its store holds the AuthorizationKey and "
                     "private keys; make it 0700 (systemd: StateDirectoryMode=0700)", data_dir, mode)  # fmt: skip
    try:
        lock = os.fdopen(_private_file(data_dir / LOCK_NAME, os.O_WRONLY | os.O_APPEND), "ab")
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


def _private_file(path: Path, flags: int) -> int:
    """Open (or create) ``path`` readable by its owner alone, whatever the umask and whatever mode an older
    chargebox gave it."""
    fd = os.open(path, flags | os.O_CREAT, PRIVATE)
    try:
        if os.fstat(fd).st_mode & 0o077:
            os.fchmod(fd, PRIVATE)
    except OSError:
        os.close(fd)
        raise
    return fd


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
        _make_private(path)
    opened: list[sqlite3.Connection] = []
    try:
        # The first connection takes the store file's lock: without waiting, so a store in use is refused at once.
        for timeout in (0.0, 30.0):
            opened.append(_connect(path, timeout))
            opened[-1].execute("PRAGMA journal_mode=WAL")
            opened[-1].execute("PRAGMA synchronous=FULL")
        opened[0].execute("PRAGMA busy_timeout=30000")  # its own writes wait for the writer's commit
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


def _connect(path: Path, timeout: float) -> sqlite3.Connection:
    """A connection through SQLite's ``unix-excl`` VFS. Its first lock on the store file is held for this
    process until every connection closes: another process, a second chargebox started after ``data/lock``
    was removed or a program reading the file, gets SQLITE_BUSY. And the WAL index lives in this process's
    memory (shared by its connections), not in a ``-shm`` file mapped into memory: a write to that mapping
    after the disk went read-only or the file immutable is SIGBUS, which no handler survives; a write to
    the WAL is an error the group commit retries (a store fault)."""
    uri = f"{path.absolute().as_uri()}?vfs=unix-excl"
    return sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False, timeout=timeout)


def _make_private(path: Path) -> None:
    """A store made by an older chargebox (or copied in) may be readable by every user: 0600 from now on.
    SQLite gives the -wal it creates the mode of the store file."""
    for file in (path, *(path.with_name(path.name + suffix) for suffix in ("-wal", "-shm", "-journal"))):
        with contextlib.suppress(FileNotFoundError):
            if file.stat().st_mode & 0o077:
                os.chmod(file, PRIVATE)


def _create(path: Path) -> None:
    """A new store appears whole or not at all: it is made and migrated under another name, then
    renamed. A power cut during a station's very first start then leaves no store (it is made again),
    never an empty or half-made one, so an empty store file can only mean damage. It is 0600 from
    its first byte (SQLite gives its journal the same mode)."""
    new = path.with_name(path.name + ".new")
    for stale in (new, new.with_name(new.name + "-journal")):
        stale.unlink(missing_ok=True)  # what a cut first start left
    try:
        os.close(_private_file(new, os.O_WRONLY))
        db = sqlite3.connect(new, isolation_level=None)
        try:
            migrate(db)
        finally:
            db.close()
    except (sqlite3.Error, OSError) as exc:
        new.unlink(missing_ok=True)
        problem = _problem(exc) if isinstance(exc, sqlite3.Error) else exc.strerror or str(exc)
        raise ConfigError(f"{path}: cannot create the store: {problem}") from exc
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


def _roll_back(db: sqlite3.Connection) -> None:
    """After a failed statement or COMMIT: SQLite may have rolled the transaction back itself already."""
    if db.in_transaction:
        with contextlib.suppress(sqlite3.Error):
            db.execute("ROLLBACK")


_MOVE_AWAY: Final = "restore it from a backup, or move it away to start as a new station"
_CHECK_MODES: Final = "check their owner and mode"
_PROBLEMS: Final = {
    "SQLITE_NOTADB": f"not a chargebox store (corrupt, or some other file); {_MOVE_AWAY}",
    "SQLITE_CORRUPT": f"the store is corrupt or truncated; {_MOVE_AWAY}",
    "SQLITE_READONLY": f"cannot write to the store or its journal (-wal): {_CHECK_MODES}",
    "SQLITE_CANTOPEN": f"cannot open the store or its journal (-wal): {_CHECK_MODES}",
    "SQLITE_PERM": f"cannot write to the store or its journal (-wal): {_CHECK_MODES}",
    "SQLITE_BUSY": "in use by another process (another chargebox, or a program reading the store)",
    "SQLITE_LOCKED": "locked by another connection",
    "SQLITE_FULL": "the disk is full",
    "SQLITE_IOERR": "the disk refused a write or read (full, read-only, immutable, or failing)",
}
# The store faults (a write the disk refused, not a write that is wrong): the batch is tried again.
_SHORT: Final = {
    "SQLITE_FULL": "disk full",
    "SQLITE_IOERR": "disk I/O error",
    "SQLITE_READONLY": "read-only",
    "SQLITE_CANTOPEN": "cannot open",
    "SQLITE_PERM": "permission denied",
    "SQLITE_BUSY": "locked",
    "SQLITE_LOCKED": "locked",
    "SQLITE_CORRUPT": "corrupt",
    "SQLITE_NOTADB": "corrupt",
    "SQLITE_NOMEM": "out of memory",
}


def _primary(name: str) -> str:
    return "_".join(name.split("_")[:2])  # SQLITE_READONLY_DBMOVED -> SQLITE_READONLY


def _fault(exc: sqlite3.Error) -> StoreFault | None:
    """The store fault ``exc`` says, or None when it is the write's own error (a constraint, a bug)."""
    name = getattr(exc, "sqlite_errorname", None) or ""
    return StoreFault(name, _problem(exc)) if _primary(name) in _SHORT else None


def _problem(exc: sqlite3.Error) -> str:
    """What is wrong, in the operator's words; SQLite's own words follow in brackets."""
    name = getattr(exc, "sqlite_errorname", None) or ""  # absent when chargebox raised it (migrate)
    problem = _PROBLEMS.get(_primary(name))
    return f"{problem} ({exc})" if problem else str(exc)
