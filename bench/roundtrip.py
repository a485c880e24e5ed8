"""Station-side CPU per round trip: chargebox vs the ``ocpp`` library vs raw websockets + orjson.

Each station runs alone in a fresh process (``station_worker``) against the shared raw central system
in another process. CPU is ``time.process_time()`` of the station process (all its threads: the
``ocpp`` library validates in a thread pool, and that counts), over sequential round trips after a
warm-up, in blocks; the median block is reported.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final

from bench.common import HOST, SUBPROTOCOL, event_loop_runner, median, quiet_logging

STACKS: Final = ("raw", "raw-reader", "chargebox", "ocpp", "chargebox-2.0.1")
MESSAGES: Final = ("Heartbeat", "MeterValues")

Call = Callable[[], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class RoundTrip:
    stack: str
    uvloop: bool
    message: str
    cpu_us: float  # median block: station-process CPU per round trip
    wall_us: float  # median block: wall time per round trip
    cpu_us_spread: tuple[float, float]  # min and max block
    round_trips: int


def station_worker(
    stack: str, port: int, warmup: int, blocks: int, per_block: int, use_uvloop: bool
) -> list[RoundTrip]:
    """Body of a station process: connect one station of ``stack``, time both messages."""
    quiet_logging()
    with event_loop_runner(use_uvloop) as runner:
        return runner.run(_measure(stack, port, warmup, blocks, per_block, use_uvloop))


async def _measure(
    stack: str, port: int, warmup: int, blocks: int, per_block: int, use_uvloop: bool
) -> list[RoundTrip]:
    setups: dict[str, Callable[[str], Awaitable[tuple[dict[str, Call], Callable[[], Awaitable[None]]]]]] = {
        "raw": _raw_station,
        "raw-reader": _raw_reader_station,
        "chargebox": _chargebox_station,
        "ocpp": _ocpp_station,
        "chargebox-2.0.1": functools.partial(_chargebox_station, ocpp="2.0.1"),
    }
    setup = setups[stack]
    calls, close = await asyncio.wait_for(setup(f"ws://{HOST}:{port}"), 30)
    results = []
    try:
        for message in MESSAGES:
            call = calls[message]
            for _ in range(warmup):
                await call()
            cpu, wall = [], []
            for _ in range(blocks):
                c0, w0 = time.process_time(), time.perf_counter()
                for _ in range(per_block):
                    await call()
                cpu.append((time.process_time() - c0) / per_block * 1e6)
                wall.append((time.perf_counter() - w0) / per_block * 1e6)
            results.append(
                RoundTrip(
                    stack, use_uvloop, message, median(cpu), median(wall), (min(cpu), max(cpu)), blocks * per_block
                )
            )
    finally:
        await asyncio.wait_for(close(), 15)
    return results


# -- raw websockets + orjson: the ceiling ---------------------------------------------------------


async def _raw_station(url: str) -> tuple[dict[str, Call], Callable[[], Awaitable[None]]]:
    """No validation, no correlation beyond the id check, no reader task: the least a station can do."""
    import orjson
    from websockets.asyncio.client import connect

    from bench.common import METER_TIMESTAMP_TEXT, SAMPLES

    ws = await connect(f"{url}/RAW1", subprotocols=[SUBPROTOCOL], compression=None, ping_interval=None)  # type: ignore[list-item]
    ids = itertools.count(1)
    dumps, loads = orjson.dumps, orjson.loads

    async def call(action: str, payload: dict[str, Any]) -> None:
        message_id = str(next(ids))
        await ws.send(dumps([2, message_id, action, payload]), text=True)
        reply = loads(await ws.recv(decode=False))
        if reply[0] != 3 or reply[1] != message_id:
            raise RuntimeError(f"unexpected answer {reply!r}")

    async def heartbeat() -> None:
        await call("Heartbeat", {})

    async def meter_values() -> None:
        sampled = []
        for value, measurand, unit, phase in SAMPLES:
            item = {"value": value, "context": "Sample.Periodic", "measurand": measurand, "unit": unit}
            if phase is not None:
                item["phase"] = phase
            sampled.append(item)
        await call(
            "MeterValues",
            {"connectorId": 1, "meterValue": [{"timestamp": METER_TIMESTAMP_TEXT, "sampledValue": sampled}]},
        )

    return {"Heartbeat": heartbeat, "MeterValues": meter_values}, ws.close


async def _raw_reader_station(url: str) -> tuple[dict[str, Call], Callable[[], Awaitable[None]]]:
    """Raw, but shaped like any station that must also hear the CSMS's own CALLs: a reader task owns
    the socket and hands each answer to the waiting caller through a future. Still no validation."""
    import orjson
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed

    from bench.common import METER_TIMESTAMP_TEXT, SAMPLES

    ws = await connect(f"{url}/RAW2", subprotocols=[SUBPROTOCOL], compression=None, ping_interval=None)  # type: ignore[list-item]
    ids = itertools.count(1)
    dumps, loads = orjson.dumps, orjson.loads
    loop = asyncio.get_running_loop()
    waiting: dict[str, asyncio.Future[Any]] = {}

    async def read() -> None:
        try:
            async for data in ws:
                reply = loads(data)
                future = waiting.pop(reply[1], None)
                if future is not None and not future.done():
                    future.set_result(reply)
        except ConnectionClosed:
            pass

    reader = asyncio.ensure_future(read())

    async def call(action: str, payload: dict[str, Any]) -> None:
        message_id = str(next(ids))
        future = waiting[message_id] = loop.create_future()
        await ws.send(dumps([2, message_id, action, payload]), text=True)
        reply = await future
        if reply[0] != 3:
            raise RuntimeError(f"unexpected answer {reply!r}")

    async def heartbeat() -> None:
        await call("Heartbeat", {})

    async def meter_values() -> None:
        sampled = []
        for value, measurand, unit, phase in SAMPLES:
            item = {"value": value, "context": "Sample.Periodic", "measurand": measurand, "unit": unit}
            if phase is not None:
                item["phase"] = phase
            sampled.append(item)
        await call(
            "MeterValues",
            {"connectorId": 1, "meterValue": [{"timestamp": METER_TIMESTAMP_TEXT, "sampledValue": sampled}]},
        )

    async def close() -> None:
        await ws.close()
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)

    return {"Heartbeat": heartbeat, "MeterValues": meter_values}, close


# -- chargebox --------------------------------------------------------------------------------------


async def _chargebox_station(url: str, ocpp: str = "1.6") -> tuple[dict[str, Call], Callable[[], Awaitable[None]]]:
    """A chargebox station speaking ``ocpp``: its Heartbeat, and its MeterValues of the six values (2.0.1's as
    numbers with their unitOfMeasure)."""
    from bench.common import meter_values_factory, meter_values_v201_factory
    from chargebox.sim.simulator import simulated_station
    from chargebox.station.station import StationSettings

    heartbeat_request: type[Any]
    if ocpp == "2.0.1":  # a 1.6 station's process never imports 2.0.1's messages
        from chargebox.protocol.v201.messages import HeartbeatRequest as heartbeat_request

        build = meter_values_v201_factory()
    else:
        from chargebox.protocol.messages import HeartbeatRequest as heartbeat_request

        build = meter_values_factory()
    settings = StationSettings(charge_point_id=f"B-{ocpp}", csms_url=url, connectors=1, ocpp=ocpp)
    station = simulated_station(settings)
    runner = asyncio.ensure_future(station.run())
    await wait_until_idle(station, runner, timeout=20)
    rpc = station.rpc

    async def heartbeat() -> None:
        result = await rpc.call(heartbeat_request())
        if not result.ok:
            raise RuntimeError(f"Heartbeat: {result}")

    async def meter_values() -> None:
        request = build()
        result = await rpc.call(request)
        if not result.ok:
            raise RuntimeError(f"MeterValues: {result}")

    async def close() -> None:
        await station.stop()
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)

    return {"Heartbeat": heartbeat, "MeterValues": meter_values}, close


def _idle(station: Any) -> bool:
    """Booted and accepted, with every StatusNotification answered (1.6: each connector's; 2.0.1: the lane's)."""
    if station.settings.ocpp == "2.0.1":
        from chargebox.station.v201.boot import BootService

        return bool(station.features.need(BootService).accepted and station.lane.pending() == 0)
    from chargebox.protocol.messages import RegistrationStatus

    return bool(
        station.boot.registration is RegistrationStatus.ACCEPTED
        and all(c.reported is not None for c in station.connectors.connectors)
    )


async def wait_until_idle(station: Any, runner: asyncio.Future[None], *, timeout: float) -> None:
    """Until the boot is accepted and every StatusNotification has been answered."""
    deadline = time.monotonic() + timeout
    while not _idle(station):
        if runner.done():
            runner.result()  # raises what stopped it
            raise RuntimeError(f"station {station.id} stopped before it was accepted")
        if time.monotonic() > deadline:
            raise TimeoutError(f"station {station.id} not booted and idle within {timeout} s")
        await asyncio.sleep(0.005)


# -- the ocpp library (mobilityhouse) -------------------------------------------------------------


class OcppConnection:
    """What ``ocpp.ChargePoint`` expects of a connection (``recv()``, ``send(str)``), over websockets 17."""

    __slots__ = ("recv", "send", "ws")

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.recv = ws.recv  # str for text frames, as the library expects
        self.send = ws.send  # the library passes str: sent as a text frame


async def _ocpp_station(url: str) -> tuple[dict[str, Call], Callable[[], Awaitable[None]]]:
    from ocpp.v16 import ChargePoint, call
    from ocpp.v16.datatypes import MeterValue, SampledValue
    from ocpp.v16.enums import Measurand, Phase, ReadingContext, UnitOfMeasure
    from websockets.asyncio.client import connect

    from bench.common import METER_TIMESTAMP_TEXT, SAMPLES

    ws = await connect(f"{url}/OCPP1", subprotocols=[SUBPROTOCOL], compression=None, ping_interval=None)  # type: ignore[list-item]
    cp = ChargePoint("OCPP1", OcppConnection(ws))
    reader = asyncio.ensure_future(cp.start())

    async def heartbeat() -> None:
        if await cp.call(call.Heartbeat()) is None:
            raise RuntimeError("Heartbeat answered with a CALLERROR")

    samples = [
        (value, Measurand(measurand), UnitOfMeasure(unit), Phase(phase) if phase else None)
        for value, measurand, unit, phase in SAMPLES
    ]

    async def meter_values() -> None:
        request = call.MeterValues(
            connector_id=1,
            meter_value=[
                MeterValue(
                    timestamp=METER_TIMESTAMP_TEXT,
                    sampled_value=[
                        SampledValue(
                            value=value, context=ReadingContext.sample_periodic, measurand=measurand, unit=unit,
                            phase=phase,
                        )
                        for value, measurand, unit, phase in samples
                    ],
                )
            ],
        )  # fmt: skip
        if await cp.call(request) is None:
            raise RuntimeError("MeterValues answered with a CALLERROR")

    async def close() -> None:
        await ws.close()
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)

    return {"Heartbeat": heartbeat, "MeterValues": meter_values}, close
