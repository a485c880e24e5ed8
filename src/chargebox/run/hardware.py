"""``[hardware]`` of the station file: a driver for each port, read and checked, then built into ``Ports``.

| table | drivers |
|---|---|
| ``[hardware.meter]`` | ``modbus`` (``drivers/meter.py``), ``simulated`` |
| ``[hardware.contactor]`` | ``modbus`` (``drivers/io.py``), ``simulated`` |
| ``[hardware.lock]`` | ``modbus``, ``simulated``; absent with ``fixed_cable = true`` |
| ``[hardware.ev]`` | ``modbus`` (an EV-detect input), ``simulated`` (``plugged = [1]``: cables in at start) |
| ``[hardware.card_reader]`` | ``serial``, ``fifo`` (``drivers/cardreader.py``); absent: no reader |
| ``[hardware.installer]`` | ``slots`` (``drivers/installer.py``), ``simulated`` |

There is no default driver: a port without its table is an error, so a real charger never ends up
simulating a part. The simulated parts share one ``SimulatedHardware`` (its meter counts what its contactor
lets through); they are the simulator's, imported by name only when a file names one (``SIMULATED``), so
``run/`` never imports ``sim/`` and a real charger's process holds no simulator code.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from chargebox.clock import Clock
from chargebox.run.drivers.cardreader import LineCardReader
from chargebox.run.drivers.io import ModbusContactor, ModbusLock, ModbusPilot, Outputs
from chargebox.run.drivers.meter import ModbusMeter
from chargebox.run.drivers.modbus import Buses, ModbusLink
from chargebox.run.section import Section
from chargebox.station.station import Ports, Station
from chargebox.store import Store

PORTS: Final = ("meter", "contactor", "lock", "ev", "card_reader", "installer")
MAX_UNIT: Final = 247  # Modbus unit ids 1 to 247 (0 is broadcast)
Background = Callable[[Station], Awaitable[None]]
# driver = "simulated": the simulator's part for each port, as (module, class)
SIMULATED: Final = {
    "hardware": ("chargebox.sim.hardware", "SimulatedHardware"),
    "installer": ("chargebox.sim.installer", "SimulatedInstaller"),
}


@dataclass(frozen=True, slots=True)
class PortPlan:
    """One port as the file names it: the driver and its checked options."""

    driver: str
    options: dict[str, Any] = field(default_factory=dict)
    link: ModbusLink | None = None


@dataclass(frozen=True, slots=True)
class HardwarePlan:
    ports: dict[str, PortPlan]

    def uses(self, driver: str) -> bool:
        return any(plan.driver == driver for plan in self.ports.values())


@dataclass(slots=True)
class Hardware:
    """The built ports, what must run beside the station, and what to do before it starts."""

    ports: Ports
    background: dict[str, Background]
    startup: list[Callable[[], Awaitable[object]]]
    buses: Buses


def read_hardware(section: Section, *, connectors: int, fixed_cable: bool) -> HardwarePlan:
    plans: dict[str, PortPlan] = {}
    for port in PORTS:
        if not section.has(port):
            if port == "card_reader" or (port == "lock" and fixed_cable):
                continue
            raise section.error(port, "required: name a driver ('simulated' on a bench)"
                                if port != "lock" else "required unless [station] fixed_cable = true")  # fmt: skip
        sub = section.sub(port)
        if port == "lock" and fixed_cable:
            raise sub.error("driver", "a fixed cable has no lock: remove [hardware.lock] or set fixed_cable = false")
        plans[port] = READERS[port](sub, connectors)
        sub.done()
    section.done()
    return HardwarePlan(plans)


def _per_connector(s: Section, key: str, connectors: int, low: int, high: int) -> tuple[int, ...]:
    values: tuple[int, ...] = s.integers(key, low, high)
    if len(values) != connectors:
        raise s.error(key, f"must list one per connector ({connectors})")
    return values


def _read_meter(s: Section, connectors: int) -> PortPlan:
    from chargebox.run.drivers.meter import read_map

    driver = s.choice("driver", ("modbus", "simulated"))
    if driver == "simulated":
        return PortPlan(driver)
    link = ModbusLink.read(s)
    if isinstance(s.peek("unit_id"), list):
        unit_ids = _per_connector(s, "unit_id", connectors, 1, MAX_UNIT)
    else:
        unit = s.integer("unit_id", 1, MAX_UNIT)
        if connectors != 1:
            raise s.error("unit_id", f"must list one meter per connector ({connectors}): unit_id = [1, 2, ...]")
        unit_ids = (unit,)
    options = {
        "unit_ids": unit_ids,
        "registers": read_map(s),
        "poll_interval": s.number("poll_interval", 0.05, 60.0, 1.0),
        "stale_after": s.number("stale_after", 0.1, 600.0, 5.0),
    }
    if options["stale_after"] <= options["poll_interval"]:
        raise s.error("stale_after", "must be longer than poll_interval")
    return PortPlan(driver, options, link)


def _read_outputs(s: Section, connectors: int) -> PortPlan:
    driver = s.choice("driver", ("modbus", "simulated"))
    if driver == "simulated":
        return PortPlan(driver)
    link = ModbusLink.read(s)
    options = {
        "unit_id": s.integer("unit_id", 1, MAX_UNIT),
        "coils": _per_connector(s, "coils", connectors, 0, 65535),
        "feedback": _per_connector(s, "feedback", connectors, 0, 65535),
        "settle": s.number("settle", 0.0, 5.0, 0.2),
        "feedback_inverted": s.boolean("feedback_inverted", False),
    }
    return PortPlan(driver, options, link)


def _read_ev(s: Section, connectors: int) -> PortPlan:
    driver = s.choice("driver", ("modbus", "simulated"))
    if driver == "simulated":
        plugged = s.integers("plugged", 1, connectors, ())
        return PortPlan(driver, {"plugged": list(plugged)})
    link = ModbusLink.read(s)
    options = {
        "unit_id": s.integer("unit_id", 1, MAX_UNIT),
        "inputs": _per_connector(s, "inputs", connectors, 0, 65535),
        "current_registers": _per_connector(s, "current_registers", connectors, 0, 65535)
        if s.has("current_registers")
        else None,
        "current_scale": s.number("current_scale", 0.001, 1000.0, 1.0),
        "poll_interval": s.number("poll_interval", 0.02, 10.0, 0.2),
    }
    return PortPlan(driver, options, link)


def _read_card_reader(s: Section, connectors: int) -> PortPlan:
    driver = s.choice("driver", ("serial", "fifo"))
    options: dict[str, Any] = {"connector_id": s.integer("connector", 1, connectors, None)}
    if driver == "serial":
        options["serial_device"] = s.string("device", max_length=4096)
        options["baudrate"] = s.integer("baudrate", 300, 921600, 9600)
    else:
        options["path"] = s.path("path")
    return PortPlan(driver, options)


def _read_installer(s: Section, connectors: int) -> PortPlan:
    driver = s.choice("driver", ("slots", "simulated"))
    if driver == "simulated":
        return PortPlan(driver, {"duration": s.number("install_seconds", 0.0, 3600.0, 1.0)})
    return PortPlan(driver, {"slots_dir": s.path("slots_dir"), "reboot_command": s.argv("reboot_command", None)})


READERS: Final[dict[str, Callable[[Section, int], PortPlan]]] = {
    "meter": _read_meter,
    "contactor": _read_outputs,
    "lock": _read_outputs,
    "ev": _read_ev,
    "card_reader": _read_card_reader,
    "installer": _read_installer,
}


def build(plan: HardwarePlan, *, clock: Clock, store: Store, connectors: int, factory_version: str | None,
          log: logging.Logger) -> Hardware:  # fmt: skip
    """The drivers, connected to nothing yet (their first I/O is in ``startup`` and ``background``)."""
    from chargebox.run.drivers.installer import SlotInstaller

    buses = Buses()
    simulated: Any = None
    if plan.uses("simulated"):
        simulated = _simulated("hardware")(clock=clock, connectors=connectors,
                                           energy_wh=store.connectors.all_meter_wh())  # fmt: skip
    background: dict[str, Background] = {}
    startup: list[Callable[[], Awaitable[object]]] = []
    built: dict[str, Any] = {}
    for port, p in plan.ports.items():
        o = p.options
        bus = buses.get(p.link) if p.link is not None else None
        if p.driver == "simulated" and port == "installer":
            built[port] = _simulated("installer")(store=store, clock=clock, factory_version=factory_version, **o)
        elif p.driver == "simulated":
            built[port] = simulated
            for connector_id in o.get("plugged", ()):  # [hardware.ev] plugged = [...]: cables in at start
                simulated.plug(connector_id)
        elif port == "meter":
            assert bus is not None
            meter = ModbusMeter(bus, clock=clock, log=log, **o)
            built[port] = meter
            startup.append(meter.poll)
            background["meter poll"] = _station_free(meter.run)
        elif port in ("contactor", "lock"):
            assert bus is not None
            outputs = Outputs(bus, clock=clock, **o)
            built[port] = ModbusContactor(outputs) if port == "contactor" else ModbusLock(outputs, log=log)
        elif port == "ev":
            assert bus is not None
            pilot = ModbusPilot(bus, clock=clock, log=log, **o)
            built[port] = pilot
            startup.append(pilot.poll)
            background["pilot poll"] = _pilot_loop(pilot)
        elif port == "card_reader":
            reader = LineCardReader(log=log, **o)
            background["card reader"] = _reader_loop(reader)
        else:
            built[port] = SlotInstaller(Path(o["slots_dir"]), reboot_command=o["reboot_command"], log=log)
    ports = Ports(meter=built["meter"], contactor=built["contactor"], ev=built["ev"], lock=built.get("lock"),
                  installer=built["installer"])  # fmt: skip
    return Hardware(ports, background, startup, buses)


def _simulated(part: str) -> Any:
    """The simulator's class for ``part``, imported now: only a file that names a simulated driver gets here."""
    module, name = SIMULATED[part]
    return getattr(importlib.import_module(module), name)


def _station_free(run: Callable[[], Awaitable[None]]) -> Background:
    async def loop(_station: Station) -> None:
        await run()

    return loop


def _pilot_loop(pilot: ModbusPilot) -> Background:
    async def loop(station: Station) -> None:
        await pilot.run(station.plugged, station.unplugged)

    return loop


def _reader_loop(reader: LineCardReader) -> Background:
    async def loop(station: Station) -> None:
        await reader.run(station.id_tag_presented, station.table.id_token_length)

    return loop
