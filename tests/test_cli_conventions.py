"""What every command line keeps to, through a real subprocess: no option abbreviations, a clean WebSocket close
on SIGTERM, each frame logged once with -v, the fleet's start-up line at INFO naming its dashboard."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import pytest
from websockets.asyncio.server import ServerConnection, serve
from websockets.typing import Subprotocol

from chargebox.csms.server import CentralSystem, CsmsPolicy
from chargebox.protocol import messages as m
from tests.test_cli import CLI, CliMain, free_port, next_event, run_cli


@pytest.mark.parametrize(
    ("args", "abbreviation"),
    [
        (["simulate", "--csms", "ws://h", "--id", "X", "--ocpp-conf", "/nonexistent"], "--ocpp-conf /nonexistent"),
        (["simulate", "--csms", "ws://h", "--id", "X", "--con", "2"], "--con 2"),
        (["fleet", "--csms", "ws://h", "--count", "1", "--dur", "5"], "--dur 5"),
        (["csms", "--list", "nowhere"], "--list nowhere"),  # each fails at once if read as the long option
        (["firmware-image", "--version", "1", "--output", "/nonexistent/x.img", "--forc"], "--forc"),
        (["--verb", "csms", "--files", "/nonexistent"], "--verb"),
    ],
)
def test_an_abbreviated_option_is_refused_not_guessed(cli_main: CliMain, args: list[str], abbreviation: str) -> None:
    """A prefix is never read as the option it starts (``--ocpp-conf`` is not ``--ocpp-config``), in every parser and
    subparser, so a new option can never change what an old command line means."""
    code, _out, err = cli_main(*args)
    assert code == 2, err
    assert f"unrecognized arguments: {abbreviation}" in err and "Traceback" not in err


async def test_sigterm_closes_the_websocket_with_1001_going_away(tmp_path: Path) -> None:
    """RFC 6455 7.4.1: the central system sees a clean close, not 1006 (abnormal closure)."""
    closed: asyncio.Future[tuple[int | None, str | None]] = asyncio.get_running_loop().create_future()
    booted = asyncio.Event()

    async def handler(ws: ServerConnection) -> None:
        async for _message in ws:
            booted.set()  # the BootNotification: the station is up; never answered
        closed.set_result((ws.close_code, ws.close_reason))

    async with serve(handler, "127.0.0.1", 0, subprotocols=[Subprotocol("ocpp1.6")]) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        proc = await asyncio.create_subprocess_exec(
            *CLI, "simulate", "--csms", f"ws://127.0.0.1:{port}", "--id", "CP-1", "--data-dir", str(tmp_path),
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        await asyncio.wait_for(booted.wait(), 15)
        proc.send_signal(signal.SIGTERM)
        _out, err = await asyncio.wait_for(proc.communicate(), 10)
        code, reason = await asyncio.wait_for(closed, 5)
    assert proc.returncode == 0, err.decode()
    assert (code, reason) == (1001, "going away")


async def test_verbose_logs_each_frame_once(tmp_path: Path) -> None:
    """-v: ``chargebox.frames`` shows every frame; websockets' own line for the same text frame is not added."""
    system = CentralSystem(CsmsPolicy(heartbeat_interval=600))
    port = await system.start("127.0.0.1", 0)
    proc = await asyncio.create_subprocess_exec(
        *CLI, "-v", "simulate", "--csms", f"ws://127.0.0.1:{port}", "--id", "CP-V",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        await next_event(system, m.Action.BOOT_NOTIFICATION)
        await system.call("CP-V", m.GetConfigurationRequest(key=["HeartbeatInterval"]))
    finally:
        proc.send_signal(signal.SIGTERM)
        _out, err = await proc.communicate()
        await system.stop()
    log = err.decode()
    assert log.count('"BootNotification"') == 1, log
    assert log.count('"GetConfiguration"') == 1, log
    assert "chargebox.frames" in log and "TEXT '[" not in log
    assert "= connection is OPEN" in log  # websockets' handshake and state lines stay


async def test_fleet_says_where_its_dashboard_is_at_info() -> None:
    system = CentralSystem()
    port = await system.start("127.0.0.1", 0)
    control = free_port()
    try:
        code, _out, err = await run_cli(
            "fleet", "--csms", f"ws://127.0.0.1:{port}", "--count", "1", "--duration", "0.5",
            "--control", f"127.0.0.1:{control}",
        )  # fmt: skip
    finally:
        await system.stop()
    assert code == 0, err
    [line] = [line for line in err.splitlines() if "dashboard" in line]
    assert " INFO " in line and f"fleet dashboard on http://127.0.0.1:{control}/" in line
    assert " WARNING " not in err


def test_help_of_every_command_still_works_without_abbreviations(cli_main: CliMain) -> None:
    for command in ("demo", "csms", "simulate", "run", "fleet", "firmware-image"):
        code, out, err = cli_main(command, "--help")
        assert code == 0 and "usage: chargebox" in out, err


def test_the_cli_module_has_one_parser_class() -> None:
    """Every subparser is made by ``add_subparsers(parser_class=...)``: allow_abbrev=False must reach them all."""
    from chargebox.cli import _build_parser

    parser = _build_parser()
    subparsers = next(a for a in parser._actions if a.dest == "command")
    assert parser.allow_abbrev is False
    assert all(not sub.allow_abbrev for sub in subparsers.choices.values())  # type: ignore[union-attr]
