"""A simulated charger: a ``Station``, its simulated hardware and the world around it (EVs, cards),
driven by tests, the demo or the control API.

``simulated_station`` is the one place a station gets simulated ports: ``station/`` knows only the
ports of ``hal``, so a real charger can never end up with a simulated part by default.
"""

from __future__ import annotations

from collections.abc import Iterable

from chargebox.clock import Clock, SystemClock
from chargebox.protocol.messages import ChargePointErrorCode
from chargebox.sim.hardware import HardwarePart, SimulatedEv, SimulatedHardware
from chargebox.sim.installer import SimulatedInstaller
from chargebox.station.station import Ports, Station, StationSettings, connector_count
from chargebox.station.v16.transactions import Outcome
from chargebox.store import Store


def simulated_station(settings: StationSettings, *, clock: Clock | None = None, store: Store | None = None) -> Station:
    """A station on simulated hardware, whose meter registers and firmware flash live in its store."""
    clock = clock or SystemClock()
    count = connector_count(settings)  # checked before the store is touched
    store = store or Store.open(settings.data_dir)
    hardware = SimulatedHardware(clock=clock, connectors=count, energy_wh=store.connectors.all_meter_wh())
    installer = SimulatedInstaller(store=store, clock=clock, factory_version=settings.identity.firmware_version)
    ports = Ports(meter=hardware, contactor=hardware, ev=hardware, lock=hardware, installer=installer)
    return Station(settings, ports=ports, clock=clock, store=store)


class Simulator:
    def __init__(self, station: Station) -> None:
        self.station = station
        self.log = station.log
        self._at: dict[int, int] = {}  # 2.0.1: the connector of each EVSE its cable went in at last

    # -- hardware events ----------------------------------------------------------------------

    @property
    def hardware(self) -> SimulatedHardware:
        hardware = self.station.ports.meter
        assert isinstance(hardware, SimulatedHardware), "the simulator drives simulated hardware"
        return hardware

    @property
    def installer(self) -> SimulatedInstaller:
        installer = self.station.ports.installer
        assert isinstance(installer, SimulatedInstaller), "the simulator installs simulated firmware"
        return installer

    async def plug(self, connector_id: int, ev: SimulatedEv | None = None, *, connector: int = 1) -> Outcome:
        """An EV is connected to the connector (with a socket outlet: the cable goes in at both ends); 2.0.1: at
        ``connector`` of EVSE ``connector_id`` (the hardware's port is the EVSE's: one cable at a time; a cable at a
        sibling of the connector in use leaves the port and its EV as they are, and the station refuses it)."""
        if not (self.hardware.plugged(connector_id) and self._at.get(connector_id, 1) != connector):
            self._at[connector_id] = connector
            self.hardware.plug(connector_id, ev)
        return await self.station.plugged(connector_id, connector)

    async def booted(self) -> None:
        """Returns once the central system accepted the station's boot (at once after that)."""
        await self.station.boot_accepted.wait()

    async def unplug(self, connector_id: int) -> None:
        """The EV side is disconnected."""
        self.hardware.unplug(connector_id)
        await self.station.unplugged(connector_id)

    def soc(self, connector_id: int) -> float:
        """The plugged EV's state of charge now, percent (fleet --auto: it leaves once full)."""
        return self.hardware.soc(connector_id)

    def fault(self, connector_id: int, error_code: ChargePointErrorCode, info: str | None = None) -> None:
        self.station.fault(connector_id, error_code, info)

    def clear_fault(self, connector_id: int) -> None:
        self.station.clear_fault(connector_id)

    def hardware_fault(self, connector_id: int, part: HardwarePart, on: bool) -> None:
        """A part of the connector breaks or is mended; the station finds out when it next uses it."""
        self.log.info("= connector %d: %s %s", connector_id, part, "broken" if on else "mended")
        self.hardware.inject_fault(connector_id, part, on)

    async def swipe(self, id_tag: str, connector_id: int | None, token_type: str | None = None) -> Outcome:
        """A card at a reader; ``connector_id`` None for the station's one reader; ``token_type`` 2.0.1's
        IdTokenEnumType (None: ISO14443)."""
        self.log.info("= card %s at %s", id_tag, "the reader" if connector_id is None else f"connector {connector_id}")
        return await self.station.id_tag_presented(id_tag, connector_id, token_type)

    # -- running --------------------------------------------------------------------------------

    async def run(self, *, plugged: Iterable[int] = ()) -> None:
        for connector_id in plugged:
            await self.plug(connector_id)
        await self.station.run()

    async def stop(self) -> None:
        await self.station.stop()
