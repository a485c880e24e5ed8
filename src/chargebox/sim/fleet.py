"""A fleet: N simulated stations in one asyncio process, sharing one store (``chargebox fleet``).

Every station is the stack a charger runs (its own services, state, Rpc and WebSocket); what they
share is the store backend (one SQLite file with a station column under ``--data-dir``, so one group
commit and one fsync serve the whole fleet; or one in-memory database) and this process's event loop.
Stations connect ramped at ``connect_rate`` per second, so a central system under test meets a
realistic wave of handshakes rather than N at once. Each station's Rpc tells the fleet every round
trip (``Rpc.on_round_trip``).

The figures (``figures()``: the live table, ``--stats-json``, ``GET /api/fleet``) are of the whole run:
``messagesPerSecond`` is every message over the run's length, ``rttP50Ms``/``rttP99Ms`` the percentiles of every
round trip, from an HDR histogram (constant memory, within 1 %). What the last moments look like has names of its
own: ``messagesPerSecondLast5s`` and ``rttP50MsLast4096``/``rttP99MsLast4096`` (the latest round trips).

Each station speaks the OCPP version ``versions`` gives it (``fleet --ocpp``, sim/ocpp_mix.py; else the template's
``[station] ocpp``, else 1.6); the figures count each version's stations under ``ocpp``.

``--auto`` gives each station an ``AutoDriver``: EVs arrive at random, a card is swiped, the EV
charges along its model's curve, and leaves (through the Station API, whichever version the station speaks).
Each connector's random stream comes from the seed and the station id alone, and every wait is on the injected
clock, so the same seed gives the same sequence of events per station, whatever the rest of the fleet does.
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

from hdrh.histogram import HdrHistogram

from chargebox.auto_sessions import AutoSettings
from chargebox.clock import Clock, SystemClock
from chargebox.metrics import Traffic
from chargebox.rpc import SendOutcome
from chargebox.sim.ev import EvModel
from chargebox.sim.hardware import SimulatedEv
from chargebox.sim.ocpp_mix import Mix, spread
from chargebox.sim.simulator import Simulator, simulated_station
from chargebox.sim.template import Template, check_versions
from chargebox.station.kernel.settings import Identity
from chargebox.station.station import StationSettings
from chargebox.station.tls import TlsSettings
from chargebox.store import StoreBackend
from chargebox.tasks import Tasks
from chargebox.transport import ReconnectPolicy

log = logging.getLogger("chargebox.fleet")

RESERVOIR: Final = 4096  # round trips kept for the recent percentiles (rttP99MsLast4096): the most recent ones
RATE_WINDOW: Final = 5  # seconds of history behind messagesPerSecondLast5s
MAX_RTT_US: Final = 600_000_000  # the histogram's range: 1 µs to 10 min, 2 significant digits (1 %)
FREEZE_EVERY: Final = 1000  # stations added between two freezes of the long-lived objects (see Fleet.run)


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
    auto_settings: AutoSettings | None = None  # None: the template's [auto]
    password: str | None = None
    tls: TlsSettings = field(default_factory=TlsSettings)  # wss://: profile 2 with a CA file (no client certificates)
    ocpp: Mix | None = None  # fleet --ocpp; None: the template's [station] ocpp, else 1.6

    def mix(self) -> Mix:
        return self.ocpp or ((self.template.ocpp or "1.6", 100),)

    def station_id(self, index: int) -> str:
        return f"{self.id_prefix}{index}"


class RoundTrips:
    """Every answered CALL's latency: a count, an error count, every latency in a histogram (the whole run) and
    the last ``RESERVOIR`` latencies (the recent ones)."""

    def __init__(self) -> None:
        self.sent = 0
        self.errors = 0
        self.latencies: deque[float] = deque(maxlen=RESERVOIR)
        self.histogram = HdrHistogram(1, MAX_RTT_US, 2)

    def record(self, seconds: float, outcome: SendOutcome) -> None:
        self.sent += 1
        if outcome is SendOutcome.RESPONSE_SUCCESS:
            self.latencies.append(seconds)
            self.histogram.record_value(min(max(round(seconds * 1_000_000), 1), MAX_RTT_US))
        else:
            self.errors += 1

    def percentile(self, fraction: float) -> float | None:
        """Of the last ``RESERVOIR`` round trips, in milliseconds; None before the first answer."""
        if not self.latencies:
            return None
        ordered = sorted(self.latencies)
        return round(ordered[min(int(fraction * len(ordered)), len(ordered) - 1)] * 1000, 2)

    def whole_run_percentile(self, fraction: float) -> float | None:
        """Of every round trip so far, in milliseconds (the upper edge of its 1 % bucket); None before the first."""
        if self.histogram.get_total_count() == 0:
            return None
        return round(int(self.histogram.get_value_at_percentile(fraction * 100)) / 1000, 2)


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
        settings: AutoSettings | None = None,
        keep: int = 64,
    ) -> None:
        self._actions = actions
        self._clock = clock
        self._evs = tuple(evs)
        self._phases = phases
        self._settings = settings or AutoSettings()
        self._rngs = {cid: random.Random(f"{seed}:{station_id}:{cid}") for cid in range(1, connectors + 1)}
        self.events: deque[Event] = deque(maxlen=keep)  # the latest, for the control API and tests
        self.arrivals = 0  # EVs that came (a session began)
        self.sessions = 0  # EVs that left (a session ended)

    async def run(self) -> None:
        await asyncio.gather(*(self._connector(cid, rng) for cid, rng in self._rngs.items()))

    async def _connector(self, cid: int, rng: random.Random) -> None:
        s = self._settings
        while True:
            await self._clock.sleep(rng.expovariate(1 / s.mean_gap_s))
            model = rng.choice(self._evs)
            soc = round(rng.uniform(10.0, 70.0), 1)
            card = f"AUTO{rng.randrange(s.cards):04d}"
            length = round(rng.uniform(s.session_min_s, s.session_max_s), 1)
            ev = model.ev(soc)
            ev.phases = min(ev.phases, self._phases)
            self._event("plug", cid, f"{model.name} {soc}%")
            self.arrivals += 1
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
        check_versions(settings.template, {version for version, _share in settings.mix()})
        self.settings = settings
        self.versions = spread(settings.mix(), settings.count)  # station i speaks versions[i - 1]
        self.clock = clock or SystemClock()
        self.backend = StoreBackend.open(settings.data_dir)
        self.sims: dict[str, Simulator] = {}
        self.drivers: dict[str, AutoDriver] = {}
        self.round_trips = RoundTrips()
        self.traffic = Traffic()  # the messages by action, for GET /metrics (sim/metrics.py)
        self.ramped = asyncio.Event()
        self._tasks = Tasks(log, "fleet station")
        self._rates: deque[tuple[float, int]] = deque(maxlen=RATE_WINDOW + 1)
        self._started_at = time.monotonic()
        self._ended_at: float | None = None  # the run's length stops growing when it ends
        self._closed = False

    def add_station(self, index: int) -> Simulator:
        """Make station ``index`` (1-based) with its view of the shared store; not yet running."""
        s, template = self.settings, self.settings.template
        station_id = s.station_id(index)
        station = simulated_station(
            StationSettings(
                charge_point_id=station_id,
                csms_url=s.csms_url,
                ocpp=self.versions[index - 1],
                identity=Identity(vendor=template.vendor, model=template.model),
                connectors=s.connectors or template.connectors,
                password=s.password,
                tls=s.tls,
                ocpp_config=template.config,
                ocpp_config_source="--template",
                reconnect=ReconnectPolicy(),
            ),
            clock=self.clock,
            store=self.backend.station(station_id),
        )
        station.rpc.on_round_trip = self.round_trips.record
        station.rpc.on_message = self.traffic.message
        sim = Simulator(station)
        for connector in sim.hardware.connectors.values():
            connector.max_current = template.max_current
        self.sims[station_id] = sim
        if s.auto:
            self.drivers[station_id] = AutoDriver(
                sim, station_id=station_id, seed=s.seed, connectors=station.kernel.connector_count, clock=self.clock,
                evs=template.evs, phases=template.phases, settings=s.auto_settings or template.auto,
            )  # fmt: skip
        return sim

    async def run(self, duration: float | None = None) -> None:
        """Ramp the stations up, then run for ``duration`` seconds (None: until cancelled).

        Every ``FREEZE_EVERY`` stations, and once the ramp is over, the objects made so far are moved out of
        the cyclic garbage collector's reach (``gc.freeze``): a station's objects live as long as the fleet,
        and without this every full collection walks all of them, which with thousands of stations costs
        more CPU than the messages do and stalls every round trip while it runs (docs/performance.md)."""
        start = self.clock.monotonic()
        self._started_at, self._ended_at = time.monotonic(), None
        try:
            await self._run(start, duration)
        finally:
            self._ended_at = time.monotonic()

    async def _run(self, start: float, duration: float | None) -> None:
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
        """What the live table, ``--stats-json`` and ``GET /api/fleet`` show: whole-run figures, and the recent
        ones under names that say so (module docstring)."""
        stations = list(self.sims.values())
        trips = self.round_trips
        end, sent = self._ended_at or time.monotonic(), trips.sent
        seconds = max(end - self._started_at, 1e-9)
        if self._rates and end - self._rates[0][0] >= 0.5:
            then, sent_then = self._rates[0]
            recent = (sent - sent_then) / (end - then)
        else:
            recent = sent / seconds
        return {
            "stations": len(stations),
            "connected": sum(1 for sim in stations if sim.station.transport.connected),
            "booted": sum(1 for sim in stations if sim.station.registration == "Accepted"),
            "seconds": round(seconds, 1),
            "messagesSent": sent,
            "messagesPerSecond": round(sent / seconds, 1),
            "errors": trips.errors,
            "reconnects": sum(max(sim.station.transport.attempts - 1, 0) for sim in stations),
            "rttP50Ms": trips.whole_run_percentile(0.50),
            "rttP99Ms": trips.whole_run_percentile(0.99),
            "sessionsStarted": sum(driver.arrivals for driver in self.drivers.values()),
            "sessionsEnded": sum(driver.sessions for driver in self.drivers.values()),
            "messagesPerSecondLast5s": round(recent, 1),
            "rttP50MsLast4096": trips.percentile(0.50),
            "rttP99MsLast4096": trips.percentile(0.99),
            "ocpp": _by_version(stations),
        }

    def station_rows(self, query: str = "", limit: int = 100) -> dict[str, Any]:
        """The stations whose id contains ``query`` (case-insensitive), at most ``limit`` of them."""
        needle = query.lower()
        matching = [sim for station_id, sim in self.sims.items() if needle in station_id.lower()]
        return {
            "total": len(matching),
            "stations": [
                {
                    "id": snapshot["id"],
                    "ocpp": snapshot["ocpp"],
                    "connected": snapshot["connected"],
                    "registration": snapshot["registration"],
                    "connectors": [{"id": c["id"], "status": c["status"]} for c in snapshot["connectors"]],
                }
                for snapshot in (sim.station.snapshot() for sim in matching[:limit])
            ],
        }


def _by_version(stations: list[Simulator]) -> dict[str, dict[str, int]]:
    """Each version's stations, connected and booted (only the versions the fleet has)."""
    counts: dict[str, dict[str, int]] = {}
    for sim in stations:
        row = counts.setdefault(sim.station.settings.ocpp, {"stations": 0, "connected": 0, "booted": 0})
        row["stations"] += 1
        row["connected"] += sim.station.transport.connected
        row["booted"] += sim.station.registration == "Accepted"
    return counts


def figures_table(figures: dict[str, Any], title: str = "fleet") -> Any:
    from rich.table import Table

    table = Table(title=title, caption="whole run; msg/s 5 s: the last 5 seconds")
    columns = {"stations": "stations", "connected": "connected", "booted": "booted", "messages": "messagesSent",
               "msg/s": "messagesPerSecond", "msg/s 5 s": "messagesPerSecondLast5s", "p50 ms": "rttP50Ms",
               "p99 ms": "rttP99Ms", "errors": "errors", "reconn.": "reconnects",
               "sessions": "sessionsStarted"}  # fmt: skip
    for name in columns:
        table.add_column(name, justify="right")
    table.add_row(*("-" if figures[key] is None else str(figures[key]) for key in columns.values()))
    return table


def _freeze() -> None:
    """Collect what is garbage now, then exempt every object left from later collections (``Fleet.run``)."""
    gc.collect()
    gc.freeze()
