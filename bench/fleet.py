"""A fleet in one process: how many stations one core holds, and MeterValues at a target rate; and the same fleet
in several processes, as ``chargebox fleet --processes N`` runs it.

``chargebox.sim.fleet.Fleet`` brings N stations up (one shared in-memory store, ramped connections)
against the bench's central system, each booted with its StatusNotifications answered; then every
station sends MeterValues (the round-trip section's six values) on its own schedule so that the
fleet together offers ``rate`` messages/s, for ``seconds``. Round trips come from the fleet's own
figures (``Rpc.on_round_trip`` into its reservoir), as ``chargebox fleet`` shows them.

Several processes: each runs its share of the stations (``FleetSettings.shard``, as ``fleet --processes`` gives
it) and its share of the rate, all started together; each returns the HDR histogram of its load window, and the
histograms are added (``RoundTrips.combined``), as the command adds its processes' figures.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from bench.common import HOST, event_loop_runner, meter_values_factory, quiet_logging, raise_fd_limit, rss_kib


@dataclass(frozen=True, slots=True)
class FleetResult:
    count: int
    held: int  # booted and connected once the ramp was over
    up_s: float
    offered_rate: float
    achieved_rate: float
    p50_ms: float | None
    p99_ms: float | None
    errors: int
    cpu_share: float  # process CPU seconds per wall second during the load
    kib_per_station: float  # RSS after the ramp, less before it, per station (idle, connected)
    uvloop: bool
    histogram: str = ""  # HdrHistogram's encoding of the load window's round trips (fleet --processes rows)


def fleet_worker(
    port: int, count: int, rate: float, seconds: float, use_uvloop: bool, shard: int = 0, shards: int = 1
) -> FleetResult:
    """One fleet process: all ``count`` stations, or its ``shard`` of ``shards`` and that share of ``rate``."""
    quiet_logging()
    raise_fd_limit(count // shards + 256)
    with event_loop_runner(use_uvloop) as runner:
        return runner.run(_measure(port, count, rate, seconds, use_uvloop, shard, shards))


async def _measure(
    port: int, count: int, rate: float, seconds: float, use_uvloop: bool, shard: int, shards: int
) -> FleetResult:
    import gc

    from chargebox.sim.fleet import Fleet, FleetSettings
    from chargebox.sim.fleet_processes import process_settings
    from chargebox.sim.template import Template

    settings = process_settings(
        FleetSettings(
            csms_url=f"ws://{HOST}:{port}", count=count, connect_rate=1000.0,
            template=Template(connectors=1, config={"MeterValueSampleInterval": 0, "HeartbeatInterval": 86400}),
        ),
        shard, shards,
    )  # fmt: skip
    own = len(settings.indices())
    gc.collect()
    before = rss_kib()
    fleet = Fleet(settings)
    t0 = time.perf_counter()
    task = asyncio.ensure_future(fleet.run())
    try:
        deadline = t0 + 60 + own / 50
        while fleet.round_trips.sent < own * 3 and time.perf_counter() < deadline:  # boot + 2 statuses each
            await asyncio.sleep(0.05)
        up_s = time.perf_counter() - t0
        await asyncio.sleep(0.5)
        gc.collect()
        kib = (rss_kib() - before) / own
        held = fleet.figures()["booted"]
        trips = fleet.round_trips
        sent0, errors0 = trips.sent, trips.errors
        trips.latencies.clear()
        trips.histogram.reset()
        interval = count / rate  # each station's, whatever share of them this process runs

        build = meter_values_factory()

        async def load(index: int, sim: Any) -> None:
            rpc = sim.station.rpc
            await asyncio.sleep(interval * index / own)  # spread over the interval
            next_at = time.perf_counter()
            while True:
                await rpc.call(build())
                next_at += interval
                await asyncio.sleep(max(next_at - time.perf_counter(), 0.0))

        cpu0, wall0 = time.process_time(), time.perf_counter()
        loaders = [asyncio.ensure_future(load(i, sim)) for i, sim in enumerate(fleet.sims.values())]
        await asyncio.sleep(seconds)
        for loader in loaders:
            loader.cancel()
        wall = time.perf_counter() - wall0
        cpu = time.process_time() - cpu0
        await asyncio.gather(*loaders, return_exceptions=True)
        return FleetResult(
            count=own, held=held, up_s=up_s, offered_rate=rate * own / count,
            achieved_rate=(trips.sent - sent0) / wall, p50_ms=trips.percentile(0.5), p99_ms=trips.percentile(0.99),
            errors=trips.errors - errors0, cpu_share=cpu / wall, kib_per_station=kib, uvloop=use_uvloop,
            histogram=trips.encode(),
        )  # fmt: skip
    finally:
        task.cancel()
        await fleet.stop()
