"""OCPP 2.0.1's transactions as the station journals them (E01 to E15; migration 17).

One row per transaction the station started: its transactionId (the station's own, E01.FR.16), its EVSE, the seqNo
its next TransactionEvent takes (E01.FR.17..), the idToken that authorized it, the register at its start and whether
its Ended event was journaled. Each TransactionEvent is written to the outbox in the same commit as the row it
changes (``journal``), so after a power cut the row says exactly which events were journaled: a transaction whose
Ended was not is ended at the next start (PowerLoss), never twice.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from chargebox.store.outbox import enqueue
from chargebox.store.table import Table, opt_int

MIGRATIONS: Final[Mapping[int, str]] = {
    # 17: 2.0.1 transactions, per station and transactionId
    17: """
    CREATE TABLE tx_events (
        ref INTEGER PRIMARY KEY AUTOINCREMENT,
        station TEXT NOT NULL DEFAULT '',
        transaction_id TEXT NOT NULL,
        evse INTEGER NOT NULL,
        next_seq_no INTEGER NOT NULL DEFAULT 0,
        id_token BLOB,
        remote_start_id INTEGER,
        meter_start INTEGER NOT NULL,
        ended INTEGER NOT NULL DEFAULT 0,
        UNIQUE (station, transaction_id)
    );
    """,
}


@dataclass(frozen=True, slots=True)
class TxRecord:
    """A transaction as it was journaled."""

    ref: int  # the outbox's tx_ref of its events
    transaction_id: str
    evse: int
    next_seq_no: int
    id_token: bytes | None  # IdTokenType JSON
    remote_start_id: int | None
    meter_start: int
    ended: bool


class TransactionEventsTable(Table):
    """2.0.1 transactions and the journaling of their TransactionEvents."""

    def open(self) -> list[TxRecord]:
        """Every transaction whose Ended event is not journaled, oldest first."""
        rows = self._store.rows("SELECT * FROM tx_events WHERE station = ? AND ended = 0 ORDER BY ref", (self.station,))
        return [_record(row) for row in rows]

    def find(self, transaction_id: str) -> TxRecord | None:
        rows = self._store.rows(
            "SELECT * FROM tx_events WHERE station = ? AND transaction_id = ?", (self.station, transaction_id)
        )
        return _record(rows[0]) if rows else None

    async def begin(
        self, *, transaction_id: str, evse: int, id_token: bytes | None, remote_start_id: int | None,
        meter_start: int, payload: bytes,
    ) -> tuple[int, int]:  # fmt: skip
        """The row of a transaction that starts now and its Started event, in one commit: (its ref, the seq)."""

        def op(db: sqlite3.Connection) -> tuple[int, int]:
            cursor = db.execute(
                "INSERT INTO tx_events (station, transaction_id, evse, id_token, remote_start_id, meter_start) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (self.station, transaction_id, evse, id_token, remote_start_id, meter_start),
            )
            ref = int(cursor.lastrowid or 0)
            return ref, self._event(db, ref, payload, ended=False)

        return await self._store.write(op)

    async def event(self, ref: int, payload: bytes, *, ended: bool) -> int:
        """Journal one TransactionEvent of transaction ``ref`` and count its seqNo, in one commit; its outbox seq."""
        return await self._store.write(lambda db: self._event(db, ref, payload, ended=ended))

    def _event(self, db: sqlite3.Connection, ref: int, payload: bytes, *, ended: bool) -> int:
        db.execute(
            "UPDATE tx_events SET next_seq_no = next_seq_no + 1, ended = ? WHERE station = ? AND ref = ?",
            (int(ended), self.station, ref),
        )
        return enqueue(db, self.station, "TransactionEvent", payload, ref)

    def queued(self, ref: int | None = None) -> bool:
        """Is a TransactionEvent (of transaction ``ref``) still waiting in the outbox (E14.FR.03)?"""
        sql = "SELECT 1 FROM outbox WHERE station = ? AND action = 'TransactionEvent'"
        args: tuple[object, ...] = (self.station,)
        if ref is not None:
            sql, args = sql + " AND tx_ref = ?", (*args, ref)
        return bool(self._store.rows(sql + " LIMIT 1", args))


def _record(row: sqlite3.Row) -> TxRecord:
    id_token = row["id_token"]
    return TxRecord(
        ref=int(row["ref"]),
        transaction_id=str(row["transaction_id"]),
        evse=int(row["evse"]),
        next_seq_no=int(row["next_seq_no"]),
        id_token=None if id_token is None else bytes(id_token),
        remote_start_id=opt_int(row["remote_start_id"]),
        meter_start=int(row["meter_start"]),
        ended=bool(row["ended"]),
    )
