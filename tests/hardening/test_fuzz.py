"""Frame fuzzing of every action the station answers (checklist 1.4, T-11, T-15; docs/reliability.md).

Hypothesis builds frames from a schema-valid seed payload per CSMS-initiated action and mutates them (values
replaced by other JSON types, near-miss strings, boundary numbers, fields dropped and added, huge strings and
arrays, nesting up to and beyond ``codec.MAX_DEPTH`` and the interpreter's recursion limit), aims them at every
action (the ones the station answers, those of profiles it does not offer, charge-point-initiated and unknown
names), with message ids up to and over 36 characters, and adds frames that are no CALL at all: non-arrays,
answers to nothing, broken JSON, invalid UTF-8 and binary frames, bursts with duplicate ids.

The oracle reads what was generated, never the station's code:
1. the station never dies: ``rpc.receive`` never raises, and on loopback the run task stays alive;
2. every CALL the station can identify (an array, type 2, a string id, within the frame limits) gets exactly one
   CALLRESULT or CALLERROR with its id, the code one of checklist 1.4's table; a payload the official schema
   refuses never gets a CALLRESULT;
3. a CALL answered with a CALLERROR changes no row of any table of the store;
4. a burst of frames leaves the traced memory within ``BURST_MEMORY_BOUND``.

``CHARGEBOX_FUZZ_EXAMPLES=5000`` raises every test's example count (never lowers it).
"""

from __future__ import annotations

import asyncio
import copy
import functools
import gc
import json
import logging
import os
import re
import tracemalloc
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import jsonschema
import ocpp.v16
import pytest
from hypothesis import HealthCheck, assume, event, example, given, settings
from hypothesis import strategies as st

from chargebox.clock import VirtualClock
from chargebox.protocol import codec
from chargebox.protocol.messages import CHARGE_POINT_INITIATED, Action, ClearCacheResponse, ClearCacheStatus
from chargebox.station.kernel.uploads import LOG_RING
from chargebox.station.station import Station
from tests.interop.conftest import OcppCsms, StationRunner
from tests.wire import Wire, make_csms, make_station

CALL_ERROR_CODES: Final = frozenset(
    {
        "NotImplemented",
        "NotSupported",
        "InternalError",
        "ProtocolError",
        "SecurityError",
        "FormationViolation",
        "PropertyConstraintViolation",
        "OccurenceConstraintViolation",
        "TypeConstraintViolation",
        "GenericError",
    }
)  # checklist 1.4, in the 1.6 spelling
FUZZ_EXAMPLES: Final = int(os.environ.get("CHARGEBOX_FUZZ_EXAMPLES", "0"))
# Set by ``python -m tools.fuzz`` (with pytest's --hypothesis-seed): examples drawn at random from that seed.
FUZZ_SEED: Final = os.environ.get("CHARGEBOX_FUZZ_SEED")
BURST_FRAMES: Final = 2_000
# What a burst of BURST_FRAMES frames may leave behind in traced memory once its answers are read: caches that
# fill once (msgspec decoders, sqlite pages) are warmed by a first burst, so a leak of even ~250 bytes per frame
# shows.
BURST_MEMORY_BOUND: Final = 512 * 1024
FAR_FUTURE: Final = "2099-01-01T00:00:00Z"
# Transfers the fuzz may start go to a closed loopback port: refused at once, nothing leaves the machine.
NOWHERE: Final = "ftp://127.0.0.1:9/fuzz"
SCHEMAS_DIR: Final = Path(str(ocpp.v16.__file__)).parent / "schemas"
DATE_TIME: Final = jsonschema.FormatChecker(formats=("date-time",))

# One schema-valid payload per CSMS-initiated action: the base every mutation starts from.
SEEDS: Final[dict[str, dict[str, Any]]] = {
    "CancelReservation": {"reservationId": 1},
    "CertificateSigned": {"certificateChain": "-----BEGIN CERTIFICATE-----"},
    "ChangeAvailability": {"connectorId": 1, "type": "Inoperative"},
    "ChangeConfiguration": {"key": "HeartbeatInterval", "value": "60"},
    "ClearCache": {},
    "ClearChargingProfile": {"id": 1, "connectorId": 1, "chargingProfilePurpose": "TxProfile", "stackLevel": 0},
    "DataTransfer": {"vendorId": "com.example", "messageId": "m", "data": "d"},
    "DeleteCertificate": {
        "certificateHashData": {
            "hashAlgorithm": "SHA256",
            "issuerNameHash": "a",
            "issuerKeyHash": "b",
            "serialNumber": "c",
        }
    },
    "ExtendedTriggerMessage": {"requestedMessage": "Heartbeat", "connectorId": 1},
    "GetCompositeSchedule": {"connectorId": 1, "duration": 60, "chargingRateUnit": "W"},
    "GetConfiguration": {"key": ["HeartbeatInterval", "NoSuchKey"]},
    "GetDiagnostics": {
        "location": NOWHERE,
        "retries": 1,
        "retryInterval": 60,
        "startTime": "2025-01-01T00:00:00Z",
        "stopTime": FAR_FUTURE,
    },
    "GetInstalledCertificateIds": {"certificateType": "CentralSystemRootCertificate"},
    "GetLocalListVersion": {},
    "GetLog": {"logType": "DiagnosticsLog", "requestId": 1, "log": {"remoteLocation": NOWHERE}},
    "InstallCertificate": {"certificateType": "CentralSystemRootCertificate", "certificate": "x"},
    "RemoteStartTransaction": {"idTag": "TAG1", "connectorId": 1},
    "RemoteStopTransaction": {"transactionId": 1},
    "ReserveNow": {"connectorId": 1, "expiryDate": FAR_FUTURE, "idTag": "TAG1", "reservationId": 1},
    "Reset": {"type": "Soft"},
    "SendLocalList": {
        "listVersion": 1,
        "updateType": "Full",
        "localAuthorizationList": [{"idTag": "TAG1", "idTagInfo": {"status": "Accepted"}}],
    },
    "SetChargingProfile": {
        "connectorId": 1,
        "csChargingProfiles": {
            "chargingProfileId": 1,
            "stackLevel": 0,
            "chargingProfilePurpose": "TxDefaultProfile",
            "chargingProfileKind": "Absolute",
            "chargingSchedule": {"chargingRateUnit": "A", "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16}]},
        },
    },
    "SignedUpdateFirmware": {
        "requestId": 1,
        "firmware": {"location": NOWHERE, "retrieveDateTime": FAR_FUTURE, "signingCertificate": "c", "signature": "s"},
    },
    "TriggerMessage": {"requestedMessage": "StatusNotification", "connectorId": 1},
    "UnlockConnector": {"connectorId": 1},
    "UpdateFirmware": {"location": NOWHERE, "retrieveDate": FAR_FUTURE, "retries": 1},
}
# The Core profile's actions, which every station answers (checklist 3.1): drawn more often.
CORE_ACTIONS: Final = (
    *("ChangeAvailability", "ChangeConfiguration", "ClearCache", "DataTransfer", "GetConfiguration"),
    *("RemoteStartTransaction", "RemoteStopTransaction", "Reset", "UnlockConnector"),
)
ACTIONS: Final = sorted([*SEEDS, *(a.value for a in CHARGE_POINT_INITIATED), "FooBar", "heartbeat", "Reset ", ""])


def fuzz(examples: int) -> settings:
    """Deterministic in CI (no database, derandomized); CHARGEBOX_FUZZ_EXAMPLES raises the count and
    CHARGEBOX_FUZZ_SEED draws at random (``python -m tools.fuzz``). Fixtures are shared by the examples of a test
    on purpose (they hold no state; each example builds its station)."""
    return settings(
        max_examples=max(examples, FUZZ_EXAMPLES),
        deadline=None,
        derandomize=FUZZ_SEED is None,
        database=None,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.large_base_example,
            HealthCheck.function_scoped_fixture,
        ],
    )


# --- what is generated -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Deep:
    """A value nested ``levels`` deep, written as text: ``json`` itself would recurse past its limit."""

    levels: int
    kind: str  # "array", "object", or "unclosed" (broken: openers only)

    def text(self) -> str:
        if self.kind == "array":
            return "[" * self.levels + "]" * self.levels
        if self.kind == "object":
            return '{"a":' * self.levels + "0" + "}" * self.levels
        return "[" * self.levels


@dataclass(frozen=True, slots=True)
class Sent:
    """One generated frame and what the oracle knows of it from its construction."""

    data: str | bytes
    message_id: str | None = None  # set for a CALL the station can identify (type 2, string id)
    action: object = None
    elements: int = 0
    schema_valid: bool = False
    within_limits: bool = True
    id_in_head: bool = False  # the id is plain text at the frame's head: found even in a frame not decoded


plain_ids = st.text(st.characters(exclude_categories=["Cs"]), max_size=36)
ids = st.one_of(
    plain_ids,
    plain_ids,
    plain_ids,
    plain_ids,
    st.text(st.characters(exclude_categories=["Cs"]), min_size=37, max_size=80),  # T-11: over 36
    st.sampled_from(["1", "x" * 36, "x" * 37, "é" * 36, 'a"b', "a\\b", " "]),
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from([-1, 0, 2**31, 2**63, -(2**63) - 1, 10**40, 1.0, 0.1, 1e308, -0.0]),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=8,
)
huge = st.one_of(
    st.integers(21, 2_000).map(lambda n: "x" * n),  # past every maxLength (20 to 500 in 1.6)
    st.integers(60_000, 70_000).map(lambda n: "x" * n),  # near and past the frame limit (64 KiB)
    st.integers(100, 20_000).map(lambda n: [0] * n),
    st.integers(100, 5_000).map(lambda n: ["k"] * n),
)
levels = st.integers(2, 40) | st.integers(900, 1_500)  # around MAX_DEPTH (32), and the recursion limit (1,000)
deep = st.builds(Deep, levels, st.sampled_from(["array", "object"]))


def near_misses(value: object) -> st.SearchStrategy[object]:
    """Values next to a valid one: another case, padding, empty, the number as a string, a neighbour."""
    if isinstance(value, str):
        return st.sampled_from([value.lower(), value.upper(), value + " ", "", value * 2, value[:-1]])
    if isinstance(value, bool) or not isinstance(value, int):
        return st.nothing()
    return st.sampled_from([value - 1, value + 1, -value, str(value), float(value), value * 2**40])


@st.composite
def payloads(draw: st.DrawFn, action: str, seeds: dict[str, dict[str, Any]] = SEEDS) -> object:
    payload: object = copy.deepcopy(seeds.get(action, {}))
    for _ in range(draw(st.integers(0, 3))):
        payload = mutate(draw, payload)
    return payload


def mutate(draw: st.DrawFn, payload: object) -> object:
    paths = list(walk(payload))
    path = draw(st.sampled_from(paths))
    target = get(payload, path)
    op = draw(st.sampled_from(["replace"] * 3 + ["near"] * 3 + ["drop"] * 2 + ["add"] * 2 + ["huge", "deep", "whole"]))
    if op == "whole":
        return draw(st.one_of(json_values.filter(lambda v: not isinstance(v, dict)), huge, deep))
    if op == "add" or not path:
        container = target if isinstance(target, dict) else get(payload, path[:-1])
        if isinstance(container, dict):
            container[draw(st.text(max_size=20))] = draw(st.one_of(json_values, deep))
        return payload
    parent, key = get(payload, path[:-1]), path[-1]
    if op == "drop":
        if isinstance(parent, dict):
            del parent[key]
        elif isinstance(parent, list):
            parent.pop(key)
        return payload
    strategy = {"replace": json_values, "near": near_misses(target), "huge": huge, "deep": deep}[op]
    parent[key] = draw(strategy | json_values)
    return payload


def walk(value: object, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield path
    if isinstance(value, dict):
        for key, item in value.items():
            yield from walk(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value[:3]):
            yield from walk(item, (*path, index))


def get(value: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        value = value[key]
    return value


def encode(value: object, *, ascii_only: bool) -> str:
    """JSON text of ``value``, each ``Deep`` written in place as its text."""
    deeps: list[Deep] = []

    def placeholder(item: object) -> str:
        assert isinstance(item, Deep)
        deeps.append(item)
        return f"\x00deep{len(deeps) - 1}\x00"

    text = json.dumps(value, ensure_ascii=ascii_only, default=placeholder)
    for index, item in enumerate(deeps):
        text = text.replace(json.dumps(f"\x00deep{index}\x00"), item.text(), 1)
    return text


def depth(value: object) -> int:
    if isinstance(value, Deep):
        return value.levels
    if isinstance(value, dict):
        return 1 + max((depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((depth(v) for v in value), default=0)
    return 0


@st.composite
def calls(
    draw: st.DrawFn,
    message_ids: st.SearchStrategy[str] = ids,
    *,
    actions: st.SearchStrategy[str] | None = None,
    seeds: dict[str, dict[str, Any]] = SEEDS,
    valid: Callable[[str, object], bool] | None = None,
) -> Sent:
    """A CALL frame: [2, id, action, payload], sometimes one element short or long, or a non-string action. By
    default 1.6's; a 2.0.1 fuzz gives its ``actions``, ``seeds`` and schema check (``valid``)."""
    if actions is None:
        actions = st.sampled_from(ACTIONS) | st.sampled_from(sorted(SEEDS)) | st.sampled_from(CORE_ACTIONS)
    action: object = draw(actions)
    payload = draw(payloads(str(action), seeds))
    message_id = draw(message_ids)
    frame: list[object] = [2, message_id, action, payload]
    shape = draw(st.sampled_from(["call"] * 16 + ["short", "no action", "long", "action type"]))
    if shape == "short":
        frame = frame[:3]
    elif shape == "no action":
        frame = frame[:2]
    elif shape == "long":
        frame.append(draw(json_values))
    elif shape == "action type":
        frame[2] = action = draw(json_values.filter(lambda v: not isinstance(v, str)))
    ascii_only = draw(st.booleans())
    text = encode(frame, ascii_only=ascii_only)
    id_text = json.dumps(message_id, ensure_ascii=ascii_only)[1:-1].encode()
    return Sent(
        data=text.encode() if draw(st.booleans()) else text,  # a binary WebSocket frame is bytes
        message_id=message_id,
        action=action,
        elements=len(frame),
        schema_valid=depth(payload) < 30 and (valid or schema_valid)(str(action), payload),
        within_limits=len(text.encode()) <= codec.MAX_FRAME_SIZE and depth(frame) <= codec.MAX_DEPTH,
        id_in_head=re.fullmatch(rb'[^"\\]{1,36}', id_text) is not None,
    )


@st.composite
def not_calls(draw: st.DrawFn, message_ids: st.SearchStrategy[str] = ids) -> Sent:
    """Frames that are no CALL the station can identify: no answer, or FormationViolation for a recovered id."""
    action, payload = draw(st.sampled_from(ACTIONS)), draw(payloads("GetConfiguration"))
    valid = encode([2, draw(message_ids), action, payload], ascii_only=True)
    kind = draw(st.sampled_from(["json", "array", "answer", "truncated", "binary", "text", "bad utf-8", "deep"]))
    if kind == "json":
        return Sent(encode(draw(json_values.filter(lambda v: not isinstance(v, list))), ascii_only=False))
    if kind == "array":
        other_heads = json_values.filter(lambda v: not (type(v) is int and v == 2))  # 2 would make a CALL
        head = draw(st.one_of(st.sampled_from([0, 1, 5, -2, 2.0, "2", True, None, 2**70]), other_heads))
        return Sent(encode([head, *draw(st.lists(json_values, max_size=4))], ascii_only=False))
    if kind == "answer":  # T-15: a CALLRESULT or CALLERROR to a CALL never made
        frame = draw(
            st.sampled_from(
                [
                    [3, draw(message_ids), draw(json_values)],
                    [4, draw(message_ids), "GenericError", "", {}],
                    [4, draw(message_ids), 1],
                    [2, 7],
                ]
            )
        )
        return Sent(encode(frame, ascii_only=True))
    if kind == "truncated":
        return Sent(valid[: draw(st.integers(0, max(len(valid) - 1, 0)))])
    if kind == "binary":
        return Sent(draw(st.binary(max_size=200)))
    if kind == "text":
        return Sent(draw(st.text(max_size=200)))
    if kind == "bad utf-8":  # invalid bytes (or a lone surrogate) somewhere in a CALL
        raw = valid.encode()
        at = draw(st.integers(0, len(raw)))
        if draw(st.booleans()):
            return Sent(raw[:at] + draw(st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xf8\x88"])) + raw[at:])
        return Sent(valid[:at] + "\udc80" + valid[at:])
    return Sent(draw(st.builds(Deep, levels, st.just("unclosed")) | deep).text())


@functools.cache
def validator(action: str) -> jsonschema.Draft4Validator:
    schema = json.loads((SCHEMAS_DIR / f"{action}.json").read_text(encoding="utf-8"))
    return jsonschema.Draft4Validator(schema, format_checker=DATE_TIME)


def schema_valid(action: str, payload: object) -> bool:
    """The official schema's verdict; a name that is no CSMS-initiated action has none to pass."""
    return action in SEEDS and validator(action).is_valid(payload)


# --- the oracle ------------------------------------------------------------------------------------------

RESULT_OR_ERROR: Final = "a CALLRESULT or any CALLERROR"
ANY_ERROR: Final = "any CALLERROR"
KNOWN_ACTIONS: Final = frozenset(a.value for a in Action)


def expected(sent: Sent, answered: frozenset[str]) -> str | None:
    """The answer ``sent`` must get: a CALLERROR code, RESULT_OR_ERROR, ANY_ERROR, or None (no answer)."""
    if sent.message_id is None:
        return None
    if not sent.within_limits:  # 1.4, T-15: only the head of a frame too big or too deep is read
        return "FormationViolation" if sent.id_in_head else None
    if len(sent.message_id) > codec.MAX_MESSAGE_ID_LENGTH:  # T-11
        return "FormationViolation"
    if sent.elements < 4:
        return "ProtocolError"
    if sent.elements > 4 or not isinstance(sent.action, str):
        return "FormationViolation"
    if sent.action not in KNOWN_ACTIONS:
        return "NotImplemented"
    if sent.action not in answered:
        return "NotSupported"
    return RESULT_OR_ERROR if sent.schema_valid else ANY_ERROR


def check(sent: Sent, answers: list[list[Any]], answered: frozenset[str]) -> None:
    """Invariant 2 for one frame fed alone: exactly the answer ``expected`` says, codes from the 1.4 table."""
    assert all(a[0] == 3 or a[2] in CALL_ERROR_CODES for a in answers), answers
    want = expected(sent, answered)
    if sent.message_id is None:  # not identifiable: dropped, or FormationViolation for an id found in the head
        assert len(answers) <= 1 and all(a[:1] == [4] and a[2] == "FormationViolation" for a in answers), answers
        return
    if want is None:
        assert answers == []
        return
    assert len(answers) == 1 and answers[0][1] == sent.message_id, answers
    if want == ANY_ERROR:
        assert answers[0][0] == 4, f"schema-invalid payload got a CALLRESULT: {answers[0]}"
    elif want != RESULT_OR_ERROR:
        assert answers[0][0] == 4 and answers[0][2] == want, answers


def snapshot(station: Station) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table of the store."""
    tables = [row[0] for row in station.store.query("SELECT name FROM sqlite_master WHERE type = 'table'")]
    return {str(t): sorted(station.store.query(f'SELECT * FROM "{t}"'), key=repr) for t in tables}


# --- the harness -----------------------------------------------------------------------------------------


@asynccontextmanager
async def fresh_wire() -> AsyncIterator[Wire]:
    """A booted station and the built-in central system, in memory, new for each example (~2 ms)."""
    clock = VirtualClock()
    wire = Wire(make_station(clock), make_csms(clock), clock)
    await wire.connect()
    try:
        yield wire
    finally:
        await wire.stop()
        await wire.station.stop()


async def feed(wire: Wire, *frames: str | bytes) -> list[list[Any]]:
    """Hand ``frames`` to the station back to back (invariant 1: ``receive`` never raises), let it settle,
    and return every CALLRESULT and CALLERROR it wrote meanwhile."""
    start = len(wire.frames)
    for data in frames:
        await wire.station.rpc.receive(data)
    await wire.clock.advance(0)
    return [f for d, f in wire.frames[start:] if d == ">" and f[:1] in ([3], [4])]


async def still_serving(wire: Wire) -> None:
    answer = await feed(wire, '[2,"still-serving","GetConfiguration",{"key":["HeartbeatInterval"]}]')
    assert answer[0][:2] == [3, "still-serving"], answer


@pytest.fixture
def quiet_logs() -> Iterator[None]:
    """Frame logging on, so every frame goes through ``redact`` as under ``-v``, but no record kept: thousands
    of frames of up to 70 KB would cost more time and memory than the fuzzing itself. The station's WARNINGs
    about rejected frames (each with its frame) are dropped too."""
    frames, station = logging.getLogger("chargebox.frames"), logging.getLogger("chargebox")
    saved = frames.level, station.level
    frames.setLevel(logging.DEBUG)
    frames.addFilter(_drop)  # after redact ran: Rpc redacts a frame before it logs it
    station.setLevel(logging.ERROR)
    yield
    frames.removeFilter(_drop)
    frames.setLevel(saved[0])
    station.setLevel(saved[1])


def _drop(_record: logging.LogRecord) -> bool:
    return False


# --- the tests -------------------------------------------------------------------------------------------


async def test_1_4_every_action_the_station_answers_has_a_schema_valid_seed_it_accepts() -> None:
    async with fresh_wire() as wire:
        answered = sorted(wire.station.rpc.handlers)
        assert set(answered) <= set(SEEDS)  # a new handler needs its seed here, or the fuzz would miss it
        for action in answered:
            assert schema_valid(action, SEEDS[action]), action
            answer = await feed(wire, json.dumps([2, f"seed-{action}", action, SEEDS[action]]))
            assert answer[0][:2] == [3, f"seed-{action}"], answer


async def fed_alone(sent: Sent) -> list[Any]:
    """Feed one frame to a fresh station; check its answers (invariant 2), that a CALLERROR changed no row
    (invariant 3) and that the station still serves (invariant 1). Returns the answers."""
    async with fresh_wire() as wire:
        before = snapshot(wire.station)
        answers = await feed(wire, sent.data)
        check(sent, answers, frozenset(wire.station.rpc.handlers))
        if not answers or answers[0][0] == 4:
            assert snapshot(wire.station) == before
        await still_serving(wire)
    return answers


@fuzz(400)
@given(sent=calls())
async def test_1_4_every_identified_call_gets_one_answer_and_a_rejected_one_changes_nothing(
    quiet_logs: None, sent: Sent
) -> None:
    answers = await fed_alone(sent)
    event(f"answer: {answers[0][2] if answers[0][0] == 4 else 'CALLRESULT'}" if answers else "no answer")


@fuzz(300)
@given(sent=not_calls())
@example(sent=Sent(b'[2,"\xff","Foo",{}]'))
@example(sent=Sent(b'[2,"ok","DataTransfer",{"vendorId":"\xff"}]'))
@example(sent=Sent('[2,"ok","DataTransfer",{"vendorId":"\udc80"}]'))
@example(sent=Sent(b'[2,"ok","\xff",{}]'))
@example(sent=Sent('[2,"\udc80","Foo",{}]'))
@example(sent=Sent(b'[2,"\xff","Foo",' + b"[" * 100))
async def test_T_15_frames_that_are_no_call_are_dropped_or_formation_violation_and_change_nothing(
    quiet_logs: None, sent: Sent
) -> None:
    answers = await fed_alone(sent)
    assert not any(answer[0] == 3 for answer in answers)


@fuzz(60)
@given(
    burst=st.lists(
        st.one_of(calls(st.sampled_from(["a", "b", "c"])), not_calls(st.sampled_from(["n", "m"]))),
        min_size=2,
        max_size=40,
    )
)
async def test_1_4_burst_answers_each_identified_call_once_even_with_duplicate_ids(
    quiet_logs: None, burst: list[Sent]
) -> None:
    async with fresh_wire() as wire:
        answered = frozenset(wire.station.rpc.handlers)
        answers = await feed(wire, *(sent.data for sent in burst))
        await still_serving(wire)
        assert all(a[0] == 3 or a[2] in CALL_ERROR_CODES for a in answers), answers
        # CALLs use ids a, b and c; the frames that are no CALL, n and m (answered at most once each)
        due = Counter(s.message_id for s in burst if expected(s, answered) is not None)
        assert Counter(a[1] for a in answers if a[1] in ("a", "b", "c")) == due
        assert sum(1 for a in answers if a[1] in ("n", "m")) <= sum(1 for s in burst if s.message_id is None)


async def test_1_4_duplicate_id_of_a_call_in_progress_keeps_it_in_progress(quiet_logs: None) -> None:
    """GenericError answers a duplicate without forgetting the first CALL: a third frame with that id is one too,
    and the first still gets its own answer."""
    async with fresh_wire() as wire:
        release = asyncio.Event()

        async def slow(_request: object) -> ClearCacheResponse:
            await release.wait()
            return ClearCacheResponse(status=ClearCacheStatus.ACCEPTED)

        wire.station.rpc.handlers[Action.CLEAR_CACHE] = slow
        frame = '[2,"dup","ClearCache",{}]'
        answers = await feed(wire, frame, frame, frame)
        release.set()
        answers += await feed(wire)
        assert [a[:3] for a in answers] == [
            [4, "dup", "GenericError"],
            [4, "dup", "GenericError"],
            [3, "dup", {"status": "Accepted"}],
        ]


@pytest.mark.parametrize("kind", ["array", "object", "unclosed"])
async def test_1_4_deep_call_with_frame_logging_on_is_formation_violation(
    caplog: pytest.LogCaptureFixture, kind: str
) -> None:
    """Frame logging redacts each frame before the codec reads it; 1,000 levels must not reach ``json``."""
    caplog.set_level(logging.DEBUG, "chargebox.frames")
    async with fresh_wire() as wire:
        answers = await feed(wire, f'[2,"deep-1","DataTransfer",{Deep(1_000, kind).text()}]')
        assert [a[:3] for a in answers] == [[4, "deep-1", "FormationViolation"]]
        await still_serving(wire)
    assert any("deep-1" in record.getMessage() for record in caplog.records if record.name == "chargebox.frames")


def burst_frames(round_: int) -> list[str | bytes]:
    """BURST_FRAMES frames of every kind, each CALL with an id of its own."""
    kinds: list[str | bytes] = [
        '[2,"{id}","GetConfiguration",{{"key":["HeartbeatInterval"]}}]',
        '[2,"{id}","ChangeConfiguration",{{"key":"HeartbeatInterval","value":"{n}"}}]',
        '[2,"{id}","ChangeAvailability",{{"connectorId":"one","type":"Inoperative"}}]',
        '[2,"{id}","SetChargingProfile",{{}}]',
        '[2,"{id}","FooBar",{{}}]',
        '[2,"{id}","DataTransfer",{{"vendorId":"' + "v" * 300 + '"}}]',
        '[2,"{id}","DataTransfer",' + Deep(1_000, "array").text().replace("[", "[[", 1).replace("]", "]]", 1) + "]",
        '[2,"{id}","DataTransfer",{{"vendorId":"v","data":"' + "x" * codec.MAX_FRAME_SIZE + '"}}]',
        '[3,"{id}",{{}}]',
        "{{}}",
        '[2,"{id}","Foo',
    ]
    frames: list[str | bytes] = []
    for n in range(BURST_FRAMES):
        template = kinds[n % len(kinds)]
        assert isinstance(template, str)
        frames.append(template.format(id=f"r{round_}-{n}", n=n % 50 + 10))
    frames[::97] = [b'[2,"x","\xff",{}]\xff'] * len(frames[::97])
    return frames


async def burst_growth(wire: Wire) -> int:
    """Bytes of traced memory a burst of BURST_FRAMES frames leaves behind, after a first burst warmed every
    cache that fills once."""
    await feed(wire, *burst_frames(0))
    wire.frames.clear()
    gc.collect()
    tracemalloc.start()
    try:
        baseline = tracemalloc.get_traced_memory()[0]
        answers = await feed(wire, *burst_frames(1))
        assert len(answers) > BURST_FRAMES // 2
        del answers
        wire.frames.clear()
        gc.collect()
        return tracemalloc.get_traced_memory()[0] - baseline
    finally:
        tracemalloc.stop()


async def test_burst_of_frames_leaves_memory_bounded(quiet_logs: None) -> None:
    async with fresh_wire() as wire:
        grown = await burst_growth(wire)
        assert grown < BURST_MEMORY_BOUND, f"{grown} bytes left after a burst of {BURST_FRAMES} frames"
        await still_serving(wire)


@pytest.fixture
def cli_logging() -> Iterator[None]:
    """Logging as ``chargebox run`` sets it up without ``-v`` (INFO), every handler pytest installed muted: the
    station's own handlers alone decide what is kept."""
    station = logging.getLogger("chargebox")
    saved = station.level
    station.setLevel(logging.INFO)
    pytest_handlers = [*logging.getLogger().handlers, *logging.getLogger("chargebox.frames").handlers]
    for handler in pytest_handlers:
        handler.addFilter(_drop)
    yield
    for handler in pytest_handlers:
        handler.removeFilter(_drop)
    station.setLevel(saved)


async def test_burst_of_rejected_frames_under_cli_logging_leaves_memory_bounded(
    cli_logging: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The warnings of rejected frames are excerpts, and the records kept for the diagnostics archive are
    bounded in bytes: once that bound is reached, a burst adds nothing (here the bound is made small)."""
    monkeypatch.setattr(LOG_RING, "max_bytes", 64 * 1024)
    async with fresh_wire() as wire:
        grown = await burst_growth(wire)
        assert grown < BURST_MEMORY_BOUND, f"{grown} bytes left after a burst of {BURST_FRAMES} frames"


# --- on a real loopback WebSocket ------------------------------------------------------------------------


@pytest.fixture
async def loopback() -> AsyncIterator[tuple[OcppCsms, Station, asyncio.Task[None]]]:
    """The ``ocpp`` library's central system and a running station joined by a loopback WebSocket."""
    csms = OcppCsms()
    await csms.start()
    runner = StationRunner(csms.url)
    station = runner()
    await csms.wait_booted(connectors=2)
    yield csms, station, runner.task(station)
    await runner.close()
    await csms.stop()


@fuzz(40)
@given(sent=st.one_of(calls(), not_calls()))
async def test_1_4_running_station_on_loopback_answers_fuzzed_frames_and_stays_up(
    quiet_logs: None, loopback: tuple[OcppCsms, Station, asyncio.Task[None]], sent: Sent
) -> None:
    csms, station, task = loopback
    assume(sent.action != "Reset" or not sent.schema_valid)  # a Reset that is valid reboots: not a failure
    assume(isinstance(sent.data, bytes) or sent.data.encode("utf-8", "ignore").decode() == sent.data)  # a text
    # frame is UTF-8 on the wire: a lone surrogate cannot be sent (the Wire tests feed those to rpc.receive)
    start = len(csms.frames.frames)
    await csms.sessions[-1].ws.send(sent.data)
    probe = f"probe-{start}"
    await csms.raw(f'[2,"{probe}","GetConfiguration",{{"key":["HeartbeatInterval"]}}]', probe)
    answers = [
        f.data
        for f in csms.frames.frames[start:]
        if isinstance(f.data, list) and f.data[:1] in ([3], [4]) and f.data[1] != probe
    ]
    check(sent, answers, frozenset(station.rpc.handlers))
    assert not task.done()
    assert len(csms.sessions) == 1  # the same connection: nothing was bad enough to drop it
