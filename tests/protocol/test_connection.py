"""The sans-I/O conversation: correlation, one outstanding CALL, timeouts, CALLERROR answers (1.3, 1.4)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chargebox.errors import LocalProtocolError
from chargebox.protocol.connection import (
    CallErrorReceived,
    CallReceived,
    CallResultReceived,
    CallTimedOut,
    Connection,
    FrameRejected,
    ResponseInvalid,
)
from chargebox.protocol.messages import (
    Action,
    ChargePointErrorCode,
    ChargePointStatus,
    HeartbeatRequest,
    StatusNotificationRequest,
)


def sent(conn: Connection) -> list[Any]:
    return [json.loads(frame) for frame in conn.data_to_send()]


def heartbeat(conn: Connection, now: float = 0.0) -> str:
    return conn.send_call(HeartbeatRequest(), now)


def test_T_20_second_call_while_one_is_outstanding_is_a_local_error() -> None:
    conn = Connection()
    heartbeat(conn)
    with pytest.raises(LocalProtocolError):
        heartbeat(conn)


def test_T_11_every_call_gets_a_new_unique_id_of_at_most_36_chars() -> None:
    conn = Connection()
    ids = set()
    for _ in range(100):
        message_id = heartbeat(conn)
        conn.receive(json.dumps([3, message_id, {"currentTime": "2026-01-01T00:00:00Z"}]), 0)
        ids.add(message_id)
    assert len(ids) == 100 and all(len(i) <= 36 for i in ids)


def test_call_result_is_correlated_and_decoded_into_the_response_type() -> None:
    conn = Connection()
    message_id = heartbeat(conn)
    [event] = conn.receive(json.dumps([3, message_id, {"currentTime": "2026-01-01T00:00:00Z"}]), 1)
    assert isinstance(event, CallResultReceived)
    assert event.action is Action.HEARTBEAT and event.response.current_time.year == 2026  # type: ignore[attr-defined]
    assert conn.pending is None


def test_call_error_answer_is_an_event_and_frees_the_slot() -> None:
    conn = Connection()
    message_id = heartbeat(conn)
    [event] = conn.receive(json.dumps([4, message_id, "InternalError", "boom", {}]), 1)
    assert isinstance(event, CallErrorReceived) and event.error_code == "InternalError"
    heartbeat(conn)


def test_invalid_call_result_payload_fails_the_call() -> None:
    conn = Connection()
    message_id = heartbeat(conn)
    [event] = conn.receive(json.dumps([3, message_id, {"currentTime": 5}]), 1)
    assert isinstance(event, ResponseInvalid)


def test_T_15_answer_with_unknown_id_is_ignored_and_call_stays_pending() -> None:
    conn = Connection()
    heartbeat(conn)
    [event] = conn.receive(json.dumps([3, "other", {}]), 1)
    assert isinstance(event, FrameRejected) and event.reply is None
    assert conn.pending is not None and sent(conn)[1:] == []


def test_T_22_call_times_out_and_next_call_may_go() -> None:
    conn = Connection(call_timeout=10)
    message_id = heartbeat(conn, now=0)
    assert conn.expire(9.9) == []
    assert conn.expire(10) == [CallTimedOut(message_id, Action.HEARTBEAT)]
    heartbeat(conn, now=10)


def test_T_22_late_answer_after_timeout_is_ignored() -> None:
    conn = Connection(call_timeout=1)
    message_id = heartbeat(conn)
    conn.expire(5)
    [event] = conn.receive(json.dumps([3, message_id, {"currentTime": "2026-01-01T00:00:00Z"}]), 6)
    assert isinstance(event, FrameRejected)


def test_T_21_peer_call_is_received_while_own_call_is_pending() -> None:
    conn = Connection()
    heartbeat(conn)
    [event] = conn.receive('[2,"c1","ClearCache",{}]', 0)
    assert isinstance(event, CallReceived) and event.action is Action.CLEAR_CACHE


def test_1_4_unknown_action_is_answered_not_implemented() -> None:
    conn = Connection()
    [event] = conn.receive('[2,"1","FooBar",{}]', 0)
    assert isinstance(event, FrameRejected)
    assert sent(conn) == [[4, "1", "NotImplemented", "unknown action 'FooBar'", {}]]


def test_1_4_known_unsupported_action_is_answered_not_supported() -> None:
    conn = Connection(is_supported=lambda action: action is not Action.RESERVE_NOW)
    conn.receive('[2,"1","ReserveNow",{}]', 0)
    assert sent(conn)[0][:3] == [4, "1", "NotSupported"]


def test_1_4_invalid_payload_is_answered_with_its_code_and_no_event_for_the_handler() -> None:
    conn = Connection()
    events = conn.receive('[2,"1","ChangeConfiguration",{"key":"HeartbeatInterval"}]', 0)
    assert [type(e) for e in events] == [FrameRejected]
    assert sent(conn)[0][:3] == [4, "1", "OccurenceConstraintViolation"]


def test_1_4_duplicate_id_of_a_call_still_in_progress_is_generic_error() -> None:
    conn = Connection()
    conn.receive('[2,"1","ClearCache",{}]', 0)
    conn.receive('[2,"1","ClearCache",{}]', 0)
    assert sent(conn)[0][:3] == [4, "1", "GenericError"]


def test_outgoing_invalid_payload_is_a_local_bug() -> None:
    conn = Connection()
    request = StatusNotificationRequest(
        connector_id=1,
        error_code=ChargePointErrorCode.NO_ERROR,
        status=ChargePointStatus.AVAILABLE,
        info="x" * 51,  # CiString50
    )
    with pytest.raises(LocalProtocolError):
        conn.send_call(request, 0)
    assert conn.pending is None and sent(conn) == []


def test_abandon_forgets_pending_call() -> None:
    conn = Connection()
    heartbeat(conn)
    assert conn.abandon() is not None and conn.pending is None


DEEP = "[" * 1000 + "]" * 1000  # ~2 KB; msgspec raised RecursionError on it


def test_1_4_deeply_nested_call_is_answered_formation_violation_and_the_connection_goes_on() -> None:
    conn = Connection()
    [event] = conn.receive(f'[2,"d1","DataTransfer",{{"vendorId":"v","data":{DEEP}}}]', 0)
    assert isinstance(event, FrameRejected) and event.reply == "FormationViolation"
    assert sent(conn)[0][:3] == [4, "d1", "FormationViolation"]
    [event] = conn.receive('[2,"c1","ClearCache",{}]', 0)
    assert isinstance(event, CallReceived)


def test_T_15_deeply_nested_answer_is_dropped_and_the_call_stays_pending() -> None:
    conn = Connection()
    message_id = heartbeat(conn)
    sent(conn)
    [event] = conn.receive(f'[3,"{message_id}",{DEEP}]', 0)
    assert isinstance(event, FrameRejected) and event.reply is None
    assert sent(conn) == [] and conn.pending is not None
    [event] = conn.receive(f'[3,"{message_id}",{{"currentTime":"2024-01-01T00:00:00Z"}}]', 0)
    assert isinstance(event, CallResultReceived)


def test_1_4_frame_over_the_connection_s_size_limit_is_answered_formation_violation() -> None:
    conn = Connection(max_frame_size=100)
    conn.receive(json.dumps([2, "b1", "DataTransfer", {"vendorId": "v", "data": "x" * 100}]), 0)
    assert sent(conn)[0][:3] == [4, "b1", "FormationViolation"]
    [event] = conn.receive(json.dumps([2, "b2", "DataTransfer", {"vendorId": "v", "data": "x"}]), 0)
    assert isinstance(event, CallReceived)
