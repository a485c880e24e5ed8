"""A fleet in one store: each station sees its own rows only, in every table; old files migrate
with their rows as station ''; a fleet's journal survives a crash, station by station."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from chargebox.errors import ConfigError
from chargebox.store import FILE_NAME, MIGRATIONS, SCHEMA_VERSION, Store, StoreBackend


@pytest.fixture(params=["file", "memory"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreBackend]:
    backend = StoreBackend.open(tmp_path / "fleet" if request.param == "file" else None)
    yield backend
    backend.close()


def start(store: Store, id_tag: str) -> int:
    """What a station writes over a session: one row (or more) in every table."""
    store.config.save("HeartbeatInterval", id_tag)
    store.state.set("firmware", id_tag)
    store.connectors.ensure(2)
    store.connectors.set_availability(1, "Inoperative" if id_tag == "A" else "Operative")
    store.auth_cache.put(id_tag, "Accepted", expiry_date=None, parent_id_tag=None, now="2026-01-01T00:00:00Z")
    store.firmware.update(location=f"ftp://{id_tag}")
    store.diagnostics.update(location=f"ftp://{id_tag}")
    store.certificates.add(
        "CentralSystemRootCertificate", id_tag, hash_algorithm="SHA256", issuer_name_hash=id_tag,
        issuer_key_hash=id_tag, serial_number=id_tag, now="2026-01-01T00:00:00Z",
    )  # fmt: skip
    return 0


async def session(store: Store, id_tag: str) -> int:
    start(store, id_tag)
    ref = await store.transactions.begin(
        connector_id=1, id_tag=id_tag, parent_id_tag=None, reservation_id=None, meter_start=0,
        started_at="2026-01-01T00:00:00Z", start_request=lambda ref: ("StartTransaction", id_tag.encode()),
    )  # fmt: skip
    await store.transactions.record_sample(
        ref, connector_id=1, meter_wh=10, at="2026-01-01T00:01:00Z", stop_sample=id_tag.encode(),
        message=("MeterValues", id_tag.encode()),
    )  # fmt: skip
    await store.outbox.dead_letter(store.outbox.seqs()[0], "too big", "2026-01-01T00:02:00Z")
    return ref


async def test_two_stations_in_one_store_never_see_each_others_rows(backend: StoreBackend) -> None:
    a, b = backend.station("A"), backend.station("B")
    ref_a = await session(a, "A")
    ref_b = await session(b, "B")
    for store, other_ref, mine in ((a, ref_b, "A"), (b, ref_a, "B")):
        assert store.config.load() == {"HeartbeatInterval": mine}
        assert store.state.get("firmware") == mine
        assert store.connectors.availability() == {
            0: "Operative", 1: "Inoperative" if mine == "A" else "Operative", 2: "Operative",
        }  # fmt: skip
        assert store.connectors.all_meter_wh() == {0: 0, 1: 10, 2: 0}
        assert store.auth_cache.count() == 1
        assert store.auth_cache.get("B" if mine == "A" else "A") is None
        assert store.firmware.load().location == f"ftp://{mine}"
        assert store.diagnostics.load().location == f"ftp://{mine}"
        assert [c.pem for c in store.certificates.all()] == [mine]
        assert [t.id_tag for t in store.transactions.open_transactions()] == [mine]
        assert store.transactions.get(other_ref) is None
        assert store.outbox.count() == 1
        assert [store.outbox.get(seq).payload for seq in store.outbox.seqs()] == [mine.encode()]  # type: ignore[union-attr]
        assert [letter.payload for letter in store.dead_letters.all()] == [mine.encode()]
    assert a.transactions.samples(ref_a) == [b"A"]
    assert b.transactions.samples(ref_a) == []
    a.auth_cache.clear()
    assert (a.auth_cache.count(), b.auth_cache.count()) == (0, 1)
    a.connectors.set_availability(2, "Inoperative")
    assert b.connectors.availability()[2] == "Operative"
    a.config.save("heartbeatinterval", "7")  # NOCASE within a station, not across
    assert b.config.load() == {"HeartbeatInterval": "B"}


def test_a_station_that_never_wrote_its_jobs_reads_them_idle(backend: StoreBackend) -> None:
    store = backend.station("new")
    assert (store.firmware.load().status, store.firmware.load().stage, store.firmware.load().retries) == (
        "Idle", "idle", 0,
    )  # fmt: skip
    assert store.diagnostics.load().status == "Idle"


def database_at(path: Path, version: int) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None)
    for number in range(1, version + 1):
        db.executescript(MIGRATIONS[number - 1])
        db.execute(f"PRAGMA user_version = {number}")
    return db


@pytest.mark.parametrize("version", range(1, SCHEMA_VERSION))
def test_every_old_version_migrates_its_rows_to_station_blank(tmp_path: Path, version: int) -> None:
    (tmp_path / "station").mkdir()
    old = database_at(tmp_path / "station" / FILE_NAME, version)
    old.execute("INSERT INTO config (key, value) VALUES ('HeartbeatInterval', '42')")
    if version >= 2:
        old.execute("INSERT INTO outbox (action, payload, tx_ref) VALUES ('StartTransaction', x'7b7d', 1)")
        old.execute("DELETE FROM outbox")  # the counter outlives the row: seq 1 is never given again
        old.execute("INSERT INTO outbox (action, payload, tx_ref) VALUES ('StopTransaction', x'7b7d', 1)")
    old.close()
    store = Store.open(tmp_path / "station")
    try:
        assert store.version == SCHEMA_VERSION
        assert store.config.load() == {"HeartbeatInterval": "42"}
        assert store.firmware.load().status == "Idle"
        if version >= 2:
            assert store.outbox.seqs() == [2]
            assert store.connectors.availability() == {}
        fleet_station = store.backend.station("CP1")
        assert fleet_station.config.load() == {}
        assert fleet_station.outbox.count() == 0
    finally:
        store.close()


async def test_a_fleet_crash_keeps_each_stations_journal(tmp_path: Path) -> None:
    """What a power cut leaves (the file and its WAL as they are mid-run) holds every station's queue."""
    backend = StoreBackend.open(tmp_path / "fleet")
    stations = [backend.station(f"CP{i}") for i in range(1, 21)]

    async def journal(index: int, store: Store) -> None:
        for n in range(index % 3 + 1):
            await store.outbox.append("MeterValues", f"{store.station}-{n}".encode(), None)

    await asyncio.gather(*(journal(index, store) for index, store in enumerate(stations)))
    await stations[0].outbox.remove(stations[0].outbox.seqs()[0])
    assert backend.commits < 20 * 2  # the fleet shared its commits
    cut = tmp_path / "after-the-cut"
    shutil.copytree(tmp_path / "fleet", cut)  # copied with the backend still open: nothing checkpointed
    (cut / "lock").unlink()
    backend.close()
    restarted = StoreBackend.open(cut)
    try:
        for index, before in enumerate(stations):
            store = restarted.station(before.station)
            payloads = [store.outbox.get(seq).payload for seq in store.outbox.seqs()]  # type: ignore[union-attr]
            expected = [f"{before.station}-{n}".encode() for n in range(index % 3 + 1)]
            assert payloads == (expected[1:] if index == 0 else expected)
    finally:
        restarted.close()


def test_the_data_dir_lock_covers_the_whole_fleet_file(tmp_path: Path) -> None:
    backend = StoreBackend.open(tmp_path / "fleet")
    try:
        with pytest.raises(ConfigError, match="in use"):
            Store.open(tmp_path / "fleet")
        backend.station("CP1").close()  # a station's view leaves the fleet's backend open
        assert backend.station("CP1").config.load() == {}
    finally:
        backend.close()
