"""schema.py: one numbered sequence gathered from the table modules, nothing lost on migration."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from chargebox.store import FILE_NAME, MIGRATIONS, SCHEMA_VERSION, Store, migrate
from chargebox.store.schema import gather, table_modules


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


def test_migration_2_still_creates_its_three_tables_in_one_step(tmp_path: Path) -> None:
    """Split across the connectors, auth and outbox modules, version 2 is still the schema it always was."""
    db = database_at(tmp_path / "v2.sqlite", 2)
    tables = {name for name, _ in schema(db)}
    assert tables == {"config", "station_state", "connectors", "auth_cache", "outbox", "sqlite_sequence"}


def test_migration_5_adds_dead_letters_and_keeps_the_queued_messages(tmp_path: Path) -> None:
    (tmp_path / "station").mkdir()
    old = database_at(tmp_path / "station" / FILE_NAME, 4)
    old.execute("INSERT INTO outbox (action, payload, tx_ref) VALUES ('StartTransaction', x'7b7d', 1)")
    old.close()
    store = Store.open(tmp_path / "station")
    assert store.outbox.seqs() == [1]
    assert store.dead_letters.count() == 0
    store.close()


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


def test_parts_of_a_shared_number_run_in_module_order() -> None:
    owners = {"a": {1: "A1;", 2: "A2;"}, "b": {2: "B2;"}}
    assert gather(owners, frozenset({2})) == ("A1;", "A2;B2;")


def test_a_gap_in_the_numbers_fails_loudly() -> None:
    with pytest.raises(RuntimeError, match=r"without gaps, not \[1, 3\]"):
        gather({"a": {1: "A1;"}, "b": {3: "B3;"}}, frozenset())


def test_one_number_declared_by_two_modules_fails_loudly() -> None:
    """Two engineers each adding the next migration in their own module must not both ship it."""
    with pytest.raises(RuntimeError, match="more than one module"):
        gather({"a": {1: "A1;", 2: "A2;"}, "b": {2: "B2;"}}, frozenset())


def test_a_new_table_module_joins_the_schema_without_a_list_to_edit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A feature's new store module is gathered because it declares MIGRATIONS; other modules are not."""
    package = tmp_path / "tables_under_test"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "core.py").write_text("raise AssertionError('the store itself is not a table module')\n")
    (package / "zeta.py").write_text("MIGRATIONS = {2: 'Z2;'}\n")
    (package / "alpha.py").write_text("MIGRATIONS = {1: 'A1;'}\n")
    (package / "helpers.py").write_text("LIMIT = 3\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    owners = table_modules(package, "tables_under_test")
    assert owners == {"tables_under_test.alpha": {1: "A1;"}, "tables_under_test.zeta": {2: "Z2;"}}
    assert gather(owners) == ("A1;", "Z2;")
