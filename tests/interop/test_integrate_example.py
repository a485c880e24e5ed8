"""The integrator's example of docs/howto/integrate.md, run as written against the `ocpp` library's
central system: a charger maker's own ports, no simulated part anywhere."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import re
import signal
import sys
from pathlib import Path
from types import ModuleType

import pytest

from chargebox.csms.server import CentralSystem
from chargebox.protocol import messages as m
from tests.interop.transactions_csms import TransactionsCsms
from tests.loopback import until

DOC = Path(__file__).resolve().parents[2] / "docs" / "howto" / "integrate.md"


def load_example(tmp_path: Path) -> ModuleType:
    code = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.DOTALL)[0]  # the first: the whole program
    path = tmp_path / "charger.py"
    path.write_text(code)
    spec = importlib.util.spec_from_file_location("charger", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["charger"] = module  # dataclass-like lookups of the module by name
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules["charger"]
    return module


CSMS = TransactionsCsms  # the central system of the ``csms`` fixture


async def test_the_documented_charger_boots_and_charges(csms: TransactionsCsms, tmp_path: Path) -> None:
    example = load_example(tmp_path)
    station = example.build(csms.url, tmp_path / "data")
    assert station.ports.meter.__class__.__module__ == "charger"  # its own ports, not the simulator's
    run = asyncio.ensure_future(station.run())
    try:
        await csms.wait_booted(1)
        [boot] = [f for f in csms.frames.frames if f.action == "BootNotification"]
        assert boot.payload["chargePointSerialNumber"] == boot.payload["chargeBoxSerialNumber"] == "W22-0001"
        station.ports.ev.connected.add(1)
        await station.plugged(1)
        await station.id_tag_presented("04A2B3C4", 1)
        _, start = await csms.wait_call("StartTransaction")
        assert start.payload["idTag"] == "04A2B3C4" and start.payload["meterStart"] == 0
        await until(lambda: 1 in station.ports.contactor.closed)
        station.ports.meter.wh[1] = 1234
        await station.id_tag_presented("04A2B3C4", 1)
        _, stop = await csms.wait_call("StopTransaction")
        assert stop.payload["meterStop"] == 1234 and stop.payload["reason"] == "Local"
        await until(lambda: station.lane.pending() == 0)
    finally:
        await station.stop()
        run.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await run


def test_a_station_without_its_installer_does_not_start(tmp_path: Path) -> None:
    example = load_example(tmp_path)
    with pytest.raises(TypeError):
        example.chargebox.Ports(meter=example.Meter(), contactor=example.Relay(), ev=example.Pilot(), lock=None)


@pytest.mark.parametrize(
    ("url", "problem"), [("wss://csms.example/ocpp", "wss:// is for profiles 2 and 3"), ("ws://h:1/x?y", "query")]
)
def test_a_station_with_an_unusable_csms_url_is_one_config_error(tmp_path: Path, url: str, problem: str) -> None:
    example = load_example(tmp_path)
    with pytest.raises(example.chargebox.ConfigError, match=problem):
        example.build(url, tmp_path / "data")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
async def test_the_documented_program_logs_and_stops_cleanly_on_a_signal(tmp_path: Path, signum: int) -> None:
    """``python charger.py URL DIR`` as the page says: it logs, and SIGTERM (systemd) or Ctrl-C stops the station
    through ``station.stop()``: exit 0, no traceback, the central system sees a clean close."""
    code = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.DOTALL)[0]
    program = tmp_path / "charger.py"
    program.write_text(code)
    system = CentralSystem()
    port = await system.start("127.0.0.1", 0)
    booted = asyncio.Event()
    system.on_event = lambda event: booted.set() if event.action is m.Action.BOOT_NOTIFICATION else None
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(program), f"ws://127.0.0.1:{port}/ocpp", str(tmp_path / "data"),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        await asyncio.wait_for(booted.wait(), 15)
        await until(lambda: "ACME-0001" in system.sessions)
        proc.send_signal(signum)
        out, err = await asyncio.wait_for(proc.communicate(), 15)
        await until(lambda: "ACME-0001" not in system.sessions)
    finally:
        if proc.returncode is None:
            proc.kill()
        await system.stop()
    log = err.decode()
    assert proc.returncode == 0, log
    assert "Traceback" not in log and out == b""
    assert "chargebox.station = connected to ws://127.0.0.1" in log  # logging is configured
    assert log.rstrip().endswith("charger stopped"), log  # station.stop() returned


async def test_the_firmware_pages_snippet_gives_the_station_its_installer(tmp_path: Path) -> None:
    """docs/howto/firmware.md: the installer is one of the ports (``Station(settings, installer=...)`` was a
    TypeError)."""
    page = (DOC.parent / "firmware.md").read_text()
    [snippet] = [block for block in re.findall(r"```python\n(.*?)```", page, re.DOTALL) if "Station(" in block]
    example = load_example(tmp_path)
    settings = example.chargebox.StationSettings(
        charge_point_id="ACME-0001", csms_url="ws://127.0.0.1:1", identity=example.chargebox.Identity(vendor="Acme",
        model="Wallbox 22"), data_dir=tmp_path / "data",
    )  # fmt: skip
    namespace = {"chargebox": example.chargebox, "settings": settings, "meter": example.Meter(),
                 "relay": example.Relay(), "pilot": example.Pilot(), "lock": example.Lock(),
                 "SlotInstaller": example.Installer}  # fmt: skip
    exec(snippet, namespace)
    station = namespace["station"]
    try:
        assert isinstance(station, example.chargebox.Station)
        assert isinstance(station.ports.installer, example.Installer)
    finally:
        await station.stop()
