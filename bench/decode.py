"""Decode + validate one CALL frame, as the central-system side receives it: 1.6 MeterValues, and for OCPP 2.0.1
a TransactionEvent with meter values and a MeterValues.

The frame is a text frame, so both stacks get ``str`` from websockets; each pipeline runs in a tight
loop (``timeit``), best of several repeats, in a fresh process.
"""

from __future__ import annotations

import asyncio
import functools
import time
import timeit
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

V201_FRAMES: tuple[str, ...] = ("TransactionEvent", "MeterValues")
"""The 2.0.1 frames measured, by action: ``decode_worker_v201`` returns their results in this order."""


@dataclass(frozen=True, slots=True)
class DecodeResult:
    case: str
    us_per_frame: float
    note: str = ""


def frame_text(message_id: str = "19223201") -> str:
    from bench.common import meter_values_payload

    return _frame(message_id, "MeterValues", meter_values_payload())


def frame_text_v201(action: str, message_id: str = "19223201") -> str:
    from bench.common import meter_values_v201_payload, transaction_event_v201_payload

    payloads = {"TransactionEvent": transaction_event_v201_payload, "MeterValues": meter_values_v201_payload}
    return _frame(message_id, action, payloads[action]())


def decode_worker(number: int, repeat: int) -> list[DecodeResult]:
    """Body of the decode process: every pipeline on the same 1.6 MeterValues frame."""
    results = _pipelines(frame_text, "1.6", number, repeat)
    ocpp_number = max(number // 20, 50)
    results.append(_ocpp_as_run(ocpp_number * repeat))
    return results


def decode_worker_v201(number: int, repeat: int) -> list[list[DecodeResult]]:
    """Body of the 2.0.1 decode process: for each of ``V201_FRAMES``, every pipeline on that frame."""
    return [_pipelines(functools.partial(frame_text_v201, action), "2.0.1", number, repeat) for action in V201_FRAMES]


def _pipelines(frame: Callable[..., str], version: str, number: int, repeat: int) -> list[DecodeResult]:
    """The orjson floor first, then chargebox's codec and Connection, then the ocpp library inline."""
    text = frame()
    results = [
        DecodeResult("orjson.loads, no validation (floor)", _best(_orjson_case(text), number, repeat)),
        DecodeResult(
            "chargebox codec.decode_frame + decode_payload", _best(_chargebox_codec_case(text, version), number, repeat)
        ),
        DecodeResult(
            "chargebox Connection.receive (+ CALL bookkeeping)",
            _best(_chargebox_connection_case(frame, version, number * repeat), number, repeat),
        ),
    ]
    ocpp_number = max(number // 20, 50)
    results.append(
        DecodeResult(
            "ocpp unpack + jsonschema validation (inline)", _best(_ocpp_sync_case(text, version), ocpp_number, repeat)
        )
    )
    return results


def _frame(message_id: str, action: str, payload: dict[str, Any]) -> str:
    import orjson

    return orjson.dumps([2, message_id, action, payload]).decode()


def _best(fn: Callable[[], object], number: int, repeat: int) -> float:
    fn()  # warm caches (validators, decoders)
    return min(timeit.repeat(fn, number=number, repeat=repeat)) / number * 1e6


def _dialect(version: str) -> Any:
    from chargebox.protocol.dialect import dialect_for

    return dialect_for(f"ocpp{version}")


def _orjson_case(text: str) -> Callable[[], object]:
    import orjson

    loads = orjson.loads
    return lambda: loads(text)


def _chargebox_codec_case(text: str, version: str) -> Callable[[], object]:
    from chargebox.protocol import codec

    dialect = _dialect(version)
    requests, errors = dialect.requests, dialect.errors
    by_name = dialect.actions_by_name
    decode_frame, decode_payload = codec.decode_frame, codec.decode_payload

    def run() -> object:
        frame = decode_frame(text, errors=errors)
        assert isinstance(frame, codec.RawCall)
        return decode_payload(frame.payload, requests[by_name[frame.action]], errors)

    return run


def _chargebox_connection_case(frame: Callable[..., str], version: str, count: int) -> Callable[[], object]:
    """``Connection.receive`` refuses a second CALL with an id still in progress, so ids differ
    and each CALL is dropped after it is received (as an answer would)."""
    from chargebox.protocol.connection import CallReceived, Connection

    frames = iter([frame(f"id-{i}") for i in range(count + 10)])
    conn: Connection[Any] = Connection(_dialect(version))

    def run() -> object:
        events = conn.receive(next(frames), 0.0)
        event = events[0]
        if not isinstance(event, CallReceived):
            raise RuntimeError(f"frame rejected: {event}")
        conn.drop(event.message_id)
        return event

    return run


def _ocpp_sync_case(text: str, version: str) -> Callable[[], object]:
    from ocpp.messages import _validate_payload, unpack

    def run() -> object:
        message = unpack(text)
        _validate_payload(message, version)
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
