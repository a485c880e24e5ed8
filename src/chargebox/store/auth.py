"""The authorization cache (its part of migration 2)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from chargebox.store.table import Table, opt_str

MIGRATIONS: Final[Mapping[int, str]] = {
    # 2 (with connectors and outbox): the authorization cache
    2: """
    CREATE TABLE auth_cache (
        id_tag TEXT PRIMARY KEY COLLATE NOCASE,
        status TEXT NOT NULL,
        expiry_date TEXT,
        parent_id_tag TEXT,
        updated_at TEXT NOT NULL
    );
    """,
}


class AuthCacheTable(Table):
    """The authorization cache (A-8); it survives reboots. ClearCache empties it (C-9)."""

    def count(self) -> int:
        """How many idTags are cached: the authorization service evicts past its bound (A-8), and ClearCache logs
        how many it removed."""
        return int(self._store.rows("SELECT COUNT(*) AS n FROM auth_cache WHERE station = ?", (self.station,))[0]["n"])

    def put(self, id_tag: str, status: str, *, expiry_date: str | None, parent_id_tag: str | None, now: str) -> None:
        """Cache the latest IdTagInfo of an idTag, valid or not (A-8): each answer replaces what an older one said."""
        with self._store.transaction() as db:
            db.execute(
                "INSERT INTO auth_cache (station, id_tag, status, expiry_date, parent_id_tag, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(station, id_tag) DO UPDATE SET status = excluded.status, "
                "expiry_date = excluded.expiry_date, parent_id_tag = excluded.parent_id_tag, "
                "updated_at = excluded.updated_at",
                (self.station, id_tag, status, expiry_date, parent_id_tag, now),
            )

    def get(self, id_tag: str) -> tuple[str, str | None, str | None] | None:
        """(status, expiry_date, parent_id_tag) of a cached idTag, matched case-insensitively (G-1)."""
        rows = self._store.rows(
            "SELECT status, expiry_date, parent_id_tag FROM auth_cache WHERE station = ? AND id_tag = ?",
            (self.station, id_tag),
        )
        if not rows:
            return None
        row = rows[0]
        return str(row["status"]), opt_str(row["expiry_date"]), opt_str(row["parent_id_tag"])

    def evict(self, keep: int) -> None:
        """A-8: when full, drop invalid entries first, then the oldest valid ones."""
        with self._store.transaction() as db:
            db.execute(
                "DELETE FROM auth_cache WHERE station = ? AND id_tag NOT IN (SELECT id_tag FROM auth_cache "
                "WHERE station = ? ORDER BY status = 'Accepted' DESC, updated_at DESC LIMIT ?)",
                (self.station, self.station, keep),
            )

    def clear(self) -> None:
        """ClearCache (C-9): every entry of this station goes, the Local List is another table and stays."""
        with self._store.transaction() as db:
            db.execute("DELETE FROM auth_cache WHERE station = ?", (self.station,))
