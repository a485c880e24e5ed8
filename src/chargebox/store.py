"""SQLite persistence: the only module that writes to disk.

One file per station (``<data-dir>/station.sqlite``) in WAL mode with ``synchronous=FULL``: a
write has reached the disk when its method returns, so a caller may act on it (journal first,
then send). The schema is a numbered tuple of migrations; ``PRAGMA user_version`` records the last
one applied; an applied migration is never edited, the next one is added.

The API is grouped by feature (``store.config``, ``store.state``, ``store.connectors``,
``store.auth_cache``, ``store.outbox``, ``store.transactions``, ``store.firmware``,
``store.diagnostics``).

Durability has a price: one fsync costs about as much as a whole loopback round trip. Rare writes
(a configuration change) commit at once on the event loop's connection. The transaction path
(outbox, transactions) goes through ``Store.write``: a single writer with its own connection in
its own thread **group-commits** — writes that arrive while a commit is under way join the next
one — and each caller resumes only after the commit holding its write has returned. Readers use
the event loop's connection and see every committed write (WAL).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, TypeVar

T = TypeVar("T")
Op = Callable[[sqlite3.Connection], Any]

MIGRATIONS: Final[tuple[str, ...]] = (
    # 1: configuration keys and small station facts (registration, boot fields)
    """
    CREATE TABLE config (key TEXT PRIMARY KEY COLLATE NOCASE, value TEXT NOT NULL);
    CREATE TABLE station_state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    """,
    # 2: connectors (availability survives reboots, C-7; the simulated meter register), the
    #    authorization cache, and the outbox of transaction messages
    """
    CREATE TABLE connectors (
        connector_id INTEGER PRIMARY KEY,
        availability TEXT NOT NULL DEFAULT 'Operative',
        meter_wh INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE auth_cache (
        id_tag TEXT PRIMARY KEY COLLATE NOCASE,
        status TEXT NOT NULL,
        expiry_date TEXT,
        parent_id_tag TEXT,
        updated_at TEXT NOT NULL
    );
    CREATE TABLE outbox (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        action TEXT NOT NULL,
        payload BLOB NOT NULL,
        message_id TEXT,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_try_at REAL,
        tx_ref INTEGER
    );
    """,
    # 3: transactions with their local reference (the CSMS id arrives later, X-4) and the meter
    #    values kept for StopTransaction's transactionData (MV-3)
    """
    CREATE TABLE transactions (
        ref INTEGER PRIMARY KEY AUTOINCREMENT,
        connector_id INTEGER NOT NULL,
        id_tag TEXT NOT NULL,
        parent_id_tag TEXT,
        transaction_id INTEGER,
        reservation_id INTEGER,
        meter_start INTEGER NOT NULL,
        meter_last INTEGER NOT NULL,
        started_at TEXT NOT NULL,
        stopped_at TEXT,
        stop_reason TEXT,
        deauthorized INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE tx_samples (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        tx_ref INTEGER NOT NULL,
        meter_value TEXT NOT NULL
    );
    CREATE INDEX tx_samples_by_tx ON tx_samples (tx_ref, seq);
    """,
    # 4: the firmware job and the diagnostics upload (F-1..F-8, D-1..D-4): one row each, holding the last
    #    status entered (seed: SetFirmwareStatusNotificationStatus) and where the job is, so it resumes
    """
    CREATE TABLE firmware_job (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        status TEXT NOT NULL DEFAULT 'Idle',
        stage TEXT NOT NULL DEFAULT 'idle',
        location TEXT,
        retrieve_date TEXT,
        retries INTEGER NOT NULL DEFAULT 0,
        retry_interval INTEGER NOT NULL DEFAULT 0,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_try_at TEXT,
        image TEXT,
        previous_version TEXT,
        new_version TEXT,
        received_at TEXT
    );
    INSERT INTO firmware_job (id) VALUES (1);
    CREATE TABLE diagnostics_job (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        status TEXT NOT NULL DEFAULT 'Idle',
        stage TEXT NOT NULL DEFAULT 'idle',
        location TEXT,
        file_name TEXT,
        retries INTEGER NOT NULL DEFAULT 0,
        retry_interval INTEGER NOT NULL DEFAULT 0,
        start_time TEXT,
        stop_time TEXT,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_try_at TEXT,
        received_at TEXT
    );
    INSERT INTO diagnostics_job (id) VALUES (1);
    """,
)
SCHEMA_VERSION: Final = len(MIGRATIONS)
FILE_NAME: Final = "station.sqlite"


class Store:
    """A station's persistent state. ``Store.open(None)`` keeps it in memory (fleets, tests)."""

    def __init__(self, db: sqlite3.Connection, writer: sqlite3.Connection | None = None) -> None:
        self._db = db
        self._writer_db = writer
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="chargebox-store") if writer else None
        self._batch: list[tuple[Op, asyncio.Future[Any]]] = []
        self._committing = False
        self._committer: asyncio.Future[None] | None = None
        self.commits = 0
        self.config = ConfigTable(self)
        self.state = StateTable(self)
        self.connectors = ConnectorsTable(self)
        self.auth_cache = AuthCacheTable(self)
        self.outbox = OutboxTable(self)
        self.transactions = TransactionsTable(self)
        self.firmware = FirmwareJobTable(self)
        self.diagnostics = DiagnosticsJobTable(self)

    @classmethod
    def open(cls, data_dir: Path | None) -> Store:
        if data_dir is None:
            # A fleet keeps thousands of these: small pages and no statement cache keep one near
            # 35 KiB instead of ~150 KiB (measured by bench/).
            db = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False, cached_statements=0)
            db.execute("PRAGMA page_size=512")
            migrate(db)
            return cls(db)
        data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)  # it holds the AuthorizationKey
        db, writer = (_connect_file(data_dir / FILE_NAME) for _ in range(2))
        migrate(db)
        return cls(db, writer)

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True)
        if self._writer_db is not None:
            self._writer_db.close()
        self._db.close()

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
        return self._db.execute(sql, args).fetchall()


def _connect_file(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    return db


def migrate(db: sqlite3.Connection) -> None:
    """Apply every migration newer than the file's ``user_version``, each in its own transaction."""
    current = int(db.execute("PRAGMA user_version").fetchone()[0])
    if current > SCHEMA_VERSION:
        raise sqlite3.DatabaseError(f"schema version {current} is newer than this chargebox ({SCHEMA_VERSION})")
    for number in range(current + 1, SCHEMA_VERSION + 1):
        db.execute("BEGIN IMMEDIATE")
        try:
            for statement in _statements(MIGRATIONS[number - 1]):
                db.execute(statement)
            db.execute(f"PRAGMA user_version = {number}")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")


def _statements(script: str) -> Iterator[str]:
    for statement in script.split(";"):
        if statement.strip():
            yield statement


class _Table:
    def __init__(self, store: Store) -> None:
        self._store = store


class ConfigTable(_Table):
    """Configuration key values as OCPP strings (K-13: they persist)."""

    def load(self) -> dict[str, str]:
        return {str(k): str(v) for k, v in self._store.query("SELECT key, value FROM config")}

    def save(self, key: str, value: str) -> None:
        with self._store.transaction() as db:
            db.execute(
                "INSERT INTO config (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, value),
            )


class StateTable(_Table):
    """Small named facts about the station (e.g. the firmware version it booted with)."""

    def get(self, key: str) -> str | None:
        rows = self._store.query("SELECT value FROM station_state WHERE key = ?", (key,))
        return str(rows[0][0]) if rows else None

    def set(self, key: str, value: str) -> None:
        with self._store.transaction() as db:
            db.execute(
                "INSERT INTO station_state (key, value) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, value),
            )


class ConnectorsTable(_Table):
    """Per connector: availability set by ChangeAvailability (C-7, S-9) and the meter register."""

    def ensure(self, count: int) -> None:
        with self._store.transaction() as db:
            db.executemany(
                "INSERT OR IGNORE INTO connectors (connector_id) VALUES (?)", [(i,) for i in range(count + 1)]
            )

    def availability(self) -> dict[int, str]:
        return {int(str(i)): str(a) for i, a in self._store.query("SELECT connector_id, availability FROM connectors")}

    def set_availability(self, connector_id: int, availability: str) -> None:
        with self._store.transaction() as db:
            db.execute("UPDATE connectors SET availability = ? WHERE connector_id = ?", (availability, connector_id))

    def all_meter_wh(self) -> dict[int, int]:
        return {
            int(str(i)): int(str(wh)) for i, wh in self._store.query("SELECT connector_id, meter_wh FROM connectors")
        }


class AuthCacheTable(_Table):
    """The authorization cache (A-8); it survives reboots. ClearCache empties it (C-9)."""

    def count(self) -> int:
        return int(str(self._store.query("SELECT COUNT(*) FROM auth_cache")[0][0]))

    def put(self, id_tag: str, status: str, *, expiry_date: str | None, parent_id_tag: str | None, now: str) -> None:
        with self._store.transaction() as db:
            db.execute(
                "INSERT INTO auth_cache (id_tag, status, expiry_date, parent_id_tag, updated_at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT(id_tag) DO UPDATE SET status = excluded.status, "
                "expiry_date = excluded.expiry_date, parent_id_tag = excluded.parent_id_tag, "
                "updated_at = excluded.updated_at",
                (id_tag, status, expiry_date, parent_id_tag, now),
            )

    def get(self, id_tag: str) -> tuple[str, str | None, str | None] | None:
        """(status, expiry_date, parent_id_tag) of a cached idTag, matched case-insensitively (G-1)."""
        rows = self._store.query(
            "SELECT status, expiry_date, parent_id_tag FROM auth_cache WHERE id_tag = ?", (id_tag,)
        )
        if not rows:
            return None
        status, expiry, parent = rows[0]
        return str(status), None if expiry is None else str(expiry), None if parent is None else str(parent)

    def evict(self, keep: int) -> None:
        """A-8: when full, drop invalid entries first, then the oldest valid ones."""
        with self._store.transaction() as db:
            db.execute(
                "DELETE FROM auth_cache WHERE id_tag NOT IN (SELECT id_tag FROM auth_cache "
                "ORDER BY status = 'Accepted' DESC, updated_at DESC LIMIT ?)",
                (keep,),
            )

    def clear(self) -> None:
        with self._store.transaction() as db:
            db.execute("DELETE FROM auth_cache")


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """A transaction message waiting for its CALLRESULT (Q-1)."""

    seq: int
    action: str
    payload: bytes
    attempts: int
    next_try_at: float | None
    tx_ref: int | None


class OutboxTable(_Table):
    """Transaction-related messages, written before they are sent and deleted when answered (Q-1, Q-2)."""

    async def append(self, action: str, payload: bytes, tx_ref: int | None) -> int:
        return await self._store.write(lambda db: _append(db, action, payload, tx_ref))

    def head(self) -> OutboxItem | None:
        rows = self._store.query(
            "SELECT seq, action, payload, attempts, next_try_at, tx_ref FROM outbox ORDER BY seq LIMIT 1"
        )
        return _outbox_item(rows[0]) if rows else None

    def count(self) -> int:
        return int(str(self._store.query("SELECT COUNT(*) FROM outbox")[0][0]))

    async def remove(self, seq: int, then: Op | None = None) -> None:
        """Delete an answered message, and in the same commit apply what its answer taught us."""

        def op(db: sqlite3.Connection) -> None:
            db.execute("DELETE FROM outbox WHERE seq = ?", (seq,))
            if then is not None:
                then(db)

        await self._store.write(op)

    async def failed(self, seq: int, attempts: int, next_try_at: float) -> None:
        await self._store.write(
            lambda db: db.execute(
                "UPDATE outbox SET attempts = ?, next_try_at = ? WHERE seq = ?", (attempts, next_try_at, seq)
            )
        )


def _append(db: sqlite3.Connection, action: str, payload: bytes, tx_ref: int | None) -> int:
    cursor = db.execute("INSERT INTO outbox (action, payload, tx_ref) VALUES (?, ?, ?)", (action, payload, tx_ref))
    return int(cursor.lastrowid or 0)


def _outbox_item(row: tuple[object, ...]) -> OutboxItem:
    seq, action, payload, attempts, next_try_at, tx_ref = row
    return OutboxItem(
        seq=int(str(seq)),
        action=str(action),
        payload=payload if isinstance(payload, bytes) else str(payload).encode(),
        attempts=int(str(attempts)),
        next_try_at=float(str(next_try_at)) if next_try_at is not None else None,
        tx_ref=int(str(tx_ref)) if tx_ref is not None else None,
    )


@dataclass(frozen=True, slots=True)
class TransactionRecord:
    """A transaction as persisted: ``ref`` is ours, ``transaction_id`` the central system's (X-4)."""

    ref: int
    connector_id: int
    id_tag: str
    parent_id_tag: str | None
    transaction_id: int | None
    reservation_id: int | None
    meter_start: int
    meter_last: int
    started_at: str
    stopped_at: str | None
    stop_reason: str | None
    deauthorized: bool


_TX_COLUMNS: Final = (
    "ref, connector_id, id_tag, parent_id_tag, transaction_id, reservation_id, meter_start, meter_last, "
    "started_at, stopped_at, stop_reason, deauthorized"
)


class TransactionsTable(_Table):
    """Transactions and the samples kept for their StopTransaction."""

    async def begin(
        self,
        *,
        connector_id: int,
        id_tag: str,
        parent_id_tag: str | None,
        reservation_id: int | None,
        meter_start: int,
        started_at: str,
        start_request: Callable[[int], tuple[str, bytes]],
    ) -> int:
        """Journal a new transaction and its StartTransaction in one commit; returns the local ref.

        ``start_request(ref)`` builds the (action, payload) of the StartTransaction to queue.
        """

        def op(db: sqlite3.Connection) -> int:
            cursor = db.execute(
                "INSERT INTO transactions (connector_id, id_tag, parent_id_tag, reservation_id, meter_start, "
                "meter_last, started_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (connector_id, id_tag, parent_id_tag, reservation_id, meter_start, meter_start, started_at),
            )
            ref = int(cursor.lastrowid or 0)
            action, payload = start_request(ref)
            _append(db, action, payload, ref)
            return ref

        return await self._store.write(op)

    def open_transactions(self) -> list[TransactionRecord]:
        rows = self._store.query(f"SELECT {_TX_COLUMNS} FROM transactions WHERE stopped_at IS NULL ORDER BY ref")
        return [_tx_record(row) for row in rows]

    def get(self, ref: int) -> TransactionRecord | None:
        rows = self._store.query(f"SELECT {_TX_COLUMNS} FROM transactions WHERE ref = ?", (ref,))
        return _tx_record(rows[0]) if rows else None

    def by_transaction_id(self, transaction_id: int) -> TransactionRecord | None:
        rows = self._store.query(
            f"SELECT {_TX_COLUMNS} FROM transactions WHERE transaction_id = ? ORDER BY ref DESC LIMIT 1",
            (transaction_id,),
        )
        return _tx_record(rows[0]) if rows else None

    async def record_sample(
        self,
        ref: int,
        *,
        connector_id: int,
        meter_wh: int,
        stop_sample: bytes | None,
        message: tuple[str, bytes] | None,
    ) -> None:
        """One commit for one sample: the register (what a power loss leaves us, X-12, X-15), the
        sample kept for StopTransaction, and the MeterValues queued in the outbox — so no queued
        value is ever ahead of the register a restart continues from."""

        def op(db: sqlite3.Connection) -> None:
            db.execute("UPDATE transactions SET meter_last = MAX(meter_last, ?) WHERE ref = ?", (meter_wh, ref))
            db.execute(
                "UPDATE connectors SET meter_wh = MAX(meter_wh, ?) WHERE connector_id = ?", (meter_wh, connector_id)
            )
            if stop_sample is not None:
                db.execute("INSERT INTO tx_samples (tx_ref, meter_value) VALUES (?, ?)", (ref, stop_sample))
            if message is not None:
                _append(db, message[0], message[1], ref)

        await self._store.write(op)

    def samples(self, ref: int) -> list[bytes]:
        rows = self._store.query("SELECT meter_value FROM tx_samples WHERE tx_ref = ? ORDER BY seq", (ref,))
        return [row[0] if isinstance(row[0], bytes) else str(row[0]).encode() for row in rows]

    async def finish(
        self, ref: int, *, meter_stop: int, stopped_at: str, reason: str, stop_request: tuple[str, bytes]
    ) -> None:
        """Close the transaction, keep the register, and queue its StopTransaction, in one commit."""

        def op(db: sqlite3.Connection) -> None:
            db.execute(
                "UPDATE transactions SET meter_last = ?, stopped_at = ?, stop_reason = ? WHERE ref = ?",
                (meter_stop, stopped_at, reason, ref),
            )
            db.execute(
                "UPDATE connectors SET meter_wh = MAX(meter_wh, ?) WHERE connector_id = "
                "(SELECT connector_id FROM transactions WHERE ref = ?)",
                (meter_stop, ref),
            )
            db.execute("DELETE FROM tx_samples WHERE tx_ref = ?", (ref,))
            _append(db, stop_request[0], stop_request[1], ref)

        await self._store.write(op)

    @staticmethod
    def set_transaction_id(ref: int, transaction_id: int) -> Op:
        """An op for ``outbox.remove(then=...)``: the StartTransaction answer names the transaction."""
        return lambda db: db.execute("UPDATE transactions SET transaction_id = ? WHERE ref = ?", (transaction_id, ref))

    async def mark_deauthorized(self, ref: int) -> None:
        await self._store.write(lambda db: db.execute("UPDATE transactions SET deauthorized = 1 WHERE ref = ?", (ref,)))


def _tx_record(row: tuple[object, ...]) -> TransactionRecord:
    (ref, connector_id, id_tag, parent, transaction_id, reservation_id, meter_start, meter_last, started_at,
     stopped_at, stop_reason, deauthorized) = row  # fmt: skip
    return TransactionRecord(
        ref=int(str(ref)),
        connector_id=int(str(connector_id)),
        id_tag=str(id_tag),
        parent_id_tag=None if parent is None else str(parent),
        transaction_id=None if transaction_id is None else int(str(transaction_id)),
        reservation_id=None if reservation_id is None else int(str(reservation_id)),
        meter_start=int(str(meter_start)),
        meter_last=int(str(meter_last)),
        started_at=str(started_at),
        stopped_at=None if stopped_at is None else str(stopped_at),
        stop_reason=None if stop_reason is None else str(stop_reason),
        deauthorized=bool(deauthorized),
    )


# -- firmware and diagnostics jobs (F-1..F-8, D-1..D-4) -------------------------------------------

_FIRMWARE_COLUMNS: Final = (
    "status, stage, location, retrieve_date, retries, retry_interval, attempts, next_try_at, image, "
    "previous_version, new_version, received_at"
)
_DIAGNOSTICS_COLUMNS: Final = (
    "status, stage, location, file_name, retries, retry_interval, start_time, stop_time, attempts, next_try_at, "
    "received_at"
)
JobValue = str | int | None


@dataclass(frozen=True, slots=True)
class FirmwareJobRecord:
    """The station's firmware state as persisted: the last status entered and the job under way, if any.

    ``stage`` is where the job is (idle, scheduled, downloading, downloaded, installing, installed);
    ``attempts`` counts download attempts started, so a reboot never resets the retries (F-4).
    """

    status: str
    stage: str
    location: str | None
    retrieve_date: str | None
    retries: int
    retry_interval: int
    attempts: int
    next_try_at: str | None
    image: str | None
    previous_version: str | None
    new_version: str | None
    received_at: str | None


@dataclass(frozen=True, slots=True)
class DiagnosticsJobRecord:
    """The diagnostics upload as persisted (stage idle, uploading), with its time window (D-2)."""

    status: str
    stage: str
    location: str | None
    file_name: str | None
    retries: int
    retry_interval: int
    start_time: str | None
    stop_time: str | None
    attempts: int
    next_try_at: str | None
    received_at: str | None


class _JobTable(_Table):
    """One row (id 1) holding a service's status and its job; every change is one durable commit."""

    _table: str
    _columns: str

    def _load(self) -> tuple[object, ...]:
        return self._store.query(f"SELECT {self._columns} FROM {self._table} WHERE id = 1")[0]

    def update(self, **fields: JobValue) -> None:
        """Change some columns of the job (journal first, then act)."""
        allowed = {c.strip() for c in self._columns.split(",")}
        unknown = set(fields) - allowed
        if unknown:
            raise ValueError(f"{self._table} has no column {sorted(unknown)}")
        assignments = ", ".join(f"{name} = ?" for name in fields)
        with self._store.transaction() as db:
            db.execute(f"UPDATE {self._table} SET {assignments} WHERE id = 1", tuple(fields.values()))

    def set_status(self, status: str) -> None:
        self.update(status=status)


class FirmwareJobTable(_JobTable):
    _table = "firmware_job"
    _columns = _FIRMWARE_COLUMNS

    def load(self) -> FirmwareJobRecord:
        row = self._load()
        return FirmwareJobRecord(
            status=str(row[0]),
            stage=str(row[1]),
            location=_opt_str(row[2]),
            retrieve_date=_opt_str(row[3]),
            retries=int(str(row[4])),
            retry_interval=int(str(row[5])),
            attempts=int(str(row[6])),
            next_try_at=_opt_str(row[7]),
            image=_opt_str(row[8]),
            previous_version=_opt_str(row[9]),
            new_version=_opt_str(row[10]),
            received_at=_opt_str(row[11]),
        )

    def save_job(
        self, *, location: str, retrieve_date: str, retries: int, retry_interval: int, received_at: str, image: str
    ) -> None:
        """Journal a new UpdateFirmware (F-1): it replaces whatever job was there."""
        self.update(
            stage="scheduled",
            location=location,
            retrieve_date=retrieve_date,
            retries=retries,
            retry_interval=retry_interval,
            attempts=0,
            next_try_at=None,
            image=image,
            previous_version=None,
            new_version=None,
            received_at=received_at,
        )


class DiagnosticsJobTable(_JobTable):
    _table = "diagnostics_job"
    _columns = _DIAGNOSTICS_COLUMNS

    def load(self) -> DiagnosticsJobRecord:
        row = self._load()
        return DiagnosticsJobRecord(
            status=str(row[0]),
            stage=str(row[1]),
            location=_opt_str(row[2]),
            file_name=_opt_str(row[3]),
            retries=int(str(row[4])),
            retry_interval=int(str(row[5])),
            start_time=_opt_str(row[6]),
            stop_time=_opt_str(row[7]),
            attempts=int(str(row[8])),
            next_try_at=_opt_str(row[9]),
            received_at=_opt_str(row[10]),
        )

    def save_job(
        self,
        *,
        location: str,
        file_name: str,
        retries: int,
        retry_interval: int,
        start_time: str | None,
        stop_time: str | None,
        received_at: str,
    ) -> None:
        """Journal a new GetDiagnostics before its answer names the file (D-1)."""
        self.update(
            stage="uploading",
            location=location,
            file_name=file_name,
            retries=retries,
            retry_interval=retry_interval,
            start_time=start_time,
            stop_time=stop_time,
            attempts=0,
            next_try_at=None,
            received_at=received_at,
        )


def _opt_str(value: object) -> str | None:
    return None if value is None else str(value)
