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
``[station] ocpp``, else 1.6); the figures count each version's stations under ``ocpp``. Each connects to the
URL ``csms_policy`` gives it among ``csms_urls`` (``fleet --csms`` given several times, csms_policy.py); the
figures count each URL's stations under ``csms`` (the URL without its credentials).

``--auto`` gives each station an ``AutoDriver``: EVs arrive at random, a card is swiped, the EV
charges along its model's curve, and leaves when full or at its session's end (through the Station API, whichever
version the station speaks); ``AutoSettings`` (auto_sessions.py) and the models' weights (sim/ev.py) shape them.
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
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Protocol

from hdrh.histogram import HdrHistogram

from chargebox.auto_sessions import AutoSettings
from chargebox.clock import Clock, SystemClock
from chargebox.csms_policy import Policy, choose_url, csms_label
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

if TYPE_CHECKING:
    from chargebox.csms.ca import CertificateAuthority

log = logging.getLogger("chargebox.fleet")

VERSION_KEY: Final = "ocpp:"  # Fleet.counts: "ocpp:2.0.1:booted", one figure of one version
CSMS_KEY: Final = "csms:"  # Fleet.counts: "csms:ws://host:9000/:booted", one figure of one URL's stations
RESERVOIR: Final = 4096  # round trips kept for the recent percentiles (rttP99MsLast4096): the most recent ones
RATE_WINDOW: Final = 5  # seconds of history behind messagesPerSecondLast5s
MAX_RTT_US: Final = 600_000_000  # the histogram's range: 1 µs to 10 min, 2 significant digits (1 %)
BUCKET_BITS: Final = 8  # 2 significant digits: the histogram's 256 sub-buckets, its exact resolution
FREEZE_EVERY: Final = 1000  # stations added between two freezes of the long-lived objects (see Fleet.run)


@dataclass(frozen=True, slots=True)
class FleetSettings:
    csms_url: str  # the only URL, or the first of csms_urls
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
    tls: TlsSettings = field(default_factory=TlsSettings)  # wss://: profile 2 with a CA file, 3 with client_ca too
    client_ca: tuple[Path, Path] | None = None  # fleet --ca-cert --ca-key: issues each station's certificate (3)
    shard: int = 0  # this process runs stations shard+1, shard+1+shards, ... (fleet --processes: one of shards)
    shards: int = 1
    ocpp: Mix | None = None  # fleet --ocpp; None: the template's [station] ocpp, else 1.6
    csms_urls: tuple[str, ...] = ()  # fleet --csms given several times (csms_url is the first); () : csms_url alone
    csms_policy: Policy = "round-robin"  # how the stations are spread over csms_urls

    def url_of(self, index: int) -> str:
        """Station ``index``'s central system: the same whichever process runs it, whenever it is added."""
        return choose_url(
            self.csms_urls or (self.csms_url,), self.csms_policy, index, self.station_id(index), self.seed
        )

    def mix(self) -> Mix:
        return self.ocpp or ((self.template.ocpp or "1.6", 100),)

    def station_id(self, index: int) -> str:
        return f"{self.id_prefix}{index}"

    def indices(self) -> range:
        """The 1-based indices of this process's stations: every one, or its share of ``fleet --processes``
        (interleaved, so that the processes together ramp the stations up in the order one process would)."""
        return range(1 + self.shard, self.count + 1, self.shards)


class RoundTrips:
    """Every answered CALL's latency: a count, an error count, every latency in a histogram (the whole run) and
    the last ``RESERVOIR`` latencies (the recent ones)."""

    def __init__(self) -> None:
        self.sent = 0
        self.errors = 0
        self.latencies: deque[float] = deque(maxlen=RESERVOIR)
        self._histogram = HdrHistogram(1, MAX_RTT_US, 2)
        # Round trips not in the histogram yet, counted by the lowest value of their histogram bucket: a dict
        # increment per round trip, and HdrHistogram's (pure Python) record_value once per bucket when read.
        self._pending: dict[int, int] = {}

    @property
    def histogram(self) -> HdrHistogram:
        """Every round trip recorded so far (the whole run)."""
        if self._pending:
            pending, self._pending = self._pending, {}
            for value, count in pending.items():
                self._histogram.record_value(value, count)
        return self._histogram

    def record(self, seconds: float, outcome: SendOutcome) -> None:
        self.sent += 1
        if outcome is SendOutcome.RESPONSE_SUCCESS:
            self.latencies.append(seconds)
            value = min(max(round(seconds * 1_000_000), 1), MAX_RTT_US)
            # 2 significant digits: 256 sub-buckets, so a value keeps its 8 leading bits (its bucket's lowest value)
            shift = max(value.bit_length() - BUCKET_BITS, 0)
            bucket = value >> shift << shift
            self._pending[bucket] = self._pending.get(bucket, 0) + 1
        else:
            self.errors += 1

    def percentile(self, fraction: float) -> float | None:
        """Of the last ``RESERVOIR`` round trips, in milliseconds; None before the first answer."""
        if not self.latencies:
            return None
        ordered = sorted(self.latencies)
        return round(ordered[min(int(fraction * len(ordered)), len(ordered) - 1)] * 1000, 2)

    @property
    def answered(self) -> int:
        """Round trips answered so far (each one in the histogram and, while it is among the last, the reservoir)."""
        return int(self.histogram.get_total_count())

    def latest(self, count: int) -> list[float]:
        """The last ``count`` answered round trips' latencies (at most ``RESERVOIR``), oldest first."""
        count = min(count, len(self.latencies))
        return list(self.latencies)[len(self.latencies) - count :] if count else []

    def encode(self) -> str:
        """The whole-run histogram, compressed (HdrHistogram's own encoding): what a fleet process reports."""
        return str(self.histogram.encode().decode("ascii"))

    @classmethod
    def combined(cls, histograms: Sequence[str], latencies: Iterable[float]) -> RoundTrips:
        """The round trips of several processes: their encoded histograms added bucket by bucket (exact, not an
        average of percentiles) and the latest ``latencies`` of all of them."""
        trips = cls()
        for encoded in histograms:
            trips.histogram.add(HdrHistogram.decode(encoded))
        trips.latencies.extend(latencies)
        return trips

    def whole_run_percentile(self, fraction: float) -> float | None:
        """Of every round trip so far, in milliseconds (the upper edge of its 1 % bucket); None before the first."""
        if self.histogram.get_total_count() == 0:
            return None
        return round(int(self.histogram.get_value_at_percentile(fraction * 100)) / 1000, 2)


class Actions(Protocol):
    """What an automatic driver does to a station (a ``Simulator`` does it for real)."""

    async def booted(self) -> None: ...  # returns once the station's boot is accepted
    async def plug(self, connector_id: int, ev: SimulatedEv | None = None) -> object: ...
    async def swipe(self, id_tag: str, connector_id: int | None) -> object: ...
    async def unplug(self, connector_id: int) -> object: ...
    def soc(self, connector_id: int) -> float: ...  # the plugged EV's state of charge now, percent


Event = tuple[float, str, int, str]  # (clock seconds, what, connector, detail)
SOC_CHECK_S: Final = 30.0  # how often a charging EV looks whether it is full (its target SoC), clock seconds


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
        self._weights = [model.weight for model in self._evs]
        self._phases = phases
        self._settings = settings or AutoSettings()
        self._rngs = {cid: random.Random(f"{seed}:{station_id}:{cid}") for cid in range(1, connectors + 1)}
        self.events: deque[Event] = deque(maxlen=keep)  # the latest, for the control API and tests
        self.arrivals = 0  # EVs that came and presented a card (a session began)
        self.sessions = 0  # of those, the ones that left (a session ended)
        self.unstarted = 0  # EVs that came, presented no card, and left (start_probability)

    async def run(self) -> None:
        # The first EV arrives after the boot is accepted: a card swiped before it would be refused (no Authorize
        # may go out), and the session would never start.
        await self._actions.booted()
        await asyncio.gather(*(self._connector(cid, rng) for cid, rng in self._rngs.items()))

    async def _connector(self, cid: int, rng: random.Random) -> None:
        s = self._settings
        visits = 0
        while not s.sessions or visits < s.sessions:
            visits += 1
            # Every draw of a visit, in one order, whatever the visit turns out to be: the stream stays per station.
            await self._clock.sleep(rng.expovariate(1 / s.mean_gap_s))
            model = rng.choices(self._evs, self._weights)[0]
            soc = round(rng.uniform(model.soc_min, model.soc_max), 1)
            card = s.card(rng.randrange(len(s.card_list) or s.cards))
            length = round(rng.uniform(s.session_min_s, s.session_max_s), 1)
            starts = rng.random() < s.start_probability
            ev = model.ev(soc)
            ev.phases = min(ev.phases, self._phases)
            self._event("plug", cid, f"{model.name} {soc}%")
            await self._actions.plug(cid, ev)
            if not starts:  # parked without a card: the bay is taken (Preparing), no transaction, then it leaves
                await self._clock.sleep(length)
                self._event("unplug", cid, f"not started, after {length}s")
                await self._actions.unplug(cid)
                self.unstarted += 1
                continue
            self.arrivals += 1
            self._event("swipe", cid, card)
            await self._actions.swipe(card, cid)
            stayed = await self._charge(cid, length, model.target_soc)
            self._event("unplug", cid, f"after {stayed}s" if stayed == length else f"full after {stayed}s")
            await self._actions.unplug(cid)
            self.sessions += 1

    async def _charge(self, cid: int, length: float, target_soc: float) -> float:
        """Seconds the EV stayed: ``length``, or less once its battery reached ``target_soc``."""
        stayed = 0.0
        while stayed < length:
            step = min(SOC_CHECK_S, length - stayed)
            await self._clock.sleep(step)
            stayed = round(stayed + step, 1)
            if stayed < length and self._actions.soc(cid) >= target_soc:
                break
        return stayed

    def _event(self, what: str, cid: int, detail: str) -> None:
        self.events.append((round(self._clock.monotonic(), 3), what, cid, detail))


class Fleet:
    """The stations, their shared store and the figures."""

    def __init__(self, settings: FleetSettings, *, clock: Clock | None = None) -> None:
        check_versions(settings.template, {version for version, _share in settings.mix()})
        self.settings = settings
        # station i speaks versions[(i - 1) % count] (a fleet of none, fleet --plan's start: of a hundred)
        self.versions = spread(settings.mix(), settings.count or 100)
        self.clock = clock or SystemClock()
        self.authority: CertificateAuthority | None = None
        if settings.client_ca is not None:  # read by each process of --processes itself: a key is never pickled
            from chargebox.csms.ca import CertificateAuthority  # cryptography: only for profile 3

            self.authority = CertificateAuthority.load(*settings.client_ca)
        self.backend = StoreBackend.open(settings.data_dir)
        self.sims: dict[str, Simulator] = {}
        self.drivers: dict[str, AutoDriver] = {}
        self.round_trips = RoundTrips()
        self.traffic = Traffic()  # the messages by action, for GET /metrics (sim/metrics.py)
        self.ramped = asyncio.Event()
        self._tasks = Tasks(log, "fleet station")
        self._running: dict[str, list[asyncio.Future[Any]]] = {}  # each station's tasks (its run, its driver)
        self._rates: deque[tuple[float, int]] = deque(maxlen=RATE_WINDOW + 1)
        self._started_at = time.monotonic()
        self._ended_at: float | None = None  # the run's length stops growing when it ends
        self._closed = False
        self._final_counts: dict[str, int] | None = None
        self._past_sessions = [0, 0]  # arrivals and sessions of the drivers of stations stopped since (whole run)

    @property
    def stopping(self) -> bool:
        """Whether ``stop()`` has begun: no station may start any more (it would never be stopped)."""
        return self._closed

    @property
    def ran(self) -> bool:
        """Whether any station was made: else there is nothing to sum up."""
        return bool(self.sims)

    def add_station(self, index: int, template: Template | None = None) -> Simulator:
        """Make station ``index`` (1-based) with its view of the shared store; not yet running. ``template``: the
        fleet's unless a station added live (sim/fleet_live.py) is of another kind."""
        s, template = self.settings, template or self.settings.template
        station_id = s.station_id(index)
        if self.authority is not None:
            from chargebox.sim.fleet_certificates import provision

            provision(self.backend.station(station_id), self.authority, station_id)
        station = simulated_station(
            StationSettings(
                charge_point_id=station_id,
                csms_url=s.url_of(index),
                ocpp=self.versions[(index - 1) % len(self.versions)],  # a swarm's sharded ids go past count
                identity=Identity(vendor=template.vendor, model=template.model),
                connectors=s.connectors or template.connectors,
                evses=None if s.connectors else template.evses,  # --connectors N wins: N EVSEs of one
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
        indices = self.settings.indices()
        for made, index in enumerate(indices, 1):
            self.start_station(index)
            if made % FREEZE_EVERY == 0:
                _freeze()
            if made < len(indices):
                await self.clock.sleep(1 / self.settings.connect_rate)
            if duration is not None and self.clock.monotonic() - start >= duration:
                break
        _freeze()
        self.ramped.set()
        if duration is None:
            await asyncio.Event().wait()
        else:
            await self.clock.sleep(max(duration - (self.clock.monotonic() - start), 0.0))

    def start_station(self, index: int, template: Template | None = None) -> Simulator:
        """Make station ``index`` and run it (and its automatic sessions, with ``--auto``) until it is stopped."""
        sim = self.add_station(index, template)
        station_id = sim.station.id
        tasks = [self._tasks.spawn(sim.run())]
        if (driver := self.drivers.get(station_id)) is not None:
            tasks.append(self._tasks.spawn(driver.run()))
        self._running[station_id] = tasks
        return sim

    async def stop_station(self, station_id: str, reason: str | None = None) -> None:
        """Stop one station (its writes committed) and forget it: the fleet goes on without it. With ``reason``
        its automatic sessions stop first and every transaction ends with ``reason``, delivered within the stop's
        bound (X-8, as a SIGTERM's stop); without, they stay open in the store, as a power cut leaves them, for
        the station's next start to end with PowerLoss (X-12)."""
        tasks = self._running.pop(station_id, [])
        for task in tasks[1:]:  # the automatic sessions: no EV comes while the transactions end
            task.cancel()
        if (driver := self.drivers.pop(station_id, None)) is not None:
            self._past_sessions[0] += driver.arrivals
            self._past_sessions[1] += driver.sessions
        sim = self.sims.pop(station_id, None)
        if sim is not None and reason is not None:
            await sim.station.retire(reason)
        for task in tasks[:1]:
            task.cancel()
        if sim is not None:
            await sim.stop()

    async def stop(self) -> None:
        """Every station stopped cleanly (its writes committed), then the shared store closed. The counts stay
        what they were when the run ended (how many were connected then, not after their clean stop)."""
        if self._closed:
            return
        self._closed = True
        self._ended_at = self._ended_at or time.monotonic()
        self._final_counts = self.counts()
        self._tasks.cancel()
        self._running.clear()
        await asyncio.gather(*(sim.stop() for sim in self.sims.values()), return_exceptions=True)
        await self.backend.idle()
        self.backend.close()
        gc.unfreeze()  # the stations are gone: what they leave is the collector's again

    async def _sample_rates(self) -> None:
        while True:
            self._rates.append((time.monotonic(), self.round_trips.sent))
            await asyncio.sleep(1.0)  # the figures are about the wall clock, whatever clock drives the stations

    def counts(self) -> dict[str, int]:
        """What adds up across processes (``fleet --processes``): every figure but the rates and percentiles."""
        if self._final_counts is not None:
            return self._final_counts
        stations = list(self.sims.values())
        return {
            "stations": len(stations),
            "connected": sum(1 for sim in stations if sim.station.transport.connected),
            "booted": sum(1 for sim in stations if sim.station.registration == "Accepted"),
            "messagesSent": self.round_trips.sent,
            "errors": self.round_trips.errors,
            "reconnects": sum(max(sim.station.transport.attempts - 1, 0) for sim in stations),
            "sessionsStarted": self._past_sessions[0] + sum(driver.arrivals for driver in self.drivers.values()),
            "sessionsEnded": self._past_sessions[1] + sum(driver.sessions for driver in self.drivers.values()),
            **_flattened(VERSION_KEY, _rows(stations, lambda sim: sim.station.settings.ocpp)),
            **_flattened(CSMS_KEY, _rows(stations, lambda sim: csms_label(sim.station.settings.csms_url))),
        }

    def seconds(self) -> float:
        """The run's length so far (its whole length once it has ended)."""
        return max((self._ended_at or time.monotonic()) - self._started_at, 1e-9)

    def recent_rate(self) -> float:
        """Messages per second over the last ``RATE_WINDOW`` seconds (the whole run's until there are any)."""
        end, sent = self._ended_at or time.monotonic(), self.round_trips.sent
        if self._rates and end - self._rates[0][0] >= 0.5:
            then, sent_then = self._rates[0]
            return (sent - sent_then) / (end - then)
        return sent / self.seconds()

    def figures(self) -> dict[str, Any]:
        """What the live table, ``--stats-json`` and ``GET /api/fleet`` show: whole-run figures, and the recent
        ones under names that say so (module docstring)."""
        return fleet_figures(self.counts(), self.round_trips, self.seconds(), self.recent_rate())


def fleet_figures(counts: dict[str, int], trips: RoundTrips, seconds: float, recent_rate: float) -> dict[str, Any]:
    """The figures of one fleet process, or of several added up (``counts`` summed, ``trips`` combined)."""
    sent = counts["messagesSent"]
    return {
        "stations": counts["stations"],
        "connected": counts["connected"],
        "booted": counts["booted"],
        "seconds": round(seconds, 1),
        "messagesSent": sent,
        "messagesPerSecond": round(sent / seconds, 1),
        "errors": counts["errors"],
        "reconnects": counts["reconnects"],
        "rttP50Ms": trips.whole_run_percentile(0.50),
        "rttP99Ms": trips.whole_run_percentile(0.99),
        "sessionsStarted": counts["sessionsStarted"],
        "sessionsEnded": counts["sessionsEnded"],
        "messagesPerSecondLast5s": round(recent_rate, 1),
        "rttP50MsLast4096": trips.percentile(0.50),
        "rttP99MsLast4096": trips.percentile(0.99),
        "ocpp": _unflattened(counts, VERSION_KEY),
        "csms": _unflattened(counts, CSMS_KEY),
    }


def _rows(stations: list[Simulator], key: Callable[[Simulator], str]) -> dict[str, dict[str, int]]:
    """The stations of each ``key`` (a version, a URL), connected and booted (only the keys the fleet has)."""
    counts: dict[str, dict[str, int]] = {}
    for sim in stations:
        row = counts.setdefault(key(sim), {"stations": 0, "connected": 0, "booted": 0})
        row["stations"] += 1
        row["connected"] += sim.station.transport.connected
        row["booted"] += sim.station.registration == "Accepted"
    return counts


def _flattened(prefix: str, rows: dict[str, dict[str, int]]) -> dict[str, int]:
    """``_rows`` as counts that add up across processes key by key: ``prefix`` + key + ``:`` + figure."""
    return {f"{prefix}{key}:{name}": n for key, row in rows.items() for name, n in row.items()}


def _unflattened(counts: dict[str, int], prefix: str) -> dict[str, dict[str, int]]:
    """``_rows``'s rows again, from the counts ``_flattened`` made (a URL's own colons stay in its key)."""
    rows: dict[str, dict[str, int]] = {}
    for key, n in counts.items():
        if key.startswith(prefix):
            row, name = key[len(prefix) :].rsplit(":", 1)
            rows.setdefault(row, {})[name] = n
    return rows


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
