"""chargebox fleet --processes N: the stations in N real processes against the built-in central system, one set of
figures (counts added, HDR histograms combined exactly), one control API, a clean stop of every process, and a
process that dies reported with a non-zero exit."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from collections import Counter
from pathlib import Path

import aiohttp
import pytest

from chargebox.csms.server import CentralSystem, CsmsEvent
from chargebox.rpc import SendOutcome
from chargebox.sim.fleet import FleetSettings, RoundTrips
from chargebox.sim.fleet_control import start_fleet_control
from chargebox.sim.fleet_processes import FleetProcesses, process_settings
from tests.loopback import until
from tests.scrape import scrape
from tests.sim.test_fleet import FIGURES
from tests.test_cli import CLI, JSON, CliMain, assert_one_line_error, run_cli

COUNT = 60  # every station once over two processes: the count only has to be more than a few


def boots_of(system: CentralSystem) -> Counter[str]:
    """How many BootNotifications each charge point id made (a duplicated id would make two)."""
    boots: Counter[str] = Counter()

    def watch(event: CsmsEvent) -> None:
        if event.action == "BootNotification":
            boots[event.charge_point_id] += 1

    system.on_event = watch
    return boots


def children_of(pid: int) -> list[int]:
    """The processes ``pid`` started (from /proc: the fleet's processes)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rpartition(")")[2].split()[1]) == pid:
                found.append(int(entry.name))
    return found


async def until_booted(boots: Counter[str], count: int) -> None:
    await until(lambda: len(boots) >= count, timeout=60, poll=0.1)


async def fleet_of_two_processes(system: CentralSystem, port: int, stats: Path) -> asyncio.subprocess.Process:
    """``chargebox fleet --processes 2`` of ``COUNT`` stations, once every one is connected and booted."""
    boots = boots_of(system)
    proc = await asyncio.create_subprocess_exec(
        *CLI, "fleet", "--csms", f"ws://127.0.0.1:{port}", "--count", str(COUNT), "--processes", "2",
        "--connect-rate", "1000", "--stats-json", str(stats),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        await until_booted(boots, COUNT)
        await until(lambda: len(system.connections) == COUNT)
    except BaseException:
        proc.kill()
        await proc.wait()
        raise
    return proc


def test_the_processes_share_the_stations_out_each_once_with_its_one_process_id() -> None:
    settings = FleetSettings(csms_url="ws://h", count=7, connect_rate=30, data_dir=Path("/d"))
    shares = [process_settings(settings, shard, 3) for shard in range(3)]
    assert [list(s.indices()) for s in shares] == [[1, 4, 7], [2, 5], [3, 6]]
    assert {s.connect_rate for s in shares} == {10.0}  # together they ramp at the rate one process would
    assert [s.data_dir for s in shares] == [Path(f"/d/process-{k}-of-3") for k in (1, 2, 3)]
    assert [s.station_id(i) for s in shares for i in s.indices()] == ["CP1", "CP4", "CP7", "CP2", "CP5", "CP3", "CP6"]


def test_combined_percentiles_are_those_of_every_round_trip_not_an_average_of_each_processes() -> None:
    fast, slow, all_of_them = RoundTrips(), RoundTrips(), RoundTrips()
    for _ in range(900):  # one process: 900 round trips of 1 ms
        fast.record(0.001, SendOutcome.RESPONSE_SUCCESS)
        all_of_them.record(0.001, SendOutcome.RESPONSE_SUCCESS)
    for _ in range(100):  # the other: 100 of 200 ms
        slow.record(0.200, SendOutcome.RESPONSE_SUCCESS)
        all_of_them.record(0.200, SendOutcome.RESPONSE_SUCCESS)
    combined = RoundTrips.combined([fast.encode(), slow.encode()], [])
    for fraction in (0.5, 0.9, 0.95, 0.99):
        assert combined.whole_run_percentile(fraction) == all_of_them.whole_run_percentile(fraction)
    assert combined.whole_run_percentile(0.5) == pytest.approx(1.0, rel=0.01)  # the average of p50s: 100.5 ms
    assert combined.whole_run_percentile(0.99) == pytest.approx(200.0, rel=0.01)
    assert combined.answered == 1000


async def test_fleet_processes_2_boots_every_station_once_and_writes_the_combined_stats(
    csms: tuple[CentralSystem, int], tmp_path: Path
) -> None:
    system, port = csms
    boots = boots_of(system)
    stats = tmp_path / "stats.json"
    code, _out, err = await run_cli(
        "fleet", "--csms", f"ws://127.0.0.1:{port}", "--count", str(COUNT), "--processes", "2",
        "--connect-rate", "1000", "--duration", "8", "--stats-json", str(stats), timeout=60,
    )  # fmt: skip
    assert code == 0, err
    assert boots == Counter({f"CP{i}": 1 for i in range(1, COUNT + 1)})  # every id, each once
    figures = json.loads(stats.read_text())
    assert set(figures) >= FIGURES
    assert (figures["stations"], figures["connected"], figures["booted"], figures["errors"]) == (COUNT, COUNT, COUNT, 0)
    assert figures["messagesSent"] >= COUNT * 3  # a boot and two StatusNotifications each, in both processes
    assert 0 < figures["rttP50Ms"] <= figures["rttP99Ms"]
    assert "2 processes" in err


async def test_sigterm_stops_every_process_cleanly_and_the_summary_counts_them_all(
    csms: tuple[CentralSystem, int], tmp_path: Path
) -> None:
    system, port = csms
    stats = tmp_path / "stats.json"
    proc = await fleet_of_two_processes(system, port, stats)
    try:
        workers = children_of(proc.pid)
        assert len(workers) == 2
        connections = list(system.connections.values())
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 60) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert {connection.close_code for connection in connections} == {1001}  # each closed its link: going away
    assert not [pid for pid in workers if Path(f"/proc/{pid}").exists()]  # and no process is left behind
    assert json.loads(stats.read_text())["stations"] == COUNT


async def test_a_second_sigterm_while_the_processes_stop_does_not_cut_the_stop_short(
    csms: tuple[CentralSystem, int], tmp_path: Path
) -> None:
    """A supervisor that repeats its SIGTERM (or a second Ctrl-C) while the first stop runs: the stop goes on
    to its end, and the summary and --stats-json are still written."""
    system, port = csms
    stats = tmp_path / "stats.json"
    proc = await fleet_of_two_processes(system, port, stats)
    try:
        proc.send_signal(signal.SIGTERM)
        await asyncio.sleep(0.05)  # real time: the first stop is under way in another process
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 60) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert json.loads(stats.read_text())["stations"] == COUNT


async def test_a_process_that_dies_is_reported_and_the_command_exits_non_zero(
    csms: tuple[CentralSystem, int], tmp_path: Path
) -> None:
    system, port = csms
    stats = tmp_path / "stats.json"
    proc = await fleet_of_two_processes(system, port, stats)
    try:
        connections = dict(system.connections)
        victim = min(children_of(proc.pid))  # the first started: process 1, stations CP1, CP3, ...
        os.kill(victim, signal.SIGKILL)
        assert await asyncio.wait_for(proc.wait(), 60) == 1
        assert proc.stderr is not None
        err = (await proc.stderr.read()).decode()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert "fleet process 1 of 2" in err and "died (killed by SIGKILL)" in err, err
    assert "Traceback" not in err
    closes = {station: connection.close_code for station, connection in connections.items()}
    assert {closes[f"CP{i}"] for i in range(1, COUNT + 1, 2)} == {1006}  # the dead process's: cut off
    assert {closes[f"CP{i}"] for i in range(2, COUNT + 1, 2)} == {1001}  # the other's: closed, going away
    # the summary still says what ran: the dead process's last report (at most half a second old) and the other's
    assert COUNT // 2 < json.loads(stats.read_text())["stations"] <= COUNT


async def test_auto_with_a_seed_gives_each_station_the_same_sessions_whatever_the_processes(
    csms: tuple[CentralSystem, int],
) -> None:
    """The first card each station swipes comes from the seed and its id alone: the same with 1 or 2 processes,
    through every draw of the generator (arrival, EV model and SoC, card, length, whether the EV starts).

    An EV that arrives before its station's boot is accepted starts nothing, and stays 30 s or more, so a station
    shows its first card within the run or none: the stations that show one in both runs must show the same."""
    system, port = csms
    first_card: dict[int, dict[str, str]] = {1: {}, 2: {}}
    for processes in (1, 2):
        cards = first_card[processes]

        def watch(event: CsmsEvent, cards: dict[str, str] = cards) -> None:
            if event.action == "StartTransaction":
                cards.setdefault(event.charge_point_id, event.request.id_tag)  # type: ignore[attr-defined]

        system.on_event = watch
        code, _out, err = await run_cli(
            "fleet", "--csms", f"ws://127.0.0.1:{port}", "--count", "12", "--processes", str(processes),
            "--connect-rate", "500", "--auto", "--seed", "7", "--arrival-rate", "12000", "--session-seconds", "30,60",
            "--card-pattern", "P{:03d}", "--card-count", "500", "--start-probability", "0.8", "--duration", "5",
            timeout=40,
        )  # fmt: skip
        assert code == 0, err
    both = first_card[1].keys() & first_card[2].keys()
    assert len(both) >= 6, first_card
    assert [first_card[1][station] for station in sorted(both)] == [first_card[2][station] for station in sorted(both)]
    assert len(set(first_card[1].values())) > 1  # the cards differ between stations: a real random stream
    assert all(card[0] == "P" and card[1:].isdigit() for card in first_card[1].values())  # --card-pattern's


async def test_the_control_api_of_processes_answers_for_every_station(csms: tuple[CentralSystem, int]) -> None:
    system, port = csms
    boots = boots_of(system)
    fleet = FleetProcesses(
        FleetSettings(csms_url=f"ws://127.0.0.1:{port}", count=12, connectors=2, connect_rate=500), 2, control=True
    )
    runner, control = await start_fleet_control(fleet, "127.0.0.1", 0)
    task = asyncio.ensure_future(fleet.run())
    base = f"http://127.0.0.1:{control}/api"
    try:
        await until_booted(boots, 12)
        await until(lambda: fleet.figures()["booted"] == 12)  # as the processes' reports tell it
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{base}/fleet") as response:
                figures = await response.json()
            assert set(figures) >= FIGURES and figures["stations"] == 12
            async with http.get(f"{base}/stations", params={"q": "cp1", "limit": "3"}) as response:
                listing = await response.json()
            assert listing["total"] == 4  # CP1, CP10, CP11, CP12, from both processes
            assert [s["id"] for s in listing["stations"]] == ["CP1", "CP10", "CP11"]
            async with http.post(f"{base}/stations/CP8/connectors/2/plug", json={}) as response:
                assert response.status == 200
                assert (await response.json())["connectors"][1]["status"] == "Preparing"
            async with http.get(f"{base}/stations/CP8/state") as response:
                assert (await response.json())["connectors"][1]["plugged"] is True
            async with http.get(f"{base}/stations/CP7/events") as response:
                assert response.content_type == "text/event-stream"
                assert (await response.content.readline()).startswith(b"event: state")
            async with http.get(f"{base}/stations/CP13/state") as response:
                assert response.status == 404 and "no station" in (await response.json())["error"]
            async with http.post(f"{base}/stations/CP8/swipe", data="{", headers=JSON) as response:
                assert response.status == 400  # the process's own checks hold through the command
            async with http.post(f"{base}/stations/CP8/connectors/1/plug", data="{}") as response:
                assert response.status == 415  # and the command's guard first
            async with http.post(f"{base}/stations/CP5/stop", json={}) as response:
                assert (response.status, (await response.json())["state"]) == (200, "stopped")  # by its process
            async with http.get(f"{base}/stations", params={"state": "stopped"}) as response:
                assert [s["id"] for s in (await response.json())["stations"]] == ["CP5"]
            async with http.post(f"{base}/stations", json={"count": 1}) as response:
                assert response.status == 409  # a new id is not routed to a process
            figures = await scrape(http, base.removesuffix("/api"))  # every process's, added up
            assert figures.value("chargebox_stations") == 11  # CP5 stopped
            assert figures.value("chargebox_stations_registration", status="Accepted") == 11
            assert figures.messages("sent", "CALL", "BootNotification") == 12
            assert figures.value("chargebox_connectors", status="Preparing") == 1
            assert figures.value("chargebox_round_trip_seconds_count") >= 12 * 4
    finally:
        await runner.cleanup()
        task.cancel()
        await fleet.stop()
    assert fleet.failures == []


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--processes", "0"], "--processes: expected 1 to 1024 processes or 'auto'"),
        (["--processes", "two"], "--processes: expected 1 to 1024"),
    ],
)
def test_bad_processes_flags_are_one_line_and_exit_2(cli_main: CliMain, args: list[str], fragment: str) -> None:
    code, _, err = cli_main("fleet", "--csms", "ws://127.0.0.1:9", "--count", "4", *args)
    assert_one_line_error(code, err, fragment)


async def test_a_data_dir_a_process_cannot_use_is_one_line_before_any_starts(tmp_path: Path) -> None:
    (tmp_path / "process-2-of-2").write_text("not a directory")
    code, _, err = await run_cli(
        "fleet", "--csms", "ws://127.0.0.1:9", "--count", "4", "--processes", "2", "--data-dir", str(tmp_path)
    )
    assert_one_line_error(code, err, "process-2-of-2")
