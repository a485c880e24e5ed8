"""The station file of ``chargebox run``: every bad key is one line naming the file, the table and the key,
exit code 2, no traceback (checked in process for each key, and once through the real command)."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from chargebox.errors import ConfigError
from chargebox.protocol.messages import Reason
from chargebox.run.config import load, parse
from tests.run.station_file import modbus_station

GOOD = modbus_station("ws://127.0.0.1:9000/ocpp", Path("/tmp/data"), 1502, 1503)


def _with(text: str, table: str, key: str, value: str | None) -> str:
    """The good file with ``key`` of ``[table]`` set to ``value`` (None: removed; appended if absent)."""
    lines = text.splitlines()
    start = lines.index(f"[{table}]")
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("[")), len(lines))
    body = [line for line in lines[start + 1 : end] if not line.startswith(f"{key} =")]
    if value is not None:
        body.append(f"{key} = {value}")
    return "\n".join([*lines[: start + 1], *body, *lines[end:]])


CASES = [
    ("station", "id", '"A:B"', "[station] id: must not contain ':'"),
    ("station", "id", '"caf\u00e9"', "[station] id: must be printable ASCII"),
    ("station", "id", None, "[station] id: required"),
    ("station", "csms", '"http://x/ocpp"', "[station] csms:"),
    ("station", "data_dir", None, "[station] data_dir: required"),
    ("station", "password", '"short"', "[station] password: must be 16 to 40"),
    ("station", "vendor", '"' + "V" * 21 + '"', "[station] vendor: must be 1 to 20"),
    ("station", "connectors", "0", "[station] connectors: must be 1 to"),
    ("station", "upload_method", '"get"', "[station] upload_method: must be one of"),
    ("station", "sigterm_reason", '"PowerLoss"', "[station] sigterm_reason: must be one of"),
    ("station", "colour", '"red"', "[station] colour: unknown key"),
    ("station", "ocpp", '"2.1"', "[station] ocpp: must be one of '1.6', '2.0.1'"),
    ("station", "ocpp", "2.0", "[station] ocpp: must be one of '1.6', '2.0.1'"),
    ("station", "security_profile", "4", "[station] security_profile: must be 0 to 3"),
    ("station", "tls_server_name", '"caf\u00e9.example"', "[station] tls_server_name: must be 1 to 253"),
    ("station", "ca_file", '"/dev/zero"', "[station] ca_file: /dev/zero: not a regular file"),
    ("station", "csms", '"ws://' + "a" * 64 + '.example/ocpp"', "[station] csms:"),
    ("station", "signed_firmware_only", '"yes"', "[station] signed_firmware_only: must be true or false"),
    ("station", "install_root", "1", "[station] install_root: must be"),
    ("hardware.meter", "unit_id", "300", "[hardware.meter] unit_id: must be 1 to 247"),
    ("hardware.meter", "map", '"sdm120"', "[hardware.meter] map: must be one of"),
    ("hardware.meter", "driver", '"gpio"', "[hardware.meter] driver: must be one of"),
    ("hardware.meter", "port", "70000", "[hardware.meter] port: must be 1 to 65535"),
    ("hardware.meter", "stale_after", "0.1", "[hardware.meter] stale_after: must be longer than poll_interval"),
    ("hardware.contactor", "coils", "[0, 1]", "[hardware.contactor] coils: must list one per connector (1)"),
    ("hardware.contactor", "feedback", '"x"', "[hardware.contactor] feedback: must be a non-empty list"),
    ("hardware.lock", "settle", "true", "[hardware.lock] settle: must be a number"),
    ("hardware.ev", "inputs", None, "[hardware.ev] inputs: required"),
    ("hardware.installer", "driver", '"flash"', "[hardware.installer] driver: must be one of"),
]


@pytest.mark.parametrize(("table", "key", "value", "message"), CASES, ids=[f"{c[0]}.{c[1]}" for c in CASES])
def test_each_bad_key_is_one_error_naming_it(table: str, key: str, value: str | None, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse(tomllib.loads(_with(GOOD, table, key, value)))
    text = str(raised.value)
    assert text.startswith(f"station.toml: {message}") and "\n" not in text


def test_the_good_file_parses() -> None:
    config = parse(tomllib.loads(GOOD))
    assert config.settings.charge_point_id == "RUN-1" and config.settings.data_dir == Path("/tmp/data")
    assert set(config.hardware.ports) == {"meter", "contactor", "lock", "ev", "installer"}


def test_X_8_SIGTERM_ends_transactions_with_Reboot_unless_the_file_says_Other() -> None:
    assert parse(tomllib.loads(GOOD)).settings.sigterm_reason is Reason.REBOOT
    other = _with(GOOD, "station", "sigterm_reason", '"Other"')
    assert parse(tomllib.loads(other)).settings.sigterm_reason is Reason.OTHER


def test_SF_10_install_root_the_station_file_names_the_switch_and_the_factory_root() -> None:
    settings = parse(tomllib.loads(GOOD)).settings
    assert settings.signed_firmware_only is False and settings.install_root is None
    text = _with(_with(GOOD, "station", "signed_firmware_only", "true"), "station", "install_root", '"/etc/csms.pem"')
    settings = parse(tomllib.loads(text)).settings
    assert settings.signed_firmware_only is True and settings.install_root == Path("/etc/csms.pem")


def test_a_port_without_its_table_is_an_error_never_a_simulated_default() -> None:
    text = GOOD.replace("[hardware.contactor]", "[hardware.relay]")
    with pytest.raises(ConfigError, match=r"^station.toml: \[hardware\] contactor: required"):
        parse(tomllib.loads(text))


def test_a_fixed_cable_has_no_lock() -> None:
    text = _with(GOOD, "station", "fixed_cable", "true")
    with pytest.raises(ConfigError, match=r"\[hardware.lock\] driver: a fixed cable has no lock"):
        parse(tomllib.loads(text))


def test_a_generic_map_needs_the_energy_register() -> None:
    text = _with(GOOD, "hardware.meter", "map", '"generic"')
    text = text.replace("[hardware.contactor]", '[hardware.meter.registers]\npower = { address = 0, type = "int32" }'
                        '\n\n[hardware.contactor]')  # fmt: skip
    with pytest.raises(ConfigError, match=r"\[hardware.meter.registers\] energy: required"):
        parse(tomllib.loads(text))
    text = text.replace("power = {", 'energy = { address = 72, type = "float32", table = "input", scale = 1000 }\n'
                        "power = {")  # fmt: skip
    plan = parse(tomllib.loads(text)).hardware.ports["meter"]
    assert plan.options["registers"]["energy"].scale == 1000


def test_not_toml_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "station.toml"
    path.write_text("[station\n")
    with pytest.raises(ConfigError, match=r"^station.toml: not valid TOML"):
        load(path)


@pytest.mark.parametrize(
    ("table", "key", "value", "fragment"),
    [
        ("station", "ca_file", '"/dev/zero"', "[station] ca_file: /dev/zero: not a regular file"),
        ("station", "csms", '"ws://' + "a" * 64 + '.example/ocpp"', "host name is not a valid DNS name"),
        ("ocpp", "Nested", "[" * 40 + "]" * 40, "station.toml: nests deeper than 32 levels"),
    ],
)
def test_a_device_an_unresolvable_host_or_too_deep_a_file_is_one_line_and_exit_2(
    tmp_path: Path, table: str, key: str, value: str, fragment: str
) -> None:
    path = tmp_path / "station.toml"
    path.write_text(_with(GOOD, table, key, value))
    done = subprocess.run([sys.executable, "-m", "chargebox.cli", "run", "--config", str(path)],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1 and fragment in lines[0], done.stderr


def test_the_command_prints_one_line_and_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "station.toml"
    path.write_text(_with(GOOD, "hardware.meter", "unit_id", "300"))
    done = subprocess.run([sys.executable, "-m", "chargebox.cli", "run", "--config", str(path)],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "chargebox: error: station.toml: [hardware.meter] unit_id: must be 1 to 247"
    ]
    assert "Traceback" not in done.stderr


async def test_a_station_file_holding_a_password_that_others_can_read_is_warned_of(tmp_path: Path) -> None:
    """Its password is as exposed as on a command line: the run says so, and how to fix it, and runs on."""
    text = modbus_station("ws://127.0.0.1:9/ocpp", tmp_path / "data", 9, 9).replace(
        'vendor = "Acme"', 'vendor = "Acme"\npassword = "s3cr3t-s3cr3t-s3cr3t"'
    )
    station = tmp_path / "station.toml"
    station.write_text(text)
    station.chmod(0o640)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "chargebox.cli", "run", "--config", str(station),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stderr is not None
    try:
        line = (await asyncio.wait_for(proc.stderr.readline(), 20)).decode()
    finally:
        proc.send_signal(signal.SIGTERM)
        await proc.communicate()
    assert "(it holds [station] password) is readable by other users (mode 0640): chmod 600" in line
    assert "s3cr3t" not in line
