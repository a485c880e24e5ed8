"""A fleet changed while it runs: stations added by template name, stopped, started again and removed (the control
API's ``POST /api/stations``, ``POST /api/stations/{id}/start|stop``, ``DELETE /api/stations/{id}``, and ``fleet
--plan``), and the station list as the fleet page shows it (paged, searched, filtered).

Ids stay unique: an added station is ``--id-prefix`` + the next index after every one made so far, never one of a
removed station. Stations added together connect ramped at the fleet's ``connect_rate`` (a central system under test
meets a wave of handshakes, never hundreds at once); until its turn a station is ``starting``. A station stopped or
removed is taken out of service cleanly: its automatic sessions stop, every transaction ends with reason ``Other``
(X-8) and what says so is delivered within the stop's bound, then its link closes and its writes are committed. A
stopped station keeps its rows: started again, it is the same station (its meter register, its journal).

Every change is checked whole before anything is done (an unknown template or id, a count out of range, a station in
the wrong state for it): a refused one is one ``Refused`` with the HTTP status it deserves and changes nothing. Changes
are made one at a time (one lock), so two requests never interleave their halves.

One process only: under ``fleet --processes`` the stations of each process are that process's shard of the ids, and
these changes are refused (409) rather than routed (fleet_control.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

from chargebox.errors import ConfigError
from chargebox.protocol.identity import identity_problem
from chargebox.sim.fleet import Fleet
from chargebox.sim.template import Template, check_versions
from chargebox.tasks import Tasks

log = logging.getLogger("chargebox.fleet")

MAX_ADD: Final = 10_000  # stations one request or plan entry adds
MAX_STATIONS: Final = 100_000  # stations a fleet holds in all, as fleet --count allows
DEFAULT_TEMPLATE: Final = "default"  # the name of the fleet's own template (--template's, else the built-in one)
TAKEN_OUT_REASON: Final = "Other"  # a station taken out of service
States = Literal["all", "running", "connected", "disconnected", "starting", "stopped", "dark"]
STATES: Final = ("all", "running", "connected", "disconnected", "starting", "stopped", "dark")


class Refused(Exception):
    """A change that cannot be made, and nothing was done: ``status`` is the HTTP status it answers."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class Kind:
    """A station of the fleet, whatever its state: its index (its id's number) and its template's name."""

    index: int
    template: str


class LiveFleet:
    """The stations of one ``Fleet``, running or not, and the changes made to them while it runs."""

    def __init__(self, fleet: Fleet, templates: Mapping[str, Template] | None = None) -> None:
        self.fleet = fleet
        self.templates = {DEFAULT_TEMPLATE: fleet.settings.template, **(templates or {})}
        self.kinds: dict[str, Kind] = {
            fleet.settings.station_id(index): Kind(index, DEFAULT_TEMPLATE) for index in fleet.settings.indices()
        }
        self.starting: dict[str, Kind] = {}  # added, waiting for their turn in the ramp
        self.stopped: dict[str, Kind] = {}
        self.dark: dict[str, Kind] = {}  # without power (a blackout, sim/scenarios.py), back at their time
        self.lock = asyncio.Lock()
        self.tasks = Tasks(log, "fleet change")
        self.scenarios = 0  # scenarios run so far: each draws from its own random stream (sim/scenarios.py)
        self._next = max((kind.index for kind in self.kinds.values()), default=0) + 1

    # -- the changes ------------------------------------------------------------------------------------------------

    async def add(self, template: str, count: int) -> list[str]:
        """``count`` new stations of ``template``; their ids at once, each started at its turn of the ramp."""
        async with self.lock:
            kind = self.templates.get(template)
            if kind is None:
                known = ", ".join(sorted(self.templates))
                raise Refused(400, f"unknown template {template[:64]!r} (known: {known})")
            if not 1 <= count <= MAX_ADD:
                raise Refused(400, f"count must be 1 to {MAX_ADD}")
            if len(self.kinds) + count > MAX_STATIONS:
                raise Refused(409, f"a fleet holds at most {MAX_STATIONS} stations; it has {len(self.kinds)}")
            if (problem := identity_problem(self.fleet.settings.station_id(self._next + count - 1))) is not None:
                raise Refused(409, f"the next ids cannot be made: {problem}")  # the id rule, as --id-prefix is held to
            if self.fleet.stopping:
                raise Refused(409, "the fleet is stopping")
            versions = self.fleet.versions
            try:
                check_versions(kind, {versions[(i - 1) % len(versions)] for i in range(self._next, self._next + count)})
            except ConfigError as exc:  # 1.6 keys for 2.0.1 stations
                raise Refused(409, str(exc)) from None
            indices = range(self._next, self._next + count)
            added = {self.fleet.settings.station_id(i): Kind(i, template) for i in indices}
            self._next += count
            self.kinds.update(added)
            self.starting.update(added)
        self.tasks.spawn(self._ramp(list(added)))
        log.info("= %d stations of template %s added: %s..%s", count, template, min(added), max(added))
        return list(added)

    async def _ramp(self, ids: list[str]) -> None:
        for made, station_id in enumerate(ids):
            if made:
                await self.fleet.clock.sleep(1 / self.fleet.settings.connect_rate)
            async with self.lock:
                kind = self.starting.pop(station_id, None)
                if kind is not None and not self.fleet.stopping:  # else removed before its turn
                    self.fleet.start_station(kind.index, self.templates[kind.template])

    async def stop(self, ids: Iterable[str]) -> list[str]:
        """Take running stations out of service (module docstring); they stay in the list, stopped."""
        async with self.lock:
            chosen = self._check(ids, "stop", lambda station_id: station_id in self.fleet.sims)
            await self.take_out(chosen)
            self.stopped.update((station_id, self.kinds[station_id]) for station_id in chosen)
        return chosen

    async def start(self, ids: Iterable[str]) -> list[str]:
        """Start stopped stations again, on their own rows."""
        async with self.lock:
            chosen = self._check(ids, "start", lambda station_id: station_id in self.stopped)
            if self.fleet.stopping:
                raise Refused(409, "the fleet is stopping")
            for station_id in chosen:
                kind = self.stopped.pop(station_id)
                self.fleet.start_station(kind.index, self.templates[kind.template])
        return chosen

    async def remove(self, ids: Iterable[str]) -> list[str]:
        """Take stations out of service if they run, and out of the fleet; their ids are never given again."""
        async with self.lock:
            chosen = self._check(ids, "remove", self._removable)
            await self.take_out([station_id for station_id in chosen if station_id in self.fleet.sims])
            for station_id in chosen:
                for table in (self.kinds, self.starting, self.stopped):
                    table.pop(station_id, None)
        return chosen

    def _removable(self, station_id: str) -> bool:
        """Running, stopped or waiting for its turn of an add's ramp (not the fleet's own first ramp, nor dark)."""
        return station_id in self.fleet.sims or station_id in self.stopped or station_id in self.starting

    def last(self, count: int, state: States) -> list[str]:
        """The ``count`` stations in ``state`` with the highest indices (a plan's "stop 100": the last started)."""
        if not 1 <= count <= MAX_STATIONS:
            raise Refused(400, f"count must be 1 to {MAX_STATIONS}")
        ids = sorted(self.select(state), key=lambda station_id: self.kinds[station_id].index)
        return ids[-count:]

    def _check(self, ids: Iterable[str], change: str, allowed: Callable[[str], bool]) -> list[str]:
        chosen = list(dict.fromkeys(ids))
        for station_id in chosen:
            if station_id not in self.kinds:
                raise Refused(404, f"no station {station_id[:64]!r}")
            if not allowed(station_id):
                raise Refused(409, f"{change}: station {station_id} is {self.state(station_id)}")
        return chosen

    async def take_out(self, ids: list[str], reason: str | None = TAKEN_OUT_REASON) -> None:
        """Stop running stations at once (``Fleet.stop_station``: None is a power cut); under ``lock``."""
        await asyncio.gather(*(self.fleet.stop_station(station_id, reason) for station_id in ids))

    # -- the list -----------------------------------------------------------------------------------------------------

    def state(self, station_id: str) -> str:
        """running (connected or not), starting, stopped or dark (no power)."""
        if (sim := self.fleet.sims.get(station_id)) is not None:
            return "connected" if sim.station.transport.connected else "disconnected"
        if station_id in self.dark:
            return "dark"
        return "stopped" if station_id in self.stopped else "starting"

    def select(self, state: States, query: str = "") -> list[str]:
        """The ids of the stations in ``state`` whose id holds ``query`` (case-insensitive), in index order."""
        needle = query.lower()
        wanted = {"running": ("connected", "disconnected")}.get(state, (state,))
        return [
            station_id
            for station_id in self.kinds
            if needle in station_id.lower() and (state == "all" or self.state(station_id) in wanted)
        ]

    def rows(self, query: str = "", state: States = "all", offset: int = 0, limit: int = 100) -> dict[str, Any]:
        """One page of the list: each station's state, and for a running one its connectors (status, error,
        transaction) and its queue."""
        matching = self.select(state, query)
        return {
            "total": len(matching),
            "offset": offset,
            "stations": [self.row(station_id) for station_id in matching[offset : offset + limit]],
        }

    def row(self, station_id: str) -> dict[str, Any]:
        kind = self.kinds[station_id]
        row: dict[str, Any] = {"id": station_id, "state": self.state(station_id), "template": kind.template}
        if (sim := self.fleet.sims.get(station_id)) is None:
            return {**row, "ocpp": None, "connected": False, "registration": None, "connectors": []}
        snapshot = sim.station.snapshot()
        return {
            **row,
            "ocpp": snapshot["ocpp"],
            "connected": snapshot["connected"],
            "registration": snapshot["registration"],
            "queued": snapshot["queued"],
            "connectors": [
                {key: c[key] for key in ("id", "status", "errorCode", "transactionId")} for c in snapshot["connectors"]
            ],
        }
