"""store.py: numbered migrations, durability settings, nothing lost on migration."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from chargebox.store import FILE_NAME, MIGRATIONS, SCHEMA_VERSION, Store, migrate


def schema(db: sqlite3.Connection) -> list[tuple[str, str]]:
    rows = db.execute("SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY name").fetchall()
    return [(str(name), " ".join(str(sql).split())) for name, sql in rows]


def database_at(path: Path, version: int) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None)
    for number in range(1, version + 1):
        db.executescript(MIGRATIONS[number - 1])
        db.execute(f"PRAGMA user_version = {number}")
    return db


@pytest.mark.parametrize("version", range(SCHEMA_VERSION))
def test_every_past_version_migrates_to_the_same_schema_as_a_fresh_file(tmp_path: Path, version: int) -> None:
    old = database_at(tmp_path / "old.sqlite", version)
    migrate(old)
    fresh = sqlite3.connect(tmp_path / "fresh.sqlite", isolation_level=None)
    migrate(fresh)
    assert schema(old) == schema(fresh)
    assert old.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_migrating_from_version_1_keeps_every_configuration_value(tmp_path: Path) -> None:
    (tmp_path / "station").mkdir()
    old = database_at(tmp_path / "station" / FILE_NAME, 1)
    old.execute("INSERT INTO config VALUES ('HeartbeatInterval', '42'), ('AuthorizationKey', 'secret-secret-1234')")
    old.execute("INSERT INTO station_state VALUES ('firmware', '1.0')")
    old.close()
    store = Store.open(tmp_path / "station")
    assert store.version == SCHEMA_VERSION
    assert store.config.load() == {"HeartbeatInterval": "42", "AuthorizationKey": "secret-secret-1234"}
    assert store.state.get("firmware") == "1.0"
    store.close()


def test_a_newer_schema_than_this_code_is_refused(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / "x.sqlite", isolation_level=None)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(sqlite3.DatabaseError, match="newer"):
        migrate(db)


def test_file_store_is_wal_with_full_sync(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    assert store.query("PRAGMA journal_mode")[0][0] == "wal"
    assert store.query("PRAGMA synchronous")[0][0] == 2  # FULL
    store.close()


def test_failed_write_leaves_nothing_behind(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    with pytest.raises(RuntimeError), store.transaction() as db:
        db.execute("INSERT INTO config VALUES ('A', '1')")
        raise RuntimeError("power cut mid-write")
    assert store.config.load() == {}
    store.close()


def test_config_keys_are_case_insensitive_in_the_store(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    store.config.save("HeartbeatInterval", "1")
    store.config.save("heartbeatinterval", "2")
    assert store.config.load() == {"HeartbeatInterval": "2"}
    store.close()
