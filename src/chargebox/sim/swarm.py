"""The locustfile of ``chargebox swarm``: one Locust user is one chargebox station, the code ``chargebox fleet`` runs.

Locust runs its users as greenlets and patches the process for gevent (sockets, locks, ``threading``) when it is
imported. chargebox runs on asyncio, so each Locust process runs its stations on one asyncio event loop in a real
OS thread (``Swarm``), as a ``Fleet`` whose stations start and stop one by one as Locust spawns and stops users.
The two worlds meet only here, and only so:

- greenlets to the loop: ``loop.call_soon_threadsafe`` (start a station; close: stop them all) and
  ``asyncio.run_coroutine_threadsafe`` (stop one), whose future the greenlet polls without blocking the hub;
- the loop to greenlets: a ``deque`` of finished round trips (its appends and pops are atomic) that a greenlet
  drains into Locust's request events, and a dict of counts the loop replaces whole every second (the gauge).

The thread is started with gevent's original ``_thread.start_new_thread``: ``threading.Thread``, even the class
``gevent.monkey.get_original`` returns, starts a greenlet once patched. The loop polls with the original epoll
selector (the patched ``selectors.DefaultSelector`` would wait on gevent's hub). A station's store is in memory:
no thread of its own, which patched ``threading`` would make a greenlet that never runs.

Locust's statistics show each OCPP action as a request type (name ``ocpp1.6``): its round-trip time, and a failure
for a CALLERROR or no answer (a timeout, a lost connection). Each worker reports its stations (made, connected,
booted) with its statistics; the master logs their sum when it changes and serves it at ``/chargebox/stations``
beside its web UI.

Used as ``chargebox swarm --csms URL [Locust's options]``, or as plain Locust:
``locust -f "$(chargebox swarm --print-locustfile)" --csms URL ...`` (our options go to the master; each worker
receives them from it).
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import sys
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from functools import partial
from typing import Any, Final, TypeVar

import gevent
from gevent import monkey
from locust import User, events, task
from locust.env import Environment
from locust.exception import StopUser
from locust.runners import MasterRunner, WorkerRunner

from chargebox.errors import UserError
from chargebox.protocol.messages import Action
from chargebox.rpc import SendOutcome
from chargebox.sim import swarm_options
from chargebox.sim.fleet import Fleet, FleetSettings

log = logging.getLogger("chargebox.swarm")

T = TypeVar("T")

REQUEST_NAME: Final = "ocpp1.6"  # the name column of Locust's statistics; the type column is the action
HOLD: Final = 60.0  # seconds a user sleeps between two looks at its station: the station acts on its own
DRAIN_EVERY: Final = 0.2  # seconds between two hand-overs of round trips to Locust's statistics
GAUGE_EVERY: Final = 1.0  # seconds between two counts of the stations
LOCAL_GAUGE_EVERY: Final = 15  # drains between two looks at the gauge without workers (3 s, as a worker reports)
POLL: Final = 0.02  # seconds a greenlet sleeps while it waits for the loop
STOP_TIMEOUT: Final = 30.0  # seconds the loop has to stop every station cleanly when the process quits

_start_new_thread: Callable[..., int] = monkey.get_original("_thread", "start_new_thread")
_Selector: Callable[[], Any] = monkey.get_original("selectors", "DefaultSelector")


def _add_options(parser: Any, **_kwargs: Any) -> None:
    swarm_options.add_options(parser)


def _init(environment: Environment, **_kwargs: Any) -> None:
    """Where the options are given (the master, or a run without workers): one line and exit 2 if they are wrong.
    A worker receives them from the master with its first users.

    As ``chargebox fleet``, thousands of stations log only what is wrong (Locust's ``--loglevel DEBUG`` keeps
    everything)."""
    options = environment.parsed_options
    if options is None or options.loglevel.upper() != "DEBUG":
        logging.getLogger("chargebox").setLevel(logging.WARNING)
        logging.getLogger("chargebox.swarm").setLevel(logging.INFO)
    if isinstance(environment.runner, WorkerRunner) or options is None:
        return
    if (wrong := swarm_options.problem(options)) is not None:
        sys.stderr.write(f"chargebox swarm: error: {wrong}\n")
        raise SystemExit(2)
    if isinstance(environment.runner, MasterRunner):
        _listen(environment.events.worker_report, _gauge(environment).worker_report)
    if environment.web_ui is not None and environment.web_ui.app is not None:
        environment.web_ui.app.add_url_rule(
            "/chargebox/stations", "chargebox_stations", lambda: _gauge(environment).totals()
        )


def _report_stations(client_id: str, data: dict[str, Any], **_kwargs: Any) -> None:
    """A worker's stations, with each of its statistics reports to the master."""
    if _swarm is not None:
        data["chargebox"] = _swarm.counts


def _quit(environment: Environment, **_kwargs: Any) -> None:
    if _swarm is not None:
        _swarm.close()


def _listen(hook: Any, handler: Callable[..., None]) -> None:
    """Locust's event hooks are untyped: one place says so."""
    hook.add_listener(handler)


_listen(events.init_command_line_parser, _add_options)
_listen(events.init, _init)
_listen(events.report_to_master, _report_stations)
_listen(events.quitting, _quit)


class Station(User):
    """One chargebox station, running in this process's ``Swarm`` from the user's start to its stop."""

    def on_start(self) -> None:
        try:
            self.station_id = swarm(self.environment).start()
        except UserError as exc:  # a worker's --template it cannot read: said once per user, no traceback
            log.error("! %s", exc)
            raise StopUser() from None

    def on_stop(self) -> None:
        station_id = getattr(self, "station_id", None)
        if station_id is not None and _swarm is not None:
            _swarm.stop(station_id)

    @task
    def hold(self) -> None:
        gevent.sleep(HOLD)


class Swarm:
    """This process's stations: a ``Fleet`` on an asyncio event loop in a real OS thread."""

    def __init__(self, environment: Environment, settings: FleetSettings) -> None:
        self.environment = environment
        self.settings = settings
        self.counts = {"stations": 0, "connected": 0, "booted": 0}  # replaced whole by the loop, read by greenlets
        worker_index = max(getattr(environment.runner, "worker_index", 0), 0)  # a run without workers: 0
        self._first = worker_index * swarm_options.SHARD + 1
        self._free: list[int] = []  # indices of stopped stations, taken again first (lowest first)
        self._next = self._first
        self._trips: deque[tuple[Action, float, SendOutcome]] = deque()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._fleet: Fleet | None = None
        self._closing: asyncio.Event | None = None
        self._ended = False
        self._closed = False
        _start_new_thread(self._run, ())
        self._drainer = gevent.spawn(self._drain)

    def ready(self) -> Swarm:
        """This swarm once its loop runs (a greenlet waits without blocking the others)."""
        self._until(lambda: self._closing is not None, "start")
        return self

    def start(self) -> str:
        """Start the lowest free station; its id."""
        index = heapq.heappop(self._free) if self._free else self._next
        self._next = max(self._next, index + 1)
        self._call(self._start, index)
        return self.settings.station_id(index)

    def stop(self, station_id: str) -> None:
        """Stop one station cleanly and wait for it; its id is free for the next user."""
        if self._closed or self._loop is None or self._ended:
            return
        self._wait(asyncio.run_coroutine_threadsafe(self._stop(station_id), self._loop))
        heapq.heappush(self._free, int(station_id[len(self.settings.id_prefix) :]))

    def close(self) -> None:
        """Stop every station cleanly, then the loop and its thread; the last round trips reach the statistics."""
        if self._closed:
            return
        self._closed = True
        # A run may end before its loop has started (Locust's --run-time reached at once): wait for it first.
        self._until(lambda: self._closing is not None or self._ended, "start")
        if self._closing is not None:
            self._call(self._closing.set)
            self._until(lambda: self._ended, "stop its stations", STOP_TIMEOUT)
        self._drainer.kill()
        self._hand_over()

    def _wait(self, future: Future[T]) -> T | None:
        """The result of work handed to the loop, waited for by a greenlet without blocking the others (None if
        the loop has ended: its failure is in the log)."""
        while not future.done():
            if self._ended:
                return None
            gevent.sleep(POLL)
        return future.result()

    def _call(self, callback: Callable[..., object], *args: object) -> None:
        assert self._loop is not None
        self._loop.call_soon_threadsafe(callback, *args)

    def _until(self, condition: Callable[[], bool], what: str, timeout: float = STOP_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if self._ended or time.monotonic() > deadline:
                raise RuntimeError(f"the stations' event loop did not {what}")
            gevent.sleep(POLL)

    # -- in the loop's thread ----------------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            with asyncio.Runner(loop_factory=lambda: asyncio.SelectorEventLoop(_Selector())) as runner:
                self._loop = runner.get_loop()
                runner.run(self._main())
        except Exception:
            log.exception("! the stations' event loop failed")
        finally:
            self._ended = True

    async def _main(self) -> None:
        """Hold the stations until ``close``, then stop them all cleanly."""
        self._fleet = Fleet(self.settings)
        closing = asyncio.Event()
        counting = asyncio.ensure_future(self._count_stations(self._fleet))
        self._closing = closing  # last: the greenlet waiting in __init__ goes on once everything is made
        await closing.wait()
        counting.cancel()
        await self._fleet.stop()

    def _start(self, index: int) -> None:
        assert self._fleet is not None
        rpc = self._fleet.start_station(index).station.rpc
        in_flight = _InFlight()
        rpc.last_outcome = in_flight
        rpc.on_round_trip = partial(self._round_trip, in_flight)

    def _round_trip(self, in_flight: _InFlight, seconds: float, outcome: SendOutcome) -> None:
        if in_flight.action is not None:
            self._trips.append((in_flight.action, seconds, outcome))

    async def _stop(self, station_id: str) -> None:
        assert self._fleet is not None
        await self._fleet.stop_station(station_id)

    async def _count_stations(self, fleet: Fleet) -> None:
        while True:
            self.counts = fleet.counts()  # one assignment: a greenlet reads the old or the new, whole
            await asyncio.sleep(GAUGE_EVERY)

    # -- in Locust's greenlets ---------------------------------------------------------------------------------

    def _drain(self) -> None:
        drains = 0
        while True:
            gevent.sleep(DRAIN_EVERY)
            self._hand_over()
            drains += 1
            if drains % LOCAL_GAUGE_EVERY == 0 and not isinstance(self.environment.runner, WorkerRunner):
                _gauge(self.environment).update("local", self.counts)  # no master to report to: ours is the sum

    def _hand_over(self) -> None:
        fire: Any = self.environment.events.request.fire
        while self._trips:
            action, seconds, outcome = self._trips.popleft()
            fire(
                request_type=action.value, name=REQUEST_NAME, response_time=seconds * 1000, response_length=0,
                exception=None if outcome is SendOutcome.RESPONSE_SUCCESS else CallFailed(outcome), context={},
            )  # fmt: skip


class CallFailed(Exception):
    """A CALL the station made that was not answered with a valid CALLRESULT: a failure in Locust's statistics."""

    def __init__(self, outcome: SendOutcome) -> None:
        super().__init__(
            "CALLERROR (or an invalid answer)"
            if outcome is SendOutcome.RESPONSE_ACCEPT_FAILED
            else "no answer (timeout or connection lost)"
        )


class _InFlight(dict[Action, SendOutcome]):
    """``Rpc.last_outcome`` that also keeps the action of the one CALL in flight (T-20): the Rpc marks it SUCCESS
    when it is written (docs/topics/design.md, "Sending"), so a round trip's action is the last one so marked."""

    action: Action | None = None

    def __setitem__(self, action: Action, outcome: SendOutcome) -> None:
        if outcome is SendOutcome.SUCCESS:
            self.action = action
        super().__setitem__(action, outcome)


class _Gauge:
    """The stations of every worker, as each last reported them (the master), or of this process (no workers)."""

    def __init__(self) -> None:
        self._by_worker: dict[str, dict[str, int]] = {}
        self._logged: dict[str, int] = {}

    def worker_report(self, client_id: str, data: dict[str, Any], **_kwargs: Any) -> None:
        if "chargebox" in data:
            self.update(client_id, data["chargebox"])

    def update(self, worker: str, counts: dict[str, int]) -> None:
        self._by_worker[worker] = counts
        totals = self.totals()
        if totals != self._logged:
            self._logged = totals
            log.info(
                "= stations: %d made, %d connected, %d booted (%d workers)",
                totals["stations"], totals["connected"], totals["booted"], totals["workers"],
            )  # fmt: skip

    def totals(self) -> dict[str, int]:
        keys = ("stations", "connected", "booted")
        totals = {key: sum(counts.get(key, 0) for counts in self._by_worker.values()) for key in keys}
        return {**totals, "workers": len(self._by_worker)}


_swarm: Swarm | None = None
_gauges: dict[int, _Gauge] = {}


def swarm(environment: Environment) -> Swarm:
    """This process's swarm, made at its first user: after Locust has forked its ``--processes`` and a worker has
    received the options from the master."""
    global _swarm
    if _swarm is None:
        assert environment.parsed_options is not None
        if (wrong := swarm_options.problem(environment.parsed_options)) is not None:
            raise UserError(wrong)
        _swarm = Swarm(environment, swarm_options.fleet_settings(environment.parsed_options))
    return _swarm.ready()  # every user that comes while the first waits finds the same swarm


def _gauge(environment: Environment) -> _Gauge:
    return _gauges.setdefault(id(environment), _Gauge())
