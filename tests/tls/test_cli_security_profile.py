"""The SecurityProfile a command starts with when none is named (security_profile.py): implied by the URL and
the credentials, logged with its reason; one named that contradicts the URL stays an error. Real subprocesses
against real central systems on loopback (wss:// with a private CA)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from pathlib import Path

from tests.interop.conftest import OcppCsms
from tests.run.station_file import bench_station
from tests.test_cli import CLI, CliMain, assert_one_line_error, run_cli
from tests.tls.conftest import Pki, ServeCsms

SECRET = "0123456789abcdef-key"


async def _simulate_until_boot(csms: OcppCsms, *args: str, env: dict[str, str] | None = None) -> tuple[int | None, str]:
    """Start ``simulate`` against ``csms``, wait for its BootNotification, SIGTERM it: (exit code, stderr)."""
    proc = await asyncio.create_subprocess_exec(
        *CLI, "simulate", "--csms", csms.url, "--id", "CP-1", *args,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE, env={**os.environ, **(env or {})},
    )  # fmt: skip
    try:
        await csms.frames.wait_for(lambda f: f.action == "BootNotification", timeout=15)
    finally:
        proc.send_signal(signal.SIGTERM)
        _out, err = await asyncio.wait_for(proc.communicate(), 15)
    return proc.returncode, err.decode()


async def test_T_40_wss_without_security_profile_connects_with_profile_2(pki: Pki, serve_csms: ServeCsms) -> None:
    csms = await serve_csms(ssl=pki.server_context(), passwords={SECRET})
    password = pki.directory / "password"
    password.write_text(SECRET + "\n")
    password.chmod(0o600)
    code, err = await _simulate_until_boot(csms, "--ca-file", str(pki.ca_file), "--password-file", str(password))
    assert code == 0, err
    assert "security profile 2 (implied by wss://)" in err


async def test_T_40_wss_with_cert_and_key_connects_with_profile_3(pki: Pki, serve_csms: ServeCsms) -> None:
    csms = await serve_csms(ssl=pki.server_context(client_ca=pki.ca))
    cert, key = pki.client_files(pki.ca.issue_cert("CP-1"), "cp")
    code, err = await _simulate_until_boot(csms, "--ca-file", str(pki.ca_file), "--cert", str(cert), "--key", str(key))
    assert code == 0, err
    assert "security profile 3 (implied by wss:// with a client certificate and key)" in err


async def test_T_40_a_password_from_the_environment_over_ws_is_profile_1(serve_csms: ServeCsms) -> None:
    csms = await serve_csms(passwords={SECRET})
    code, err = await _simulate_until_boot(csms, env={"CHARGEBOX_PASSWORD": SECRET})
    assert code == 0, err
    assert "security profile 1 (implied by ws:// with a password)" in err
    assert SECRET not in err


async def test_an_explicit_security_profile_is_used_as_given_and_named(serve_csms: ServeCsms) -> None:
    csms = await serve_csms()
    code, err = await _simulate_until_boot(csms, "--security-profile", "0")
    assert code == 0, err
    assert "security profile 0 (--security-profile 0)" in err


def test_an_explicit_security_profile_that_contradicts_wss_is_an_error(cli_main: CliMain, pki: Pki) -> None:
    code, _out, err = cli_main(
        "simulate", "--csms", "wss://127.0.0.1:1", "--id", "X", "--ca-file", str(pki.ca_file),
        "--security-profile", "1",
    )  # fmt: skip
    assert_one_line_error(code, err, "--csms is wss:// but --security-profile is 1")


async def test_run_station_file_without_security_profile_implies_2_for_wss(
    pki: Pki, serve_csms: ServeCsms, tmp_path: Path
) -> None:
    csms = await serve_csms(ssl=pki.server_context())
    config = tmp_path / "station.toml"
    config.write_text(
        bench_station(csms.url, tmp_path / "data", station_id="RUN-TLS", station=f'ca_file = "{pki.ca_file}"')
    )
    proc = await asyncio.create_subprocess_exec(
        *CLI, "run", "--config", str(config), stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
    )
    try:
        await csms.frames.wait_for(lambda f: f.action == "BootNotification", timeout=15)
    finally:
        proc.send_signal(signal.SIGTERM)
        _out, err = await asyncio.wait_for(proc.communicate(), 15)
    assert proc.returncode == 0, err.decode()
    assert "security profile 2 (implied by wss://)" in err.decode()


async def test_fleet_over_wss_with_a_ca_file_boots_every_station(
    pki: Pki, serve_csms: ServeCsms, tmp_path: Path
) -> None:
    csms = await serve_csms(ssl=pki.server_context())
    stats = tmp_path / "stats.json"
    code, _out, err = await run_cli(
        "fleet", "--csms", csms.url, "--count", "2", "--ca-file", str(pki.ca_file), "--duration", "3",
        "--stats-json", str(stats), timeout=30,
    )  # fmt: skip
    assert code == 0, err
    assert json.loads(stats.read_text())["booted"] == 2
    assert "= 2 stations, security profile 2 (implied by wss://)" in err
    assert len(csms.frames.calls("BootNotification")) == 2


def test_fleet_over_wss_without_a_ca_file_says_so_in_one_line_and_no_summary(cli_main: CliMain) -> None:
    code, out, err = cli_main("fleet", "--csms", "wss://127.0.0.1:1", "--count", "2", "--duration", "1")
    assert_one_line_error(code, err, "wss:// needs --ca-file PEM")
    assert "--security-profile" not in err and "fleet summary" not in out
