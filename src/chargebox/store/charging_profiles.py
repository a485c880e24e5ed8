"""Installed charging profiles (migration 8; checklist 7, SC-11: they persist across a reboot).

One row per profile, keyed by its chargingProfileId; the profile itself is kept as the JSON the
central system sent (validated before it is stored), with the columns ClearChargingProfile and
replacement (SC-5, CC-1..CC-3) select on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from chargebox.store.table import Table, as_bytes

MIGRATIONS: Final[Mapping[int, str]] = {
    # 13: charging profiles (SetChargingProfile, RemoteStartTransaction's TxProfile)
    13: """
    CREATE TABLE charging_profiles (
        station TEXT NOT NULL DEFAULT '',
        profile_id INTEGER NOT NULL,
        connector_id INTEGER NOT NULL,
        purpose TEXT NOT NULL,
        stack_level INTEGER NOT NULL,
        profile BLOB NOT NULL,
        PRIMARY KEY (station, profile_id)
    );
    """,
}


@dataclass(frozen=True, slots=True)
class ProfileRow:
    profile_id: int
    connector_id: int
    purpose: str
    stack_level: int
    profile: bytes  # the ChargingProfile as JSON


class ChargingProfilesTable(Table):
    """The profiles installed; the smart charging service decides what may be installed or cleared."""

    def install(self, row: ProfileRow) -> None:
        """SC-5: replaces the profile of the same id, and the one of the same purpose and stackLevel on
        the same connector, in one commit."""
        with self._store.transaction() as db:
            db.execute(
                "DELETE FROM charging_profiles WHERE station = ? AND (profile_id = ? "
                "OR (purpose = ? AND stack_level = ? AND connector_id = ?))",
                (self.station, row.profile_id, row.purpose, row.stack_level, row.connector_id),
            )
            db.execute(
                "INSERT INTO charging_profiles (station, profile_id, connector_id, purpose, stack_level, profile) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (self.station, row.profile_id, row.connector_id, row.purpose, row.stack_level, row.profile),
            )

    def all(self) -> list[ProfileRow]:
        """Every installed profile in id order, to rebuild the schedules after a reboot (SC-11)."""
        sql = "SELECT * FROM charging_profiles WHERE station = ? ORDER BY profile_id"
        rows = self._store.rows(sql, (self.station,))
        return [
            ProfileRow(
                profile_id=int(row["profile_id"]),
                connector_id=int(row["connector_id"]),
                purpose=str(row["purpose"]),
                stack_level=int(row["stack_level"]),
                profile=as_bytes(row["profile"]),
            )
            for row in rows
        ]

    def delete(self, profile_ids: list[int]) -> int:
        """Remove these profiles; returns how many were removed."""
        removed = 0
        with self._store.transaction() as db:
            for profile_id in profile_ids:
                cursor = db.execute(
                    "DELETE FROM charging_profiles WHERE station = ? AND profile_id = ?", (self.station, profile_id)
                )
                removed += cursor.rowcount
        return removed
