"""The outbox of transaction messages and the dead letters it gives up on (migrations 2 and 5)."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from chargebox.store.table import Op, Table, as_bytes, opt_int

MIGRATIONS: Final[Mapping[int, str]] = {
    # 2 (with connectors and auth): the outbox of transaction messages
    2: """
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
    # 5: outbox entries that can never be sent, kept with their content and why (the outbox's
    #    AUTOINCREMENT never reuses a seq, so it stays a key here)
    5: """
    CREATE TABLE dead_letters (
        seq INTEGER PRIMARY KEY,
        action TEXT NOT NULL,
        payload BLOB NOT NULL,
        tx_ref INTEGER,
        attempts INTEGER NOT NULL,
        reason TEXT NOT NULL,
        moved_at TEXT NOT NULL
    );
    """,
}


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """A transaction message waiting for its CALLRESULT (Q-1)."""

    seq: int
    action: str
    payload: bytes
    attempts: int
    next_try_at: float | None
    tx_ref: int | None


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """An outbox entry moved aside because it can never be sent; ``seq`` is the one it had there."""

    seq: int
    action: str
    payload: bytes
    tx_ref: int | None
    attempts: int
    reason: str
    moved_at: str


_OUTBOX_COLUMNS: Final = "seq, action, payload, attempts, next_try_at, tx_ref"


class OutboxTable(Table):
    """Transaction-related messages, written before they are sent and deleted when answered (Q-1, Q-2)."""

    async def append(self, action: str, payload: bytes, tx_ref: int | None) -> int:
        """Journal a transaction message before it is sent (Q-1); its seq is its place in the order (Q-2)."""
        return await self._store.write(lambda db: enqueue(db, self.station, action, payload, tx_ref))

    def head(self) -> OutboxItem | None:
        """The oldest pending message: the only one that may be sent next (Q-2, T-20)."""
        rows = self._store.rows(
            f"SELECT {_OUTBOX_COLUMNS} FROM outbox WHERE station = ? ORDER BY seq LIMIT 1", (self.station,)
        )
        return _outbox_item(rows[0]) if rows else None

    def get(self, seq: int) -> OutboxItem | None:
        """One pending message by seq; None once it was answered or moved to the dead letters."""
        rows = self._store.rows(
            f"SELECT {_OUTBOX_COLUMNS} FROM outbox WHERE station = ? AND seq = ?", (self.station, seq)
        )
        return _outbox_item(rows[0]) if rows else None

    def seqs(self) -> list[int]:
        """Every pending entry, oldest first: the order they must reach the central system in (Q-2)."""
        return [
            int(row["seq"])
            for row in self._store.rows("SELECT seq FROM outbox WHERE station = ? ORDER BY seq", (self.station,))
        ]

    def count(self) -> int:
        """Messages journaled and not answered yet: the lane's backlog, shown in ``/api/state``."""
        return int(self._store.rows("SELECT COUNT(*) AS n FROM outbox WHERE station = ?", (self.station,))[0]["n"])

    async def remove(self, seq: int, then: Op | None = None) -> None:
        """Delete an answered message, and in the same commit apply what its answer taught us."""

        def op(db: sqlite3.Connection) -> None:
            db.execute("DELETE FROM outbox WHERE station = ? AND seq = ?", (self.station, seq))
            if then is not None:
                then(db)

        await self._store.write(op)

    async def failed(self, seq: int, attempts: int, next_try_at: float) -> None:
        """Count a CALLERROR answer and when the retry may go (Q-4), so a reboot does not reset either."""
        await self._store.write(
            lambda db: db.execute(
                "UPDATE outbox SET attempts = ?, next_try_at = ? WHERE station = ? AND seq = ?",
                (attempts, next_try_at, self.station, seq),
            )
        )

    async def dead_letter(self, seq: int, reason: str, moved_at: str) -> None:
        """Move an entry that can never be sent to ``dead_letters``, content and all, in one commit:
        a power cut leaves it in exactly one of the two tables, never in both or neither.

        Raises:
            LookupError: no pending entry has this seq (it was answered or moved already).
        """

        def op(db: sqlite3.Connection) -> None:
            moved = db.execute(
                "INSERT INTO dead_letters (station, seq, action, payload, tx_ref, attempts, reason, moved_at) "
                "SELECT station, seq, action, payload, tx_ref, attempts, ?, ? FROM outbox "
                "WHERE station = ? AND seq = ?",
                (reason, moved_at, self.station, seq),
            )
            if moved.rowcount != 1:
                raise LookupError(f"the outbox has no entry {seq}")
            db.execute("DELETE FROM outbox WHERE station = ? AND seq = ?", (self.station, seq))

        await self._store.write(op)


class DeadLettersTable(Table):
    """Outbox entries given up on, kept for the operator to inspect (nothing sends them again)."""

    def count(self) -> int:
        """How many messages were given up on, for ``/api/state``."""
        return int(
            self._store.rows("SELECT COUNT(*) AS n FROM dead_letters WHERE station = ?", (self.station,))[0]["n"]
        )

    def all(self) -> list[DeadLetter]:
        """Every message given up on, content and reason, for the diagnostics archive."""
        rows = self._store.rows(
            "SELECT seq, action, payload, tx_ref, attempts, reason, moved_at FROM dead_letters WHERE station = ? "
            "ORDER BY seq",
            (self.station,),
        )
        return [
            DeadLetter(
                seq=int(row["seq"]),
                action=str(row["action"]),
                payload=as_bytes(row["payload"]),
                tx_ref=opt_int(row["tx_ref"]),
                attempts=int(row["attempts"]),
                reason=str(row["reason"]),
                moved_at=str(row["moved_at"]),
            )
            for row in rows
        ]


def enqueue(db: sqlite3.Connection, station: str, action: str, payload: bytes, tx_ref: int | None) -> int:
    """Queue a station's message inside a write already under way (one commit with what it belongs to); its seq."""
    cursor = db.execute(
        "INSERT INTO outbox (station, action, payload, tx_ref) VALUES (?, ?, ?, ?)", (station, action, payload, tx_ref)
    )
    return int(cursor.lastrowid or 0)


def _outbox_item(row: sqlite3.Row) -> OutboxItem:
    return OutboxItem(
        seq=int(row["seq"]),
        action=str(row["action"]),
        payload=as_bytes(row["payload"]),
        attempts=int(row["attempts"]),
        next_try_at=None if row["next_try_at"] is None else float(row["next_try_at"]),
        tx_ref=opt_int(row["tx_ref"]),
    )
