"""The security log and the jobs of the security whitepaper (migration 11; T-45, LG-1..LG-4, SF-1..SF-10).

``security_log``: every security event the station detected (whitepaper A04.FR.01: all of them are logged, the
critical ones are also sent), newest last, bounded to ``max_rows`` per station so a station flooded with bad
frames or failed TLS handshakes cannot fill its disk. GetLog(SecurityLog) uploads these rows.

``log_job`` and ``signed_firmware_job``: the GetLog upload and the SignedUpdateFirmware job, one row per station,
journalled by the job engine (``station/kernel/jobs.py``) like ``firmware_job`` and ``diagnostics_job`` and read and
written as they are (``jobs.JobTable``), so either resumes after a power loss.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Final

from chargebox.store.jobs import JobTable
from chargebox.store.table import Table

MAX_ROWS: Final = 1_000  # security events kept per station; the oldest go first

MIGRATIONS: Final[Mapping[int, str]] = {
    # 11: the security log, the GetLog upload and the signed firmware job (T-45, LG-*, SF-*)
    11: """
    CREATE TABLE security_log (
        station TEXT NOT NULL DEFAULT '',
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        timestamp TEXT NOT NULL,
        event_type TEXT NOT NULL,
        tech_info TEXT,
        critical INTEGER NOT NULL
    );
    CREATE INDEX security_log_station ON security_log (station, id);
    CREATE TABLE log_job (
        station TEXT NOT NULL DEFAULT '' PRIMARY KEY,
        status TEXT NOT NULL DEFAULT 'Idle',
        stage TEXT NOT NULL DEFAULT 'idle',
        request_id INTEGER,
        log_type TEXT,
        location TEXT,
        file_name TEXT,
        retries INTEGER NOT NULL DEFAULT 0,
        retry_interval INTEGER NOT NULL DEFAULT 0,
        oldest TEXT,
        latest TEXT,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_try_at TEXT,
        received_at TEXT
    );
    CREATE TABLE signed_firmware_job (
        station TEXT NOT NULL DEFAULT '' PRIMARY KEY,
        status TEXT NOT NULL DEFAULT 'Idle',
        stage TEXT NOT NULL DEFAULT 'idle',
        request_id INTEGER,
        location TEXT,
        retrieve_date TEXT,
        install_date TEXT,
        signing_certificate TEXT,
        signature TEXT,
        retries INTEGER NOT NULL DEFAULT 0,
        retry_interval INTEGER NOT NULL DEFAULT 0,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_try_at TEXT,
        image TEXT,
        previous_version TEXT,
        new_version TEXT,
        received_at TEXT
    );
    """,
}


@dataclass(frozen=True, slots=True)
class SecurityLogEntry:
    id: int
    timestamp: str
    event_type: str
    tech_info: str | None
    critical: bool


class SecurityLogTable(Table):
    """The station's security log: appended to, read by GetLog, trimmed to the newest ``max_rows``."""

    max_rows = MAX_ROWS

    def add(self, timestamp: str, event_type: str, tech_info: str | None, *, critical: bool) -> int:
        """One event, committed at once (it is small and rare); the oldest rows past the bound go in the same
        commit."""
        with self._store.transaction() as db:
            cursor = db.execute(
                "INSERT INTO security_log (station, timestamp, event_type, tech_info, critical) VALUES (?, ?, ?, ?, ?)",
                (self.station, timestamp, event_type, tech_info, int(critical)),
            )
            db.execute(
                "DELETE FROM security_log WHERE station = ? AND id <= ?",
                (self.station, int(cursor.lastrowid or 0) - self.max_rows),
            )
            return int(cursor.lastrowid or 0)

    def entries(self, oldest: datetime | None = None, latest: datetime | None = None) -> list[SecurityLogEntry]:
        """The events, oldest first, within [oldest, latest] (LG-1)."""
        rows = self._store.rows("SELECT * FROM security_log WHERE station = ? ORDER BY id", (self.station,))
        return [
            SecurityLogEntry(
                id=int(row["id"]),
                timestamp=str(row["timestamp"]),
                event_type=str(row["event_type"]),
                tech_info=None if row["tech_info"] is None else str(row["tech_info"]),
                critical=bool(row["critical"]),
            )
            for row in rows
            if _within(datetime.fromisoformat(str(row["timestamp"])), oldest, latest)
        ]

    def count(self) -> int:
        """How many events are kept (at most ``max_rows``), for the tests of the bound."""
        rows = self._store.rows("SELECT COUNT(*) AS n FROM security_log WHERE station = ?", (self.station,))
        return int(rows[0]["n"])


def _within(moment: datetime, oldest: datetime | None, latest: datetime | None) -> bool:
    return (oldest is None or moment >= oldest) and (latest is None or moment <= latest)


@dataclass(frozen=True, slots=True)
class LogJobRecord:
    """The GetLog upload as persisted (stage idle, uploading)."""

    status: str
    stage: str
    request_id: int | None
    log_type: str | None
    location: str | None
    file_name: str | None
    retries: int
    retry_interval: int
    oldest: str | None
    latest: str | None
    attempts: int
    next_try_at: str | None
    received_at: str | None


@dataclass(frozen=True, slots=True)
class SignedFirmwareJobRecord:
    """The SignedUpdateFirmware job as persisted; ``signature`` is the request's base64 text."""

    status: str
    stage: str
    request_id: int | None
    location: str | None
    retrieve_date: str | None
    install_date: str | None
    signing_certificate: str | None
    signature: str | None
    retries: int
    retry_interval: int
    attempts: int
    next_try_at: str | None
    image: str | None
    previous_version: str | None
    new_version: str | None
    received_at: str | None


class LogJobTable(JobTable):
    _table = "log_job"
    _columns = tuple(field.name for field in fields(LogJobRecord))

    def load(self) -> LogJobRecord:
        """The GetLog upload as persisted: ``resume()`` goes on from its stage after a power loss."""
        return LogJobRecord(**self._fields())


class SignedFirmwareJobTable(JobTable):
    _table = "signed_firmware_job"
    _columns = tuple(field.name for field in fields(SignedFirmwareJobRecord))

    def load(self) -> SignedFirmwareJobRecord:
        """The signed firmware job as persisted: ``resume()`` goes on from its stage after a power loss."""
        return SignedFirmwareJobRecord(**self._fields())
