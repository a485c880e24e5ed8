"""A fleet: N simulated stations in one asyncio process, sharing one store (``chargebox fleet``).

Every station is the stack a charger runs (its own services, state, Rpc and WebSocket); what they
share is the store backend (one SQLite file with a station column under ``--data-dir``, so one group
commit and one fsync serve the whole fleet; or one in-memory database) and this process's event loop.
Stations connect ramped at ``connect_rate`` per second, so a central system under test meets a
realistic wave of handshakes rather than N at once. Each station's Rpc tells the fleet every round
trip (``Rpc.on_round_trip``), kept in a bounded reservoir for p50/p99.

``--auto`` gives each station an ``AutoDriver``: EVs arrive at random, a card is swiped, the EV
charges along its model's curve, and leaves. Each connector's random stream comes from the seed and
the station id alone, and every wait is on the injected clock, so the same seed gives the same
sequence of events per station, whatever the rest of the fleet does.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import random
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Protocol

from chargebox.clock import Clock, SystemClock
from chargebox.protocol.messages import RegistrationStatus
from chargebox.rpc import SendOutcome
from chargebox.sim.ev import EvModel
from chargebox.sim.hardware import SimulatedEv
from chargebox.sim.simulator import Simulator, simulated_station
from chargebox.sim.template import Template
from chargebox.station.kernel.settings import Identity
from chargebox.station.station import StationSettings
from chargebox.store import StoreBackend
from chargebox.tasks import Tasks
from chargebox.transport import ReconnectPolicy

log = logging.getLogger("chargebox.fleet")

RESERVOIR: Final = 4096  # round trips kept for the percentiles: the most recent ones
RATE_WINDOW: Final = 5  # seconds of history behind messagesPerSecond
FREEZE_EVERY: Final = 1000  # stations added between two freezes of the long-lived objects (see Fleet.run)


@dataclass(frozen=True, slots=True)
class AutoSettings:
    """How the automatic sessions are drawn (seconds)."""

    mean_idle_s: float = 900.0  # between an EV leaving and the next arriving, exponential
    session_min_s: float = 600.0
    session_max_s: float = 5400.0
    cards: int = 50  # idTags AUTO0000.. drawn uniformly


@dataclass(frozen=True, slots=True)
class FleetSettings:
    csms_url: str
    count: int
    id_prefix: str = "CP"
    connectors: int | None = None
    template: Template = field(default_factory=Template)
    connect_rate: float = 50.0
    data_dir: Path | None = None
    auto: bool = False
    seed: int = 0
    auto_settings: AutoSettings = field(default_factory=AutoSettings)
    password: str | None = None

    def station_id(self, index: int) -> str:
        return f"{self.id_prefix}{index}"


class RoundTrips:
    """Every answered CALL's latency: a count, an error count, and the last ``RESERVOIR`` latencies."""

    def __init__(self) -> None:
        self.sent = 0
        self.errors = 0
        self.latencies: deque[float] = deque(maxlen=RESERVOIR)

    def record(self, seconds: float, outcome: SendOutcome) -> None:
        self.sent += 1
        if outcome is SendOutcome.RESPONSE_SUCCESS:
            self.latencies.append(seconds)
        else:
            self.errors += 1

    def percentile(self, fraction: float) -> float | None:
        """In milliseconds; None before the first answer."""
        if not self.latencies:
            return None
        ordered = sorted(self.latencies)
        return round(ordered[min(int(fraction * len(ordered)), len(ordered) - 1)] * 1000, 2)


class Actions(Protocol):
    """What an automatic driver does to a station (a ``Simulator`` does it for real)."""

    async def plug(self, connector_id: int, ev: SimulatedEv | None = None) -> object: ...
    async def swipe(self, id_tag: str, connector_id: int | None) -> object: ...
    async def unplug(self, connector_id: int) -> object: ...


Event = tuple[float, str, int, str]  # (clock seconds, what, connector, detail)


class AutoDriver:
    """One station's automatic sessions, reproducible from (seed, station id)."""

    def __init__(
        self,
        actions: Actions,
        *,
        station_id: str,
        seed: int,
        connectors: int,
        clock: Clock,
        evs: Sequence[EvModel],
        phases: int = 3,
        settings: AutoSettings = AutoSettings(),
        keep: int = 64,
    ) -> None:
        self._actions = actions
        self._clock = clock
        self._evs = tuple(evs)
        self._phases = phases
        self._settings = settings
        self._rngs = {cid: random.Random(f"{seed}:{station_id}:{cid}") for cid in range(1, connectors + 1)}
        self.events: deque[Event] = deque(maxlen=keep)  # the latest, for the control API and tests
        self.sessions = 0

    async def run(self) -> None:
        await asyncio.gather(*(self._connector(cid, rng) for cid, rng in self._rngs.items()))

    async def _connector(self, cid: int, rng: random.Random) -> None:
        s = self._settings
        while True:
            await self._clock.sleep(rng.expovariate(1 / s.mean_idle_s))
            model = rng.choice(self._evs)
            soc = round(rng.uniform(10.0, 70.0), 1)
            card = f"AUTO{rng.randrange(s.cards):04d}"
            length = round(rng.uniform(s.session_min_s, s.session_max_s), 1)
            ev = model.ev(soc)
            ev.phases = min(ev.phases, self._phases)
            self._event("plug", cid, f"{model.name} {soc}%")
            await self._actions.plug(cid, ev)
            self._event("swipe", cid, card)
            await self._actions.swipe(card, cid)
            await self._clock.sleep(length)
            self._event("unplug", cid, f"after {length}s")
            await self._actions.unplug(cid)
            self.sessions += 1

    def _event(self, what: str, cid: int, detail: str) -> None:
        self.events.append((round(self._clock.monotonic(), 3), what, cid, detail))


class Fleet:
    """The stations, their shared store and the figures."""

    def __init__(self, settings: FleetSettings, *, clock: Clock | None = None) -> None:
        self.settings = settings
        self.clock = clock or SystemClock()
        self.backend = StoreBackend.open(settings.data_dir)
        self.sims: dict[str, Simulator] = {}
        self.drivers: dict[str, AutoDriver] = {}
        self.round_trips = RoundTrips()
        self.ramped = asyncio.Event()
        self._tasks = Tasks(log, "fleet station")
        self._rates: deque[tuple[float, int]] = deque(maxlen=RATE_WINDOW + 1)
        self._started_at = time.monotonic()
        self._closed = False

    def add_station(self, index: int) -> Simulator:
        """Make station ``index`` (1-based) with its view of the shared store; not yet running."""
        s, template = self.settings, self.settings.template
        station_id = s.station_id(index)
        station = simulated_station(
            StationSettings(
                charge_point_id=station_id,
                csms_url=s.csms_url,
                identity=Identity(vendor=template.vendor, model=template.model),
                connectors=s.connectors or template.connectors,
                password=s.password,
                ocpp_config=template.config,
                ocpp_config_source="--template",
                reconnect=ReconnectPolicy(),
            ),
            clock=self.clock,
            store=self.backend.station(station_id),
        )
        station.rpc.on_round_trip = self.round_trips.record
        sim = Simulator(station)
        for connector in sim.hardware.connectors.values():
            connector.max_current = template.max_current
        self.sims[station_id] = sim
        if s.auto:
            self.drivers[station_id] = AutoDriver(
                sim, station_id=station_id, seed=s.seed, connectors=station.connectors.count, clock=self.clock,
                evs=template.evs, phases=template.phases, settings=s.auto_settings,
            )  # fmt: skip
        return sim

    async def run(self, duration: float | None = None) -> None:
        """Ramp the stations up, then run for ``duration`` seconds (None: until cancelled).

        Every ``FREEZE_EVERY`` stations, and once the ramp is over, the objects made so far are moved out of
        the cyclic garbage collector's reach (``gc.freeze``): a station's objects live as long as the fleet,
        and without this every full collection walks all of them, which with thousands of stations costs
        more CPU than the messages do and stalls every round trip while it runs (docs/performance.md)."""
        start = self.clock.monotonic()
        self._tasks.spawn(self._sample_rates())
        for index in range(1, self.settings.count + 1):
            sim = self.add_station(index)
            self._tasks.spawn(sim.run())
            driver = self.drivers.get(sim.station.id)
            if driver is not None:
                self._tasks.spawn(driver.run())
            if index % FREEZE_EVERY == 0:
                _freeze()
            if index < self.settings.count:
                await self.clock.sleep(1 / self.settings.connect_rate)
            if duration is not None and self.clock.monotonic() - start >= duration:
                break
        _freeze()
        self.ramped.set()
        if duration is None:
            await asyncio.Event().wait()
        else:
            await self.clock.sleep(max(duration - (self.clock.monotonic() - start), 0.0))

    async def stop(self) -> None:
        """Every station stopped cleanly (its writes committed), then the shared store closed."""
        if self._closed:
            return
        self._closed = True
        self._tasks.cancel()
        await asyncio.gather(*(sim.stop() for sim in self.sims.values()), return_exceptions=True)
        await self.backend.idle()
        self.backend.close()
        gc.unfreeze()  # the stations are gone: what they leave is the collector's again

    async def _sample_rates(self) -> None:
        while True:
            self._rates.append((time.monotonic(), self.round_trips.sent))
            await asyncio.sleep(1.0)  # the figures are about the wall clock, whatever clock drives the stations

    def figures(self) -> dict[str, Any]:
        """What the live table, ``--stats-json`` and ``GET /api/fleet`` show."""
        stations = list(self.sims.values())
        now, sent = time.monotonic(), self.round_trips.sent
        if self._rates and now - self._rates[0][0] >= 0.5:
            then, sent_then = self._rates[0]
            rate = (sent - sent_then) / (now - then)
        else:
            rate = sent / max(now - self._started_at, 1e-9)
        return {
            "stations": len(stations),
            "connected": sum(1 for sim in stations if sim.station.transport.connected),
            "booted": sum(1 for sim in stations if sim.station.boot.registration is RegistrationStatus.ACCEPTED),
            "messagesSent": sent,
            "messagesPerSecond": round(rate, 1),
            "errors": self.round_trips.errors,
            "reconnects": sum(max(sim.station.transport.attempts - 1, 0) for sim in stations),
            "rttP50Ms": self.round_trips.percentile(0.50),
            "rttP99Ms": self.round_trips.percentile(0.99),
        }

    def station_rows(self, query: str = "", limit: int = 100) -> dict[str, Any]:
        """The stations whose id contains ``query`` (case-insensitive), at most ``limit`` of them."""
        needle = query.lower()
        matching = [sim for station_id, sim in self.sims.items() if needle in station_id.lower()]
        return {
            "total": len(matching),
            "stations": [
                {
                    "id": sim.station.id,
                    "connected": sim.station.transport.connected,
                    "registration": sim.station.boot.registration.value if sim.station.boot.registration else None,
                    "connectors": [
                        {"id": c.id, "status": c.status.value} for c in sim.station.connectors.connectors[1:]
                    ],
                }
                for sim in matching[:limit]
            ],
        }


def figures_table(figures: dict[str, Any], title: str = "fleet") -> Any:
    from rich.table import Table

    table = Table(title=title)
    for name in ("stations", "connected", "booted", "msg/s", "p50 ms", "p99 ms", "errors", "reconn."):
        table.add_column(name, justify="right")
    table.add_row(
        *(
            "-" if value is None else str(value)
            for value in (
                figures["stations"], figures["connected"], figures["booted"], figures["messagesPerSecond"],
                figures["rttP50Ms"], figures["rttP99Ms"], figures["errors"], figures["reconnects"],
            )
        )
    )  # fmt: skip
    return table


def _freeze() -> None:
    """Collect what is garbage now, then exempt every object left from later collections (``Fleet.run``)."""
    gc.collect()
    gc.freeze()
