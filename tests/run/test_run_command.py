"""Done-when of issue 12: ``chargebox run`` as a real process, on the Modbus drivers against pymodbus servers,
a FIFO card reader and the built-in central system, all on loopback: it boots, charges with the energy of the
meter's registers in the MeterValues, stops, and after a SIGKILL mid-transaction the next process ends that
transaction as docs/howto/integrate.md says (X-12: reason PowerLoss, meterStop the meter's own register, the
contactor opened). SIGTERM then ends it cleanly (exit 0)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
import pytest

from chargebox.csms.server import CentralSystem, CsmsEvent
from chargebox.protocol import messages as m
from tests.loopback import until
from tests.run.modbus_rig import CONTACTOR_COIL, ModbusRig
from tests.run.station_file import bench_station, modbus_station

CLI = [sys.executable, "-m", "chargebox.cli"]
START_WH = 1_000_000
WAIT = 15.0


@pytest.fixture
async def csms() -> AsyncIterator[tuple[CentralSystem, str]]:
    system = CentralSystem()
    port = await system.start("127.0.0.1", 0)
    try:
        yield system, f"ws://127.0.0.1:{port}/ocpp"
    finally:
        await system.stop()


async def next_call(system: CentralSystem, action: m.Action) -> Any:
    """The next CALL of ``action`` the central system answered (earlier ones of other actions are skipped)."""

    async def find() -> Any:
        while True:
            event: CsmsEvent = await system.events.get()
            if event.action is action:
                return event.request

    return await asyncio.wait_for(find(), WAIT)


def energy(request: Any) -> float:
    return max(float(s.value) for v in request.meter_value for s in v.sampled_value
               if s.measurand in (msgspec.UNSET, m.Measurand.ENERGY_ACTIVE_IMPORT_REGISTER))  # fmt: skip


async def spawn(config: Path, log: Path, *flags: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        *CLI, *flags, "run", "--config", str(config), stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL, stderr=log.open("ab"),
    )  # fmt: skip


def swipe(fifo: Path, id_tag: str) -> None:
    fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)  # the station holds the reading end open
    try:
        os.write(fd, f"{id_tag}\n".encode())
    finally:
        os.close(fd)


@dataclass(frozen=True, slots=True)
class Bench:
    """A station file on a Modbus rig (a meter counting 10 Wh a second) with a FIFO card reader."""

    rig: ModbusRig
    fifo: Path
    config: Path
    log: Path


async def bench(url: str, tmp_path: Path) -> Bench:
    rig = ModbusRig(power_w=36_000.0)  # 10 Wh a second
    await rig.start()
    fifo = tmp_path / "reader"
    os.mkfifo(fifo)
    config = tmp_path / "station.toml"
    config.write_text(modbus_station(url, tmp_path / "data", rig.port, rig.io_port, fifo=fifo))
    return Bench(rig, fifo, config, tmp_path / "stderr.log")


async def charge(system: CentralSystem, bench: Bench) -> tuple[Any, Any]:
    """Plug, swipe: the StartTransaction, and the first MeterValues with energy counted since."""
    bench.rig.plugged = True
    await until(lambda: "Preparing" in bench.log.read_text(), timeout=WAIT)
    swipe(bench.fifo, "04A2B3C4")
    start = await next_call(system, m.Action.START_TRANSACTION)
    sampled = await next_call(system, m.Action.METER_VALUES)
    while energy(sampled) <= start.meter_start:
        sampled = await next_call(system, m.Action.METER_VALUES)
    return start, sampled


async def test_run_boots_charges_stops_and_recovers_a_transaction_cut_by_SIGKILL(
    csms: tuple[CentralSystem, str], tmp_path: Path
) -> None:
    system, url = csms
    station = await bench(url, tmp_path)
    rig, fifo, config, log = station.rig, station.fifo, station.config, station.log
    process = await spawn(config, log, "-v")
    try:
        boot = await next_call(system, m.Action.BOOT_NOTIFICATION)
        assert (boot.charge_point_vendor, boot.firmware_version) == ("Acme", "1.0.0")
        start, _ = await charge(system, station)
        assert start.meter_start == START_WH and start.id_tag == "04A2B3C4"
        swipe(fifo, "04A2B3C4")
        stop = await next_call(system, m.Action.STOP_TRANSACTION)
        assert stop.reason is m.Reason.LOCAL and START_WH < stop.meter_stop <= rig.energy_wh + 10
        assert not await rig.coil(CONTACTOR_COIL)

        swipe(fifo, "04A2B3C4")  # a second session, cut by a power loss
        second = await next_call(system, m.Action.START_TRANSACTION)
        sampled = await next_call(system, m.Action.METER_VALUES)
        while energy(sampled) <= second.meter_start:
            sampled = await next_call(system, m.Action.METER_VALUES)
        process.send_signal(signal.SIGKILL)
        await process.wait()
        assert await rig.coil(CONTACTOR_COIL)  # a dead controller leaves the relay module as it was

        process = await spawn(config, log)
        await next_call(system, m.Action.BOOT_NOTIFICATION)
        recovered = await next_call(system, m.Action.STOP_TRANSACTION)
        assert recovered.reason is m.Reason.POWER_LOSS
        assert recovered.meter_stop >= energy(sampled)  # the meter's own register: it counted on
        assert not await rig.coil(CONTACTOR_COIL)  # no energy for a session that is over

        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), WAIT) == 0
        text = log.read_text()
        assert "BootNotification" in text  # -v logs the frames
        lines = [line for line in text.splitlines() if line and not line.startswith(" ")]
        assert all(line.startswith("<") and line[1].isdigit() for line in lines), lines[:5]
        assert "\x1b[" not in text  # no colour in the journal
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        await rig.stop()


async def test_X_8_SIGTERM_ends_the_running_transaction_with_reason_Reboot_and_delivers_it(
    csms: tuple[CentralSystem, str], tmp_path: Path
) -> None:
    system, url = csms
    station = await bench(url, tmp_path)
    process = await spawn(station.config, station.log)
    try:
        await next_call(system, m.Action.BOOT_NOTIFICATION)
        _, sampled = await charge(system, station)
        process.send_signal(signal.SIGTERM)
        stop = await next_call(system, m.Action.STOP_TRANSACTION)  # sent by the process SIGTERM ends
        assert await asyncio.wait_for(process.wait(), WAIT) == 0
        assert stop.reason is m.Reason.REBOOT and stop.meter_stop >= energy(sampled)
        assert not await station.rig.coil(CONTACTOR_COIL)  # no energy for a session that is over
        assert "1 transaction(s) end with reason Reboot" in station.log.read_text()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        await station.rig.stop()


async def test_a_silent_pilot_module_at_start_does_not_keep_the_station_from_booting(
    csms: tuple[CentralSystem, str], tmp_path: Path
) -> None:
    system, url = csms
    rig = ModbusRig()  # never started: nothing answers on its ports
    config = tmp_path / "station.toml"
    config.write_text(modbus_station(url, tmp_path / "data", rig.port, rig.io_port))
    process = await spawn(config, tmp_path / "stderr.log")
    try:
        await next_call(system, m.Action.BOOT_NOTIFICATION)
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), WAIT) == 0
    finally:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()


@pytest.mark.parametrize("kind", ["missing", "plain file"])
async def test_a_fifo_card_reader_that_is_not_there_is_one_line_per_retry_naming_mkfifo(
    csms: tuple[CentralSystem, str], tmp_path: Path, kind: str
) -> None:
    _, url = csms
    cards = tmp_path / "cards"
    if kind == "plain file":
        cards.write_text("04A2B3C4\n")
    config = tmp_path / "station.toml"
    config.write_text(
        bench_station(url, tmp_path / "data", station_id="RUN-FIFO",
                      extra=f'[hardware.card_reader]\ndriver = "fifo"\npath = "{cards}"\n')
    )  # fmt: skip
    log = tmp_path / "run.log"
    proc = await spawn(config, log)
    try:
        await until(lambda: log.read_text().count("mkfifo") >= 2, timeout=WAIT)  # the first try, the retry after 1 s
    finally:
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), WAIT) == 0
    text = log.read_text()
    failures = [line for line in text.splitlines() if "card reader" in line and "failed" in line]
    assert len(failures) >= 2 and all(f"mkfifo {cards}" in line for line in failures), text
    assert "Traceback" not in text and all(line.startswith("<") for line in text.splitlines()), text
