"""OCPP 2.0.1's availability, as ChangeAvailability set it (G03.FR.08, G04.FR.09; migration 18).

One row per thing ChangeAvailability made Inoperative, by scope: EVSE 0 is the station, connector 0 an EVSE as a
whole. Each scope keeps its own word: the station made Operative again gives an EVSE set Inoperative on its own
its state back (G04.FR.08), so the scopes are not folded into one value per connector.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from chargebox.store.table import Table

MIGRATIONS: Final[Mapping[int, str]] = {
    # 18: OCPP 2.0.1 ChangeAvailability, per station, EVSE (0: the station) and connector (0: the EVSE)
    18: """
    CREATE TABLE availability (
        station TEXT NOT NULL DEFAULT '',
        evse INTEGER NOT NULL,
        connector INTEGER NOT NULL,
        PRIMARY KEY (station, evse, connector)
    );
    """,
}


class AvailabilityTable(Table):
    """The scopes (evse, connector) that are Inoperative; every other scope is Operative."""

    def inoperative(self) -> set[tuple[int, int]]:
        rows = self._store.rows("SELECT evse, connector FROM availability WHERE station = ?", (self.station,))
        return {(int(row["evse"]), int(row["connector"])) for row in rows}

    def set(self, evse: int, connector: int, *, operative: bool) -> None:
        """One commit, before the answer that reports it (G03.FR.08, G04.FR.09)."""
        with self._store.transaction() as db:
            if operative:
                db.execute("DELETE FROM availability WHERE station = ? AND evse = ? AND connector = ?",
                           (self.station, evse, connector))  # fmt: skip
            else:
                db.execute("INSERT OR IGNORE INTO availability (station, evse, connector) VALUES (?, ?, ?)",
                           (self.station, evse, connector))  # fmt: skip
