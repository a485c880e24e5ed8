"""Frame codec (checklist 1.2, 1.4): text in, frames or FrameError out."""

from __future__ import annotations

import contextlib
import json

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from chargebox.errors import RemoteProtocolError
from chargebox.protocol import codec
from chargebox.protocol.errors import CallErrorCode
from chargebox.protocol.messages import Action, HeartbeatRequest, StatusNotificationRequest
from tests.protocol.schema_check import depth_of


def test_T_10_decodes_call_head_and_keeps_payload_raw() -> None:
    frame = codec.decode_frame('[2, "id-1", "Heartbeat", {}]')
    assert frame == codec.RawCall("id-1", "Heartbeat", msgspec.Raw(b"{}"))


def test_T_10_decodes_call_result_and_call_error() -> None:
    assert codec.decode_frame('[3,"a",{"currentTime":"x"}]') == codec.RawCallResult(
        "a", msgspec.Raw(b'{"currentTime":"x"}')
    )
    assert codec.decode_frame('[4,"a","NotSupported","no",{"k":1}]') == codec.RawCallError(
        "a", "NotSupported", "no", {"k": 1}
    )


def test_T_13_empty_payload_is_an_empty_object() -> None:
    assert codec.encode_call("1", Action.HEARTBEAT, HeartbeatRequest()) == b'[2,"1","Heartbeat",{}]'


def test_T_14_call_error_always_has_description_and_details_object() -> None:
    assert json.loads(codec.encode_call_error("1", "GenericError")) == [4, "1", "GenericError", "", {}]


@pytest.mark.parametrize("frame", ['[5,"1","X",{}]', '[0,"1"]', "[9]"])
def test_T_15_unknown_message_type_is_ignored_without_reply(frame: str) -> None:
    with pytest.raises(codec.FrameError) as caught:
        codec.decode_frame(frame)
    assert caught.value.reply_code is None


def test_1_4_broken_json_with_recoverable_id_is_formation_violation() -> None:
    with pytest.raises(codec.FrameError) as caught:
        codec.decode_frame('[2, "abc", "Heartbeat", {')
    assert (caught.value.reply_code, caught.value.message_id) == (CallErrorCode.FORMATION_VIOLATION, "abc")


def test_1_4_broken_json_without_id_gets_no_reply() -> None:
    with pytest.raises(codec.FrameError) as caught:
        codec.decode_frame("not json at all")
    assert caught.value.message_id is None


def test_1_4_call_without_payload_is_protocol_error() -> None:
    with pytest.raises(codec.FrameError) as caught:
        codec.decode_frame('[2,"1","Heartbeat"]')
    assert caught.value.reply_code is CallErrorCode.PROTOCOL_ERROR


def test_T_11_unique_id_over_36_characters_is_refused() -> None:
    with pytest.raises(codec.FrameError) as caught:
        codec.decode_frame(json.dumps([2, "x" * 37, "Heartbeat", {}]))
    assert caught.value.reply_code is CallErrorCode.FORMATION_VIOLATION


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ({"errorCode": "NoError", "status": "Available"}, CallErrorCode.OCCURENCE_CONSTRAINT_VIOLATION),
        ({"connectorId": 1, "errorCode": "NoError", "status": "Available", "x": 1}, CallErrorCode.FORMATION_VIOLATION),
        (
            {"connectorId": "one", "errorCode": "NoError", "status": "Available"},
            CallErrorCode.TYPE_CONSTRAINT_VIOLATION,
        ),
        ({"connectorId": 1, "errorCode": "NoError", "status": "Sleeping"}, CallErrorCode.PROPERTY_CONSTRAINT_VIOLATION),
        (
            {"connectorId": 1, "errorCode": "NoError", "status": "Available", "info": "i" * 51},
            CallErrorCode.TYPE_CONSTRAINT_VIOLATION,
        ),
        (
            {"connectorId": 1, "errorCode": "NoError", "status": "Available", "timestamp": "yesterday"},
            CallErrorCode.TYPE_CONSTRAINT_VIOLATION,
        ),
        ([1, 2], CallErrorCode.FORMATION_VIOLATION),
    ],
)
def test_1_4_validation_failures_map_to_the_1_6_codes(payload: object, code: CallErrorCode) -> None:
    with pytest.raises(RemoteProtocolError) as caught:
        codec.decode_payload(msgspec.Raw(json.dumps(payload).encode()), StatusNotificationRequest)
    assert caught.value.code == code


def test_1_4_codes_keep_the_1_6_typos() -> None:
    assert CallErrorCode.OCCURENCE_CONSTRAINT_VIOLATION == "OccurenceConstraintViolation"
    assert CallErrorCode.FORMATION_VIOLATION == "FormationViolation"


@given(st.binary(max_size=200) | st.text(max_size=200))
def test_decoding_arbitrary_input_never_raises_anything_but_frame_error(data: bytes | str) -> None:
    with contextlib.suppress(codec.FrameError):
        codec.decode_frame(data)


@given(
    st.lists(
        st.one_of(st.integers(), st.text(max_size=40), st.none(), st.dictionaries(st.text(max_size=5), st.integers())),
        max_size=6,
    )
)
def test_decoding_arbitrary_json_arrays_never_crashes(items: list[object]) -> None:
    with contextlib.suppress(codec.FrameError):
        codec.decode_frame(json.dumps(items))


def nested(depth: int) -> str:
    """JSON arrays nested ``depth`` deep: ``[[...]]``."""
    return "[" * depth + "]" * depth


def data_transfer(data: str, message_id: str = "deep") -> str:
    return f'[2,"{message_id}","DataTransfer",{{"vendorId":"v","data":{data}}}]'


@pytest.mark.parametrize(
    "frame",
    [
        data_transfer(nested(1000)),  # ~2 KB, as in the report: RecursionError in msgspec before
        data_transfer('{"a":' * 1000 + "1" + "}" * 1000),
        '[2,"deep","DataTransfer",' + nested(1000) + "]",
    ],
)
def test_1_4_call_nesting_deeper_than_max_depth_is_formation_violation(frame: str) -> None:
    # checklist 1.4: refused unread, it is unparsable JSON whose id the head still gives
    with pytest.raises(codec.FrameError) as caught:
        codec.decode_frame(frame)
    assert (caught.value.reply_code, caught.value.message_id) == (CallErrorCode.FORMATION_VIOLATION, "deep")


def test_1_4_nesting_is_bounded_at_max_depth_exactly() -> None:
    # the frame's array and the payload object are two levels: the data may take the rest
    assert isinstance(codec.decode_frame(data_transfer(nested(codec.MAX_DEPTH - 2))), codec.RawCall)
    with pytest.raises(codec.FrameError, match="deeper"):
        codec.decode_frame(data_transfer(nested(codec.MAX_DEPTH - 1)))


def test_1_4_brackets_inside_strings_are_not_nesting() -> None:
    text = json.dumps("[{" * 1000 + '\\"' + "]}" * 1000)
    assert isinstance(codec.decode_frame(data_transfer(text)), codec.RawCall)


@pytest.mark.parametrize("frame", [nested(1000), "[" * 100_000, '[3,"deep",' + nested(1000) + "]"])
def test_T_15_too_deep_frame_without_a_call_id_gets_no_reply(frame: str) -> None:
    with pytest.raises(codec.FrameError) as caught:
        codec.decode_frame(frame)
    assert (caught.value.reply_code, caught.value.message_id) == (None, None)


def test_1_4_frame_over_max_frame_size_is_formation_violation() -> None:
    frame = data_transfer(json.dumps("x" * codec.MAX_FRAME_SIZE), "big")
    with pytest.raises(codec.FrameError, match="over the limit") as caught:
        codec.decode_frame(frame)
    assert (caught.value.reply_code, caught.value.message_id) == (CallErrorCode.FORMATION_VIOLATION, "big")


def test_frame_size_counts_utf8_bytes_not_characters() -> None:
    frame = data_transfer(json.dumps("é" * 600, ensure_ascii=False), "big")  # 1,200 bytes of data, 600 characters
    assert isinstance(codec.decode_frame(frame, max_size=1000 + 600), codec.RawCall)
    with pytest.raises(codec.FrameError, match="over the limit"):
        codec.decode_frame(frame, max_size=1000)


json_values = st.recursive(
    st.none() | st.integers() | st.text(alphabet='[]{}"\\ab', max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(alphabet="[]{}x", max_size=3), inner, max_size=3)
    ),
    max_leaves=40,
)


@given(json_values, st.integers(min_value=0, max_value=12))
def test_nesting_scan_matches_the_real_depth_of_json(value: object, limit: int) -> None:
    text = json.dumps(value)
    assert codec.nests_deeper(text, limit) is (depth_of(value) > limit)
    assert codec.nests_deeper(text.encode(), limit) is (depth_of(value) > limit)


@given(st.text(alphabet='[]{}",:1 \\', max_size=3000))
def test_decoding_any_bracket_soup_never_raises_anything_but_frame_error(data: str) -> None:
    with contextlib.suppress(codec.FrameError):
        codec.decode_frame('[2,"x","DataTransfer",' + data)
