"""Decode + validate one MeterValues CALL frame, as the central-system side receives it.

The frame is a text frame, so both stacks get ``str`` from websockets; each pipeline runs in a tight
loop (``timeit``), best of several repeats, in a fresh process.
"""

from __future__ import annotations

import asyncio
import time
import timeit
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class DecodeResult:
    case: str
    us_per_frame: float
    note: str = ""


def frame_text(message_id: str = "19223201") -> str:
    import orjson

    from bench.common import meter_values_payload

    return orjson.dumps([2, message_id, "MeterValues", meter_values_payload()]).decode()


def decode_worker(number: int, repeat: int) -> list[DecodeResult]:
    """Body of the decode process: every pipeline on the same frame."""
    results = [
        DecodeResult("orjson.loads, no validation (floor)", _best(_orjson_case(), number, repeat)),
        DecodeResult("chargebox codec.decode_frame + decode_payload", _best(_chargebox_codec_case(), number, repeat)),
        DecodeResult(
            "chargebox Connection.receive (+ CALL bookkeeping)",
            _best(_chargebox_connection_case(number * repeat), number, repeat),
        ),
    ]
    ocpp_number = max(number // 20, 50)
    results.append(
        DecodeResult("ocpp unpack + jsonschema validation (inline)", _best(_ocpp_sync_case(), ocpp_number, repeat))
    )
    results.append(_ocpp_as_run(ocpp_number * repeat))
    return results


def _best(fn: Callable[[], object], number: int, repeat: int) -> float:
    fn()  # warm caches (validators, decoders)
    return min(timeit.repeat(fn, number=number, repeat=repeat)) / number * 1e6


def _orjson_case() -> Callable[[], object]:
    import orjson

    text = frame_text()
    loads = orjson.loads
    return lambda: loads(text)


def _chargebox_codec_case() -> Callable[[], object]:
    from chargebox.protocol import codec
    from chargebox.protocol.messages import REQUESTS, Action

    text = frame_text()
    decode_frame, decode_payload = codec.decode_frame, codec.decode_payload

    def run() -> object:
        frame = decode_frame(text)
        assert isinstance(frame, codec.RawCall)
        return decode_payload(frame.payload, REQUESTS[Action(frame.action)])

    return run


def _chargebox_connection_case(count: int) -> Callable[[], object]:
    """``Connection.receive`` refuses a second CALL with an id still in progress, so ids differ
    and each CALL is dropped after it is received (as an answer would)."""
    from chargebox.protocol.connection import CallReceived, Connection

    frames = iter([frame_text(f"id-{i}") for i in range(count + 10)])
    conn = Connection()

    def run() -> object:
        events = conn.receive(next(frames), 0.0)
        event = events[0]
        if not isinstance(event, CallReceived):
            raise RuntimeError(f"frame rejected: {event}")
        conn.drop(event.message_id)
        return event

    return run


def _ocpp_sync_case() -> Callable[[], object]:
    from ocpp.messages import _validate_payload, unpack

    text = frame_text()

    def run() -> object:
        message = unpack(text)
        _validate_payload(message, "1.6")
        return message

    return run


def _ocpp_as_run(count: int) -> DecodeResult:
    """What ``ChargePoint.route_message`` does before calling a handler: unpack, ``await validate_payload``
    (which hops to the default thread pool), then the regex snake_case conversion of every key."""
    from ocpp.charge_point import camel_to_snake_case
    from ocpp.messages import unpack, validate_payload

    text = frame_text()

    async def run() -> tuple[float, float]:
        message = unpack(text)
        await validate_payload(message, "1.6")  # warm the validator and the pool
        w0, c0 = time.perf_counter(), time.process_time()
        for _ in range(count):
            message = unpack(text)
            await validate_payload(message, "1.6")
            camel_to_snake_case(message.payload)
        return (time.perf_counter() - w0) / count * 1e6, (time.process_time() - c0) / count * 1e6

    wall, cpu = asyncio.run(run())
    return DecodeResult("ocpp as ChargePoint runs it (thread-pool hop + snake_case)", wall, f"{cpu:.0f} µs CPU")
