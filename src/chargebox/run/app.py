"""``chargebox run``: the station of the file on its drivers, until SIGTERM.

Start-up order: the file is checked whole (``config.py``); the store is opened; the drivers are built and
polled once (the meter's registers and the pilot's inputs are known before the station recovers what a power
loss cut, X-12); then the station runs, with the drivers' loops supervised beside it (a loop that fails is
logged and started again). SIGTERM cancels it all: the station first ends its running transactions with
``[station] sigterm_reason`` (Reboot by default) and gives the central system a few seconds to take their
StopTransactions (``Station.run``), then its ``stop()`` closes the store and the drivers close their buses.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from chargebox.clock import SystemClock
from chargebox.credentials import warn_if_shared
from chargebox.errors import HardwareError, UserError
from chargebox.redact import redact
from chargebox.run.config import RunConfig, load
from chargebox.run.hardware import Hardware, build
from chargebox.station.station import Station, connector_count
from chargebox.store import Store
from chargebox.tasks import Tasks

# syslog priorities, as sd-daemon(3) prefixes: journald reads "<6>" as info
PRIORITY: Final = {logging.DEBUG: 7, logging.INFO: 6, logging.WARNING: 4, logging.ERROR: 3, logging.CRITICAL: 2}
STARTUP_TIMEOUT: Final = 10.0


class JournalFormatter(logging.Formatter):
    """``<6>chargebox.station message``: no colour, no timestamp (journald adds its own)."""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record).replace("\n", "\n  ")  # a traceback stays one journal entry per line group
        level = max((lvl for lvl in PRIORITY if lvl <= record.levelno), default=logging.DEBUG)
        return f"<{PRIORITY[level]}>{text}"


def journal_logging() -> None:
    """Replace the CLI's handler format with the journal's (the level set by ``-v`` stays)."""
    root = logging.getLogger()
    formatter = JournalFormatter("%(name)s %(message)s")
    if not root.handlers:
        root.addHandler(logging.StreamHandler(sys.stderr))
    for handler in root.handlers:
        handler.setFormatter(formatter)
    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)  # its every failed request is ours to report, once


@dataclass(slots=True)
class Running:
    """A station on its drivers, with the drivers' loops beside it."""

    station: Station
    hardware: Hardware
    tasks: Tasks

    async def close(self) -> None:
        self.tasks.cancel()
        await self.station.stop()
        await self.hardware.buses.close()


async def assemble(config: RunConfig, *, name: str = "station.toml") -> Running:
    """Open the store, build and first-poll the drivers, build the station and start the drivers' loops."""
    settings = config.settings
    log = logging.getLogger("chargebox.run")
    count = connector_count(settings)
    assert settings.data_dir is not None  # required by the file
    try:
        store = Store.open(settings.data_dir)
    except OSError as exc:
        raise UserError(f"{name}: [station] data_dir: {settings.data_dir}: {exc.strerror or exc}") from exc
    clock = SystemClock()
    hardware = build(config.hardware, clock=clock, store=store, connectors=count,
                     factory_version=settings.identity.firmware_version, log=log)  # fmt: skip
    for first in hardware.startup:
        try:
            await asyncio.wait_for(first(), STARTUP_TIMEOUT)
        except (HardwareError, TimeoutError) as exc:  # the station starts anyway: it reports the fault itself
            log.warning("! at start: %s", exc or "no answer")
    station = Station(settings, ports=hardware.ports, clock=clock, store=store)
    tasks = Tasks(log, "driver")
    for what, loop in hardware.background.items():
        tasks.supervise(functools.partial(loop, station), clock, what)
    for connector_id in range(1, count + 1):  # a cable already in at start (the pilot was read above)
        if hardware.ports.ev.plugged(connector_id):
            await station.plugged(connector_id)
    profile = station.config.get_int(station.table.version.keys.security_profile)
    log.info("= %s: station %s, OCPP %s, %d connector(s), central system %s, %s", name, station.id, settings.ocpp,
             count, redact(settings.csms_url), config.profile.describe(profile))  # fmt: skip
    return Running(station, hardware, tasks)


async def run(config_path: Path) -> int:
    """``chargebox run --config FILE``: until SIGTERM (which cancels this coroutine)."""
    config = load(config_path)
    if config.settings.password is not None:
        warn_if_shared(config_path, f"{config_path} (it holds [station] password)")
    running = await assemble(config, name=config_path.name)
    try:
        await running.station.run()
    finally:
        await running.close()
    return 0
