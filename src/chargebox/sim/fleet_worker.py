"""One process of ``chargebox fleet --processes N``: its share of the stations, reported to the command that
started it (``fleet_processes.py``), which runs it as ``python -m chargebox.sim.fleet_worker``.

    stdin   one pickled ``Orders`` (the password rides here, never in argv), then nothing: its end (the command
            closed it, or died) is the order to stop
    stdout  JSON lines: ``{"control": PORT}`` first when the command serves ``--control``; then a report every
            ``REPORT_EVERY`` seconds, and a last one (``"final": true``) once every station has stopped cleanly
    stderr  the log, as ``chargebox fleet`` writes it

SIGTERM and SIGINT (Ctrl-C reaches the whole process group) stop it cleanly too. A report carries what adds up
(``Fleet.counts``), the whole-run histogram of round trips as HdrHistogram encodes it (the command adds the
histograms of every process: exact percentiles over all round trips) and the latencies answered since the last
report (for the recent percentiles).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import pickle
import signal
import sys
from typing import IO, Any, Final

from chargebox.errors import UserError
from chargebox.sim.fleet import Fleet
from chargebox.sim.fleet_processes import Orders
from chargebox.tasks import event_loop_factory

REPORT_EVERY: Final = 0.5  # seconds between two reports: the live table refreshes twice a second


def main() -> int:
    orders: Orders = pickle.load(sys.stdin.buffer)  # written by our own command, over a pipe only it holds
    logging.basicConfig(
        level=logging.DEBUG if orders.verbose else logging.INFO,
        format="%(asctime)s %(levelname)-7s %(name)s %(message)s",
        stream=sys.stderr,
    )
    if not orders.verbose:  # as chargebox fleet: the table tells the story, the log only what is wrong
        logging.getLogger("chargebox").setLevel(logging.WARNING)
        logging.getLogger("websockets").setLevel(logging.WARNING)
    try:
        with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
            return runner.run(serve(orders, sys.stdout.buffer))
    except UserError as exc:
        print(f"chargebox: error: {exc}", file=sys.stderr)
        return 2


async def serve(orders: Orders, out: IO[bytes]) -> int:
    """Run this process's stations until told to stop, reporting as it goes; 0 once they all stopped cleanly."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await loop.connect_read_pipe(lambda: _EndOfOrders(stop), sys.stdin)
    fleet = Fleet(orders.settings)
    reporter = _Reporter(fleet, out)
    runner = None
    try:
        if orders.control_token is not None:
            from chargebox.sim.fleet_control import start_fleet_control

            runner, port = await start_fleet_control(fleet, "127.0.0.1", 0, token=orders.control_token)
            reporter.write({"control": port})
        running = asyncio.ensure_future(fleet.run())
        reporting = asyncio.ensure_future(reporter.every(REPORT_EVERY))
        stopping = asyncio.ensure_future(stop.wait())
        await asyncio.wait({running, stopping}, return_when=asyncio.FIRST_COMPLETED)
        for task in (running, reporting, stopping):
            task.cancel()
        if running.done() and not running.cancelled():
            running.result()  # the fleet failed: its traceback, and a non-zero exit the command reports
    finally:
        await fleet.stop()  # its figures stay those of the run's end (Fleet.stop)
        if runner is not None:
            await runner.cleanup()
        reporter.report(final=True)
    return 0


class _Reporter:
    """Writes this process's figures for the command, each report with the latencies answered since the last."""

    def __init__(self, fleet: Fleet, out: IO[bytes]) -> None:
        self._fleet = fleet
        self._out = out
        self._answered = 0

    async def every(self, seconds: float) -> None:
        while True:
            self.report()
            await asyncio.sleep(seconds)

    def report(self, *, final: bool = False) -> None:
        trips = self._fleet.round_trips
        answered = trips.answered
        latest = [round(seconds * 1_000_000) for seconds in trips.latest(answered - self._answered)]
        self._answered = answered
        self.write(
            {
                "counts": self._fleet.counts(),
                "recentRate": self._fleet.recent_rate(),
                "histogram": trips.encode(),
                "latestUs": latest,
                "final": final,
            }
        )

    def write(self, message: dict[str, Any]) -> None:
        with contextlib.suppress(BrokenPipeError):  # the command is gone: the stations still stop cleanly
            self._out.write(json.dumps(message, separators=(",", ":")).encode() + b"\n")
            self._out.flush()


class _EndOfOrders(asyncio.Protocol):
    """stdin's end: the command closed it to stop this process, or died."""

    def __init__(self, stop: asyncio.Event) -> None:
        self._stop = stop

    def data_received(self, data: bytes) -> None:
        """Nothing more is ever written; what comes is ignored."""

    def eof_received(self) -> bool:
        self._stop.set()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop.set()


if __name__ == "__main__":
    raise SystemExit(main())
