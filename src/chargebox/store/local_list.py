"""The local authorization list and its version (checklist 5.1, L-1..L-8).

The list is changed only by SendLocalList (L-6): a whole new list or a set of changes is written in
one transaction with its version, so a power cut leaves the old list and version or the new ones,
never a mix.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final

from chargebox.store.table import Table, opt_str

MIGRATIONS: Final[Mapping[int, str]] = {
    # 9: the local authorization list and its version, per station
    9: """
    CREATE TABLE local_list (
        station TEXT NOT NULL DEFAULT '',
        id_tag TEXT NOT NULL COLLATE NOCASE,
        status TEXT NOT NULL,
        expiry_date TEXT,
        parent_id_tag TEXT,
        PRIMARY KEY (station, id_tag)
    );
    CREATE TABLE local_list_version (
        station TEXT NOT NULL DEFAULT '' PRIMARY KEY,
        version INTEGER NOT NULL
    );
    """,
}


@dataclass(frozen=True, slots=True)
class LocalListEntry:
    """One idTag of the list with its IdTagInfo (status, expiryDate ISO text, parentIdTag)."""

    id_tag: str
    status: str
    expiry_date: str | None = None
    parent_id_tag: str | None = None


class LocalListTable(Table):
    """The station's local list; the local-list service decides what a SendLocalList may change."""

    def version(self) -> int:
        """The list's version, 0 when it was never set (C-12)."""
        rows = self._store.rows("SELECT version FROM local_list_version WHERE station = ?", (self.station,))
        return int(rows[0]["version"]) if rows else 0

    def get(self, id_tag: str) -> LocalListEntry | None:
        """The entry of ``id_tag``, matched case-insensitively (G-1)."""
        rows = self._store.rows(
            "SELECT id_tag, status, expiry_date, parent_id_tag FROM local_list WHERE station = ? AND id_tag = ?",
            (self.station, id_tag),
        )
        return _entry(rows[0]) if rows else None

    def all(self) -> list[LocalListEntry]:
        """Every entry: a Differential update counts what the list would hold after it (L-4)."""
        rows = self._store.rows(
            "SELECT id_tag, status, expiry_date, parent_id_tag FROM local_list WHERE station = ? ORDER BY id_tag",
            (self.station,),
        )
        return [_entry(row) for row in rows]

    def count(self) -> int:
        """The list's size: SendLocalList refuses an update past LocalAuthListMaxLength (L-4)."""
        rows = self._store.rows("SELECT COUNT(*) AS n FROM local_list WHERE station = ?", (self.station,))
        return int(rows[0]["n"])

    def update(self, version: int, *, put: Iterable[LocalListEntry], remove: Iterable[str], full: bool) -> None:
        """Apply one SendLocalList in one commit: ``full`` empties the list first (L-2, L-3)."""
        with self._store.transaction() as db:
            if full:
                db.execute("DELETE FROM local_list WHERE station = ?", (self.station,))
            for id_tag in remove:
                db.execute("DELETE FROM local_list WHERE station = ? AND id_tag = ?", (self.station, id_tag))
            for entry in put:
                db.execute(
                    "INSERT INTO local_list (station, id_tag, status, expiry_date, parent_id_tag) "
                    "VALUES (?, ?, ?, ?, ?) ON CONFLICT(station, id_tag) DO UPDATE SET id_tag = excluded.id_tag, "
                    "status = excluded.status, expiry_date = excluded.expiry_date, "
                    "parent_id_tag = excluded.parent_id_tag",
                    (self.station, entry.id_tag, entry.status, entry.expiry_date, entry.parent_id_tag),
                )
            db.execute(
                "INSERT INTO local_list_version (station, version) VALUES (?, ?) "
                "ON CONFLICT(station) DO UPDATE SET version = excluded.version",
                (self.station, version),
            )


def _entry(row: sqlite3.Row) -> LocalListEntry:
    return LocalListEntry(
        str(row["id_tag"]), str(row["status"]), opt_str(row["expiry_date"]), opt_str(row["parent_id_tag"])
    )
