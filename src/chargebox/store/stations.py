"""A fleet in one file: every table gets a ``station`` column in its key (migration 8).

The tables made before the fleet store (migrations 1 to 6) had one station per file. Migration 8
rebuilds each so that ``station`` is part of its primary key or unique constraint; the rows already
there become station ``''``, the station of a store of its own, so a single station reads exactly
what it read before. The two AUTOINCREMENT tables (``outbox``, ``transactions``) keep their counter
(``sqlite_sequence``): a seq or ref is never reused, so a dead letter's seq still names one entry.
The firmware and diagnostics jobs become one row per station, made when a station first writes it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final


def _rebuild(table: str, create: str, columns: str, *, autoincrement: bool = False) -> str:
    """Make ``table`` again from ``create`` (naming it ``<table>_new``), copying ``columns`` with
    station ''. An AUTOINCREMENT table hands its counter to the new one before the old is dropped."""
    keep_counter = (
        f"DELETE FROM sqlite_sequence WHERE name = '{table}_new';"
        f"UPDATE sqlite_sequence SET name = '{table}_new' WHERE name = '{table}';"
        if autoincrement
        else ""
    )
    return (
        f"{create};"
        f"INSERT INTO {table}_new (station, {columns}) SELECT '', {columns} FROM {table};"
        f"{keep_counter}"
        f"DROP TABLE {table};"
        f"ALTER TABLE {table}_new RENAME TO {table};"
    )


MIGRATIONS: Final[Mapping[int, str]] = {
    # 8: a station column in the key of every table (a fleet shares one file); rows so far are station ''
    8: "".join(
        (
            _rebuild(
                "config",
                "CREATE TABLE config_new (station TEXT NOT NULL DEFAULT '', key TEXT NOT NULL COLLATE NOCASE, "
                "value TEXT NOT NULL, PRIMARY KEY (station, key))",
                "key, value",
            ),
            _rebuild(
                "station_state",
                "CREATE TABLE station_state_new (station TEXT NOT NULL DEFAULT '', key TEXT NOT NULL, "
                "value TEXT NOT NULL, PRIMARY KEY (station, key))",
                "key, value",
            ),
            _rebuild(
                "connectors",
                "CREATE TABLE connectors_new (station TEXT NOT NULL DEFAULT '', connector_id INTEGER NOT NULL, "
                "availability TEXT NOT NULL DEFAULT 'Operative', meter_wh INTEGER NOT NULL DEFAULT 0, "
                "PRIMARY KEY (station, connector_id))",
                "connector_id, availability, meter_wh",
            ),
            _rebuild(
                "auth_cache",
                "CREATE TABLE auth_cache_new (station TEXT NOT NULL DEFAULT '', id_tag TEXT NOT NULL COLLATE NOCASE, "
                "status TEXT NOT NULL, expiry_date TEXT, parent_id_tag TEXT, updated_at TEXT NOT NULL, "
                "PRIMARY KEY (station, id_tag))",
                "id_tag, status, expiry_date, parent_id_tag, updated_at",
            ),
            _rebuild(
                "outbox",
                "CREATE TABLE outbox_new (seq INTEGER PRIMARY KEY AUTOINCREMENT, station TEXT NOT NULL DEFAULT '', "
                "action TEXT NOT NULL, payload BLOB NOT NULL, message_id TEXT, attempts INTEGER NOT NULL DEFAULT 0, "
                "next_try_at REAL, tx_ref INTEGER, UNIQUE (station, seq))",
                "seq, action, payload, message_id, attempts, next_try_at, tx_ref",
                autoincrement=True,
            ),
            _rebuild(
                "dead_letters",
                "CREATE TABLE dead_letters_new (station TEXT NOT NULL DEFAULT '', seq INTEGER NOT NULL, "
                "action TEXT NOT NULL, payload BLOB NOT NULL, tx_ref INTEGER, attempts INTEGER NOT NULL, "
                "reason TEXT NOT NULL, moved_at TEXT NOT NULL, PRIMARY KEY (station, seq))",
                "seq, action, payload, tx_ref, attempts, reason, moved_at",
            ),
            _rebuild(
                "transactions",
                "CREATE TABLE transactions_new (ref INTEGER PRIMARY KEY AUTOINCREMENT, "
                "station TEXT NOT NULL DEFAULT '', connector_id INTEGER NOT NULL, id_tag TEXT NOT NULL, "
                "parent_id_tag TEXT, transaction_id INTEGER, reservation_id INTEGER, meter_start INTEGER NOT NULL, "
                "meter_last INTEGER NOT NULL, started_at TEXT NOT NULL, stopped_at TEXT, stop_reason TEXT, "
                "deauthorized INTEGER NOT NULL DEFAULT 0, meter_last_at TEXT, UNIQUE (station, ref))",
                "ref, connector_id, id_tag, parent_id_tag, transaction_id, reservation_id, meter_start, meter_last, "
                "started_at, stopped_at, stop_reason, deauthorized, meter_last_at",
                autoincrement=True,
            ),
            _rebuild(
                "tx_samples",
                "CREATE TABLE tx_samples_new (seq INTEGER PRIMARY KEY AUTOINCREMENT, "
                "station TEXT NOT NULL DEFAULT '', tx_ref INTEGER NOT NULL, meter_value TEXT NOT NULL, "
                "UNIQUE (station, tx_ref, seq))",
                "seq, tx_ref, meter_value",
                autoincrement=True,
            ),
            _rebuild(
                "firmware_job",
                "CREATE TABLE firmware_job_new (station TEXT NOT NULL DEFAULT '' PRIMARY KEY, "
                "status TEXT NOT NULL DEFAULT 'Idle', stage TEXT NOT NULL DEFAULT 'idle', location TEXT, "
                "retrieve_date TEXT, retries INTEGER NOT NULL DEFAULT 0, retry_interval INTEGER NOT NULL DEFAULT 0, "
                "attempts INTEGER NOT NULL DEFAULT 0, next_try_at TEXT, image TEXT, previous_version TEXT, "
                "new_version TEXT, received_at TEXT)",
                "status, stage, location, retrieve_date, retries, retry_interval, attempts, next_try_at, image, "
                "previous_version, new_version, received_at",
            ),
            _rebuild(
                "diagnostics_job",
                "CREATE TABLE diagnostics_job_new (station TEXT NOT NULL DEFAULT '' PRIMARY KEY, "
                "status TEXT NOT NULL DEFAULT 'Idle', stage TEXT NOT NULL DEFAULT 'idle', location TEXT, "
                "file_name TEXT, retries INTEGER NOT NULL DEFAULT 0, retry_interval INTEGER NOT NULL DEFAULT 0, "
                "start_time TEXT, stop_time TEXT, attempts INTEGER NOT NULL DEFAULT 0, next_try_at TEXT, "
                "received_at TEXT)",
                "status, stage, location, file_name, retries, retry_interval, start_time, stop_time, attempts, "
                "next_try_at, received_at",
            ),
        )
    ),
}
