"""SQLite persistence: the only module that writes to disk.

One file per station (``<data-dir>/station.sqlite``) in WAL mode with ``synchronous=FULL``: a
write has reached the disk when its method returns, so a caller may act on it (journal first,
then send). The schema is a numbered tuple of migrations; ``PRAGMA user_version`` records the last
one applied; an applied migration is never edited, the next one is added.

The API is grouped by feature (``store.config``, ``store.state``, ``store.connectors``,
``store.auth_cache``), all over one connection.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Final

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
)
SCHEMA_VERSION: Final = len(MIGRATIONS)
FILE_NAME: Final = "station.sqlite"


class Store:
    """A station's persistent state. ``Store.open(None)`` keeps it in memory (fleets, tests)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db
        self.config = ConfigTable(self)
        self.state = StateTable(self)
        self.connectors = ConnectorsTable(self)
        self.auth_cache = AuthCacheTable(self)

    @classmethod
    def open(cls, data_dir: Path | None) -> Store:
        if data_dir is None:
            db = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
        else:
            data_dir.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(data_dir / FILE_NAME, isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
        migrate(db)
        return cls(db)

    def close(self) -> None:
        self._db.close()

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
        self.save_many({key: value})

    def save_many(self, values: Mapping[str, str]) -> None:
        with self._store.transaction() as db:
            db.executemany(
                "INSERT INTO config (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                values.items(),
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

    def meter_wh(self, connector_id: int) -> int:
        rows = self._store.query("SELECT meter_wh FROM connectors WHERE connector_id = ?", (connector_id,))
        return int(str(rows[0][0])) if rows else 0

    def set_meter_wh(self, connector_id: int, wh: int) -> None:
        with self._store.transaction() as db:
            db.execute("UPDATE connectors SET meter_wh = ? WHERE connector_id = ?", (wh, connector_id))


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

    def clear(self) -> None:
        with self._store.transaction() as db:
            db.execute("DELETE FROM auth_cache")
