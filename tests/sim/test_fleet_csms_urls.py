"""``fleet --csms`` given several times: each station connects to the URL ``--csms-policy`` gives it, the same
whichever process runs it and whenever it is added; the figures and ``/metrics`` count each URL's stations."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from chargebox.csms.server import CentralSystem, CsmsPolicy
from chargebox.csms_policy import choose_url
from chargebox.sim.fleet import Fleet, FleetSettings
from chargebox.sim.fleet_control import start_fleet_control
from chargebox.sim.fleet_processes import process_settings
from tests.loopback import until
from tests.scrape import scrape
from tests.sim.test_fleet_processes import boots_of
from tests.test_cli import CLI, assert_one_line_error, run_cli

URLS = ("ws://a.test/ocpp", "ws://b.test/ocpp", "ws://c.test/ocpp")


@contextlib.asynccontextmanager
async def fleet_running(fleet: Fleet) -> AsyncIterator[None]:
    """``fleet`` running until the block ends, then stopped."""
    task = asyncio.ensure_future(fleet.run())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await fleet.stop()


@pytest.fixture
async def two_systems() -> AsyncIterator[tuple[CentralSystem, CentralSystem, str, str]]:
    first, second = CentralSystem(CsmsPolicy(heartbeat_interval=600)), CentralSystem(CsmsPolicy(heartbeat_interval=600))
    ports = [await first.start("127.0.0.1", 0), await second.start("127.0.0.1", 0)]
    try:
        yield first, second, f"ws://127.0.0.1:{ports[0]}/a", f"ws://127.0.0.1:{ports[1]}/b"
    finally:
        await first.stop()
        await second.stop()


def test_round_robin_gives_station_i_url_i_mod_n() -> None:
    assert [choose_url(URLS, "round-robin", i, f"CP{i}", 0) for i in range(1, 8)] == [*URLS, *URLS, URLS[0]]


def test_hash_is_a_stable_hash_of_the_id_not_of_its_index_nor_pythons_salted_hash() -> None:
    expected = URLS[int.from_bytes(hashlib.sha256(b"CP7").digest()[:8], "big") % 3]
    assert {choose_url(URLS, "hash", index, "CP7", seed) for index in (1, 7, 99) for seed in (0, 5)} == {expected}
    assert len({choose_url(URLS, "hash", 1, f"CP{i}", 0) for i in range(1, 50)}) == 3  # it spreads


def test_random_is_drawn_from_the_seed_and_the_id() -> None:
    def spread(seed: int) -> list[str]:
        return [choose_url(URLS, "random", i, f"CP{i}", seed) for i in range(1, 40)]

    assert spread(7) == spread(7)
    assert spread(7) != spread(8)
    assert set(spread(7)) == set(URLS)


@pytest.mark.parametrize("policy", ["round-robin", "random", "hash"])
def test_a_station_gets_the_same_url_whatever_the_processes(policy: str) -> None:
    settings = FleetSettings(csms_url=URLS[0], csms_urls=URLS, csms_policy=policy, count=20, seed=3)  # type: ignore[arg-type]
    one = {i: settings.url_of(i) for i in settings.indices()}
    for shards in (2, 3, 7):
        shares = [process_settings(settings, shard, shards) for shard in range(shards)]
        assert {i: share.url_of(i) for share in shares for i in share.indices()} == one


async def test_round_robin_spreads_the_stations_and_a_live_added_one_over_two_central_systems(
    two_systems: tuple[CentralSystem, CentralSystem, str, str],
) -> None:
    first, second, url_a, url_b = two_systems
    fleet = Fleet(FleetSettings(csms_url=url_a, csms_urls=(url_a, url_b), count=4, connect_rate=1000))
    async with fleet_running(fleet):
        await until(lambda: fleet.figures()["booted"] == 4, timeout=20.0)
        fleet.start_station(5)  # as POST /api/stations adds one (sim/fleet_live.py): the next index
        await until(lambda: fleet.figures()["booted"] == 5, timeout=20.0)
        assert (set(first.sessions), set(second.sessions)) == ({"CP1", "CP3", "CP5"}, {"CP2", "CP4"})
        assert fleet.figures()["csms"] == {
            url_a: {"stations": 3, "connected": 3, "booted": 3},
            url_b: {"stations": 2, "connected": 2, "booted": 2},
        }
        runner, port = await start_fleet_control(fleet, "127.0.0.1", 0)
        try:
            async with aiohttp.ClientSession() as http:
                figures = await scrape(http, f"http://127.0.0.1:{port}")
        finally:
            await runner.cleanup()
        assert figures.value("chargebox_stations_csms", csms=url_a) == 3
        assert figures.value("chargebox_stations_csms", csms=url_b) == 2


async def test_fleet_processes_with_two_urls_counts_each_urls_stations(
    two_systems: tuple[CentralSystem, CentralSystem, str, str], tmp_path: Path
) -> None:
    first, second, url_a, url_b = two_systems
    boots = (boots_of(first), boots_of(second))
    stats = tmp_path / "stats.json"
    proc = await asyncio.create_subprocess_exec(
        *CLI, "fleet", "--csms", url_a, "--csms", url_b, "--csms-policy", "hash", "--count", "6", "--processes", "2",
        "--connect-rate", "100", "--stats-json", str(stats),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        await until(lambda: sum(boots[0].values()) + sum(boots[1].values()) == 6, timeout=30.0)
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err
    assert b"= 6 stations in 2 processes over 2 central systems (hash)" in err
    settings = FleetSettings(csms_url=url_a, csms_urls=(url_a, url_b), csms_policy="hash", count=6)
    expected = {url: {f"CP{i}" for i in range(1, 7) if settings.url_of(i) == url} for url in (url_a, url_b)}
    assert (set(boots[0]), set(boots[1])) == (expected[url_a], expected[url_b])
    rows = json.loads(stats.read_text())["csms"]
    assert {url: row["booted"] for url, row in rows.items()} == {url: len(ids) for url, ids in expected.items() if ids}


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--csms", "ws://127.0.0.1:9", "--csms-policy", "nearest"], "--csms-policy: invalid choice: 'nearest'"),
        (["--csms", "ws://127.0.0.1:9", "--csms", "http://127.0.0.1:10"], "'http://127.0.0.1:10': must be a ws://"),
        (["--csms", "ws://127.0.0.1:9", "--csms", "wss://127.0.0.1:10"], "every URL of a fleet has one scheme"),
    ],
)
async def test_bad_csms_urls_and_policies_are_one_line_and_exit_2(args: list[str], fragment: str) -> None:
    code, _, err = await run_cli("fleet", "--count", "2", *args)
    assert_one_line_error(code, err, fragment)
