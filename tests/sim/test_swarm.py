"""chargebox swarm: stations on Locust, real processes on loopback against the built-in central system. A master and
two workers: every station booted once, ids sharded by worker, Locust's statistics per OCPP action with no failure,
the workers' stations on the master's gauge, every station closed cleanly at the end; a CALLERROR is a failure; our
options are checked before Locust starts, and Locust's pass through."""

from __future__ import annotations

import argparse
import asyncio
import csv
import importlib.util
import sys
from pathlib import Path

import pytest

from chargebox import cli
from chargebox.csms.server import CentralSystem
from chargebox.csms_policy import choose_url
from chargebox.errors import RemoteProtocolError
from chargebox.protocol import messages as m
from chargebox.sim import swarm_options
from chargebox.sim.swarm_options import LOCUSTFILE, SHARD
from tests.loopback import free_port
from tests.sim.test_fleet_processes import boots_of
from tests.test_cli import CLI, CliMain, assert_one_line_error, run_cli

USERS = 60  # enough to shard between two workers; each user is a station on loopback


def stats_of(prefix: Path) -> dict[str, dict[str, str]]:
    """Locust's ``--csv`` statistics, a row per request type (the ``Aggregated`` row under that name)."""
    with open(f"{prefix}_stats.csv", newline="") as file:
        return {row["Type"] or row["Name"]: row for row in csv.DictReader(file)}


async def swarm(*args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        *CLI, "swarm", *args, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
    )


async def ended(proc: asyncio.subprocess.Process, timeout: float = 120) -> tuple[int, str]:
    try:
        _, err = await asyncio.wait_for(proc.communicate(), timeout)
    finally:
        if proc.returncode is None:  # a process that should have ended is not left running
            proc.kill()
            await proc.wait()
    assert proc.returncode is not None
    return proc.returncode, err.decode()


async def test_a_master_and_two_workers_boot_every_station_once_with_ids_sharded_by_worker(
    csms: tuple[CentralSystem, int], tmp_path: Path
) -> None:
    """Every user spawned at once: a worker rebuilds Locust's whole argument parser for each option of each spawn
    message (locust 2.47, runners.py), which on a loaded machine stalls it past the master's 3 s heartbeat
    liveness; one spawn message per worker keeps the test about chargebox."""
    system, port = csms
    boots = boots_of(system)
    master_port = free_port()
    master = await swarm(
        "--csms", f"ws://127.0.0.1:{port}", "--users", str(USERS), "--spawn-rate", str(USERS), "--run-time", "8s",
        "--headless", "--master", "--master-bind-host", "127.0.0.1", "--master-bind-port", str(master_port),
        "--expect-workers", "2", "--csv", str(tmp_path / "swarm"),
    )  # fmt: skip
    workers = [
        await swarm("--worker", "--master-host", "127.0.0.1", "--master-port", str(master_port)) for _ in range(2)
    ]
    connections = []

    async def remember_connections() -> None:
        while master.returncode is None:  # each station's link, to see at the end how it was closed
            connections.extend(c for c in system.connections.values() if c not in connections)
            await asyncio.sleep(0.1)

    watching = asyncio.ensure_future(remember_connections())
    code, err = await ended(master)
    watching.cancel()
    for worker in workers:
        assert (await ended(worker, 30))[0] == 0
    assert code == 0, err
    assert sorted(boots.values()) == [1] * USERS, (len(boots), err[-3000:])  # no id twice
    indices = sorted(int(station.removeprefix("CP")) for station in boots)
    assert indices == [*range(1, USERS // 2 + 1), *range(SHARD + 1, SHARD + USERS // 2 + 1)]  # worker 0, worker 1
    stats = stats_of(tmp_path / "swarm")
    assert stats["BootNotification"]["Request Count"] == str(USERS)
    assert stats["BootNotification"]["Name"] == "ocpp1.6"
    assert stats["StatusNotification"]["Request Count"] == str(2 * USERS)  # connector 0 and 1, each station
    assert stats["Aggregated"]["Failure Count"] == "0"
    assert f"= stations: {USERS} made, {USERS} connected, {USERS} booted (2 workers)" in err
    assert len(connections) == USERS and {c.close_code for c in connections} == {1001}  # each closed it, cleanly
    assert "Traceback" not in err


async def test_a_callerror_is_a_failure_of_its_action(csms: tuple[CentralSystem, int], tmp_path: Path) -> None:
    system, port = csms

    def refuse(_request: m.Message) -> m.Message:
        raise RemoteProtocolError("GenericError", "not today")

    system.policy.extra_handlers[m.Action.STATUS_NOTIFICATION] = refuse
    code, _out, err = await run_cli(
        "swarm", "--csms", f"ws://127.0.0.1:{port}", "--users", "5", "--spawn-rate", "5", "--run-time", "5s",
        "--headless", "--csv", str(tmp_path / "swarm"), timeout=60,
    )  # fmt: skip
    assert code == 1, err  # Locust's own exit code when a request failed
    stats = stats_of(tmp_path / "swarm")
    assert stats["StatusNotification"]["Failure Count"] == stats["StatusNotification"]["Request Count"] == "10"
    assert stats["BootNotification"]["Failure Count"] == "0"
    with open(tmp_path / "swarm_failures.csv", newline="") as file:
        assert {row["Error"] for row in csv.DictReader(file)} == {"CallFailed('CALLERROR (or an invalid answer)')"}


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--users", "3"], "--csms URL is required"),
        (["--csms", "wss://127.0.0.1:9"], "the swarm connects with ws://"),
        (["--csms", "ws://"], "--csms 'ws://': "),
        (["--csms", "ws://127.0.0.1:9", "--csms", "wss://127.0.0.1:10"], "the swarm connects with ws://"),
        (["--csms", "ws://127.0.0.1:9", "--csms-policy", "nearest"], "--csms-policy: invalid choice: 'nearest'"),
        (["--csms", "ws://127.0.0.1:9", "--connectors", "0"], "--connectors: expected 1 to"),
        (["--csms", "ws://127.0.0.1:9", "--id-prefix", "a:b"], "--id-prefix: an id must not contain ':'"),
        (["--csms", "ws://127.0.0.1:9", "--connectors", "two"], "--connectors: invalid int value"),
    ],
)
def test_bad_swarm_options_are_one_line_and_exit_2_before_locust_starts(
    cli_main: CliMain, args: list[str], fragment: str
) -> None:
    code, out, err = cli_main("swarm", *args)
    assert_one_line_error(code, err, fragment)
    assert "Locust" not in out + err


async def test_print_locustfile_names_the_file_plain_locust_runs() -> None:
    code, out, _err = await run_cli("swarm", "--print-locustfile")
    assert code == 0
    assert Path(out.strip()) == LOCUSTFILE and LOCUSTFILE.is_file()


def test_without_locust_the_swarm_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None if name == "locust" else find_spec(name))
    assert cli.main(["swarm", "--csms", "ws://127.0.0.1:9", "--users", "3"]) == 2
    assert "pip install 'chargebox[locust]'" in capsys.readouterr().err


def test_other_commands_still_refuse_options_they_do_not_know(cli_main: CliMain) -> None:
    code, _, err = cli_main("fleet", "--csms", "ws://127.0.0.1:9", "--count", "2", "--users", "3")
    assert_one_line_error(code, err, "unrecognized arguments: --users 3")


async def test_swarm_help_lists_our_options_and_sends_the_rest_to_locust() -> None:
    code, out, err = await run_cli("swarm", "--help")
    assert code == 0, err
    for option in ("--csms", "--id-prefix", "--connectors", "--template", "--auto", "--seed", "--print-locustfile"):
        assert option in out
    assert "passes through unchanged" in out and "locust -f" in out


@pytest.mark.parametrize("policy", ["round-robin", "hash", "random"])
def test_swarm_csms_given_twice_spreads_the_stations_as_the_fleet_does(policy: str) -> None:
    parser = argparse.ArgumentParser()
    swarm_options.add_options(parser)
    urls = ["ws://127.0.0.1:9/a", "ws://127.0.0.1:9/b"]
    options = parser.parse_args(["--csms", urls[0], "--csms", urls[1], "--csms-policy", policy, "--seed", "4"])
    assert swarm_options.problem(options) is None
    settings = swarm_options.fleet_settings(options)
    index = swarm_options.SHARD + 3  # worker 1's third station
    assert settings.url_of(index) == choose_url(urls, policy, index, f"CP{index}", 4)  # type: ignore[arg-type]
    assert {settings.url_of(i) for i in range(1, 41)} == set(urls)


CLOSED_AT_ONCE = """
from locust.env import Environment
from chargebox.sim.fleet import FleetSettings
from chargebox.sim.swarm import Swarm
for _ in range(20):
    Swarm(Environment(), FleetSettings(csms_url="ws://127.0.0.1:9/ocpp", count=1)).close()
"""


async def test_a_swarm_closed_before_its_loop_has_started_closes_cleanly() -> None:
    """Locust may stop a run at once (its --run-time reached 30 ms in, on a loaded machine): the swarm is closed
    before its event loop's thread has made the fleet, and waits for it instead of failing an assertion. Its own
    process: Locust patches the interpreter with gevent as it is imported."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", CLOSED_AT_ONCE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    code, err = await ended(proc, timeout=60)
    assert code == 0, err
    assert "Traceback" not in err
