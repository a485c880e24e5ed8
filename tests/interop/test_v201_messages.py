"""OCPP 2.0.1 messages between chargebox and the independent `ocpp` library (2.1.0, ocpp.v201), every action.

Both ways, as each side would put them on the wire:

- the `ocpp` library builds a request or response from its v201 dataclasses (call.*, call_result.*, nested
  datatypes.*), serialises and validates it as its ChargePoint does, and chargebox decodes the frame into the
  same Struct it decodes from the schema instance;
- chargebox encodes a Struct, and the `ocpp` library unpacks, validates and reads it into its dataclass,
  which serialises back to exactly what chargebox sent.

The instances: for every action, the widest one (every property present, every string at its maximum
length), and random valid ones drawn from the schema. The `ocpp` library's datatypes lack the customData of
most nested objects (StatusInfoType, EVSEType, ... have no custom_data field), so what it writes carries
customData at the top level only; what it reads (nested dicts) keeps them all.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ocpp.charge_point import camel_to_snake_case, remove_nones, serialize_as_dict, snake_to_camel_case
from ocpp.messages import Call, CallResult, _validate_payload, unpack
from ocpp.v201 import call, call_result, datatypes

from chargebox.protocol import codec
from chargebox.protocol.errors import OCPP201_CALL_ERRORS
from chargebox.protocol.v201.messages import REQUESTS, RESPONSES, Action
from tests.protocol.schema_check import SETTINGS, Schemas, load_generator, widest

V201 = Schemas(load_generator().OCPP201.schemas_dir, REQUESTS, RESPONSES, Action, request_suffix="Request")
CASES = [(action, is_response) for action in Action for is_response in (False, True)]
# The `ocpp` library rewrites the keys inside DataTransfer data as it does a payload's (snake_case <-> camelCase),
# so random data objects would not survive it; DataTransfer crosses with the widest instance only.
RANDOM_CASES = [(action, is_response) for action, is_response in CASES if action is not Action.DATA_TRANSFER]


def stem_of(action: Action, is_response: bool) -> str:
    return f"{action}{'Response' if is_response else 'Request'}"


def ocpp_dataclass(action: Action, is_response: bool, instance: dict[str, Any]) -> Any:
    """The `ocpp` library's dataclass for an instance, nested objects as its datatypes, as its users build them."""
    schema = V201.schemas[stem_of(action, is_response)]
    return _build(getattr(call_result if is_response else call, action), schema, schema, instance)


def writable_by_ocpp(action: Action, is_response: bool, instance: dict[str, Any]) -> dict[str, Any]:
    """The instance without the nested customData the `ocpp` library's datatypes cannot hold."""
    schema = V201.schemas[stem_of(action, is_response)]
    return {key: _writable(schema, schema["properties"][key], item) for key, item in instance.items()}


def _writable(root: dict[str, Any], schema: dict[str, Any], value: Any) -> Any:
    name = schema.get("$ref", "").removeprefix("#/definitions/")
    schema = root["definitions"][name] if name else schema
    if schema.get("type") == "array":
        return [_writable(root, schema["items"], item) for item in value]
    if schema.get("type") == "object" and hasattr(datatypes, name):
        fields = {field.name for field in dataclasses.fields(getattr(datatypes, name))}
        properties = schema["properties"]
        return {
            key: _writable(root, properties[key], item)
            for key, item in value.items()
            if key != "customData" or "custom_data" in fields
        }
    return value


def _build(cls: type[Any], root: dict[str, Any], schema: dict[str, Any], value: dict[str, Any]) -> Any:
    """``cls`` with its fields named as its users name them: the field ocpp serialises to each wire name."""
    field_of = {_camel(field.name): field.name for field in dataclasses.fields(cls)}
    properties = schema["properties"]
    return cls(**{field_of[key]: _value(root, properties[key], item) for key, item in value.items()})


def _camel(name: str) -> str:
    converted: dict[str, None] = snake_to_camel_case({name: None})
    return next(iter(converted))


def _value(root: dict[str, Any], schema: dict[str, Any], value: Any) -> Any:
    name = schema.get("$ref", "").removeprefix("#/definitions/")
    schema = root["definitions"][name] if name else schema
    if schema.get("type") == "array":
        return [_value(root, schema["items"], item) for item in value]
    if schema.get("type") == "object" and hasattr(datatypes, name):  # customData stays a dict, as ocpp types it
        return _build(getattr(datatypes, name), root, schema, value)
    return value


def ocpp_frame(action: Action, is_response: bool, payload: Any) -> str:
    """What the `ocpp` library's ChargePoint writes for a payload dataclass (ChargePoint.call, _handle_call)."""
    body = remove_nones(snake_to_camel_case(serialize_as_dict(payload)))
    message = CallResult("m1", body, action=action) if is_response else Call("m1", action, body)
    _validate_payload(message, "2.0.1")
    frame: str = message.to_json()
    return frame


def chargebox_reads(frame: str, action: Action, is_response: bool) -> object:
    raw = codec.decode_frame(frame, errors=OCPP201_CALL_ERRORS)
    assert isinstance(raw, codec.RawCallResult if is_response else codec.RawCall)
    kind = (RESPONSES if is_response else REQUESTS)[action]
    return codec.decode_payload(raw.payload, kind, OCPP201_CALL_ERRORS)


def ocpp_reads(frame: bytes, action: Action, is_response: bool) -> Any:
    """What the `ocpp` library's ChargePoint makes of a frame: unpack, validate, snake_case, the dataclass."""
    message = unpack(frame.decode())
    if is_response:
        message.action = action
    _validate_payload(message, "2.0.1")
    module = call_result if is_response else call
    return getattr(module, action)(**camel_to_snake_case(message.payload))


def chargebox_frame(action: Action, is_response: bool, instance: dict[str, Any]) -> bytes:
    payload = V201.decode(stem_of(action, is_response), instance)
    if is_response:
        return codec.encode_call_result("m1", payload)
    return codec.encode_call("m1", action, payload)


def ocpp_to_chargebox(action: Action, is_response: bool, instance: dict[str, Any]) -> None:
    instance = writable_by_ocpp(action, is_response, instance)
    frame = ocpp_frame(action, is_response, ocpp_dataclass(action, is_response, instance))
    read = chargebox_reads(frame, action, is_response)
    expected = V201.decode(stem_of(action, is_response), instance)
    assert type(read) is type(expected)
    assert json.loads(msgspec.json.encode(read)) == json.loads(msgspec.json.encode(expected))  # DataTransfer's raw data


def chargebox_to_ocpp(action: Action, is_response: bool, instance: dict[str, Any]) -> None:
    frame = chargebox_frame(action, is_response, instance)
    sent = json.loads(frame)[-1]
    received = ocpp_reads(frame, action, is_response)
    assert dataclasses.is_dataclass(received)
    assert remove_nones(snake_to_camel_case(serialize_as_dict(received))) == sent


@pytest.mark.parametrize(("action", "is_response"), CASES)
def test_every_2_0_1_message_the_ocpp_library_writes_chargebox_reads(action: Action, is_response: bool) -> None:
    ocpp_to_chargebox(action, is_response, widest(V201.plain(stem_of(action, is_response))))


@pytest.mark.parametrize(("action", "is_response"), CASES)
def test_every_2_0_1_message_chargebox_writes_the_ocpp_library_reads(action: Action, is_response: bool) -> None:
    chargebox_to_ocpp(action, is_response, widest(V201.plain(stem_of(action, is_response))))


@settings(SETTINGS, max_examples=60)
@given(data=st.data())
def test_random_2_0_1_messages_cross_both_ways(data: st.DataObject) -> None:
    action, is_response = data.draw(st.sampled_from(RANDOM_CASES), label="message")
    instance = data.draw(V201.valid_instances(stem_of(action, is_response)), label="instance")
    ocpp_to_chargebox(action, is_response, instance)
    chargebox_to_ocpp(action, is_response, instance)
