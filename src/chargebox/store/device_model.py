"""OCPP 2.0.1's device model: the values of its variables that survive a reboot (migration 14).

One row per attribute of a variable instance that holds a value of its own (set by the central system, by the
station itself, or seeded at first start); a variable without a row has its declared default. ``variable`` is
the device model's name of the instance (``OCPPCommCtrlr.MessageAttempts[TransactionEvent]``,
``EVSE@1.AvailabilityState``), matched without regard to case as 2.0.1's identifierStrings are.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from chargebox.store.table import Table

MIGRATIONS: Final[Mapping[int, str]] = {
    # 14: the device model's values (OCPP 2.0.1), per station, variable instance and attribute type
    14: """
    CREATE TABLE device_model (
        station TEXT NOT NULL DEFAULT '',
        variable TEXT NOT NULL COLLATE NOCASE,
        attribute TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (station, variable, attribute)
    );
    """,
}


class DeviceModelTable(Table):
    """The stored values, as OCPP strings, by (variable, attribute type)."""

    def load(self) -> dict[tuple[str, str], str]:
        rows = self._store.rows(
            "SELECT variable, attribute, value FROM device_model WHERE station = ?", (self.station,)
        )
        return {(str(row["variable"]).lower(), str(row["attribute"])): str(row["value"]) for row in rows}

    def save(self, values: Mapping[tuple[str, str], str]) -> None:
        """Write every (variable, attribute) -> value in one commit: a SetVariables request is kept whole."""
        with self._store.transaction() as db:
            db.executemany(
                "INSERT INTO device_model (station, variable, attribute, value) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(station, variable, attribute) DO UPDATE SET value = excluded.value",
                [(self.station, variable, attribute, value) for (variable, attribute), value in values.items()],
            )
