"""Configuration key values and small named facts about the station (migration 1)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from chargebox.store.table import Table

MIGRATIONS: Final[Mapping[int, str]] = {
    # 1: configuration keys and small station facts (registration, boot fields)
    1: """
    CREATE TABLE config (key TEXT PRIMARY KEY COLLATE NOCASE, value TEXT NOT NULL);
    CREATE TABLE station_state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    """,
}


class ConfigTable(Table):
    """Configuration key values as OCPP strings (K-13: they persist)."""

    def load(self) -> dict[str, str]:
        """Every stored value, read once at start: the values the central system set outlive a reboot (K-13)."""
        return {
            str(row["key"]): str(row["value"])
            for row in self._store.rows("SELECT key, value FROM config WHERE station = ?", (self.station,))
        }

    def save(self, key: str, value: str) -> None:
        """Store one accepted value before ChangeConfiguration is answered, so an Accepted change is never lost."""
        with self._store.transaction() as db:
            db.execute(
                "INSERT INTO config (station, key, value) VALUES (?, ?, ?) "
                "ON CONFLICT(station, key) DO UPDATE SET value = excluded.value",
                (self.station, key, value),
            )


class StateTable(Table):
    """Small named facts about the station (e.g. the firmware version it booted with)."""

    def get(self, key: str) -> str | None:
        """A fact the station keeps across restarts outside OCPP's keys; None if it was never set."""
        rows = self._store.rows("SELECT value FROM station_state WHERE station = ? AND key = ?", (self.station, key))
        return str(rows[0]["value"]) if rows else None

    def set(self, key: str, value: str) -> None:
        """Replace a fact in one commit, before the station acts on it."""
        with self._store.transaction() as db:
            db.execute(_SET_STATE, (self.station, key, value))

    async def put(self, key: str, value: str) -> None:
        """``set`` in the next group commit, off the event loop: for a fact written while stations run (a fleet's
        ten thousand would otherwise each wait for an fsync of their own)."""
        await self._store.write(lambda db: db.execute(_SET_STATE, (self.station, key, value)))


_SET_STATE: Final = (
    "INSERT INTO station_state (station, key, value) VALUES (?, ?, ?) "
    "ON CONFLICT(station, key) DO UPDATE SET value = excluded.value"
)
