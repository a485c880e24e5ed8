"""``chargebox run`` with ``[station] ocpp = "2.0.1"``: a real process on the Modbus drivers (a pymodbus rig), a FIFO
card reader and the built-in central system, all on loopback: it boots on ``ocpp2.0.1`` with its ``[[ocpp.entries]]``
in force, a cable and a card start a transaction (TransactionEvent Started), SIGTERM ends it with reason Reboot and
exits 0. A file the 2.0.1 station cannot take is one line and exit 2."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from chargebox.csms.server import CentralSystem
from chargebox.errors import ConfigError
from chargebox.protocol.v201 import messages as m
from chargebox.run.config import parse
from tests.loopback import until
from tests.run.modbus_rig import ModbusRig
from tests.run.station_file import OCPP, modbus_station
from tests.run.test_run_command import spawn, swipe

WAIT = 15.0
ENTRIES = """
[[ocpp.entries]]
component = { name = "SampledDataCtrlr" }
variable = { name = "TxUpdatedInterval" }
value = "1"
"""


def station_201(text: str) -> str:
    """A 1.6 station file of the tests made a 2.0.1 one: ``[station] ocpp``, device-model entries for ``[ocpp]``."""
    return text.replace("[station]\n", '[station]\nocpp = "2.0.1"\n', 1).replace(OCPP, ENTRIES)


async def next_call(system: CentralSystem, action: str) -> object:
    async def find() -> object:
        while (event := await system.events.get()).action != action:
            pass
        return event.request

    return await asyncio.wait_for(find(), WAIT)


async def test_run_a_2_0_1_station_boots_charges_and_ends_its_transaction_on_sigterm(tmp_path: Path) -> None:
    system = CentralSystem()
    port = await system.start("127.0.0.1", 0)
    rig = ModbusRig(power_w=36_000.0)
    await rig.start()
    fifo = tmp_path / "reader"
    os.mkfifo(fifo)
    config = tmp_path / "station.toml"
    config.write_text(station_201(modbus_station(f"ws://127.0.0.1:{port}/ocpp", tmp_path / "data", rig.port,
                                                 rig.io_port, fifo=fifo)))  # fmt: skip
    log = tmp_path / "stderr.log"
    proc = await spawn(config, log)
    try:
        boot = await next_call(system, "BootNotification")
        assert isinstance(boot, m.BootNotificationRequest) and boot.charging_station.vendor_name == "Acme"
        assert "OCPP 2.0.1, 1 connector(s)" in log.read_text()
        rig.plugged = True
        await until(lambda: "Occupied" in log.read_text(), timeout=WAIT)
        swipe(fifo, "04A2B3C4")
        started = await next_call(system, "TransactionEvent")
        assert isinstance(started, m.TransactionEventRequest) and started.event_type == "Started"
        assert started.id_token is not None and started.id_token.id_token == "04A2B3C4"
        updated = await next_call(system, "TransactionEvent")  # TxUpdatedInterval 1, from [[ocpp.entries]]
        assert isinstance(updated, m.TransactionEventRequest) and updated.event_type == "Updated"
        proc.send_signal(signal.SIGTERM)
        ended = await next_call(system, "TransactionEvent")
        while isinstance(ended, m.TransactionEventRequest) and ended.event_type == "Updated":
            ended = await next_call(system, "TransactionEvent")
        assert isinstance(ended, m.TransactionEventRequest) and ended.event_type == "Ended"
        assert ended.transaction_info.stopped_reason == "Reboot"  # [station] sigterm_reason's default
        assert await asyncio.wait_for(proc.wait(), WAIT) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        await rig.stop()
        await system.stop()


GOOD_201 = station_201(modbus_station("ws://127.0.0.1:9000/ocpp", Path("/tmp/data"), 1502, 1503))


def test_a_2_0_1_station_file_parses_and_its_entries_are_its_initial_configuration() -> None:
    settings = parse(tomllib.loads(GOOD_201)).settings
    assert settings.ocpp == "2.0.1"
    entry = {"component": {"name": "SampledDataCtrlr"}, "variable": {"name": "TxUpdatedInterval"}, "value": "1"}
    assert settings.ocpp_config == [entry]


def test_1_6_keys_for_a_2_0_1_station_are_one_line_naming_the_table() -> None:
    text = GOOD_201.replace(ENTRIES, OCPP)
    with pytest.raises(ConfigError, match=r"^station.toml: \[ocpp\]: a 2.0.1 station starts from device-model "
                                          r"entries, as \[\[ocpp.entries\]\] tables"):  # fmt: skip
        parse(tomllib.loads(text))


def test_an_entry_the_device_model_refuses_is_one_line_and_exit_2(tmp_path: Path) -> None:
    """The device model checks the entries when the station is built, after the drivers' first poll (whose
    warnings, with no rig on those ports, go before it): one error line naming the file, the table and the entry."""
    path = tmp_path / "station.toml"
    text = GOOD_201.replace('"TxUpdatedInterval"', '"NoSuchVariable"')
    path.write_text(text.replace("/tmp/data", str(tmp_path / "d")))
    done = subprocess.run([sys.executable, "-m", "chargebox.cli", "run", "--config", str(path)],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    errors = [line for line in done.stderr.strip().splitlines() if not line.startswith("<4>")]
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert errors == ["chargebox: error: station.toml [ocpp]: entry 1: the station has no variable "
                      "SampledDataCtrlr.NoSuchVariable"]  # fmt: skip


def test_the_station_file_s_evses_is_the_EVSE_layout_and_a_1_6_station_refuses_it_with_exit_2(tmp_path: Path) -> None:
    settings = parse(tomllib.loads(GOOD_201.replace("connectors = 1\n", "evses = [2]\n"))).settings
    assert settings.evses == (2,)
    with pytest.raises(ConfigError, match=r"^station.toml: evses \[2, 1\] and connectors 1 \(--connectors\) both"):
        parse(tomllib.loads(GOOD_201.replace("connectors = 1\n", "connectors = 1\nevses = [2, 1]\n")))
    path = tmp_path / "station.toml"
    path.write_text(GOOD_201.replace('ocpp = "2.0.1"\n', "").replace("connectors = 1\n", "evses = [2]\n"))
    done = subprocess.run([sys.executable, "-m", "chargebox.cli", "run", "--config", str(path)],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines() == [
        "chargebox: error: station.toml: evses [2]: an OCPP 2.0.1 station's EVSE layout; a 1.6 station has "
        "connectors (connectors, --connectors), each its own"
    ]
