"""Reservations (ReserveNow, checklist R-1..R-8): kept so that a restart keeps them, expiry included."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from chargebox.store.table import Table, opt_str

MIGRATIONS: Final[Mapping[int, str]] = {
    # 10: reservations, one row per reservationId, per station
    10: """
    CREATE TABLE reservations (
        station TEXT NOT NULL DEFAULT '',
        reservation_id INTEGER NOT NULL,
        connector_id INTEGER NOT NULL,
        id_tag TEXT NOT NULL,
        parent_id_tag TEXT,
        expiry_date TEXT NOT NULL,
        PRIMARY KEY (station, reservation_id)
    );
    """,
}


@dataclass(frozen=True, slots=True)
class ReservationRecord:
    """One reservation; ``connector_id`` 0 reserves the charge point (R-4); ``expiry_date`` is ISO text."""

    reservation_id: int
    connector_id: int
    id_tag: str
    parent_id_tag: str | None
    expiry_date: str


class ReservationsTable(Table):
    def all(self) -> list[ReservationRecord]:
        """Every reservation held, to restore them after a reboot and to expire them on time (R-6)."""
        rows = self._store.rows(
            "SELECT reservation_id, connector_id, id_tag, parent_id_tag, expiry_date FROM reservations "
            "WHERE station = ? ORDER BY reservation_id",
            (self.station,),
        )
        return [
            ReservationRecord(
                int(str(row["reservation_id"])),
                int(str(row["connector_id"])),
                str(row["id_tag"]),
                opt_str(row["parent_id_tag"]),
                str(row["expiry_date"]),
            )
            for row in rows
        ]

    def put(self, record: ReservationRecord) -> None:
        """Add a reservation, or replace the one with the same reservationId (R-1)."""
        with self._store.transaction() as db:
            db.execute(
                "INSERT INTO reservations (station, reservation_id, connector_id, id_tag, parent_id_tag, expiry_date) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(station, reservation_id) DO UPDATE SET "
                "connector_id = excluded.connector_id, id_tag = excluded.id_tag, "
                "parent_id_tag = excluded.parent_id_tag, expiry_date = excluded.expiry_date",
                (
                    self.station,
                    record.reservation_id,
                    record.connector_id,
                    record.id_tag,
                    record.parent_id_tag,
                    record.expiry_date,
                ),
            )

    def remove(self, reservation_id: int) -> None:
        """A reservation ended (used, expired, cancelled: R-6, C-1); nothing happens if it was gone already."""
        with self._store.transaction() as db:
            db.execute(
                "DELETE FROM reservations WHERE station = ? AND reservation_id = ?", (self.station, reservation_id)
            )
