"""Memory per idle connected station: N stations in one process, RSS delta / N.

Each kind runs in a fresh process. One station (or connection) is brought up first and kept, so that
one-off costs (imports, caches, the first decoder of each kind) are in the baseline; then N more are
started in batches (a batch connects, boots and settles before the next starts, so the listen backlog
never overflows), ``gc.collect()``, and the RSS difference is divided by N.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final

from bench.common import HOST, SUBPROTOCOL, quiet_logging, raise_fd_limit, rss_kib

BATCH: Final = 100
KINDS: Final = (
    "chargebox", "chargebox-2.0.1", "chargebox-fleet", "raw", "raw-deflate", "ocpp", "chargebox-objects", "store-only",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class MemoryResult:
    kind: str
    count: int
    kib_per_station: float
    seconds: float  # to bring the N up


def memory_worker(kind: str, port: int, count: int) -> MemoryResult:
    """Body of a memory process."""
    quiet_logging()
    raise_fd_limit(count + 256)
    return asyncio.run(_measure(kind, port, count))


async def _measure(kind: str, port: int, count: int) -> MemoryResult:
    url = f"ws://{HOST}:{port}"
    start, stop = {
        "chargebox": _chargebox(ocpp="1.6"),
        "chargebox-2.0.1": _chargebox(ocpp="2.0.1"),
        "chargebox-fleet": _chargebox("1.6", shared_store=True),
        "chargebox-objects": _chargebox_objects,
        "store-only": _store_only,
        "raw": _raw(compression=None),
        "raw-deflate": _raw(compression="deflate"),
        "ocpp": _ocpp,
    }[kind](url)
    alive: list[Any] = []
    try:
        alive.append(await asyncio.wait_for(start(0), 30))
        await asyncio.sleep(0.05)
        gc.collect()
        before = rss_kib()
        t0 = time.perf_counter()
        for first in range(1, count + 1, BATCH):
            batch = range(first, min(first + BATCH, count + 1))
            alive.extend(await asyncio.wait_for(asyncio.gather(*(start(i) for i in batch)), 120))
        seconds = time.perf_counter() - t0
        await asyncio.sleep(0.2)  # idle: let any trailing frame settle
        gc.collect()
        after = rss_kib()
    finally:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*(stop(x) for x in alive), return_exceptions=True), 30)
    return MemoryResult(kind, count, (after - before) / count, seconds)


Start = Callable[[int], Awaitable[Any]]
Stop = Callable[[Any], Awaitable[None]]


def _chargebox(ocpp: str, *, shared_store: bool = False) -> Callable[[str], tuple[Start, Stop]]:
    """A whole station per connection speaking ``ocpp``, booted and idle: each with its own store in memory
    (``Store.open(None)``), or, as ``chargebox fleet`` runs them (``shared_store``), one in-memory store shared by all
    (``StoreBackend.station(id)``, a view per station)."""

    def make(url: str) -> tuple[Start, Stop]:
        from bench.roundtrip import wait_until_idle
        from chargebox.sim.simulator import simulated_station
        from chargebox.station.station import StationSettings
        from chargebox.store import StoreBackend

        backend = StoreBackend.open(None) if shared_store else None

        async def start(i: int) -> Any:
            settings = StationSettings(charge_point_id=f"M{i}", csms_url=url, connectors=1, ocpp=ocpp)
            store = backend.station(f"M{i}") if backend is not None else None
            station = simulated_station(settings, store=store)
            runner = asyncio.ensure_future(station.run())
            await wait_until_idle(station, runner, timeout=60)
            return station, runner

        async def stop(item: Any) -> None:
            station, runner = item
            await station.stop()
            runner.cancel()

        return start, stop

    return make


def _chargebox_objects(_url: str) -> tuple[Start, Stop]:
    """Diagnostic: the ``Station`` objects alone, never connected (their in-memory stores included)."""
    from chargebox.sim.simulator import simulated_station
    from chargebox.station.station import StationSettings

    async def start(i: int) -> Any:
        return simulated_station(StationSettings(charge_point_id=f"M{i}", csms_url="ws://127.0.0.1:9/", connectors=1))

    async def stop(station: Any) -> None:
        station.store.close()

    return start, stop


def _store_only(_url: str) -> tuple[Start, Stop]:
    """Diagnostic: one ``Store.open(None)`` (an in-memory SQLite database, migrated) per station."""
    from chargebox.store import Store

    async def start(_i: int) -> Any:
        return Store.open(None)

    async def stop(store: Any) -> None:
        store.close()

    return start, stop


def _raw(compression: str | None) -> Callable[[str], tuple[Start, Stop]]:
    """A bare websockets client with a reader task, after one BootNotification round trip."""

    def make(url: str) -> tuple[Start, Stop]:
        import orjson
        from websockets.asyncio.client import connect

        async def idle(ws: Any) -> None:
            with contextlib.suppress(Exception):
                async for _ in ws:
                    pass

        async def start(i: int) -> Any:
            ws = await connect(
                f"{url}/R{i}",
                subprotocols=[SUBPROTOCOL],  # type: ignore[list-item]
                compression=compression,
                ping_interval=None,
            )
            boot = {"chargePointVendor": "chargebox", "chargePointModel": "Simulator"}
            await ws.send(orjson.dumps([2, "1", "BootNotification", boot]), text=True)
            await ws.recv()
            return ws, asyncio.ensure_future(idle(ws))

        async def stop(item: Any) -> None:
            ws, reader = item
            await ws.close()
            reader.cancel()

        return start, stop

    return make


def _ocpp(url: str) -> tuple[Start, Stop]:
    """An ``ocpp.v16.ChargePoint`` per connection (no compression), booted, its ``start()`` loop running."""
    from ocpp.v16 import ChargePoint, call
    from websockets.asyncio.client import connect

    from bench.roundtrip import OcppConnection

    async def start(i: int) -> Any:
        ws = await connect(f"{url}/O{i}", subprotocols=[SUBPROTOCOL], compression=None, ping_interval=None)  # type: ignore[list-item]
        cp = ChargePoint(f"O{i}", OcppConnection(ws))
        reader = asyncio.ensure_future(cp.start())
        await cp.call(call.BootNotification(charge_point_vendor="chargebox", charge_point_model="Simulator"))
        return ws, reader

    async def stop(item: Any) -> None:
        ws, reader = item
        await ws.close()
        reader.cancel()

    return start, stop
