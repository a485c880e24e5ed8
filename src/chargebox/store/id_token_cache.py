"""OCPP 2.0.1's authorization cache: the last IdTokenInfo the central system gave each idToken (C10; migration 16).

An entry is the idToken (its value and type: C10 keys it by both) with the IdTokenInfoType JSON as it was received,
so what was validated when it arrived is what a later authorization reads, and when it expires: the answer's
cacheExpiryDateTime, else AuthCacheCtrlr.LifeTime after it arrived (C10.FR.08), as POSIX seconds.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from chargebox.store.table import Table, as_bytes

MIGRATIONS: Final[Mapping[int, str]] = {
    # 16: the 2.0.1 authorization cache, per station and idToken
    16: """
    CREATE TABLE id_token_cache (
        station TEXT NOT NULL DEFAULT '',
        id_token TEXT NOT NULL,
        type TEXT NOT NULL,
        info BLOB NOT NULL,
        expires_at REAL,
        used_at REAL NOT NULL,
        PRIMARY KEY (station, id_token, type)
    );
    """,
}


class IdTokenCacheTable(Table):
    """IdTokenInfoType payloads (JSON) by idToken; it survives reboots, ClearCache empties it (C11)."""

    def get(self, id_token: str, type_: str) -> tuple[bytes, float | None] | None:
        """(IdTokenInfoType JSON, expiry in POSIX seconds or None) of a cached idToken."""
        rows = self._store.rows(
            "SELECT info, expires_at FROM id_token_cache WHERE station = ? AND id_token = ? AND type = ?",
            (self.station, id_token, type_),
        )
        if not rows:
            return None
        expires = rows[0]["expires_at"]
        return as_bytes(rows[0]["info"]), None if expires is None else float(expires)

    def put(self, id_token: str, type_: str, info: bytes, *, expires_at: float | None, now: float, keep: int) -> None:
        """Cache the latest IdTokenInfo of an idToken; past ``keep`` entries, the least recently used go first."""
        with self._store.transaction() as db:
            db.execute(
                "INSERT INTO id_token_cache (station, id_token, type, info, expires_at, used_at) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(station, id_token, type) DO UPDATE SET info = excluded.info, "
                "expires_at = excluded.expires_at, used_at = excluded.used_at",
                (self.station, id_token, type_, info, expires_at, now),
            )
            db.execute(
                "DELETE FROM id_token_cache WHERE station = ? AND rowid NOT IN (SELECT rowid FROM id_token_cache "
                "WHERE station = ? ORDER BY used_at DESC LIMIT ?)",
                (self.station, self.station, keep),
            )

    def count(self) -> int:
        return int(
            self._store.rows("SELECT COUNT(*) AS n FROM id_token_cache WHERE station = ?", (self.station,))[0]["n"]
        )

    def delete(self, id_token: str, type_: str) -> bool:
        """CustomerInformation clear (N10.FR.03/06): one idToken's entry goes; False if there was none."""
        with self._store.transaction() as db:
            cursor = db.execute(
                "DELETE FROM id_token_cache WHERE station = ? AND id_token = ? AND type = ?",
                (self.station, id_token, type_),
            )
            return cursor.rowcount > 0

    def clear(self) -> None:
        """ClearCache (C11.FR.01): every entry of this station goes."""
        with self._store.transaction() as db:
            db.execute("DELETE FROM id_token_cache WHERE station = ?", (self.station,))
