"""The firmware job and the diagnostics upload (migration 4; F-1..F-8, D-1..D-4), and ``JobTable``, what every job's
table is: the whitepaper's GetLog and SignedUpdateFirmware jobs (``security_log.py``) are two more."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, Final

from chargebox.store.table import Table

MIGRATIONS: Final[Mapping[int, str]] = {
    # 4: the firmware job and the diagnostics upload (F-1..F-8, D-1..D-4): one row each, holding the last
    #    status entered (seed: SetFirmwareStatusNotificationStatus) and where the job is, so it resumes
    4: """
    CREATE TABLE firmware_job (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        status TEXT NOT NULL DEFAULT 'Idle',
        stage TEXT NOT NULL DEFAULT 'idle',
        location TEXT,
        retrieve_date TEXT,
        retries INTEGER NOT NULL DEFAULT 0,
        retry_interval INTEGER NOT NULL DEFAULT 0,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_try_at TEXT,
        image TEXT,
        previous_version TEXT,
        new_version TEXT,
        received_at TEXT
    );
    INSERT INTO firmware_job (id) VALUES (1);
    CREATE TABLE diagnostics_job (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        status TEXT NOT NULL DEFAULT 'Idle',
        stage TEXT NOT NULL DEFAULT 'idle',
        location TEXT,
        file_name TEXT,
        retries INTEGER NOT NULL DEFAULT 0,
        retry_interval INTEGER NOT NULL DEFAULT 0,
        start_time TEXT,
        stop_time TEXT,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_try_at TEXT,
        received_at TEXT
    );
    INSERT INTO diagnostics_job (id) VALUES (1);
    """,
}

JobValue = str | int | None

# The columns' defaults in every job table (migrations 4, 8 and 11), read by a station whose row is not made yet.
_JOB_DEFAULTS: Final[Mapping[str, JobValue]] = {
    "status": "Idle",
    "stage": "idle",
    "retries": 0,
    "retry_interval": 0,
    "attempts": 0,
}


@dataclass(frozen=True, slots=True)
class FirmwareJobRecord:
    """The station's firmware state as persisted: the last status entered and the job under way, if any.

    ``stage`` is where the job is (idle, scheduled, downloading, downloaded, installing, installed);
    ``attempts`` counts download attempts started, so a reboot never resets the retries (F-4).
    """

    status: str
    stage: str
    location: str | None
    retrieve_date: str | None
    retries: int
    retry_interval: int
    attempts: int
    next_try_at: str | None
    image: str | None
    previous_version: str | None
    new_version: str | None
    received_at: str | None


@dataclass(frozen=True, slots=True)
class DiagnosticsJobRecord:
    """The diagnostics upload as persisted (stage idle, uploading), with its time window (D-2)."""

    status: str
    stage: str
    location: str | None
    file_name: str | None
    retries: int
    retry_interval: int
    start_time: str | None
    stop_time: str | None
    attempts: int
    next_try_at: str | None
    received_at: str | None


class JobTable(Table):
    """One row per station holding a service's status and its job; every change is one durable commit.

    The columns are the record's fields, so a column added to both cannot be missed by either. Reading never
    writes: a station whose job never started reads the columns' defaults, and its first update makes the row.
    """

    _table: str
    _columns: tuple[str, ...]

    def _fields(self) -> dict[str, Any]:
        """The row by column name; the columns' own types (INTEGER, TEXT, NULL) are the record's.
        A station that never wrote its job has none yet: it reads the columns' defaults."""
        rows = self._store.rows(
            f"SELECT {', '.join(self._columns)} FROM {self._table} WHERE station = ?", (self.station,)
        )
        if not rows:
            return {name: _JOB_DEFAULTS.get(name) for name in self._columns}
        return {name: rows[0][name] for name in self._columns}

    def update(self, **fields: JobValue) -> None:
        """Change some columns of the job (journal first, then act)."""
        unknown = set(fields) - set(self._columns)
        if unknown:
            raise ValueError(f"{self._table} has no column {sorted(unknown)}")
        if not fields:
            return
        names = ", ".join(fields)
        marks = ", ".join("?" for _ in fields)
        assignments = ", ".join(f"{name} = excluded.{name}" for name in fields)
        with self._store.transaction() as db:
            db.execute(
                f"INSERT INTO {self._table} (station, {names}) VALUES (?, {marks}) "
                f"ON CONFLICT(station) DO UPDATE SET {assignments}",
                (self.station, *fields.values()),
            )

    def set_status(self, status: str) -> None:
        """The seed's status setter: persisted before anything is sent (F-3, D-3)."""
        self.update(status=status)


class FirmwareJobTable(JobTable):
    _table = "firmware_job"
    _columns = tuple(field.name for field in fields(FirmwareJobRecord))

    def load(self) -> FirmwareJobRecord:
        """The firmware job as persisted: ``resume()`` goes on from its stage after a power loss."""
        return FirmwareJobRecord(**self._fields())

    def save_job(
        self, *, location: str, retrieve_date: str, retries: int, retry_interval: int, received_at: str, image: str
    ) -> None:
        """Journal a new UpdateFirmware (F-1): it replaces whatever job was there."""
        self.update(
            stage="scheduled",
            location=location,
            retrieve_date=retrieve_date,
            retries=retries,
            retry_interval=retry_interval,
            attempts=0,
            next_try_at=None,
            image=image,
            previous_version=None,
            new_version=None,
            received_at=received_at,
        )


class DiagnosticsJobTable(JobTable):
    _table = "diagnostics_job"
    _columns = tuple(field.name for field in fields(DiagnosticsJobRecord))

    def load(self) -> DiagnosticsJobRecord:
        """The diagnostics upload as persisted: ``resume()`` goes on from its stage after a power loss."""
        return DiagnosticsJobRecord(**self._fields())

    def save_job(
        self,
        *,
        location: str,
        file_name: str,
        retries: int,
        retry_interval: int,
        start_time: str | None,
        stop_time: str | None,
        received_at: str,
    ) -> None:
        """Journal a new GetDiagnostics before its answer names the file (D-1)."""
        self.update(
            stage="uploading",
            location=location,
            file_name=file_name,
            retries=retries,
            retry_interval=retry_interval,
            start_time=start_time,
            stop_time=stop_time,
            attempts=0,
            next_try_at=None,
            received_at=received_at,
        )
