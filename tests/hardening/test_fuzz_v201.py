"""Fuzzing a 2.0.1 station's frames and answers as ``test_fuzz.py`` and ``test_fuzz_answers.py`` fuzz 1.6's
(docs/reliability.md, "Frame fuzzing" and "Values from the wire").

CALLs: Hypothesis mutates a schema-valid seed payload per CSMS-initiated action (the mutations of ``test_fuzz.py``) and
aims it at every 2.0.1 action and unknown names, with ids up to and over 36 characters and frames one element short or
long; frames that are no CALL come from ``test_fuzz.not_calls``. The oracle reads the generated frame and the official
2.0.1 schemas: every CALL the station can identify gets one answer with its id, the code Part 4 names where the frame
says which (Part 4's spelling: FormatViolation, OccurrenceConstraintViolation, RpcFrameworkError; never 1.6's
FormationViolation), a payload the schema refuses never a CALLRESULT, and a CALLERROR changes no row of the store.

CALLRESULTs: the rig of ``answers.py`` with a 2.0.1 station: the first answers to one station-initiated action are
its valid answer with values at the edges of the 2.0.1 response schema, or mutated; then the central system heals.
Nothing crashes or logs a traceback, no journaled message (TransactionEvent, SecurityEventNotification) is lost or
left waiting, an invalid answer to one is a failed attempt (E13.FR.02), and the station still serves.

``CHARGEBOX_FUZZ_EXAMPLES=5000`` raises every example count, as for 1.6.
"""

from __future__ import annotations

import asyncio
import copy
import functools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import jsonschema
import ocpp.v201
import pytest
from hypothesis import event, example, given
from hypothesis import strategies as st

from chargebox.clock import VirtualClock
from chargebox.protocol import codec
from chargebox.protocol.errors import OCPP201_CALL_ERRORS
from chargebox.protocol.v201 import messages as m
from chargebox.station.v201.boot import BootService
from chargebox.station.v201.security_events import SecurityEventsService
from tests.hardening import answers
from tests.hardening.answers import (
    DATE_TIME,
    INVALID,
    AnswerCsms,
    Exchange,
    Plan,
    Run,
    _settle,
    _tracebacks,
    answer_payloads,
    edges,
    session,
    sites,
    with_value,
)
from tests.hardening.test_fuzz import (
    ANY_ERROR,
    FAR_FUTURE,
    NOWHERE,
    RESULT_OR_ERROR,
    Sent,
    fuzz,
    not_calls,
    quiet_logs,
    snapshot,
)
from tests.hardening.test_fuzz import calls as fuzz_calls
from tests.wire import Wire, make_csms, make_station

__all__ = ["quiet_logs"]  # the fixture

SCHEMAS: Final = Path(str(ocpp.v201.__file__)).parent / "schemas"
CODES: Final = frozenset(code.value for code in OCPP201_CALL_ERRORS.codes)  # Part 4's, in 2.0.1's spelling
TOKEN: Final = {"idToken": "TAG1", "type": "ISO14443"}
COMPONENT: Final = {"name": "OCPPCommCtrlr"}
HEARTBEAT: Final = {"name": "HeartbeatInterval"}

# One schema-valid request per CSMS-initiated action a 2.0.1 station answers, or may soon (the local list).
SEEDS: Final[dict[str, dict[str, Any]]] = {
    "CertificateSigned": {
        "certificateChain": "-----BEGIN CERTIFICATE-----",
        "certificateType": "ChargingStationCertificate",
    },
    "ChangeAvailability": {"operationalStatus": "Inoperative", "evse": {"id": 1}},
    "ClearCache": {},
    "CustomerInformation": {"requestId": 1, "report": True, "clear": False, "idToken": TOKEN},
    "DataTransfer": {"vendorId": "com.example", "messageId": "m", "data": "d"},
    "DeleteCertificate": {
        "certificateHashData": {
            "hashAlgorithm": "SHA256",
            "issuerNameHash": "a",
            "issuerKeyHash": "b",
            "serialNumber": "c",
        }
    },
    "GetBaseReport": {"requestId": 1, "reportBase": "FullInventory"},
    "GetInstalledCertificateIds": {"certificateType": ["CSMSRootCertificate"]},
    "GetLocalListVersion": {},
    "GetLog": {"logType": "DiagnosticsLog", "requestId": 1, "log": {"remoteLocation": NOWHERE}},
    "GetReport": {"requestId": 1, "componentVariable": [{"component": COMPONENT, "variable": HEARTBEAT}]},
    "GetTransactionStatus": {},
    "GetVariables": {"getVariableData": [{"component": COMPONENT, "variable": HEARTBEAT}]},
    "InstallCertificate": {"certificateType": "CSMSRootCertificate", "certificate": "x"},
    "RequestStartTransaction": {"idToken": TOKEN, "remoteStartId": 1, "evseId": 1},
    "RequestStopTransaction": {"transactionId": "tx-1"},
    "Reset": {"type": "OnIdle"},
    "SendLocalList": {
        "versionNumber": 1,
        "updateType": "Full",
        "localAuthorizationList": [{"idToken": TOKEN, "idTokenInfo": {"status": "Accepted"}}],
    },
    "SetNetworkProfile": {
        "configurationSlot": 1,
        "connectionData": {
            "ocppVersion": "OCPP20",
            "ocppTransport": "JSON",
            "ocppCsmsUrl": "ws://127.0.0.1:9/",
            "messageTimeout": 30,
            "securityProfile": 1,
            "ocppInterface": "Wired0",
        },
    },
    "SetVariables": {"setVariableData": [{"component": COMPONENT, "variable": HEARTBEAT, "attributeValue": "60"}]},
    "TriggerMessage": {"requestedMessage": "StatusNotification", "evse": {"id": 1, "connectorId": 1}},
    "UnlockConnector": {"evseId": 1, "connectorId": 1},
    "UpdateFirmware": {
        "requestId": 1,
        "firmware": {"location": NOWHERE, "retrieveDateTime": FAR_FUTURE, "signingCertificate": "c", "signature": "s"},
    },
}
KNOWN_ACTIONS: Final = frozenset(action.value for action in m.Action)
ACTIONS: Final = sorted([*SEEDS, *(a.value for a in m.CHARGING_STATION_INITIATED), "FooBar", "reset", "Reset ", ""])


# --- CALLs -----------------------------------------------------------------------------------------------


@functools.cache
def validator(name: str) -> jsonschema.protocols.Validator:
    schema = json.loads((SCHEMAS / f"{name}.json").read_text(encoding="utf-8"))
    return jsonschema.validators.validator_for(schema)(schema, format_checker=DATE_TIME)


def schema_valid(action: str, payload: object) -> bool:
    return action in SEEDS and validator(f"{action}Request").is_valid(payload)


def calls() -> st.SearchStrategy[Sent]:
    """A 2.0.1 CALL frame, mutated as ``test_fuzz.calls`` mutates 1.6's."""
    return fuzz_calls(
        actions=st.sampled_from(ACTIONS) | st.sampled_from(sorted(SEEDS)), seeds=SEEDS, valid=schema_valid
    )


def expected(sent: Sent, answered: frozenset[str]) -> tuple[str, str] | str:
    """Part 4's answer to ``sent`` (docs/topics/ocpp201.md, "CALLERROR rules per version"): (message id, code), or
    RESULT_OR_ERROR, ANY_ERROR for a CALL whose payload decides."""
    assert sent.message_id is not None
    if not sent.within_limits:  # only the head is read: the id found there, or -1 (Part 4 4.2.3)
        return (sent.message_id, "FormatViolation") if sent.id_in_head else ("-1", "RpcFrameworkError")
    if len(sent.message_id) > codec.MAX_MESSAGE_ID_LENGTH or sent.elements != 4 or not isinstance(sent.action, str):
        return sent.message_id, "RpcFrameworkError"  # Part 4 4.3: not a valid RPC request
    if sent.action not in KNOWN_ACTIONS:
        return sent.message_id, "NotImplemented"
    if sent.action not in answered:
        return sent.message_id, "NotSupported"
    return RESULT_OR_ERROR if sent.schema_valid else ANY_ERROR


async def fed_alone(sent: Sent) -> list[list[Any]]:
    """One frame to a fresh booted 2.0.1 station in memory: its answers, checked for codes and for rows changed."""
    clock = VirtualClock()
    wire = Wire(make_station(clock, ocpp="2.0.1", connectors=1), make_csms(clock), clock)
    await wire.connect()
    try:
        before = snapshot(wire.station)
        start = len(wire.frames)
        await wire.station.rpc.receive(sent.data)  # never raises
        await clock.advance(0)
        answers = [f for d, f in wire.frames[start:] if d == ">" and f[:1] in ([3], [4])]
        assert all(a[0] == 3 or a[2] in CODES for a in answers), answers
        if not answers or answers[0][0] == 4:
            assert snapshot(wire.station) == before, "a refused frame changed the store"
        probe = await wire.inject('[2,"probe","GetVariables",{"getVariableData":[{"component":{"name":"OCPPCommCtrlr"},'
                                  '"variable":{"name":"HeartbeatInterval"}}]}]')  # fmt: skip
        assert probe[:2] == [3, "probe"], probe
        return answers
    finally:
        await wire.stop()
        await wire.station.stop()


async def test_every_action_a_2_0_1_station_answers_has_a_schema_valid_seed_it_accepts() -> None:
    clock = VirtualClock()
    wire = Wire(make_station(clock, ocpp="2.0.1", connectors=1), make_csms(clock), clock)
    await wire.connect()
    try:
        answered = sorted(action.value for action in wire.station.rpc.handlers)
        assert set(answered) <= set(SEEDS), "a new handler needs its seed in SEEDS, or the fuzz would miss it"
        for action in answered:
            assert schema_valid(action, SEEDS[action]), action
            answer = await wire.inject(json.dumps([2, f"seed-{action}", action, SEEDS[action]]))
            assert answer[:2] == [3, f"seed-{action}"], answer
    finally:
        await wire.stop()
        await wire.station.stop()


@fuzz(200)
@given(sent=calls())
@example(sent=Sent('[2,"a","Reset",{"type":"Immediate","x":1}]', "a", "Reset", 4, False))
@example(sent=Sent('[2,"a","Reset"]', "a", "Reset", 3, False))
async def test_every_identified_2_0_1_call_gets_part_4s_answer_and_a_refused_one_changes_nothing(
    quiet_logs: None, sent: Sent
) -> None:
    answers = await fed_alone(sent)
    want = expected(sent, frozenset(SEEDS))
    assert len(answers) == 1, answers
    if isinstance(want, tuple):
        assert answers[0][:3] == [4, *want], answers
    else:
        assert answers[0][1] == sent.message_id, answers
        if want == ANY_ERROR:
            assert answers[0][0] == 4, f"schema-invalid payload got a CALLRESULT: {answers[0]}"
    assert "FormationViolation" not in json.dumps(answers)  # 1.6's spelling, never 2.0.1's
    event(f"answer: {answers[0][2] if answers[0][0] == 4 else 'CALLRESULT'}")


@fuzz(150)
@given(sent=not_calls())
async def test_2_0_1_frames_that_are_no_call_get_no_callresult_and_change_nothing(quiet_logs: None, sent: Sent) -> None:
    answers = await fed_alone(sent)
    assert len(answers) <= 1 and all(a[0] == 4 for a in answers), answers  # dropped, or one CALLERROR (Part 4)


# --- CALLRESULTs -----------------------------------------------------------------------------------------

JOURNALED: Final = frozenset({"TransactionEvent", "SecurityEventNotification"})
ATTEMPTS: Final = 3  # OCPPCommCtrlr.MessageAttempts
RETRY: Final = 10  # OCPPCommCtrlr.MessageAttemptInterval
MESSAGE_TIMEOUT: Final = 30
CARD: Final = "TAG-FUZZ"
ENTRIES: Final = [
    {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": name, "instance": "TransactionEvent"}, "value": value}
    for name, value in (("MessageAttempts", str(ATTEMPTS)), ("MessageAttemptInterval", str(RETRY)))
] + [
    {"component": {"name": "SampledDataCtrlr"}, "variable": {"name": "TxUpdatedInterval"}, "value": "10"},
    {"component": {"name": "SecurityCtrlr"}, "variable": {"name": "OrganizationName"}, "value": "Fuzz CPO"},  # A02
]


def answer_seed(action: str) -> dict[str, Any]:
    """A valid answer to ``action`` with its optional fields where the station reads them."""
    info = {"status": "Accepted", "cacheExpiryDateTime": "2030-01-01T00:00:00Z", "chargingPriority": 0,
            "language1": "en", "groupIdToken": {"idToken": "GROUP", "type": "Central"},
            "personalMessage": {"format": "ASCII", "content": "hi"}}  # fmt: skip
    return copy.deepcopy(
        {
            "Authorize": {"idTokenInfo": info},
            "BootNotification": {"currentTime": "2026-01-01T00:00:00Z", "interval": 300, "status": "Accepted"},
            "DataTransfer": {"status": "Accepted", "data": "d"},
            "Heartbeat": {"currentTime": "2026-01-01T00:00:00Z"},
            "SignCertificate": {"status": "Accepted"},
            "TransactionEvent": {
                "idTokenInfo": info,
                "totalCost": 1.5,
                "chargingPriority": 0,
                "updatedPersonalMessage": {"format": "UTF8", "content": "hi"},
            },
        }.get(action, {})
    )


@functools.cache
def edge_sites(action: str) -> tuple[tuple[tuple[str, ...], tuple[object, ...]], ...]:
    schema = json.loads((SCHEMAS / f"{action}Response.json").read_text(encoding="utf-8"))
    found = ((path, tuple(edges(path[-1], sub))) for path, sub in sites(schema, answer_seed(action), schema))
    return tuple((path, values) for path, values in found if values)


def verdict(action: str, payload: object) -> str:
    """``answers.verdict`` with the 2.0.1 response schema."""
    return answers.verdict(action, payload, validator(f"{action}Response"))


class AnswerCsms201(AnswerCsms):
    """``AnswerCsms``'s central system answering 2.0.1's station-initiated messages."""

    def _valid(self, action: str) -> dict[str, Any]:
        answer = answer_seed(action)
        if "currentTime" in answer:
            answer["currentTime"] = self.clock.now().isoformat()
        return answer


async def run(plan: Plan) -> Run:
    """Every station-initiated message the scenario makes, the plan's answers, then healed and a session more."""
    clock = VirtualClock()
    station = make_station(clock, ocpp="2.0.1", connectors=1, ocpp_config=ENTRIES)
    csms = AnswerCsms201(station, clock, plan)
    boot = station.features.need(BootService)
    with _tracebacks() as tracebacks:
        try:
            await csms.connect()
            await _settle(clock, 60)
            if boot.accepted:
                await scenario(csms)
            csms.healed = True
            for jump in (61, 301, 86_401, 2**31):  # B02/B03: the next boot after a Pending or Rejected's interval
                if boot.accepted:
                    break
                await clock.advance(jump)
            await session(csms)
            await _settle(clock, 4 * RETRY * ATTEMPTS)
            await station.store.idle()
            reply = await csms.call("GetVariables", SEEDS["GetVariables"])
            journaled = station.store.query("SELECT seq FROM sqlite_sequence WHERE name = 'outbox'")
            return Run(
                plan=plan, exchanges=csms.exchanges, crashes=csms.crashes, tracebacks=list(tracebacks),
                journaled=int(journaled[0][0]) if journaled else 0, delivered=station.lane.delivered,
                pending=station.lane.pending(),
                dead_letters=[(d.action, json.loads(d.payload)) for d in station.store.dead_letters.all()],
                accepted=boot.accepted, served=reply is not None and reply[0] == 3,
            )  # fmt: skip
        finally:
            await csms.close()


async def scenario(csms: AnswerCsms) -> None:
    """Has the station send what it sends: triggered messages, a report, customer data, a transfer, a log upload to
    nowhere, a security event, a DataTransfer of its own, and a charging session."""
    station, clock = csms.station, csms.clock
    for message in ("Heartbeat", "StatusNotification", "SignChargingStationCertificate", "LogStatusNotification",
                    "FirmwareStatusNotification"):  # fmt: skip
        await csms.call("TriggerMessage", {"requestedMessage": message, "evse": {"id": 1, "connectorId": 1}})
    await csms.call("GetBaseReport", SEEDS["GetBaseReport"])
    await csms.call("CustomerInformation", SEEDS["CustomerInformation"])
    await csms.call("GetLog", SEEDS["GetLog"])
    transfer = asyncio.ensure_future(station.data_transfer.send_data_transfer("com.example.fuzz", "m", "d"))
    station.features.need(SecurityEventsService).report("InvalidFirmwareSignature", "fuzz")
    await _settle(clock, 2 * MESSAGE_TIMEOUT)
    assert transfer.done()
    await session(csms)
    await _settle(clock, 4 * RETRY * ATTEMPTS)


def check(result: Run) -> None:
    """No crash nor traceback; every journaled message delivered or in the dead letters, none waiting; no more
    attempts than MessageAttempts (E13.FR.02); an invalid answer to a journaled one a failed attempt; still served."""
    assert not result.crashes, result.crashes
    assert not result.tracebacks, [r.getMessage() for r in result.tracebacks]
    assert result.pending == 0
    assert result.delivered + len(result.dead_letters) == result.journaled, result
    journaled = [e for e in result.exchanges if e.action in JOURNALED]
    for index, exchange in enumerate(journaled):
        sends = sum(1 for e in journaled if _key(e) == _key(exchange))
        assert sends <= ATTEMPTS + sum(1 for e in journaled if _key(e) == _key(exchange) and e.unreadable), exchange
        if exchange.fuzzed and verdict(exchange.action, exchange.answer) == INVALID:
            again = any(_key(e) == _key(exchange) for e in journaled[index + 1 :])
            moved = any(a == exchange.action and p == exchange.request for a, p in result.dead_letters)
            assert again or moved, f"{exchange.action} counted delivered on the invalid answer {exchange.answer!r}"
    assert result.served and result.accepted


def _key(exchange: Exchange) -> str:
    return exchange.action + json.dumps(exchange.request, sort_keys=True)


TARGETS: Final = ("Authorize", "BootNotification", "DataTransfer", "FirmwareStatusNotification", "Heartbeat",
                  "LogStatusNotification", "NotifyCustomerInformation", "NotifyReport", "SecurityEventNotification",
                  "SignCertificate", "StatusNotification", "TransactionEvent")  # fmt: skip


async def checked(plan: Plan) -> Run:
    result = await asyncio.wait_for(run(plan), 60)
    check(result)
    return result


async def test_the_2_0_1_scenario_has_the_station_send_every_target() -> None:
    result = await checked(Plan("TransactionEvent", answer_seed("TransactionEvent"), times=1))
    assert {e.action for e in result.exchanges} >= set(TARGETS)


def edge_cases() -> Iterator[tuple[str, tuple[str, ...], object]]:
    for target in TARGETS:
        for path, values in edge_sites(target):
            yield from ((target, path, value) for value in values[:: max(1, len(values) // 3)])


EDGES: Final = list(edge_cases())  # a few values of each edge site; CHARGEBOX_FUZZ_EXAMPLES draws more below


@pytest.mark.parametrize(("target", "path", "value"), EDGES, ids=[f"{t}.{'.'.join(p)}={v!r:.20}" for t, p, v in EDGES])
async def test_E13_an_answer_at_an_edge_of_its_2_0_1_schema_neither_crashes_nor_loses(
    target: str, path: tuple[str, ...], value: object
) -> None:
    await checked(Plan(target, with_value(answer_seed(target), path, value), times=ATTEMPTS))


@pytest.mark.parametrize("target", TARGETS)
@fuzz(2)
@given(data=st.data())
async def test_E13_every_2_0_1_answer_fuzzed_neither_crashes_nor_loses_nor_blocks(
    target: str, data: st.DataObject
) -> None:
    plan = data.draw(
        st.builds(
            Plan, st.just(target), answer_payloads(target, answer_seed, edge_sites), st.integers(1, ATTEMPTS + 1)
        ),
        label="plan",
    )
    event(f"answer: {verdict(target, plan.payload)}")
    await checked(plan)
