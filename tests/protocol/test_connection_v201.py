"""The sans-I/O conversation speaking OCPP-J 2.0.1 (Connection(OCPP201)) beside 1.6: what the peer reads back.

Section numbers are OCPP-J 2.0.1 Part 4's; T-* and 1.4 are the 1.6 checklist's.
"""

from __future__ import annotations

import datetime
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chargebox.errors import LocalProtocolError
from chargebox.protocol.connection import (
    CallErrorReceived,
    CallReceived,
    CallResultReceived,
    Connection,
    FrameRejected,
    ResponseInvalid,
)
from chargebox.protocol.errors import OCPP201_CALL_ERRORS, CallErrorCode
from chargebox.protocol.messages import HeartbeatRequest as HeartbeatRequest16
from chargebox.protocol.v201.dialect import OCPP201
from chargebox.protocol.v201.messages import (
    Action,
    BootNotificationRequest,
    BootReasonEnumType,
    ChargingStationType,
    EVSEType,
    MeterValueType,
    SampledValueType,
    TransactionEventEnumType,
    TransactionEventRequest,
    TransactionEventResponse,
    TransactionType,
    TriggerReasonEnumType,
)
from tests.protocol.test_dialect import SPELLINGS

NOW = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)


def sent(conn: Connection[Any]) -> list[Any]:
    return [json.loads(frame) for frame in conn.data_to_send()]


def station() -> Connection[Action]:
    """The station's side: it answers the CSMS's calls."""
    return Connection(OCPP201, is_supported=lambda action: action in OCPP201.csms_initiated)


def transaction_event() -> TransactionEventRequest:
    return TransactionEventRequest(
        event_type=TransactionEventEnumType.UPDATED,
        timestamp=NOW,
        trigger_reason=TriggerReasonEnumType.METER_VALUE_PERIODIC,
        seq_no=3,
        transaction_info=TransactionType(transaction_id="tx-1"),
        evse=EVSEType(id=1, connector_id=1),
        meter_value=[MeterValueType(timestamp=NOW, sampled_value=[SampledValueType(value=1234.5)])],
    )


def test_part4_4_4_unknown_message_type_is_answered_message_type_not_supported() -> None:
    conn = station()
    [event] = conn.receive('[5,"m1","Heartbeat",{}]', 0)
    assert isinstance(event, FrameRejected) and event.reply is CallErrorCode.MESSAGE_TYPE_NOT_SUPPORTED
    assert sent(conn) == [[4, "m1", "MessageTypeNotSupported", "unknown MessageTypeId 5", {}]]


def test_T_15_the_1_6_connection_ignores_an_unknown_message_type() -> None:
    conn: Connection = Connection()
    [event] = conn.receive('[5,"m1","Heartbeat",{}]', 0)
    assert isinstance(event, FrameRejected) and event.reply is None and sent(conn) == []


@pytest.mark.parametrize("frame", ["garbage", "[]", '[2,{"id":1},"Heartbeat",{}]', "[2]"])
def test_part4_4_2_3_a_call_whose_id_cannot_be_read_is_answered_under_id_minus_one(frame: str) -> None:
    conn = station()
    conn.receive(frame, 0)
    [[kind, message_id, code, _, details]] = sent(conn)
    assert (kind, message_id, code, details) == (4, "-1", "RpcFrameworkError", {})


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ('[2,"c1","Reset",{}]', "OccurrenceConstraintViolation"),
        ('[2,"c1","Reset",{"type":"Immediate","colour":"red"}]', "FormatViolation"),
        ('[2,"c1","Reset",{"type":"Now"}]', "PropertyConstraintViolation"),
        ('[2,"c1","Reset",{"type":1}]', "TypeConstraintViolation"),
        ('[2,"c1","Reset",{"type":"Immediate"', "FormatViolation"),
        ('[2,"c1","Reset"]', "RpcFrameworkError"),
        ('[2,"c1","StartTransaction",{}]', "NotImplemented"),  # a 1.6 action is unknown to 2.0.1
        ('[2,"c1","BootNotification",{}]', "NotSupported"),  # known, but the CSMS's to answer
    ],
)
def test_part4_4_3_an_unusable_call_is_answered_with_its_2_0_1_code_and_reaches_no_handler(
    frame: str, code: str
) -> None:
    conn = station()
    events = conn.receive(frame, 0)
    assert [type(e) for e in events] == [FrameRejected]
    assert sent(conn)[0][:3] == [4, "c1", code]


def test_part4_4_2_1_a_valid_call_reaches_the_handler_typed_in_2_0_1() -> None:
    conn = station()
    [event] = conn.receive('[2,"c1","Reset",{"type":"OnIdle","evseId":1}]', 0)
    assert isinstance(event, CallReceived) and event.action is Action.RESET
    assert event.request.type == "OnIdle" and event.request.evse_id == 1  # type: ignore[attr-defined]


def test_part4_4_2_2_a_transaction_event_is_sent_and_its_result_correlated() -> None:
    conn = station()
    message_id = conn.send_call(transaction_event(), 0)
    [[kind, sent_id, action, payload]] = sent(conn)
    assert (kind, sent_id, action) == (2, message_id, "TransactionEvent")
    assert payload["meterValue"][0]["sampledValue"] == [{"value": 1234.5}]
    [event] = conn.receive(json.dumps([3, message_id, {"totalCost": 1.5}]), 1)
    assert isinstance(event, CallResultReceived) and event.action is Action.TRANSACTION_EVENT
    assert event.response == TransactionEventResponse(total_cost=1.5)
    assert conn.pending is None


def test_part4_4_1_1_a_second_call_while_one_is_outstanding_is_a_local_error() -> None:
    conn = station()
    conn.send_call(transaction_event(), 0)
    with pytest.raises(LocalProtocolError):
        conn.send_call(transaction_event(), 0)


def test_an_invalid_result_fails_the_call_with_the_2_0_1_code() -> None:
    conn = station()
    request = BootNotificationRequest(
        reason=BootReasonEnumType.POWER_UP, charging_station=ChargingStationType(model="X1", vendor_name="Acme")
    )
    message_id = conn.send_call(request, 0)
    [event] = conn.receive(json.dumps([3, message_id, {"currentTime": "2026-01-01T00:00:00Z", "interval": 300}]), 1)
    assert isinstance(event, ResponseInvalid) and event.error.code == "OccurrenceConstraintViolation"


def test_part4_4_2_3_a_call_error_answer_is_an_event_with_the_code_as_received() -> None:
    conn = station()
    message_id = conn.send_call(transaction_event(), 0)
    [event] = conn.receive(json.dumps([4, message_id, "FormationViolation", "1.6 spelling", {}]), 1)
    assert isinstance(event, CallErrorReceived) and event.error_code == "FormationViolation"


def test_part4_4_2_3_a_call_error_under_id_minus_one_is_not_answered() -> None:
    conn = station()
    conn.send_call(transaction_event(), 0)
    sent(conn)
    [event] = conn.receive('[4,"-1","RpcFrameworkError","",{}]', 1)
    assert isinstance(event, FrameRejected) and event.reply is None
    assert sent(conn) == [] and conn.pending is not None


def test_a_1_6_request_is_not_a_2_0_1_call() -> None:
    with pytest.raises(LocalProtocolError, match=r"not an OCPP 2\.0\.1 request"):
        station().send_call(HeartbeatRequest16(), 0)


def test_outgoing_invalid_2_0_1_payload_is_a_local_bug() -> None:
    conn = station()
    request = BootNotificationRequest(
        reason=BootReasonEnumType.POWER_UP, charging_station=ChargingStationType(model="X" * 21, vendor_name="Acme")
    )  # model is string[0..20]
    with pytest.raises(LocalProtocolError):
        conn.send_call(request, 0)
    assert conn.pending is None and sent(conn) == []


@pytest.mark.parametrize(("code", "v16", "v201"), SPELLINGS)
def test_a_handler_s_error_code_is_written_in_the_connection_s_version(
    code: CallErrorCode, v16: str, v201: str
) -> None:
    for conn, spelling in ((Connection(), v16), (station(), v201)):
        conn.send_error("c1", code, "why")
        assert sent(conn) == [[4, "c1", spelling, "why", {}]]


@pytest.mark.parametrize("code", [CallErrorCode.RPC_FRAMEWORK_ERROR, CallErrorCode.MESSAGE_TYPE_NOT_SUPPORTED])
def test_a_2_0_1_only_code_on_a_1_6_connection_is_a_local_bug(code: CallErrorCode) -> None:
    conn: Connection = Connection()
    with pytest.raises(LocalProtocolError):
        conn.send_error("c1", code)
    assert sent(conn) == []


def test_part4_4_2_3_error_description_is_at_most_255_characters_in_2_0_1() -> None:
    frame = json.dumps([2, "c1", "X" * 300, {}])
    conn201, conn16 = station(), Connection()
    conn201.receive(frame, 0)
    conn16.receive(frame, 0)
    [[*_, description201, _]] = sent(conn201)
    [[*_, description16, _]] = sent(conn16)
    assert len(description201) == 255 and description201 == description16[:255]


def test_1_4_a_duplicate_id_of_a_call_in_progress_is_generic_error_in_2_0_1_too() -> None:
    conn = station()
    conn.receive('[2,"c1","ClearCache",{}]', 0)
    conn.receive('[2,"c1","ClearCache",{}]', 0)
    assert sent(conn)[0][:3] == [4, "c1", "GenericError"]


def test_part4_4_2_3_a_frame_over_the_size_limit_is_format_violation() -> None:
    conn = Connection(OCPP201, max_frame_size=100)
    conn.receive(json.dumps([2, "b1", "DataTransfer", {"vendorId": "v", "data": "x" * 100}]), 0)
    assert sent(conn)[0][:3] == [4, "b1", "FormatViolation"]
    [event] = conn.receive(json.dumps([2, "b2", "DataTransfer", {"vendorId": "v", "data": "x"}]), 0)
    assert isinstance(event, CallReceived) and event.action is Action.DATA_TRANSFER


@given(st.text(max_size=120) | st.binary(max_size=120))
def test_every_answer_a_2_0_1_connection_writes_is_a_2_0_1_callerror(frame: str | bytes) -> None:
    conn = station()
    [event] = conn.receive(frame, 0)
    for kind, message_id, code, description, details in sent(conn):
        assert kind == 4 and isinstance(message_id, str) and details == {}
        assert code in OCPP201_CALL_ERRORS.codes and len(description) <= 255
    assert isinstance(event, CallReceived | FrameRejected)
