"""The command line: one clear line and exit code 2 for every user error; clean SIGTERM; SIGKILL loses nothing."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import signal
import socket
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiohttp
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus
from websockets.typing import Subprotocol

from chargebox.csms.server import CentralSystem, CsmsPolicy
from chargebox.protocol import messages as m
from tests.loopback import free_port

CLI = [sys.executable, "-m", "chargebox.cli"]
JSON = {"Content-Type": "application/json"}
CliMain = Callable[..., tuple[int, str, str]]  # the cli_main fixture (tests/conftest.py)


async def run_cli(*args: str, timeout: float = 20) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        *CLI, *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        proc.kill()  # a command that should have ended is not left running
        await proc.wait()
        raise
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def assert_one_line_error(code: int, err: str, fragment: str) -> None:
    assert code == 2
    lines = [line for line in err.splitlines() if line.strip() and " INFO " not in line and " WARNING " not in line]
    assert len(lines) == 1, err
    assert "Traceback" not in err and fragment in lines[0]


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["simulate", "--csms", "ws://h", "--id", "X", "--bogus"], "unrecognized arguments: --bogus"),
        (["simulate", "--id", "X"], "the following arguments are required: --csms"),
        (["simulate", "--csms", "ws://h", "--id", "X", "--connectors", "zero"], "expected 1 to 128 connectors"),
        (["simulate", "--csms", "ws://h", "--id", "X", "--connectors", "1" + "0" * 20], "expected 1 to 128 connectors"),
        (["simulate", "--csms", "ws://", "--id", "X"], "has no host name"),
        (["simulate", "--csms", "ws://h:abc", "--id", "X"], "not a valid URL"),
        (["simulate", "--csms", "ws://h:99999", "--id", "X"], "not a valid URL"),
        (["simulate", "--csms", "ws://h:0", "--id", "X"], "port must be 1 to 65535"),
        (["simulate", "--csms", "ws://[::1", "--id", "X"], "not a valid URL"),
        (["simulate", "--csms", "ws://h/ocpp?tenant=1", "--id", "X"], "must not have a query"),
        (["simulate", "--csms", "ws://h/ocpp#top", "--id", "X"], "or fragment"),
        (["simulate", "--csms", "ws://h/ocpp?", "--id", "X"], "must not have a query"),
        (["simulate", "--csms", "ws://h/o cpp", "--id", "X"], "must not contain spaces"),
        (
            ["simulate", "--csms", "wss://h", "--id", "X", "--security-profile", "1"],
            "--csms is wss:// but --security-profile is 1: wss:// is for profiles 2 and 3",
        ),
        (["simulate", "--csms", "wss://h", "--id", "X"], "security profile 2 needs a CentralSystemRootCertificate"),
        (["simulate", "--csms", "ws://h", "--id", ""], "--id must be 1 to 48 characters"),
        (["simulate", "--csms", "ws://h", "--id", "CP\x01"], "--id must be printable ASCII"),
        (["simulate", "--csms", "ws://h", "--id", "CP\n1"], "--id must be printable ASCII"),
        (["simulate", "--csms", "ws://h", "--id", "CPé"], "--id must be printable ASCII"),
        (["simulate", "--csms", "ws://h", "--id", "CP:1"], "--id must not contain ':'"),
        (["simulate", "--csms", "http://h", "--id", "X"], "must be a ws:// or wss:// URL"),
        (["simulate", "--csms", "ws://h", "--id", "X", "--control", "nowhere"], "expected HOST:PORT"),
        (["simulate", "--csms", "ws://h", "--id", "X", "--plugged", "1,x"], "comma-separated list"),
        (["simulate", "--csms", "ws://h", "--id", "X", "--plugged", "3"], "no connector 3"),
        (["simulate", "--csms", "ws://h", "--id", "X", "--vendor", "V" * 21], "--vendor must be 1 to 20"),
        (["simulate", "--csms", "ws://h", "--id", "X", "--sigterm-reason", "PowerLoss"], "invalid choice: 'PowerLoss'"),
        (["csms", "--listen", "127.0.0.1:99999"], "expected HOST:PORT"),
        (["csms", "--control", "::1:9001"], "an IPv6 address goes in brackets ([::1]:PORT)"),
        (["csms", "--control", "[localhost]:9001"], "expected an IPv6 address in brackets"),
        (["csms", "--control", "0.0.0.0:0"], "--control 0.0.0.0: not a loopback address, so the control API needs"),
        (["simulate", "--csms", "ws://h", "--id", "X", "--control", "[::]:0"], "not a loopback address"),
        (["csms", "--control", "127.0.0.1:0", "--control-token", "short"], "--control-token must be 16 to 128"),
        (["fleet", "--csms", "ws://h", "--count", "1", "--control-token-file", "t"], "need --control"),
        (["teleport"], "invalid choice: 'teleport'"),
    ],
)
def test_bad_flags_print_one_line_and_exit_2(cli_main: CliMain, args: list[str], fragment: str) -> None:
    code, _out, err = cli_main(*args)
    assert_one_line_error(code, err, fragment)


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["simulate", "--id", "X"], "the following arguments are required: --csms"),  # argparse, before any logging
        (["simulate", "--csms", "ws://h", "--id", "X", "--ocpp-config", "/no/such"], "cannot read"),  # a file
        (["csms", "--control", "0.0.0.0:0"], "not a loopback address"),  # a UserError once logging is set up
    ],
)
async def test_one_line_errors_of_the_real_process(args: list[str], fragment: str) -> None:
    """What the tests that run ``cli.main`` in their own process (the ``cli_main`` fixture) check, a real
    ``python -m chargebox.cli`` prints and exits the same: one line on its stderr, exit 2, no traceback."""
    code, out, err = await run_cli(*args)
    assert_one_line_error(code, err, fragment)
    assert out == ""


@pytest.mark.parametrize(
    ("name", "content", "fragment"),
    [
        ("station.json", "{not json", "not valid JSON"),
        ("station.toml", "x = = 1", "not valid TOML"),
        ("station.json", "[1, 2]", "must hold an object"),
        ("station.json", '{"NoSuchKey": 1}', "unknown configuration key 'NoSuchKey'"),
        ("station.toml", 'HeartbeatInterval = "soon"', "HeartbeatInterval: invalid value 'soon'"),
        ("missing.json", None, "cannot read"),
        ("station.json", '{"NumberOfConnectors": 100000000000000000000}', "NumberOfConnectors: must be 1 to 128"),
        ("station.json", '{"StopTransactionMaxMeterValues": -1}', "StopTransactionMaxMeterValues: invalid value '-1'"),
        ("station.json", '{"GetConfigurationMaxKeys": 0}', "GetConfigurationMaxKeys: invalid value '0'"),
        (
            "station.json",
            '{"HeartbeatInterval": 60, "heartbeatinterval": 61}',
            "'HeartbeatInterval' and 'heartbeatinterval'",
        ),
        (
            "station.json",
            '{"NumberOfConnectors": 2, "NUMBEROFCONNECTORS": 3}',
            "'NumberOfConnectors' and 'NUMBEROFCONNECTORS'",
        ),
    ],
)
def test_bad_ocpp_config_file_prints_one_line_naming_it_and_exits_2(
    cli_main: CliMain, tmp_path: Path, name: str, content: str | None, fragment: str
) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_text(content)
    code, _out, err = cli_main("simulate", "--csms", "ws://127.0.0.1:1", "--id", "X", "--ocpp-config", str(path))
    assert_one_line_error(code, err, fragment)
    assert str(path) in err


def test_ocpp_config_that_is_not_utf8_is_a_one_line_error(cli_main: CliMain, tmp_path: Path) -> None:
    path = tmp_path / "station.json"
    path.write_bytes(b'{"HeartbeatInterval": "\xff\xfe"}')
    code, _out, err = cli_main("simulate", "--csms", "ws://127.0.0.1:1", "--id", "X", "--ocpp-config", str(path))
    assert_one_line_error(code, err, "not UTF-8 text")
    assert str(path) in err


SECRET = "s3cr3t-s3cr3t-s3cr3t"


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (
            ["simulate", "--csms", "ws://h", "--id", "X", "--password", "short-" + SECRET[:5]],
            "--password must be 16 to 40",
        ),
        (["simulate", "--csms", "ws://h", "--id", "X", "--password", SECRET * 3], "--password must be 16 to 40"),
        (["simulate", "--csms", "ws://h", "--id", "X", "--password", SECRET + "\x7f"], "printable ASCII"),
        (["csms", "--password", SECRET[:10]], "--password must be 16 to 40"),
        (["simulate", "--csms", f"ws://X:{SECRET}@h", "--id", "X"], "must not hold credentials"),
        (["simulate", "--csms", "ws://h", "--id", "X", "--password-file", "/no/such"],
         "--password-file /no/such: cannot read"),
        (["fleet", "--csms", "ws://h", "--count", "1", "--password", SECRET, "--password-file", "/no/such"],
         "not allowed with argument"),
    ],
)  # fmt: skip
def test_T_41_bad_password_or_credentials_in_url_are_refused_without_echoing_them(
    cli_main: CliMain, args: list[str], fragment: str
) -> None:
    code, _out, err = cli_main(*args)
    assert_one_line_error(code, err, fragment)
    assert "s3cr3t" not in err


def test_firmware_image_payload_larger_than_the_maximum_is_refused(cli_main: CliMain, tmp_path: Path) -> None:
    payload = tmp_path / "payload.bin"
    with payload.open("wb") as file:
        file.truncate(64 * 1024 * 1024 + 1)  # sparse: one byte over, no disk used
    code, _out, err = cli_main(
        "firmware-image", "--version", "1.0", "--output", str(tmp_path / "fw.img"), "--payload", str(payload)
    )
    assert_one_line_error(code, err, "larger than 64 MiB")
    assert not (tmp_path / "fw.img").exists()


def _nested(kind: str, depth: int) -> str:
    """A file whose value ``a`` is ``depth`` arrays deep (the table or object around it is one level more)."""
    value = "[" * depth + "]" * depth
    return f"a = {value}\n" if kind == "toml" else f'{{"a": {value}}}'


@pytest.fixture
def odd_files(tmp_path: Path) -> Path:
    """A fifo, files one byte over their bound (sparse), and files nested too deep: a little, and enough to
    exhaust a recursive parser."""
    os.mkfifo(tmp_path / "fifo")
    for name in ("big.json", "big.toml"):
        with (tmp_path / name).open("wb") as file:
            file.truncate(1024 * 1024 + 1)
    for kind in ("json", "toml"):
        (tmp_path / f"deep.{kind}").write_text(_nested(kind, 32))
        (tmp_path / f"deeper.{kind}").write_text(_nested(kind, 100_000))
    return tmp_path


SIMULATE = ["simulate", "--csms", "ws://127.0.0.1:1", "--id", "X"]
IMAGE = ["firmware-image", "--version", "1.0", "--output", "{tmp}/fw.img"]
NOT_REGULAR = "not a regular file (a fifo, a device or a directory)"


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        ([*SIMULATE, "--ocpp-config", "/dev/zero"], f"--ocpp-config /dev/zero: {NOT_REGULAR}"),
        ([*SIMULATE, "--ocpp-config", "{tmp}/fifo"], f"--ocpp-config {{tmp}}/fifo: {NOT_REGULAR}"),
        ([*SIMULATE, "--ocpp-config", "{tmp}"], f"--ocpp-config {{tmp}}: {NOT_REGULAR}"),
        ([*SIMULATE, "--ocpp-config", "{tmp}/big.json"], "--ocpp-config {tmp}/big.json: larger than 1 MiB"),
        ([*SIMULATE, "--ocpp-config", "{tmp}/deep.json"], "deep.json: nests deeper than 32 levels"),
        ([*SIMULATE, "--ocpp-config", "{tmp}/deeper.json"], "deeper.json: nests deeper than 32 levels"),
        ([*SIMULATE, "--ocpp-config", "{tmp}/deep.toml"], "deep.toml: nests deeper than 32 levels"),
        ([*SIMULATE, "--ocpp-config", "{tmp}/deeper.toml"], "deeper.toml: nests deeper than 32 levels"),
        ([*SIMULATE, "--cert", "/dev/zero", "--key", "/dev/zero"], f"--cert /dev/zero: {NOT_REGULAR}"),
        ([*SIMULATE, "--cert", "{tmp}/fifo", "--key", "{tmp}/fifo"], f"--cert {{tmp}}/fifo: {NOT_REGULAR}"),
        ([*SIMULATE, "--ca-file", "/dev/zero"], f"--ca-file /dev/zero: {NOT_REGULAR}"),
        (["run", "--config", "/dev/zero"], f"--config /dev/zero: {NOT_REGULAR}"),
        (["run", "--config", "{tmp}/fifo"], f"--config {{tmp}}/fifo: {NOT_REGULAR}"),
        (["run", "--config", "{tmp}/big.toml"], "--config {tmp}/big.toml: larger than 1 MiB"),
        (["run", "--config", "{tmp}/deep.toml"], "deep.toml: nests deeper than 32 levels"),
        (["run", "--config", "{tmp}/deeper.toml"], "deeper.toml: nests deeper than 32 levels"),
        (["fleet", "--csms", "ws://127.0.0.1:1", "--count", "1", "--template", "/dev/zero"], NOT_REGULAR),
        (["fleet", "--csms", "ws://127.0.0.1:1", "--count", "1", "--template", "{tmp}/deeper.toml"], "32 levels"),
        (["fleet", "--csms", "ws://127.0.0.1:1", "--count", "10000000"], "expected 1 to 100000 stations"),
        ([*IMAGE, "--payload", "/dev/zero"], f"--payload /dev/zero: {NOT_REGULAR}"),
        ([*IMAGE, "--sign", "/dev/zero", "--cert", "/dev/zero"], f"--sign /dev/zero: {NOT_REGULAR}"),
        (["simulate", "--csms", f"ws://{'a' * 64}.example", "--id", "X"], "host name is not a valid DNS name"),
        (["fleet", "--csms", "ws://a..example", "--count", "1"], "host name is not a valid DNS name"),
    ],
)
def test_a_file_or_number_the_user_gives_is_bounded_one_line_and_exit_2(
    cli_main: CliMain, odd_files: Path, args: list[str], fragment: str
) -> None:
    """/dev/zero, a fifo or a directory for a file, one too large or nested too deep, a fleet beyond the cap, a
    host name no resolver takes: each is one line and exit 2, at once (no read without end, no traceback)."""
    code, _out, err = cli_main(*(arg.replace("{tmp}", str(odd_files)) for arg in args))
    assert_one_line_error(code, err, fragment.replace("{tmp}", str(odd_files)))
    assert not (odd_files / "fw.img").exists()


async def test_T_6_verbose_log_shows_no_basic_credentials(tmp_path: Path) -> None:
    system = CentralSystem(CsmsPolicy(heartbeat_interval=600, password=SECRET))
    port = await system.start("127.0.0.1", 0)
    proc = await asyncio.create_subprocess_exec(
        *CLI, "-v", "simulate", "--csms", f"ws://127.0.0.1:{port}", "--id", "SIM-1", "--password", SECRET,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        await next_event(system, m.Action.BOOT_NOTIFICATION)
    finally:
        proc.send_signal(signal.SIGTERM)
        _out, err = await proc.communicate()
        await system.stop()
    log = err.decode()
    token = base64.b64encode(f"SIM-1:{SECRET}".encode()).decode()
    assert "Authorization: Basic ***" in log  # websockets' handshake log is there, redacted
    assert token not in log and token[:12] not in log and "s3cr3t" not in log


async def test_unreachable_csms_gives_up_with_one_line_when_asked() -> None:
    url = f"ws://127.0.0.1:{free_port()}"
    code, _out, err = await run_cli("simulate", "--csms", url, "--id", "X", "--give-up-after", "1")
    assert_one_line_error(code, err, "cannot reach the central system")


async def test_csms_port_in_use_is_a_one_line_error() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code, _out, err = await run_cli("csms", "--listen", f"127.0.0.1:{port}")
    assert_one_line_error(code, err, f"cannot listen on 127.0.0.1:{port}")


async def test_demo_runs_the_tour_and_exits_0() -> None:
    code, out, _err = await run_cli("demo", timeout=60)
    assert code == 0, out
    assert "BootNotification" in out and "Heartbeat" in out and "demo finished" in out
    # the 2.0.1 station's tour, on the same central system (rich wraps lines at 80 columns off a terminal)
    v201 = out[out.index("speaking OCPP 2.0.1") :]
    assert "CP 2.0.1 → CSMS" in v201 and "(FirmwareUpdate)" in v201 and "Installed" in v201, out
    assert all(f"TransactionEvent {kind}" in v201 for kind in ("Started", "Updated", "Ended")), out


@pytest.fixture
async def csms() -> AsyncIterator[tuple[CentralSystem, int]]:
    system = CentralSystem(CsmsPolicy(heartbeat_interval=600))
    port = await system.start("127.0.0.1", 0)
    yield system, port
    await system.stop()


async def next_event(system: CentralSystem, action: m.Action, timeout: float = 10) -> m.Message:
    async def wait() -> m.Message:
        while (event := await system.events.get()).action is not action:
            pass
        return event.request

    return await asyncio.wait_for(wait(), timeout)


async def spawn_simulator(port: int, data_dir: Path, *extra: str) -> asyncio.subprocess.Process:
    control = free_port()
    proc = await asyncio.create_subprocess_exec(
        *CLI, "simulate", "--csms", f"ws://127.0.0.1:{port}", "--id", "SIM-1", "--data-dir", str(data_dir),
        "--control", f"127.0.0.1:{control}", "--connectors", "2", *extra,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    proc.control = control  # type: ignore[attr-defined]
    return proc


async def test_control_api_drives_the_connector_and_reports_state(
    csms: tuple[CentralSystem, int], tmp_path: Path
) -> None:
    system, port = csms
    proc = await spawn_simulator(port, tmp_path, "--plugged", "2")
    try:
        await next_event(system, m.Action.BOOT_NOTIFICATION)
        base = f"http://127.0.0.1:{proc.control}/api"  # type: ignore[attr-defined]
        async with aiohttp.ClientSession() as http:
            async with http.post(f"{base}/connectors/1/plug", json={}) as response:
                assert response.status == 200
            request = await next_event(system, m.Action.STATUS_NOTIFICATION)
            while not (isinstance(request, m.StatusNotificationRequest) and request.connector_id == 1
                       and request.status == "Preparing"):  # fmt: skip
                request = await next_event(system, m.Action.STATUS_NOTIFICATION)
            async with http.post(f"{base}/connectors/2/fault", json={"errorCode": "GroundFailure"}) as response:
                assert response.status == 200
            async with http.post(f"{base}/connectors/9/plug", json={}) as response:
                assert response.status == 404 and "no connector 9" in (await response.json())["error"]
            async with http.post(f"{base}/connectors/1/fault", json={"errorCode": "Teleported"}) as response:
                assert response.status == 400
            async with http.post(f"{base}/swipe", data="{", headers=JSON) as response:
                assert response.status == 400
            async with http.get(f"{base}/state") as response:
                state = await response.json()
        assert state["id"] == "SIM-1" and state["connected"] is True and state["registration"] == "Accepted"
        assert state["firmwareStatus"] == state["diagnosticsStatus"] == "Idle"
        assert [(c["id"], c["status"], c["errorCode"], c["plugged"]) for c in state["connectors"]] == [
            (1, "Preparing", "NoError", True),
            (2, "Faulted", "GroundFailure", True),
        ]
        assert state["connectors"][0]["meterWh"] == 0
    finally:
        proc.kill()
        await proc.wait()


async def test_sigterm_shuts_down_cleanly(csms: tuple[CentralSystem, int], tmp_path: Path) -> None:
    system, port = csms
    proc = await spawn_simulator(port, tmp_path)
    await next_event(system, m.Action.BOOT_NOTIFICATION)
    proc.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(proc.wait(), 10) == 0


async def test_K_13_sigkill_loses_no_acknowledged_configuration_change(
    csms: tuple[CentralSystem, int], tmp_path: Path
) -> None:
    system, port = csms
    proc = await spawn_simulator(port, tmp_path)
    await next_event(system, m.Action.BOOT_NOTIFICATION)
    result = await system.call("SIM-1", m.ChangeConfigurationRequest(key="MeterValueSampleInterval", value="17"))
    assert result.response == m.ChangeConfigurationResponse(status=m.ConfigurationStatus.ACCEPTED)
    proc.send_signal(signal.SIGKILL)
    await proc.wait()
    proc = await spawn_simulator(port, tmp_path)
    try:
        await next_event(system, m.Action.BOOT_NOTIFICATION)
        got = await system.call("SIM-1", m.GetConfigurationRequest(key=["MeterValueSampleInterval"]))
        assert isinstance(got.response, m.GetConfigurationResponse)
        assert json.loads(m.msgspec.json.encode(got.response))["configurationKey"][0]["value"] == "17"
    finally:
        proc.kill()
        await proc.wait()


async def test_transcript_holds_every_frame_as_json_lines(csms: tuple[CentralSystem, int], tmp_path: Path) -> None:
    system, port = csms
    transcript = tmp_path / "frames.jsonl"
    proc = await spawn_simulator(port, tmp_path / "data", "--transcript", str(transcript))
    try:
        await next_event(system, m.Action.BOOT_NOTIFICATION)
        await system.call("SIM-1", m.ChangeConfigurationRequest(key="AuthorizationKey", value="s3cr3t-s3cr3t-s3cr3t"))
    finally:
        proc.send_signal(signal.SIGTERM)
        await proc.wait()
    lines = [json.loads(line) for line in transcript.read_text().splitlines()]
    assert lines[0]["dir"] == ">" and lines[0]["frame"][2] == "BootNotification" and lines[0]["cp"] == "SIM-1"
    assert any(line["dir"] == "<" and line["frame"][0] == 3 for line in lines)
    assert "s3cr3t" not in transcript.read_text()


# -- issue 11: what a new user hits ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["simulate", "--csms", "ws://h", "--id", "X", "--plugged", "\u00b2"], "argument --plugged: expected"),
        (["simulate", "--csms", "ws://h", "--id", "X", "--control", "h:\u00b2"], "argument --control: expected"),
        (["csms", "--listen", "h:\u0663"], "argument --listen: expected HOST:PORT"),
        (["simulate", "--csms", "ws://h", "--id", "X", "--ocpp-config", "/no/such.json"], "--ocpp-config /no/such"),
        (["csms", "--files", "/no/such/dir", "--control", "127.0.0.1:0"], "--files /no/such/dir: not a directory"),
    ],
)
def test_errors_name_the_option_never_an_internal_function(cli_main: CliMain, args: list[str], fragment: str) -> None:
    code, _out, err = cli_main(*args)
    assert_one_line_error(code, err, fragment)
    assert "_int_list" not in err and "_host_port" not in err


def test_help_shows_every_default(cli_main: CliMain) -> None:
    code, out, _err = cli_main("simulate", "--help")
    assert code == 0
    for default in ("(default: chargebox)", "(default: Simulator)", "(default: put)", "(default: 512)",
                    "(default: 1.0)"):  # fmt: skip
        assert default in " ".join(out.split()), default
    code, out, _err = cli_main("csms", "--help")
    assert "(default: 127.0.0.1:9000)" in out and "(default: 300)" in out


def test_firmware_image_refuses_to_overwrite_unless_forced(cli_main: CliMain, tmp_path: Path) -> None:
    output = tmp_path / "fw.img"
    output.write_bytes(b"keep me")
    code, _out, err = cli_main("firmware-image", "--version", "2.0", "--output", str(output))
    assert_one_line_error(code, err, "--output")
    assert "--force" in err
    assert output.read_bytes() == b"keep me"
    code, out, _err = cli_main("firmware-image", "--version", "2.0", "--output", str(output), "--force")
    assert code == 0, out
    assert output.read_bytes() != b"keep me"


def test_firmware_image_makes_the_directory_of_its_output(cli_main: CliMain, tmp_path: Path) -> None:
    """README's walkthrough: ``firmware-image --output fw/fw-2.0.img`` in a directory without ``fw/``."""
    output = tmp_path / "fw" / "fw-2.0.img"
    code, out, err = cli_main("firmware-image", "--version", "2.0", "--output", str(output))
    assert code == 0, err
    assert output.is_file() and f"{output}: firmware 2.0" in out
    (tmp_path / "plain").write_text("a file, not a directory")
    code, _out, err = cli_main("firmware-image", "--version", "2.0", "--output", str(tmp_path / "plain" / "x"))
    assert_one_line_error(code, err, "cannot make the directory of --output")


async def spawn_logged(port: int, tmp_path: Path, *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        *CLI, *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip


async def test_verbose_after_the_subcommand_logs_frames_and_transcript_alone_does_not(
    csms: tuple[CentralSystem, int], tmp_path: Path
) -> None:
    system, port = csms
    common = ["--csms", f"ws://127.0.0.1:{port}", "--id", "SIM-1", "--give-up-after", "1"]
    outputs = []
    for extra in (["-v"], ["--transcript", str(tmp_path / "t.jsonl")]):
        proc = await spawn_logged(port, tmp_path, "simulate", *common, *extra)
        await next_event(system, m.Action.BOOT_NOTIFICATION, timeout=30)
        await next_event(system, m.Action.STATUS_NOTIFICATION, timeout=30)
        proc.send_signal(signal.SIGTERM)
        _out, err = await asyncio.wait_for(proc.communicate(), 30)
        assert proc.returncode == 0
        outputs.append(err.decode())
    verbose, transcript_only = outputs
    assert "chargebox.frames" in verbose and '"BootNotification"' in verbose
    assert "chargebox.frames" not in transcript_only
    assert '"BootNotification"' in (tmp_path / "t.jsonl").read_text()
    assert "SIGTERM received: shutting down" in transcript_only


async def test_interrupted_demo_exits_non_zero() -> None:
    proc = await asyncio.create_subprocess_exec(
        *CLI, "demo", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    assert proc.stdout is not None
    await asyncio.wait_for(proc.stdout.readline(), 20)  # the tour has begun
    proc.send_signal(signal.SIGINT)
    await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode == 128 + signal.SIGINT


async def test_log_names_the_central_systems_transaction_id(csms: tuple[CentralSystem, int], tmp_path: Path) -> None:
    system, port = csms
    system.policy.extra_handlers[m.Action.START_TRANSACTION] = lambda _request: m.StartTransactionResponse(
        id_tag_info=m.IdTagInfo(status=m.AuthorizationStatus.ACCEPTED), transaction_id=4242
    )  # not the station's own count, which starts at 1
    control = free_port()
    proc = await spawn_logged(
        port, tmp_path, "simulate", "--csms", f"ws://127.0.0.1:{port}", "--id", "SIM-1",
        "--control", f"127.0.0.1:{control}", "--plugged", "1",
    )  # fmt: skip
    swipe = f"http://127.0.0.1:{control}/api/connectors/1/swipe"
    try:
        await next_event(system, m.Action.BOOT_NOTIFICATION, timeout=30)
        async with aiohttp.ClientSession() as http:
            async with http.post(swipe, json={"idTag": "T"}) as response:
                started = await response.json()
            await next_event(system, m.Action.START_TRANSACTION, timeout=30)
            async with http.post(swipe, json={"idTag": "T"}) as response:
                stopped = await response.json()
        assert started["outcome"]["result"] == "started" and stopped["outcome"]["result"] == "stopped"
    finally:
        proc.send_signal(signal.SIGTERM)
        _out, err = await asyncio.wait_for(proc.communicate(), 30)
    log = err.decode()
    assert "transaction 4242 on connector 1: the central system's transactionId" in log
    assert "transaction 4242 stopped (Local)" in log
    assert "transaction 1 " not in log


# -- issue 16: secrets kept out of ps, and the control API's address -----------------------------------------


async def spawn_until(pattern: str, *args: str, env: dict[str, str] | None = None) -> tuple[
    asyncio.subprocess.Process, list[str], re.Match[str]
]:  # fmt: skip
    """A command, and its log until a line matches ``pattern`` (the lines so far, and the match)."""
    proc = await asyncio.create_subprocess_exec(
        *CLI, *args, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, **(env or {})},
    )  # fmt: skip
    assert proc.stderr is not None
    lines: list[str] = []

    async def read() -> re.Match[str]:
        assert proc.stderr is not None
        while line := (await proc.stderr.readline()).decode():
            lines.append(line)
            if found := re.search(pattern, line):
                return found
        raise AssertionError("".join(lines))

    return proc, lines, await asyncio.wait_for(read(), 20)


async def stop(proc: asyncio.subprocess.Process) -> None:
    proc.send_signal(signal.SIGTERM)
    await proc.communicate()


@pytest.mark.parametrize("way", ["--password", "--password-file", "CHARGEBOX_PASSWORD", "a file others can read"])
async def test_T_41_a_password_from_a_file_or_the_environment_stays_out_of_ps(way: str, tmp_path: Path) -> None:
    """``/proc/PID/cmdline`` is world-readable: ``--password`` still works, with a warning; the ways are others."""
    secret_file = tmp_path / "password"
    secret_file.write_text(SECRET + "\n")
    secret_file.chmod(0o644 if way == "a file others can read" else 0o600)
    args, env = {
        "--password": (["--password", SECRET], {}),
        "--password-file": (["--password-file", str(secret_file)], {}),
        "CHARGEBOX_PASSWORD": ([], {"CHARGEBOX_PASSWORD": SECRET}),
        "a file others can read": (["--password-file", str(secret_file)], {}),
    }[way]
    proc, lines, listening = await spawn_until(
        r"listening on ws://127\.0\.0\.1:(\d+)/", "csms", "--listen", "127.0.0.1:0", *args, env=env
    )
    try:
        cmdline = Path(f"/proc/{proc.pid}/cmdline").read_bytes()
        assert (SECRET.encode() in cmdline) is (way == "--password")
        log = "".join(lines)
        assert ("--password is visible to every user of this machine" in log) is (way == "--password")
        assert ("is readable by other users (mode 0644): chmod 600" in log) is (way == "a file others can read")
        assert "s3cr3t" not in log
        url = f"ws://127.0.0.1:{listening[1]}/SIM-1"
        for password, accepted in ((SECRET, True), (SECRET[::-1], False)):
            basic = "Basic " + base64.b64encode(f"SIM-1:{password}".encode()).decode()
            try:
                async with connect(url, subprotocols=[Subprotocol("ocpp1.6")],
                                   additional_headers={"Authorization": basic}):  # fmt: skip
                    pass
            except InvalidStatus as exc:
                assert not accepted and exc.response.status_code == 401
            else:
                assert accepted
    finally:
        await stop(proc)


TOKEN = "tok-" + "0123456789abcdef" * 2


@pytest.mark.parametrize("way", ["none", "--control-token-file", "CHARGEBOX_CONTROL_TOKEN"])
async def test_control_on_ipv6_loopback_in_brackets_with_its_token_from_a_file_or_the_environment(
    way: str, tmp_path: Path
) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    token_file.chmod(0o600)
    args, env = {
        "none": ([], {}),
        "--control-token-file": (["--control-token-file", str(token_file)], {}),
        "CHARGEBOX_CONTROL_TOKEN": ([], {"CHARGEBOX_CONTROL_TOKEN": TOKEN}),
    }[way]
    proc, lines, page = await spawn_until(
        r"control page on (http://\[::1\]:\d+/)", "csms", "--listen", "127.0.0.1:0", "--control", "[::1]:0", *args,
        env=env,
    )  # fmt: skip
    try:
        assert TOKEN.encode() not in Path(f"/proc/{proc.pid}/cmdline").read_bytes()
        async with aiohttp.ClientSession() as http:
            async with http.get(page[1] + "api/stations") as response:
                assert response.status == (200 if way == "none" else 401)
            async with http.get(page[1] + "api/stations", headers={"Authorization": f"Bearer {TOKEN}"}) as response:
                assert response.status == 200
                assert (await response.json())["stations"] == []
        assert "visible to every user" not in "".join(lines)
    finally:
        await stop(proc)
