"""Per-connector state that survives a reboot (its part of migration 2)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from chargebox.store.table import Table

MIGRATIONS: Final[Mapping[int, str]] = {
    # 2 (with auth and outbox): availability survives reboots (C-7); the simulated meter register
    2: """
    CREATE TABLE connectors (
        connector_id INTEGER PRIMARY KEY,
        availability TEXT NOT NULL DEFAULT 'Operative',
        meter_wh INTEGER NOT NULL DEFAULT 0
    );
    """,
}


class ConnectorsTable(Table):
    """Per connector: availability set by ChangeAvailability (C-7, S-9) and the meter register."""

    def ensure(self, count: int) -> None:
        """Make the rows of connectors 0..count, keeping those that exist: their availability and register are
        the past."""
        with self._store.transaction() as db:
            db.executemany(
                "INSERT OR IGNORE INTO connectors (station, connector_id) VALUES (?, ?)",
                [(self.station, i) for i in range(count + 1)],
            )

    def availability(self) -> dict[int, str]:
        """The availability ChangeAvailability left per connector, which a reboot must keep (C-7, S-9)."""
        rows = self._store.rows("SELECT connector_id, availability FROM connectors WHERE station = ?", (self.station,))
        return {int(row["connector_id"]): str(row["availability"]) for row in rows}

    def set_availability(self, connector_id: int, availability: str) -> None:
        """Persist Operative or Inoperative before the StatusNotification that reports it (C-7)."""
        with self._store.transaction() as db:
            db.execute(
                "UPDATE connectors SET availability = ? WHERE station = ? AND connector_id = ?",
                (availability, self.station, connector_id),
            )

    def all_meter_wh(self) -> dict[int, int]:
        """Each connector's last persisted register, where a simulated meter goes on counting after a restart (X-15)."""
        rows = self._store.rows("SELECT connector_id, meter_wh FROM connectors WHERE station = ?", (self.station,))
        return {int(row["connector_id"]): int(row["meter_wh"]) for row in rows}
