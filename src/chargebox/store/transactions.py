"""Transactions and the meter samples kept for their StopTransaction (migration 3)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final

from chargebox.store.outbox import enqueue
from chargebox.store.table import Op, Table, as_bytes, opt_int, opt_str

MIGRATIONS: Final[Mapping[int, str]] = {
    # 3: transactions with their local reference (the CSMS id arrives later, X-4) and the meter
    #    values kept for StopTransaction's transactionData (MV-3)
    3: """
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
    # 6: when the register was last persisted: the last moment the station knew the transaction was
    #    charging, which a PowerLoss StopTransaction reports
    6: """
    ALTER TABLE transactions ADD COLUMN meter_last_at TEXT;
    UPDATE transactions SET meter_last_at = COALESCE(stopped_at, started_at);
    """,
}

Queued = Callable[[int], None]


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
    meter_last_at: str
    started_at: str
    stopped_at: str | None
    stop_reason: str | None
    deauthorized: bool


_TX_COLUMNS: Final = (
    "ref, connector_id, id_tag, parent_id_tag, transaction_id, reservation_id, meter_start, meter_last, "
    "meter_last_at, started_at, stopped_at, stop_reason, deauthorized"
)


class TransactionsTable(Table):
    """Transactions and the samples kept for their StopTransaction.

    ``begin``, ``record_sample`` and ``finish`` each queue a message in the same commit as the
    transaction change. Their ``queued`` callback receives that message's outbox seq once the
    commit has returned, on the event loop: the outbound lane needs to know which journaled entry
    holds the message's place in the queue (to send, retry or dead-letter that entry, not a copy).
    It is a callback, not a return value, so callers that need only the ref stay as they are.
    """

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
        queued: Queued | None = None,
    ) -> int:
        """Journal a new transaction and its StartTransaction in one commit; returns the local ref.

        ``start_request(ref)`` builds the (action, payload) of the StartTransaction to queue;
        ``queued`` gets its outbox seq.
        """

        def op(db: sqlite3.Connection) -> tuple[int, int]:
            cursor = db.execute(
                "INSERT INTO transactions (station, connector_id, id_tag, parent_id_tag, reservation_id, meter_start, "
                "meter_last, meter_last_at, started_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    self.station,
                    connector_id,
                    id_tag,
                    parent_id_tag,
                    reservation_id,
                    meter_start,
                    meter_start,
                    started_at,
                    started_at,
                ),
            )
            ref = int(cursor.lastrowid or 0)
            action, payload = start_request(ref)
            return ref, enqueue(db, self.station, action, payload, ref)

        ref, seq = await self._store.write(op)
        if queued is not None:
            queued(seq)
        return ref

    def open_transactions(self) -> list[TransactionRecord]:
        """Transactions a power loss cut: after the next accepted boot each ends with PowerLoss (X-12)."""
        rows = self._store.rows(
            f"SELECT {_TX_COLUMNS} FROM transactions WHERE station = ? AND stopped_at IS NULL ORDER BY ref",
            (self.station,),
        )
        return [_tx_record(row) for row in rows]

    def get(self, ref: int) -> TransactionRecord | None:
        """A transaction by its local ref, which it has before the central system gives it a transactionId (X-4)."""
        rows = self._store.rows(
            f"SELECT {_TX_COLUMNS} FROM transactions WHERE station = ? AND ref = ?", (self.station, ref)
        )
        return _tx_record(rows[0]) if rows else None

    def by_transaction_id(self, transaction_id: int) -> TransactionRecord | None:
        """The newest transaction the central system knows by this id (its transactionId, X-4)."""
        rows = self._store.rows(
            f"SELECT {_TX_COLUMNS} FROM transactions WHERE station = ? AND transaction_id = ? "
            "ORDER BY ref DESC LIMIT 1",
            (self.station, transaction_id),
        )
        return _tx_record(rows[0]) if rows else None

    async def record_sample(
        self,
        ref: int,
        *,
        connector_id: int,
        meter_wh: int,
        at: str,
        stop_sample: bytes | None,
        message: tuple[str, bytes] | None,
        queued: Queued | None = None,
    ) -> None:
        """One commit for one sample: the register (what a power loss leaves us, X-12, X-15), the
        sample kept for StopTransaction, and the MeterValues queued in the outbox — so no queued
        value is ever ahead of the register a restart continues from. ``queued`` gets the
        MeterValues' outbox seq, and is not called when there is no ``message``."""

        def op(db: sqlite3.Connection) -> int | None:
            _register(db, self.station, ref, connector_id, meter_wh, at)
            if stop_sample is not None:
                db.execute(
                    "INSERT INTO tx_samples (station, tx_ref, meter_value) VALUES (?, ?, ?)",
                    (self.station, ref, stop_sample),
                )
            return None if message is None else enqueue(db, self.station, message[0], message[1], ref)

        seq = await self._store.write(op)
        if queued is not None and seq is not None:
            queued(seq)

    async def record_register(self, ref: int, *, connector_id: int, meter_wh: int, at: str) -> None:
        """Persist the register of a running transaction between samples (the bound on what a power
        cut can lose, docs/reliability.md): the register never goes back (X-15)."""
        await self._store.write(lambda db: _register(db, self.station, ref, connector_id, meter_wh, at))

    def samples(self, ref: int) -> list[bytes]:
        """The samples kept for the StopTransaction's transactionData, oldest first (MV-3)."""
        rows = self._store.rows(
            "SELECT meter_value FROM tx_samples WHERE station = ? AND tx_ref = ? ORDER BY seq", (self.station, ref)
        )
        return [as_bytes(row["meter_value"]) for row in rows]

    async def finish(
        self,
        ref: int,
        *,
        meter_stop: int,
        stopped_at: str,
        reason: str,
        stop_request: tuple[str, bytes],
        queued: Queued | None = None,
    ) -> None:
        """Close the transaction, keep the register, and queue its StopTransaction, in one commit;
        ``queued`` gets the StopTransaction's outbox seq."""

        def op(db: sqlite3.Connection) -> int:
            db.execute(
                "UPDATE transactions SET meter_last = ?, meter_last_at = ?, stopped_at = ?, stop_reason = ? "
                "WHERE station = ? AND ref = ?",
                (meter_stop, stopped_at, stopped_at, reason, self.station, ref),
            )
            db.execute(
                "UPDATE connectors SET meter_wh = MAX(meter_wh, ?) WHERE station = ? AND connector_id = "
                "(SELECT connector_id FROM transactions WHERE station = ? AND ref = ?)",
                (meter_stop, self.station, self.station, ref),
            )
            db.execute("DELETE FROM tx_samples WHERE station = ? AND tx_ref = ?", (self.station, ref))
            return enqueue(db, self.station, stop_request[0], stop_request[1], ref)

        seq = await self._store.write(op)
        if queued is not None:
            queued(seq)

    def set_transaction_id(self, ref: int, transaction_id: int) -> Op:
        """An op for ``outbox.remove(then=...)``: the StartTransaction answer names the transaction."""
        station = self.station
        return lambda db: db.execute(
            "UPDATE transactions SET transaction_id = ? WHERE station = ? AND ref = ?", (transaction_id, station, ref)
        )

    async def mark_deauthorized(self, ref: int) -> None:
        """Remember that the central system refused the idTag (X-5), so the stop after a reboot still says
        DeAuthorized."""
        await self._store.write(
            lambda db: db.execute(
                "UPDATE transactions SET deauthorized = 1 WHERE station = ? AND ref = ?", (self.station, ref)
            )
        )


def _tx_record(row: sqlite3.Row) -> TransactionRecord:
    return TransactionRecord(
        ref=int(row["ref"]),
        connector_id=int(row["connector_id"]),
        id_tag=str(row["id_tag"]),
        parent_id_tag=opt_str(row["parent_id_tag"]),
        transaction_id=opt_int(row["transaction_id"]),
        reservation_id=opt_int(row["reservation_id"]),
        meter_start=int(row["meter_start"]),
        meter_last=int(row["meter_last"]),
        meter_last_at=str(row["meter_last_at"]),
        started_at=str(row["started_at"]),
        stopped_at=opt_str(row["stopped_at"]),
        stop_reason=opt_str(row["stop_reason"]),
        deauthorized=bool(row["deauthorized"]),
    )


def _register(db: sqlite3.Connection, station: str, ref: int, connector_id: int, meter_wh: int, at: str) -> None:
    db.execute(
        "UPDATE transactions SET meter_last = MAX(meter_last, ?), meter_last_at = ? WHERE station = ? AND ref = ?",
        (meter_wh, at, station, ref),
    )
    db.execute(
        "UPDATE connectors SET meter_wh = MAX(meter_wh, ?) WHERE station = ? AND connector_id = ?",
        (meter_wh, station, connector_id),
    )
