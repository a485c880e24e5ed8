"""The frame codec speaking OCPP-J 2.0.1 (Part 4 section 4) beside 1.6: text in, frames or FrameError out.

The frame layout is the same in both versions; what differs is what answers a broken frame (Part 4 4.1.3,
4.2.3, 4.3, 4.4) and the spelling of two codes. Section numbers are OCPP-J 2.0.1 Part 4's.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chargebox.errors import RemoteProtocolError
from chargebox.protocol import codec
from chargebox.protocol.errors import OCPP16_CALL_ERRORS, OCPP201_CALL_ERRORS, CallErrorCode, CallErrors
from chargebox.protocol.v201.messages import CSMS_INITIATED, REQUESTS, RESPONSES, Action
from tests.protocol.schema_check import SETTINGS, Schemas, depth_of, inline_refs, load_generator, widest

V201 = Schemas(load_generator().OCPP201.schemas_dir, REQUESTS, RESPONSES, Action, request_suffix="Request")
RPC = CallErrorCode.RPC_FRAMEWORK_ERROR
NOT_RPC = (RPC, codec.UNREADABLE_MESSAGE_ID)  # Part 4 4.2.3: the id cannot be read, so "-1"
IGNORED = (None, None)


def refusal(frame: str, errors: CallErrors) -> tuple[CallErrorCode | None, str | None]:
    with pytest.raises(codec.FrameError) as caught:
        codec.decode_frame(frame, errors=errors)
    return caught.value.reply_code, caught.value.message_id


DEEP = "[" * 40 + "]" * 40
BROKEN = [
    # frame, what 1.6 answers (checklist 1.4, T-15), what 2.0.1 answers
    ('[5,"m1","Heartbeat",{}]', IGNORED, (CallErrorCode.MESSAGE_TYPE_NOT_SUPPORTED, "m1")),  # 4.4
    ('[6,"m1","Heartbeat",{}]', IGNORED, (CallErrorCode.MESSAGE_TYPE_NOT_SUPPORTED, "m1")),  # SEND is 2.1's
    ("[5]", IGNORED, (CallErrorCode.MESSAGE_TYPE_NOT_SUPPORTED, "-1")),
    ('[0,{"m1":1}]', IGNORED, (CallErrorCode.MESSAGE_TYPE_NOT_SUPPORTED, "-1")),
    ('["2","m1","Heartbeat",{}]', IGNORED, (RPC, "m1")),
    ("[]", IGNORED, NOT_RPC),
    ("not json at all", IGNORED, NOT_RPC),
    ('{"messageTypeId":2}', IGNORED, NOT_RPC),
    ("[2]", IGNORED, NOT_RPC),
    ('[2,5,"Heartbeat",{}]', IGNORED, NOT_RPC),
    (DEEP, IGNORED, NOT_RPC),
    ('[2,"m1","Heartbeat"]', (CallErrorCode.PROTOCOL_ERROR, "m1"), (RPC, "m1")),
    ('[2,"m1","Heartbeat",{},{}]', (CallErrorCode.FORMATION_VIOLATION, "m1"), (RPC, "m1")),
    ('[2,"m1",7,{}]', (CallErrorCode.FORMATION_VIOLATION, "m1"), (RPC, "m1")),
    (json.dumps([2, "x" * 37, "Heartbeat", {}]), (CallErrorCode.FORMATION_VIOLATION, "x" * 37), (RPC, "x" * 37)),
    ('[2,"m1","Heartbeat",{', (CallErrorCode.FORMATION_VIOLATION, "m1"), (CallErrorCode.FORMAT_VIOLATION, "m1")),
    (f'[2,"m1","DataTransfer",{{"vendorId":"v","data":{DEEP}}}]', (CallErrorCode.FORMATION_VIOLATION, "m1"),
     (CallErrorCode.FORMAT_VIOLATION, "m1")),
    # an answer is never answered (T-15), however broken
    ('[3,"m1",{', IGNORED, IGNORED),
    ("[3]", IGNORED, IGNORED),
    ('[3,5,{}]', IGNORED, IGNORED),
    ('[3,"m1",{},{}]', IGNORED, IGNORED),
    ('[4,"m1","GenericError"]', IGNORED, IGNORED),
    (f'[3,"m1",{DEEP}]', IGNORED, IGNORED),
]  # fmt: skip


@pytest.mark.parametrize(("frame", "v16_answer", "v201_answer"), BROKEN)
def test_part4_4_2_3_a_broken_frame_is_answered_as_its_version_says(
    frame: str, v16_answer: tuple[Any, Any], v201_answer: tuple[Any, Any]
) -> None:
    assert refusal(frame, OCPP16_CALL_ERRORS) == v16_answer
    assert refusal(frame, OCPP201_CALL_ERRORS) == v201_answer


def test_part4_4_2_3_a_frame_over_the_size_limit_is_format_violation_under_its_call_id() -> None:
    # B08.FR.18: FormatViolation for a frame longer than the station announced (BytesPerMessage)
    big = json.dumps([2, "big", "DataTransfer", {"vendorId": "v", "data": "x" * codec.MAX_FRAME_SIZE}])
    assert refusal(big, OCPP201_CALL_ERRORS) == (CallErrorCode.FORMAT_VIOLATION, "big")
    answer = json.dumps([3, "big", {"status": "Accepted", "data": "x" * codec.MAX_FRAME_SIZE}])
    assert refusal(answer, OCPP201_CALL_ERRORS) == IGNORED


@pytest.mark.parametrize(
    ("action", "payload", "code"),
    [
        ("StatusNotification", {"connectorStatus": "Available", "evseId": 1, "connectorId": 1},
         "OccurrenceConstraintViolation"),
        ("GetVariables", {"getVariableData": []}, "OccurrenceConstraintViolation"),
        ("Heartbeat", {"unknown": 1}, "FormatViolation"),
        ("Heartbeat", [], "FormatViolation"),
        ("Heartbeat", None, "FormatViolation"),
        ("Heartbeat", {"customData": {"vendorId": "v" * 256}}, "TypeConstraintViolation"),
        ("Heartbeat", {"customData": {}}, "OccurrenceConstraintViolation"),
        ("Reset", {"type": "Now"}, "PropertyConstraintViolation"),
        ("Reset", {"type": "Immediate", "evseId": "1"}, "TypeConstraintViolation"),
        ("SetChargingProfile", {"evseId": 1, "chargingProfile": {"id": 1, "stackLevel": 0, "chargingProfilePurpose":
         "TxProfile", "chargingProfileKind": "Absolute", "validFrom": "soon", "chargingSchedule": []}},
         "TypeConstraintViolation"),
        ("NotifyEVChargingNeeds", {"evseId": 1, "chargingNeeds": {"requestedEnergyTransfer": "DC",
         "dcChargingParameters": {"evMaxCurrent": 1, "evMaxVoltage": 1, "stateOfCharge": 101}}},
         "PropertyConstraintViolation"),
    ],
)  # fmt: skip
def test_part4_4_3_payload_failures_get_the_2_0_1_codes(action: str, payload: object, code: str) -> None:
    with pytest.raises(RemoteProtocolError) as caught:
        codec.decode_payload(msgspec.Raw(json.dumps(payload).encode()), REQUESTS[Action(action)], OCPP201_CALL_ERRORS)
    assert caught.value.code == code


# --- 2.0.1 frames round-trip -----------------------------------------------------------------------------


@settings(SETTINGS, max_examples=40)
@given(data=st.data())
def test_any_2_0_1_call_and_its_result_round_trip_through_the_codec(data: st.DataObject) -> None:
    action = data.draw(st.sampled_from(list(Action)), label="action")
    message_id = data.draw(st.text(st.characters(codec="ascii", exclude_characters='"\\'), min_size=1, max_size=36))
    for kind, stem in ((REQUESTS, f"{action}Request"), (RESPONSES, f"{action}Response")):
        payload = V201.decode(stem, data.draw(V201.valid_instances(stem), label=stem))
        if kind is REQUESTS:
            text = codec.encode_call(message_id, action, payload)
            frame = codec.decode_frame(text, errors=OCPP201_CALL_ERRORS)
            assert isinstance(frame, codec.RawCall) and frame.action == action
        else:
            text = codec.encode_call_result(message_id, payload)
            frame = codec.decode_frame(text, errors=OCPP201_CALL_ERRORS)
            assert isinstance(frame, codec.RawCallResult)
        assert frame.message_id == message_id
        assert codec.decode_payload(frame.payload, type(payload), OCPP201_CALL_ERRORS) == payload


@given(st.binary(max_size=200) | st.text(max_size=200))
def test_decoding_arbitrary_input_as_2_0_1_raises_only_frame_error_and_answers_with_an_id(data: bytes | str) -> None:
    with contextlib.suppress(codec.FrameError):
        codec.decode_frame(data, errors=OCPP201_CALL_ERRORS)
    try:
        codec.decode_frame(data, errors=OCPP201_CALL_ERRORS)
    except codec.FrameError as exc:
        assert (exc.reply_code is None) == (exc.message_id is None)
        assert exc.reply_code is None or exc.reply_code in OCPP201_CALL_ERRORS.codes


@given(
    st.lists(
        st.one_of(st.integers(), st.text(max_size=40), st.none(), st.dictionaries(st.text(max_size=5), st.integers())),
        max_size=6,
    )
)
def test_decoding_arbitrary_json_arrays_as_2_0_1_never_crashes(items: list[object]) -> None:
    with contextlib.suppress(codec.FrameError):
        codec.decode_frame(json.dumps(items), errors=OCPP201_CALL_ERRORS)


# --- frame limits reviewed for 2.0.1 ---------------------------------------------------------------------


WIDEST = {stem: widest(inline_refs(V201.schemas[stem])) for stem in V201.stems}


def frame_of(stem: str, payload: Any) -> str:
    head = [3, "x" * 36] if stem.endswith("Response") else [2, "x" * 36, stem.removesuffix("Request")]
    return json.dumps([*head, payload], separators=(",", ":"))


@pytest.mark.parametrize("stem", V201.stems)
def test_the_widest_2_0_1_frame_of_each_message_is_within_the_limits_and_decodes(stem: str) -> None:
    frame = frame_of(stem, WIDEST[stem])
    assert len(frame) < 11 * 1024 < codec.MAX_FRAME_SIZE
    assert depth_of(json.loads(frame)) <= 14 < codec.MAX_DEPTH
    raw = codec.decode_frame(frame, errors=OCPP201_CALL_ERRORS)
    assert not isinstance(raw, codec.RawCallError)
    codec.decode_payload(raw.payload, V201.struct_for(stem), OCPP201_CALL_ERRORS)


def test_the_widest_and_deepest_2_0_1_frames_are_those_codec_py_names() -> None:
    frames = {stem: json.loads(frame_of(stem, WIDEST[stem])) for stem in V201.stems}
    calls = [stem for stem in V201.stems if stem.removesuffix("Request") in CSMS_INITIATED]
    assert max(calls, key=lambda stem: len(json.dumps(frames[stem]))) == "CertificateSignedRequest"
    assert max(depth_of(frames[stem]) for stem in calls) == depth_of(frames["SetChargingProfileRequest"]) == 13
    assert max(map(depth_of, frames.values())) == depth_of(frames["ReportChargingProfilesRequest"]) == 14
