"""OCPP 2.0.1's network connection profiles, by configuration slot (B09.FR.01; migration 15).

A profile is kept as the NetworkConnectionProfileType JSON the central system sent (or the station made from
its own settings), so what was validated when it was set is what the link reads after any reboot.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from chargebox.store.table import Table, as_bytes

MIGRATIONS: Final[Mapping[int, str]] = {
    # 15: network connection profiles (OCPP 2.0.1 SetNetworkProfile), per station and configuration slot
    15: """
    CREATE TABLE network_profiles (
        station TEXT NOT NULL DEFAULT '',
        slot INTEGER NOT NULL,
        profile BLOB NOT NULL,
        PRIMARY KEY (station, slot)
    );
    """,
}


class NetworkProfilesTable(Table):
    """NetworkConnectionProfileType payloads (JSON) by configuration slot."""

    def all(self) -> dict[int, bytes]:
        rows = self._store.rows("SELECT slot, profile FROM network_profiles WHERE station = ?", (self.station,))
        return {int(str(row["slot"])): as_bytes(row["profile"]) for row in rows}

    def put(self, slot: int, profile: bytes) -> None:
        with self._store.transaction() as db:
            db.execute(
                "INSERT INTO network_profiles (station, slot, profile) VALUES (?, ?, ?) "
                "ON CONFLICT(station, slot) DO UPDATE SET profile = excluded.profile",
                (self.station, slot, profile),
            )

    def remove(self, slots: list[int]) -> None:
        with self._store.transaction() as db:
            db.executemany(
                "DELETE FROM network_profiles WHERE station = ? AND slot = ?", [(self.station, slot) for slot in slots]
            )
