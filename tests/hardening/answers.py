"""Fuzzing the answers of a central system: every CALLRESULT a station may receive, at the edges of its schema.

The rig of the CALLRESULT tests in ``test_fuzz_answers.py`` and of ``python -m tools.fuzz`` (docs/reliability.md,
"Values from the wire"). A station (simulated hardware, in-memory store, virtual clock) is joined in memory to
``AnswerCsms``, a central system that answers each CALL with a valid payload, except for one ``Plan``: the first
``times`` answers to its ``target`` action are its ``payload``, built from the official schema of that response
at its edges (integers from -2^63 - 1 to 10^40, dates in years 1 and 9999, strings empty and past their maxLength,
enums in other cases and unknown) or mutated as the CALL fuzzing does (other types, fields dropped and added, huge
and deep values). ``run(plan)`` has the station send every action it can (``scenario``), then makes the central
system answer validly again (healing), runs a charging session once more and returns what happened; ``check``
is the oracle, which reads the plan and the official schemas, not the station's code:

1. nothing crashes: ``rpc.receive`` never raises, and nothing is logged with a traceback;
2. no journaled message is lost: each is delivered or in the dead letters, with its content, and after the
   healing none is waiting (nothing blocks the lane);
3. no resend storm: no journaled message is sent more than TransactionMessageAttempts times;
4. an answer the schema accepts is applied: the message it answers is delivered at once, and a transactionId
   answered so (2^63 - 1, -2^63, 0 ...) is the one the StopTransaction carries; an answer the schema refuses is a
   failed attempt (Q-4): the message goes again, or to the dead letters, never counted delivered;
5. the station still serves: its boot is accepted after the healing and it answers a CALL.

``currentTime`` (BootNotification.conf, Heartbeat.conf) is left at the central system's time: a clock window for
absurd times is another change's; it is still mutated to other types and dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import functools
import itertools
import json
import logging
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Final

import jsonschema
from hypothesis import strategies as st

from chargebox.clock import VirtualClock
from chargebox.protocol import codec
from chargebox.protocol.messages import CHARGE_POINT_INITIATED, RegistrationStatus
from chargebox.sim.simulator import Simulator
from chargebox.station.kernel.lane import UNDELIVERABLE
from chargebox.station.station import Station
from tests.hardening.test_fuzz import DATE_TIME, SCHEMAS_DIR, depth, encode, mutate
from tests.wire import make_station

TARGETS: Final = sorted(action.value for action in CHARGE_POINT_INITIATED)  # every CALLRESULT a station receives
JOURNALED: Final = frozenset({"StartTransaction", "StopTransaction", "MeterValues", "SecurityEventNotification"})

ATTEMPTS: Final = 3  # TransactionMessageAttempts
RETRY: Final = 10  # TransactionMessageRetryInterval: 10 s, then 20 s
MESSAGE_TIMEOUT: Final = 30  # the Rpc's call timeout: an answer the station cannot read times the CALL out
ID_TAG: Final = "TAG-FUZZ"
CONFIG: Final = {
    "SupportedFeatureProfiles": "Core,FirmwareManagement,LocalAuthListManagement,Reservation,SmartCharging,"
    "RemoteTrigger",
    "MeterValueSampleInterval": "10",
    "TransactionMessageAttempts": str(ATTEMPTS),
    "TransactionMessageRetryInterval": str(RETRY),
    "CpoName": "Fuzz CPO",
}
KEPT: Final = frozenset({"currentTime"})  # left at the central system's time (see the module docstring)
INTEGER_EDGES: Final = (0, -1, 1, 2**31 - 1, 2**31, 2**53 + 1, 2**63 - 1, -(2**63), 2**63, -(2**63) - 1, 10**40)
NUMBER_EDGES: Final = (0.0, -1.0, 0.1, 1e308, -1e308, 5e-324)
DATE_EDGES: Final = (
    "0001-01-01T00:00:00Z",
    "0001-01-01T00:00:00+14:00",
    "1970-01-01T00:00:00Z",
    "9999-12-31T23:59:59Z",
    "9999-12-31T23:59:59.999999Z",
    "9999-12-31T23:59:59.9999999Z",  # rounds past year 9999 (messages.py refuses it)
    "9999-12-31T23:59:59-12:00",
    "2026-02-30T00:00:00Z",
    "2026-01-01T00:00:00",  # no offset
)
# A date-time as RFC 3339 writes it, with at most microseconds: what msgspec and the schema read alike.
_PLAIN_DATE_TIME: Final = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?(Z|[+-]\d\d:\d\d)$")


# --- what is generated -----------------------------------------------------------------------------------


def seed(action: str) -> dict[str, Any]:
    """A valid answer to ``action`` holding every optional field, so that every place a mutation can go is there."""
    info = {"status": "Accepted", "expiryDate": "2030-01-01T00:00:00Z", "parentIdTag": "PARENT-1"}
    return copy.deepcopy(
        {
            "Authorize": {"idTagInfo": info},
            "BootNotification": {"currentTime": "2026-01-01T00:00:00Z", "interval": 300, "status": "Accepted"},
            "DataTransfer": {"status": "Accepted", "data": "d"},
            "Heartbeat": {"currentTime": "2026-01-01T00:00:00Z"},
            "SignCertificate": {"status": "Accepted"},
            "StartTransaction": {"transactionId": 1, "idTagInfo": info},
            "StopTransaction": {"idTagInfo": info},
        }.get(action, {})
    )


@functools.cache
def response_schema(action: str) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads((SCHEMAS_DIR / f"{action}Response.json").read_text(encoding="utf-8"))
    return schema


def sites(
    schema: dict[str, Any], value: Any, root: dict[str, Any], path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], Any]]:
    """(path, schema) of every property present in ``value``; ``root`` holds the definitions a "$ref" names."""
    for name, sub in schema.get("properties", {}).items():
        if "$ref" in sub:
            sub = root["definitions"][sub["$ref"].removeprefix("#/definitions/")]
        if isinstance(value, dict) and name in value:
            yield (*path, name), sub
            yield from sites(sub, value[name], root, (*path, name))


@functools.cache
def edge_sites(action: str) -> tuple[tuple[tuple[str, ...], tuple[object, ...]], ...]:
    """Every value of the seed answer that has edges, with them: (path, edge values)."""
    schema = response_schema(action)
    found = ((path, tuple(edges(path[-1], sub))) for path, sub in sites(schema, seed(action), schema))
    return tuple((path, values) for path, values in found if values)


def edges(name: str, schema: dict[str, Any]) -> list[object]:
    """The values at the edges of a property's schema, valid and just not (none for an object: the mutations of
    the CALL fuzzing drop and add its fields)."""
    kind = schema.get("type")
    if "enum" in schema:
        values: list[str] = schema["enum"]
        return [*values, *(v.lower() for v in values), *(v.upper() for v in values), f"{values[0]} ", "", "Unknown"]
    if kind == "integer":
        return list(INTEGER_EDGES)
    if kind == "number":
        return list(NUMBER_EDGES)
    if kind == "string" and schema.get("format") == "date-time":
        return [] if name in KEPT else list(DATE_EDGES)
    if kind == "string":
        longest = int(schema.get("maxLength", 60_000))
        return ["", "x" * longest, "x" * (longest + 1), "é" * longest, " " * min(longest, 20), "\x00", "\ud7ff"]
    return []


def with_value(payload: object, path: tuple[str, ...], value: object) -> object:
    """``payload`` with ``value`` at ``path``, if the path is still there (an earlier edit may have dropped it)."""
    parent = payload
    for key in path[:-1]:
        if not isinstance(parent, dict) or not isinstance(parent.get(key), dict):
            return payload
        parent = parent[key]
    if isinstance(parent, dict):
        parent[path[-1]] = value
    return payload


@dataclass(frozen=True, slots=True)
class Plan:
    """The first ``times`` answers to ``target`` are ``payload``; every other answer is valid."""

    target: str
    payload: object
    times: int


@st.composite
def answer_payloads(
    draw: st.DrawFn,
    action: str,
    seed_of: Callable[[str], dict[str, Any]] = seed,
    sites_of: Callable[[str], tuple[tuple[tuple[str, ...], tuple[object, ...]], ...]] = edge_sites,
) -> object:
    """An answer to ``action``: its seed with one to three values at their schema's edges, or mutated (1.6's seeds
    and sites by default; a 2.0.1 fuzz gives its own)."""
    payload: object = seed_of(action)
    for _ in range(draw(st.integers(1, 3))):
        if sites_of(action) and draw(st.integers(0, 9)) < 7:
            path, values = draw(st.sampled_from(sites_of(action)))
            payload = with_value(payload, path, draw(st.sampled_from(values)))
        else:
            payload = mutate(draw, payload)
    return payload


def plans(targets: st.SearchStrategy[str] | None = None) -> st.SearchStrategy[Plan]:
    return (st.sampled_from(TARGETS) if targets is None else targets).flatmap(
        lambda target: st.builds(Plan, st.just(target), answer_payloads(target), st.integers(1, ATTEMPTS + 1))
    )


# --- the oracle's reading of an answer -------------------------------------------------------------------

VALID, INVALID, EITHER = "valid", "invalid", "either"


def verdict(action: str, payload: object, schema: jsonschema.protocols.Validator | None = None) -> str:
    """What the station must make of an answer, from the official schema (1.6's, or ``schema``): VALID (applied),
    INVALID (a failed attempt), or EITHER where messages.py documents a deviation (a date-time msgspec reads
    otherwise)."""
    check = schema or jsonschema.Draft4Validator(response_schema(action), format_checker=DATE_TIME)
    if not isinstance(payload, dict) or not check.is_valid(payload):
        return INVALID
    if any(isinstance(v, int) and not isinstance(v, bool) and not -(2**63) <= v < 2**63 for v in _leaves(payload)):
        return INVALID  # messages.py: integers beyond 64 bits are refused, a documented deviation
    if any(isinstance(v, str) and _looks_like_date(v) and not _PLAIN_DATE_TIME.match(v) for v in _leaves(payload)):
        return EITHER
    return VALID


def _looks_like_date(text: str) -> bool:
    return len(text) >= 19 and text[4:5] == "-" and text[10:11] in ("T", "t", " ")


def _leaves(value: object) -> Iterator[object]:
    if isinstance(value, dict):
        for item in value.values():
            yield from _leaves(item)
    elif isinstance(value, list):
        for item in value:
            yield from _leaves(item)
    else:
        yield value


# --- the central system and the run ----------------------------------------------------------------------


@dataclass
class Exchange:
    """One CALL of the station and what the central system answered."""

    action: str
    request: dict[str, Any]
    answer: object
    fuzzed: bool
    unreadable: bool  # the answer's frame is past the frame limits: the station cannot read it (T-15)

    @property
    def journaled(self) -> bool:
        """A transaction message or a security event (Q-1, Q-8); a MeterValues only with its transactionId (a
        triggered one is not journaled)."""
        return self.action in JOURNALED and (self.action != "MeterValues" or "transactionId" in self.request)


@dataclass
class AnswerCsms:
    """Answers the station's CALLs (the plan's payload for its target, else valid), sends it CALLs, records all."""

    station: Station
    clock: VirtualClock
    plan: Plan
    healed: bool = False
    exchanges: list[Exchange] = field(default_factory=list)
    replies: dict[str, list[Any]] = field(default_factory=dict)  # the station's answers to our CALLs, by id
    crashes: list[BaseException] = field(default_factory=list)
    _fuzzed: int = 0
    _transaction_ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    _to_station: asyncio.Queue[str] = field(default_factory=asyncio.Queue)
    _pump: asyncio.Task[None] | None = None
    _calls: Iterator[int] = field(default_factory=itertools.count)

    async def connect(self) -> None:
        self.station.rpc.attach(self._received)
        self._pump = asyncio.ensure_future(self._feed())
        await self.station._on_open()
        await self.clock.advance(0)

    async def close(self) -> None:
        if self._pump is not None:
            self._pump.cancel()
        self.station.rpc.reset()
        await self.station.stop()

    async def call(self, action: str, payload: dict[str, Any]) -> list[Any] | None:
        """A CALL to the station; its answer, if it gave one."""
        message_id = f"csms-{next(self._calls)}"
        self._to_station.put_nowait(json.dumps([2, message_id, action, payload]))
        await self.clock.advance(0)
        return self.replies.get(message_id)

    async def _received(self, data: bytes) -> None:
        frame = json.loads(data)
        if frame[0] == 2:
            action, request = frame[2], frame[3]
            fuzzed = action == self.plan.target and not self.healed and self._fuzzed < self.plan.times
            self._fuzzed += fuzzed
            answer = self.plan.payload if fuzzed else self._valid(action)
            text = encode([3, frame[1], answer], ascii_only=False)
            unreadable = (
                len(text.encode("utf-8", "surrogatepass")) > codec.MAX_FRAME_SIZE or depth(answer) >= codec.MAX_DEPTH
            )
            self.exchanges.append(Exchange(action, request, answer, fuzzed, unreadable))
            self._to_station.put_nowait(text)
        else:
            self.replies[frame[1]] = frame

    def _valid(self, action: str) -> dict[str, Any]:
        answer = seed(action)
        if "currentTime" in answer:
            answer["currentTime"] = self.clock.now().isoformat()
        if action == "StartTransaction":
            answer["transactionId"] = next(self._transaction_ids)
        return answer

    async def _feed(self) -> None:
        while True:
            data = await self._to_station.get()
            try:
                await self.station.rpc.receive(data)
            except Exception as exc:  # invariant 1: never
                self.crashes.append(exc)


@dataclass
class Run:
    """What a run left, read before the station stopped."""

    plan: Plan
    exchanges: list[Exchange]
    crashes: list[BaseException]
    tracebacks: list[logging.LogRecord]
    journaled: int  # messages ever put in the outbox
    delivered: int
    pending: int
    dead_letters: list[tuple[str, Any]]  # (action, payload as journaled)
    accepted: bool
    served: bool


async def run(plan: Plan) -> Run:
    """The scenario with the plan's answers, then healed: valid answers, a boot accepted, a session more."""
    clock = VirtualClock()
    station = make_station(clock, connectors=1, ocpp_config=dict(CONFIG), signed_firmware_only=True)
    csms = AnswerCsms(station, clock, plan)
    with _tracebacks() as tracebacks:
        try:
            await csms.connect()
            await _settle(clock, 60)
            if station.boot.registration is RegistrationStatus.ACCEPTED:
                await scenario(csms)
            csms.healed = True
            await _heal(csms)
            await session(csms)
            await _settle(clock, 4 * RETRY * ATTEMPTS)
            await station.store.idle()
            reply = await csms.call("GetConfiguration", {"key": ["HeartbeatInterval"]})
            journaled = station.store.query("SELECT seq FROM sqlite_sequence WHERE name = 'outbox'")
            return Run(
                plan=plan,
                exchanges=csms.exchanges,
                crashes=csms.crashes,
                tracebacks=list(tracebacks),
                journaled=int(journaled[0][0]) if journaled else 0,
                delivered=station.lane.delivered,
                pending=station.lane.pending(),
                dead_letters=[(d.action, json.loads(d.payload)) for d in station.store.dead_letters.all()],
                accepted=station.boot.registration is RegistrationStatus.ACCEPTED,
                served=reply is not None and reply[0] == 3,
            )
        finally:
            await csms.close()


async def scenario(csms: AnswerCsms) -> None:
    """Has the station send every action it sends, each at least once (``TARGETS``)."""
    station, clock = csms.station, csms.clock
    for message in (
        "Heartbeat",
        "StatusNotification",
        "DiagnosticsStatusNotification",
        "FirmwareStatusNotification",
        "MeterValues",
    ):
        await csms.call("TriggerMessage", {"requestedMessage": message, "connectorId": 1})
    for message in ("LogStatusNotification", "FirmwareStatusNotification", "SignChargePointCertificate"):
        await csms.call("ExtendedTriggerMessage", {"requestedMessage": message})
    transfer = asyncio.ensure_future(station.data_transfer.send_data_transfer("com.example.fuzz", "m", "d"))
    station.security.report("InvalidFirmwareSignature", "fuzz")
    await _settle(clock, 2 * MESSAGE_TIMEOUT)  # answered, or timed out
    assert transfer.done()
    await session(csms)
    await _settle(clock, 4 * RETRY * ATTEMPTS)


async def session(csms: AnswerCsms) -> None:
    """Plug, card, charge 25 s (MeterValues every 10 s), card again, unplug. Each step runs while the clock moves:
    a card waits for its Authorize, which may wait for a CALL the central system's answer timed out."""
    sim = Simulator(csms.station)
    for step, seconds in ((sim.plug(1), 1), (sim.swipe(ID_TAG, 1), 25), (sim.swipe(ID_TAG, 1), 5), (sim.unplug(1), 5)):
        task = asyncio.ensure_future(step)
        await _settle(csms.clock, seconds)
        if not task.done():
            await _settle(csms.clock, 2 * MESSAGE_TIMEOUT)
        assert task.done(), "a hardware event still waits after two MessageTimeouts"
        task.result()


async def _heal(csms: AnswerCsms) -> None:
    """Get the boot accepted: the station boots again once the interval of a Pending or Rejected answer has passed
    (B-5, B-6), up to 2^31 - 1 s (boot.MAX_INTERVAL); with no transaction running, the clock jumps there at once."""
    for jump in (61, 301, 86_401, 2**31):
        if csms.station.boot.registration is RegistrationStatus.ACCEPTED:
            return
        await csms.clock.advance(jump)
    assert csms.station.boot.registration is RegistrationStatus.ACCEPTED, csms.station.boot.registration


async def _settle(clock: VirtualClock, seconds: float) -> None:
    await clock.advance(seconds)


class _Tracebacks(logging.Handler):
    """Keeps every record logged with a traceback."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info is not None:
            self.records.append(record)


@contextlib.contextmanager
def _tracebacks() -> Iterator[list[logging.LogRecord]]:
    """Every record logged with a traceback under ``chargebox`` while it is open."""
    handler = _Tracebacks()
    logging.getLogger("chargebox").addHandler(handler)
    try:
        yield handler.records
    finally:
        logging.getLogger("chargebox").removeHandler(handler)


# --- the oracle ------------------------------------------------------------------------------------------


def check(result: Run) -> None:
    """The five invariants of the module docstring."""
    assert not result.crashes, result.crashes  # 1
    assert not result.tracebacks, [r.getMessage() for r in result.tracebacks]  # 1
    assert result.pending == 0  # 2: nothing waits
    assert result.delivered + len(result.dead_letters) == result.journaled, result  # 2: none lost
    journaled = [e for e in result.exchanges if e.journaled]
    sends = Counter(_key(e) for e in journaled)
    unread = Counter(_key(e) for e in journaled if e.unreadable)
    assert all(n <= ATTEMPTS + unread[key] for key, n in sends.items()), sends.most_common(2)  # 3
    _check_answers_applied(result)  # 4
    _check_transaction_ids(result.exchanges)  # 4
    assert result.served and result.accepted  # 5


def _key(exchange: Exchange) -> tuple[str, str]:
    return exchange.action, json.dumps(exchange.request, sort_keys=True)


def _same(journaled: dict[str, Any], sent: dict[str, Any]) -> bool:
    """A dead letter is the message as journaled: its transactionId is filled in only when it is sent."""
    return {**journaled, "transactionId": None} == {**sent, "transactionId": None}


def _check_answers_applied(result: Run) -> None:
    """Invariant 4 for the journaled messages the plan answered."""
    target, exchanges, dead = result.plan.target, result.exchanges, result.dead_letters
    if target not in JOURNALED:
        return
    for index, exchange in enumerate(exchanges):
        if not exchange.fuzzed or not exchange.journaled:
            continue
        again = any(_key(e) == _key(exchange) for e in exchanges[index + 1 :])
        judged = verdict(target, exchange.answer)
        if judged == VALID:
            assert not again, f"{target} sent again after the valid answer {exchange.answer!r}"
        elif judged == INVALID:
            moved = any(action == target and _same(payload, exchange.request) for action, payload in dead)
            assert again or moved, f"{target} counted delivered on the invalid answer {exchange.answer!r}"


def _check_transaction_ids(exchanges: list[Exchange]) -> None:
    """X-4: the later messages of a transaction carry the transactionId its StartTransaction was answered, or -1
    if no answer was applied (the StartTransaction went to the dead letters)."""
    start: tuple[str, str] | None = None
    applied: object = None
    for exchange in exchanges:
        if exchange.action == "StartTransaction":
            if _key(exchange) != start:
                start, applied = _key(exchange), None
            judged = verdict("StartTransaction", exchange.answer)
            if judged == VALID and isinstance(exchange.answer, dict):
                applied = exchange.answer["transactionId"]
            elif judged == EITHER:
                applied = EITHER
        elif start is not None and "transactionId" in exchange.request and applied != EITHER:
            want = UNDELIVERABLE if applied is None else applied
            assert exchange.request["transactionId"] == want, (exchange.action, exchange.request, want)
