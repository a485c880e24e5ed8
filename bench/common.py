"""What every part of the bench shares: the raw central system, worker processes, sample payloads, RSS.

The central system is deliberately minimal: ``websockets`` + ``orjson``, no validation, one fixed answer
per action. All stations are measured against this same peer, in a process of their own, so that the
station side is the only thing a station process spends CPU on.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing as mp
import os
import resource
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from typing import Any, Final

HOST: Final = "127.0.0.1"
SUBPROTOCOL: Final = "ocpp1.6"
SUBPROTOCOL_V201: Final = "ocpp2.0.1"  # the central system serves both; its fixed answers fit either version
# The time the bench started: a station believes only a currentTime within its time window (docs/reliability.md,
# Time), so a fixed date of the past would have every station log a refusal; the answers are encoded once.
CURRENT_TIME: Final = datetime.now(UTC).replace(microsecond=0)
CURRENT_TIME_TEXT: Final = CURRENT_TIME.strftime("%Y-%m-%dT%H:%M:%SZ")
# A long interval so that no Heartbeat of the station's own interleaves with the measured calls.
BOOT_INTERVAL: Final = 3600

# Fixed CALLRESULT payloads, already encoded: the central system does no work per frame beyond
# parsing the CALL and writing one of these back.
RESPONSES: Final[dict[str, bytes]] = {
    "BootNotification": (
        f'{{"status":"Accepted","currentTime":"{CURRENT_TIME_TEXT}","interval":{BOOT_INTERVAL}}}'.encode()
    ),
    "Heartbeat": f'{{"currentTime":"{CURRENT_TIME_TEXT}"}}'.encode(),
    "Authorize": b'{"idTagInfo":{"status":"Accepted"}}',
    # The outbox section starts one transaction; its id is what the station's queued messages carry.
    "StartTransaction": b'{"idTagInfo":{"status":"Accepted"},"transactionId":1}',
}
EMPTY: Final = b"{}"

# The six sampled values of the MeterValues cases: (value, measurand, unit, phase).
SAMPLES: Final[tuple[tuple[str, str, str, str | None], ...]] = (
    ("123456.7", "Energy.Active.Import.Register", "Wh", None),
    ("11040.0", "Power.Active.Import", "W", None),
    ("16.0", "Current.Import", "A", "L1"),
    ("16.1", "Current.Import", "A", "L2"),
    ("15.9", "Current.Import", "A", "L3"),
    ("230.2", "Voltage", "V", "L1-N"),
)
METER_TIMESTAMP: Final = CURRENT_TIME
METER_TIMESTAMP_TEXT: Final = CURRENT_TIME_TEXT


def meter_values_payload() -> dict[str, Any]:
    """The MeterValues.req payload of every MeterValues case, as JSON-ready camelCase."""
    sampled = []
    for value, measurand, unit, phase in SAMPLES:
        item = {"value": value, "context": "Sample.Periodic", "measurand": measurand, "unit": unit}
        if phase is not None:
            item["phase"] = phase
        sampled.append(item)
    return {"connectorId": 1, "meterValue": [{"timestamp": METER_TIMESTAMP_TEXT, "sampledValue": sampled}]}


def meter_values_v201_payload() -> dict[str, Any]:
    """OCPP 2.0.1 MeterValuesRequest of the same six values (numbers, units in unitOfMeasure, an evseId)."""
    return {"evseId": 1, "meterValue": [_meter_value_v201()]}


def transaction_event_v201_payload() -> dict[str, Any]:
    """An OCPP 2.0.1 TransactionEventRequest (Updated, periodic) carrying the same six values: what a 2.0.1 station
    sends where a 1.6 one sends MeterValues during a transaction."""
    return {
        "eventType": "Updated",
        "timestamp": METER_TIMESTAMP_TEXT,
        "triggerReason": "MeterValuePeriodic",
        "seqNo": 5,
        "transactionInfo": {"transactionId": "c1a6a0e6-4b3e-4f0e-9d6b-6a1f0e1d2c3b", "chargingState": "Charging"},
        "evse": {"id": 1, "connectorId": 1},
        "meterValue": [_meter_value_v201()],
    }


def _meter_value_v201() -> dict[str, Any]:
    sampled = []
    for value, measurand, unit, phase in SAMPLES:
        item: dict[str, Any] = {
            "value": float(value),
            "context": "Sample.Periodic",
            "measurand": measurand,
            "unitOfMeasure": {"unit": unit},
        }
        if phase is not None:
            item["phase"] = phase
        sampled.append(item)
    return {"timestamp": METER_TIMESTAMP_TEXT, "sampledValue": sampled}


def meter_values_v201_factory() -> Callable[[], Any]:
    """Builds a 2.0.1 station's MeterValuesRequest of the same six values afresh at each call, as
    ``meter_values_factory`` builds 1.6's."""
    import msgspec

    from chargebox.protocol.v201 import messages as m

    samples = [
        (float(value), m.MeasurandEnumType(measurand), m.PhaseEnumType(phase) if phase else msgspec.UNSET, unit)
        for value, measurand, unit, phase in SAMPLES
    ]

    def build() -> Any:
        return m.MeterValuesRequest(
            evse_id=1,
            meter_value=[
                m.MeterValueType(
                    timestamp=METER_TIMESTAMP,
                    sampled_value=[
                        m.SampledValueType(
                            value=value, context=m.ReadingContextEnumType.SAMPLE_PERIODIC, measurand=measurand,
                            phase=phase, unit_of_measure=m.UnitOfMeasureType(unit=unit),
                        )
                        for value, measurand, phase, unit in samples
                    ],
                )
            ],
        )  # fmt: skip

    return build


def meter_values_factory(transaction_id: int | None = None) -> Callable[[], Any]:
    """Builds chargebox's MeterValues request of every MeterValues case (of that transaction, if given) afresh at
    each call, as code that samples a meter would, with the enum members resolved once beforehand, as that code
    would hold them."""
    import msgspec

    from chargebox.protocol.messages import (
        Measurand,
        MeterValue,
        MeterValuesRequest,
        MeterValuesUnitOfMeasure,
        Phase,
        ReadingContext,
        SampledValue,
    )

    samples = [
        (value, Measurand(measurand), MeterValuesUnitOfMeasure(unit), Phase(phase) if phase else msgspec.UNSET)
        for value, measurand, unit, phase in SAMPLES
    ]

    def build() -> MeterValuesRequest:
        return MeterValuesRequest(
            connector_id=1,
            transaction_id=msgspec.UNSET if transaction_id is None else transaction_id,
            meter_value=[
                MeterValue(
                    timestamp=METER_TIMESTAMP,
                    sampled_value=[
                        SampledValue(
                            value=value, context=ReadingContext.SAMPLE_PERIODIC, measurand=measurand, unit=unit,
                            phase=phase,
                        )
                        for value, measurand, unit, phase in samples
                    ],
                )
            ],
        )  # fmt: skip

    return build


# -- the raw central system ------------------------------------------------------------------------


@dataclass(slots=True)
class CsmsStats:
    connections: int = 0
    calls: int = 0


def make_handler(stats: CsmsStats, on_boot: Callable[[str, float], None] | None = None) -> Callable[[Any], Any]:
    """The connection handler: parse each CALL with orjson, answer the fixed payload, nothing else."""
    import orjson
    from websockets.exceptions import ConnectionClosed

    responses = RESPONSES
    loads, dumps = orjson.loads, orjson.dumps

    async def handler(ws: Any) -> None:
        stats.connections += 1
        path = ws.request.path if ws.request is not None else "/"
        try:
            while True:
                data = await ws.recv(decode=False)
                frame = loads(data)
                if frame[0] != 2:
                    continue
                action = frame[2]
                if on_boot is not None and action == "BootNotification":
                    on_boot(path.lstrip("/"), time.perf_counter())
                stats.calls += 1
                await ws.send(b"[3," + dumps(frame[1]) + b"," + responses.get(action, EMPTY) + b"]", text=True)
        except ConnectionClosed:
            pass

    return handler


async def start_csms(stats: CsmsStats, on_boot: Callable[[str, float], None] | None = None) -> Any:
    """Listen on 127.0.0.1, a free port; permessage-deflate is accepted when a client offers it."""
    from websockets.asyncio.server import serve

    return await serve(
        make_handler(stats, on_boot),
        HOST,
        0,
        subprotocols=[SUBPROTOCOL, SUBPROTOCOL_V201],  # type: ignore[list-item]
        compression="deflate",
        ping_interval=None,
        max_size=2**22,
        backlog=4096,
        server_header=None,
    )


def server_port(server: Any) -> int:
    return int(next(iter(server.sockets)).getsockname()[1])


def csms_process_main(conn: Connection) -> None:
    """Body of the central-system process: report the port, serve until told to stop."""
    raise_fd_limit(8192)
    asyncio.run(_csms_process(conn))


async def _csms_process(conn: Connection) -> None:
    stats = CsmsStats()
    server = await start_csms(stats)
    conn.send(server_port(server))
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    # A thread blocks on the pipe (no CPU) and wakes the loop when the parent says stop or goes away.
    threading.Thread(target=_wait_for_stop, args=(conn, loop, stop), daemon=True).start()
    await stop.wait()
    server.close()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(server.wait_closed(), 10)
    with contextlib.suppress(OSError):
        conn.send({"connections": stats.connections, "calls": stats.calls})


def _wait_for_stop(conn: Connection, loop: asyncio.AbstractEventLoop, stop: asyncio.Event) -> None:
    with contextlib.suppress(EOFError, OSError):
        conn.recv()
    loop.call_soon_threadsafe(stop.set)


@contextlib.contextmanager
def csms_process() -> Iterator[int]:
    """Run the raw central system in its own process for the duration of the block; yields its port."""
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=csms_process_main, args=(child,), name="bench-csms", daemon=True)
    proc.start()
    child.close()
    try:
        if not parent.poll(30):
            raise RuntimeError("the bench central system did not start within 30 s")
        yield int(parent.recv())
    finally:
        with contextlib.suppress(OSError):
            parent.send("stop")
        _reap(proc, 15)
        parent.close()


def run_worker(target: Callable[..., None], *args: Any, timeout: float) -> Any:
    """Run ``target(*args, conn)`` in a fresh (spawned) process and return what it sends back.

    A fresh interpreter per measurement keeps each process holding only what it measures. The worker
    is always reaped: terminated, then killed, if it overruns ``timeout``.
    """
    [value] = run_workers(target, [args], timeout=timeout)
    return value


def run_workers(target: Callable[..., None], calls: list[tuple[Any, ...]], *, timeout: float) -> list[Any]:
    """``run_worker`` for several at once: one fresh process per call, all started together (the processes of one
    fleet), and what each sends back, in order."""
    ctx = mp.get_context("spawn")
    started = []
    for args in calls:
        parent, child = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=_worker_entry, args=(target, args, child), name="bench-worker", daemon=True)
        proc.start()
        child.close()
        started.append((proc, parent))
    name = getattr(target, "__name__", target)
    deadline = time.monotonic() + timeout
    results = []
    try:
        for proc, parent in started:
            try:
                if not parent.poll(max(deadline - time.monotonic(), 0)):
                    raise TimeoutError(f"{name} gave no result within {timeout:.0f} s")
                status, value = parent.recv()
            except EOFError:
                raise RuntimeError(f"{name} died (exit code {proc.exitcode})") from None
            if status != "ok":
                raise RuntimeError(f"{name} failed: {value}")
            results.append(value)
    finally:
        for proc, parent in started:
            _reap(proc, 10)
            parent.close()
    return results


def _reap(proc: Any, grace: float) -> None:
    """Wait ``grace`` seconds for ``proc`` to end, then terminate it, then kill it: never leave one behind."""
    proc.join(grace)
    if proc.is_alive():
        proc.terminate()
        proc.join(5)
    if proc.is_alive():
        proc.kill()
        proc.join(5)


def _worker_entry(target: Callable[..., Any], args: tuple[Any, ...], conn: Connection) -> None:
    try:
        value = target(*args)
    except BaseException as exc:  # report, never hang the parent
        import traceback

        conn.send(("error", f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"))
    else:
        conn.send(("ok", value))
    finally:
        conn.close()


# -- small helpers ------------------------------------------------------------------------------


def rss_kib() -> float:
    """Resident set size of this process now (not the peak), from /proc/self/statm."""
    with open("/proc/self/statm") as f:
        resident_pages = int(f.read().split()[1])
    return resident_pages * os.sysconf("SC_PAGE_SIZE") / 1024


def raise_fd_limit(wanted: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        new = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))


def quiet_logging() -> None:
    import logging

    logging.basicConfig(level=logging.WARNING)
    for name in ("chargebox", "websockets", "ocpp", "asyncio"):
        logging.getLogger(name).setLevel(logging.WARNING)


def uvloop_installed() -> bool:
    """uvloop is the optional ``fast`` extra: a clean clone's ``make bench`` runs without it."""
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return False
    return True


def event_loop_runner(use_uvloop: bool) -> asyncio.Runner:
    if use_uvloop:
        import uvloop

        return asyncio.Runner(loop_factory=uvloop.new_event_loop)
    return asyncio.Runner()


def median(values: list[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2
