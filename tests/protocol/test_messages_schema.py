"""chargebox.protocol.messages against the OCPP 1.6 JSON schemas shipped with `ocpp`.

The module is generated from those schemas (tools/gen_messages.py); these tests prove it is current, complete,
and that msgspec decoding accepts exactly what the schema accepts: every valid instance round-trips, every
mutation that breaks the schema is rejected by msgspec too, and for random edits of valid instances the two
verdicts agree. Where msgspec and the schema cannot agree, a test below pins the decision (see the docstring
of messages.py).

The schema verdict is jsonschema's Draft4Validator with a date-time FormatChecker backed by rfc3339-validator.
"""

from __future__ import annotations

import copy
import datetime
import enum
import functools
import importlib.util
import json
import sys
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import hypothesis.internal.conjecture.utils as conjecture_utils
import hypothesis_jsonschema._from_schema as hypothesis_jsonschema_internals
import jsonschema
import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema

from chargebox.protocol import messages
from chargebox.protocol.messages import (
    CENTRAL_SYSTEM_INITIATED,
    CHARGE_POINT_INITIATED,
    REQUESTS,
    RESPONSES,
    Action,
    AuthorizeRequest,
    BootNotificationRequest,
    ChargePointErrorCode,
    ChargePointStatus,
    ChargingSchedulePeriod,
    HashAlgorithm,
    HeartbeatRequest,
    HeartbeatResponse,
    IdTagInfo,
    Measurand,
    Message,
    Phase,
    ReadingContext,
    UnitOfMeasure,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
MESSAGES_PY = REPO_ROOT / "src" / "chargebox" / "protocol" / "messages.py"


def _load_generator() -> types.ModuleType:
    spec = importlib.util.spec_from_file_location("gen_messages", REPO_ROOT / "tools" / "gen_messages.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


gen_messages = _load_generator()
SCHEMAS_DIR: Path = gen_messages.default_schemas_dir()
SCHEMAS: dict[str, dict[str, Any]] = {
    path.stem: json.loads(path.read_text(encoding="utf-8")) for path in sorted(SCHEMAS_DIR.glob("*.json"))
}
STEMS = sorted(SCHEMAS)
DATE_TIME_CHECKER = jsonschema.FormatChecker(formats=("date-time",))

SETTINGS = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


# --- hypothesis-jsonschema on current Hypothesis ---------------------------------------------------------
# hypothesis-jsonschema 0.23.1 drives Hypothesis' private `many` helper with `while elements.more():`, an API
# that current Hypothesis replaced with `for _ in elements:`. This adapter gives it the old protocol on top of
# the new one; it is only installed when the old method is missing.


class _LegacyMany:
    def __init__(self, data: Any, **kwargs: Any) -> None:
        self._many = conjecture_utils.many(data, **kwargs)
        self._many.__enter__()
        self._elements = iter(self._many)

    def more(self) -> bool:
        try:
            next(self._elements)
        except StopIteration:
            self._many.__exit__(None)
            return False
        return True

    def reject(self) -> None:
        self._many.reject()


if not hasattr(conjecture_utils.many, "more"):
    hypothesis_jsonschema_internals.cu = types.SimpleNamespace(many=_LegacyMany)  # type: ignore[attr-defined]


# --- helpers ---------------------------------------------------------------------------------------------


def struct_for(stem: str) -> type[Message]:
    """The Struct for a schema file stem (BootNotification, BootNotificationResponse)."""
    if stem.endswith("Response"):
        return RESPONSES[Action(stem.removesuffix("Response"))]
    return REQUESTS[Action(stem)]


@functools.cache
def validator(stem: str) -> jsonschema.Draft4Validator:
    """The schema's verdict, with integers bounded to 64 bits as messages.py decodes them (a pinned deviation)."""
    return jsonschema.Draft4Validator(int64(SCHEMAS[stem]), format_checker=DATE_TIME_CHECKER)


def int64(node: Any) -> Any:
    """The schema with every integer bounded to 64 bits, signed (where it sets no tighter bound)."""
    if isinstance(node, dict):
        bounded = {key: int64(value) for key, value in node.items()}
        if node.get("type") == "integer":
            bounded.setdefault("minimum", -(2**63))
            bounded.setdefault("maximum", 2**63 - 1)
        return bounded
    if isinstance(node, list):
        return [int64(value) for value in node]
    return node


def inline_refs(node: Any, root: Any = None) -> Any:
    """The schema with local "#/definitions/..." references replaced by their targets.

    hypothesis-jsonschema cannot resolve them next to the whitepaper schemas' "urn:" $id; the meaning is the same.
    """
    root = node if root is None else root
    if isinstance(node, dict):
        if "$ref" in node:
            return inline_refs(root["definitions"][node["$ref"].removeprefix("#/definitions/")], root)
        return {key: inline_refs(value, root) for key, value in node.items() if key not in ("definitions", "$id")}
    if isinstance(node, list):
        return [inline_refs(value, root) for value in node]
    return node


@functools.cache
def plain_schema(stem: str) -> dict[str, Any]:
    result: dict[str, Any] = inline_refs(int64(SCHEMAS[stem]))
    return result


def _full(node: dict[str, Any]) -> dict[str, Any]:
    node = dict(node)
    if node.get("type") == "object":
        node["properties"] = {name: _full(sub) for name, sub in node.get("properties", {}).items()}
        if node["properties"]:
            node["required"] = list(node["properties"])
    elif node.get("type") == "array":
        node["items"] = _full(node["items"])
        node["minItems"] = max(1, node.get("minItems", 0))
        node["maxItems"] = max(node["minItems"], 2)
    return node


@functools.cache
def full_schema(stem: str) -> dict[str, Any]:
    """The schema with every property required and every array non-empty: its instances are valid for the
    original and hold every place a mutation can go."""
    return _full(plain_schema(stem))


@functools.cache
def valid_instances(stem: str) -> st.SearchStrategy[dict[str, Any]]:
    return from_schema(plain_schema(stem)).filter(validator(stem).is_valid)


@functools.cache
def full_instances(stem: str) -> st.SearchStrategy[dict[str, Any]]:
    return from_schema(full_schema(stem)).filter(validator(stem).is_valid)


def decode(stem: str, instance: Any) -> Message:
    return msgspec.json.decode(json.dumps(instance).encode(), type=struct_for(stem))


def decodes(stem: str, instance: Any) -> bool:
    try:
        decode(stem, instance)
    except msgspec.ValidationError:
        return False
    return True


def schema_accepts(stem: str, instance: Any) -> bool:
    """The schema's verdict, ignoring multipleOf (deliberately not enforced, see messages.py)."""
    return all(error.validator == "multipleOf" for error in validator(stem).iter_errors(instance))


def normalise(schema: dict[str, Any], value: Any) -> Any:
    """`value` with date-times parsed and numbers as floats, so a round trip compares equal."""
    kind = schema.get("type")
    if kind == "object" and isinstance(value, dict):
        properties = schema.get("properties", {})
        return {key: normalise(properties.get(key, {}), item) for key, item in value.items()}
    if kind == "array" and isinstance(value, list):
        return [normalise(schema["items"], item) for item in value]
    if schema.get("format") == "date-time" and isinstance(value, str):
        return msgspec.convert(value, datetime.datetime)
    if kind == "number" and isinstance(value, int | float):
        return float(value)
    return value


@dataclass(frozen=True)
class Site:
    """A place in an instance: the path to it, its schema, and whether its parent object requires it."""

    path: tuple[str | int, ...]
    schema: dict[str, Any]
    required: bool | None


def sites(schema: dict[str, Any], path: tuple[str | int, ...] = (), required: bool | None = None) -> Iterator[Site]:
    """Every place the schema describes; in a full_instances() instance, all of them exist."""
    yield Site(path, schema, required)
    if schema.get("type") == "object":
        needed = set(schema.get("required", []))
        for name, sub in schema.get("properties", {}).items():
            yield from sites(sub, (*path, name), name in needed)
    elif schema.get("type") == "array":
        yield from sites(schema["items"], (*path, 0), None)


def present_sites(
    schema: dict[str, Any], value: Any, path: tuple[str | int, ...] = (), required: bool | None = None
) -> Iterator[Site]:
    """The places the schema describes that exist in `value`."""
    yield Site(path, schema, required)
    if schema.get("type") == "object" and isinstance(value, dict):
        properties = schema.get("properties", {})
        needed = set(schema.get("required", []))
        for name, item in value.items():
            if name in properties:
                yield from present_sites(properties[name], item, (*path, name), name in needed)
    elif schema.get("type") == "array" and isinstance(value, list):
        for index, item in enumerate(value):
            yield from present_sites(schema["items"], item, (*path, index))


def node_at(instance: Any, path: tuple[str | int, ...]) -> Any:
    for step in path:
        instance = instance[step]
    return instance


def edited(instance: Any, path: tuple[str | int, ...], edit: Callable[[Any, str | int], None]) -> Any:
    """A deep copy of `instance` with `edit(parent, key)` applied at `path` (the root is wrapped)."""
    box = {"root": copy.deepcopy(instance)}
    parent: Any = box
    key: str | int = "root"
    for step in path:
        parent, key = parent[key], step
    edit(parent, key)
    return box["root"]


def replaced(instance: Any, path: tuple[str | int, ...], value: Any) -> Any:
    def put(parent: Any, key: str | int) -> None:
        parent[key] = value

    return edited(instance, path, put)


# --- the module is current and complete ------------------------------------------------------------------


def test_committed_messages_py_equals_render_of_installed_schemas() -> None:
    assert MESSAGES_PY.read_text(encoding="utf-8") == gen_messages.render(SCHEMAS_DIR)


def test_check_reports_a_stale_file_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert gen_messages.main(["--check"]) == 0
    stale = tmp_path / "messages.py"
    stale.write_text("# stale\n", encoding="utf-8")
    monkeypatch.setattr(gen_messages, "OUTPUT", stale)
    assert gen_messages.main(["--check"]) == 1
    assert len(capsys.readouterr().out.strip().splitlines()) == 1


def test_every_schema_file_has_a_struct_and_an_action() -> None:
    assert len(STEMS) == 78
    for stem in STEMS:
        struct = struct_for(stem)
        assert issubclass(struct, Message)
        title = SCHEMAS[stem].get("title")
        expected = stem if stem.endswith("Response") else f"{stem}Request"
        assert struct.__name__ == (title or expected)


def test_requests_and_responses_cover_all_39_actions() -> None:
    assert len(Action) == 39
    assert set(REQUESTS) == set(RESPONSES) == set(Action)
    assert {action.value for action in Action} == {stem.removesuffix("Response") for stem in STEMS}


def test_every_action_has_an_initiator_and_only_data_transfer_has_both() -> None:
    assert set(Action) == CHARGE_POINT_INITIATED | CENTRAL_SYSTEM_INITIATED
    assert {Action.DATA_TRANSFER} == CHARGE_POINT_INITIATED & CENTRAL_SYSTEM_INITIATED
    assert len(CHARGE_POINT_INITIATED) == 14


def test_enums_use_the_ocpp_1_6_type_names() -> None:
    names = [
        "AuthorizationStatus", "RegistrationStatus", "ChargePointStatus", "ChargePointErrorCode", "FirmwareStatus",
        "DiagnosticsStatus", "AvailabilityType", "AvailabilityStatus", "ConfigurationStatus", "ClearCacheStatus",
        "DataTransferStatus", "MessageTrigger", "TriggerMessageStatus", "ResetType", "ResetStatus", "UnlockStatus",
        "Reason", "Measurand", "ReadingContext", "Location", "Phase", "UnitOfMeasure", "ValueFormat",
        "ChargingProfilePurposeType", "ChargingProfileKindType", "RecurrencyKindType", "ChargingRateUnitType",
        "ChargingProfileStatus", "ClearChargingProfileStatus", "CancelReservationStatus", "ReservationStatus",
        "RemoteStartStopStatus", "UpdateType", "UpdateStatus", "GetCompositeScheduleStatus", "HashAlgorithm",
        "CertificateUse", "LogType", "LogStatus", "UploadLogStatus", "CertificateSignedStatus", "GenericStatus",
        "DeleteCertificateStatus", "GetInstalledCertificateStatus", "InstallCertificateStatus",
        "SignedFirmwareStatus", "UpdateFirmwareStatus", "ExtendedMessageTrigger",
    ]  # fmt: skip
    for name in names:
        assert issubclass(getattr(messages, name), enum.StrEnum), name


def test_enum_members_are_upper_snake_case_of_the_ocpp_spelling() -> None:
    assert Measurand.ENERGY_ACTIVE_IMPORT_REGISTER == "Energy.Active.Import.Register"
    assert Phase.L1_N == "L1-N"
    assert ChargePointStatus.SUSPENDED_EVSE == "SuspendedEVSE"
    assert ChargePointErrorCode.EV_COMMUNICATION_ERROR == "EVCommunicationError"
    assert UnitOfMeasure.KWH == "kWh"
    assert ReadingContext.SAMPLE_CLOCK == "Sample.Clock"
    assert HashAlgorithm.SHA256 == "SHA256"


def _check_struct_mirrors_schema(info: msgspec.inspect.StructType, schema: dict[str, Any], where: str) -> None:
    assert [f.encode_name for f in info.fields] == list(schema.get("properties", {})), where
    required = set(schema.get("required", []))
    for f in info.fields:
        assert f.required == (f.encode_name in required), f"{where}.{f.encode_name}"
        sub = schema["properties"][f.encode_name]
        for nested in _structs_in(f.type):
            target = sub["items"] if sub.get("type") == "array" else sub
            _check_struct_mirrors_schema(nested, target, f"{where}.{f.encode_name}")


def _structs_in(t: msgspec.inspect.Type) -> Iterator[msgspec.inspect.StructType]:
    if isinstance(t, msgspec.inspect.StructType):
        yield t
    elif isinstance(t, msgspec.inspect.UnionType):
        for member in t.types:
            yield from _structs_in(member)
    elif isinstance(t, msgspec.inspect.ListType):
        yield from _structs_in(t.item_type)


@pytest.mark.parametrize("stem", STEMS)
def test_struct_wire_names_and_required_fields_mirror_the_schema(stem: str) -> None:
    info = msgspec.inspect.type_info(struct_for(stem))
    assert isinstance(info, msgspec.inspect.StructType)
    assert info.forbid_unknown_fields
    _check_struct_mirrors_schema(info, plain_schema(stem), stem)


# --- valid instances round-trip --------------------------------------------------------------------------


@pytest.mark.parametrize("stem", STEMS)
@SETTINGS
@given(data=st.data())
def test_valid_instance_decodes_and_reencodes_to_the_same_valid_json(stem: str, data: st.DataObject) -> None:
    instance = data.draw(valid_instances(stem), label="instance")
    encoded = json.loads(msgspec.json.encode(decode(stem, instance)))
    validator(stem).validate(encoded)
    schema = plain_schema(stem)
    assert normalise(schema, encoded) == normalise(schema, instance)


# --- invalid instances are rejected by both --------------------------------------------------------------

WRONG_TYPES: dict[str, list[Any]] = {
    "string": [0, 1.5, True, None, [], {}],
    "integer": ["1", 1.5, 1.0, True, None, [], {}],
    "number": ["1.5", True, None, [], {}],
    "boolean": [0, 1, "true", None, [], {}],
    "array": ["x", 1, None, {}],
    "object": ["x", 1, None, []],
}
NOT_DATE_TIMES = [
    "",
    "yesterday",
    "2020-01-01",
    "12:00:00Z",
    "2020-01-01T00:00:00",  # no offset
    "2020-01-01T00:00:00.123456",
    "2020-13-01T00:00:00Z",
    "2020-02-30T00:00:00Z",
    "2020-01-01T24:00:00Z",
    "2020-01-01T23:59:60Z",
    "0000-01-01T00:00:00Z",
    "2020-01-01T00:00:00+01",
    "1577836800",
]


def _drop(parent: Any, key: str | int) -> None:
    del parent[key]


def _add_unknown(parent: Any, key: str | int) -> None:
    parent[key]["unknownProperty"] = 1


@dataclass(frozen=True)
class Mutation:
    """A way to break a valid instance at a site it applies to."""

    applies: Callable[[Site], bool]
    apply: Callable[[Any, Site, st.DataObject], Any]


def _not_in_enum(site: Site) -> st.SearchStrategy[str]:
    values = site.schema["enum"]
    near = [variant for v in values for variant in (v.lower(), v.upper(), f" {v}", v[:-1])]
    return st.sampled_from(near).filter(lambda s: s not in values) | st.text().filter(lambda s: s not in values)


MUTATIONS: dict[str, Mutation] = {
    "drop_required_field": Mutation(
        lambda s: s.required is True,
        lambda i, s, data: edited(i, s.path, _drop),
    ),
    "unknown_property_at_top_level": Mutation(
        lambda s: s.path == (),
        lambda i, s, data: edited(i, s.path, _add_unknown),
    ),
    "unknown_property_in_nested_object": Mutation(
        lambda s: s.path != () and s.schema.get("type") == "object",
        lambda i, s, data: edited(i, s.path, _add_unknown),
    ),
    "wrong_json_type": Mutation(
        lambda s: s.path != (),
        lambda i, s, data: replaced(i, s.path, data.draw(st.sampled_from(WRONG_TYPES[s.schema["type"]]))),
    ),
    "value_not_in_enum": Mutation(
        lambda s: "enum" in s.schema,
        lambda i, s, data: replaced(i, s.path, data.draw(_not_in_enum(s))),
    ),
    "string_over_max_length": Mutation(
        lambda s: "maxLength" in s.schema,
        lambda i, s, data: replaced(i, s.path, "x" * (s.schema["maxLength"] + data.draw(st.integers(1, 3)))),
    ),
    "empty_array_under_min_items": Mutation(
        lambda s: s.schema.get("minItems", 0) >= 1,
        lambda i, s, data: replaced(i, s.path, []),
    ),
    "null_for_optional_field": Mutation(
        lambda s: s.required is False,
        lambda i, s, data: replaced(i, s.path, None),
    ),
    "string_not_a_date_time": Mutation(
        lambda s: s.schema.get("format") == "date-time",
        lambda i, s, data: replaced(i, s.path, data.draw(st.sampled_from(NOT_DATE_TIMES))),
    ),
}


def _mutation_sites(stem: str, mutation: str) -> list[Site]:
    # Sites of the original schema (for required/optional), at paths a full instance has.
    return [site for site in sites(plain_schema(stem)) if MUTATIONS[mutation].applies(site)]


MUTATION_CASES = [(stem, name) for stem in STEMS for name in MUTATIONS if _mutation_sites(stem, name)]


@pytest.mark.parametrize(("stem", "mutation"), MUTATION_CASES)
@settings(SETTINGS, max_examples=5)
@given(data=st.data())
def test_invalid_instance_is_rejected_by_schema_and_msgspec(stem: str, mutation: str, data: st.DataObject) -> None:
    instance = data.draw(full_instances(stem), label="valid")
    site = data.draw(st.sampled_from(_mutation_sites(stem, mutation)), label="site")
    invalid = MUTATIONS[mutation].apply(instance, site, data)
    assert not validator(stem).is_valid(invalid)
    with pytest.raises(msgspec.ValidationError):
        decode(stem, invalid)


# --- for any candidate, the two verdicts agree -----------------------------------------------------------


def _near_values(stem: str) -> list[Any]:
    """Values that are valid somewhere in this schema, or just not: enum values, boundary lengths, dates."""
    values: list[Any] = ["2020-01-01T00:00:00Z", "2020-01-01T00:00:00.5+05:30", 1.0, 0.3, 16.3, 2**70, -1]
    for site in sites(plain_schema(stem)):
        values.extend(site.schema.get("enum", []))
        if "maxLength" in site.schema:
            values += ["x" * site.schema["maxLength"], "x" * (site.schema["maxLength"] + 1)]
    return values + NOT_DATE_TIMES


JSON_VALUES: st.SearchStrategy[Any] = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**64), 2**64)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
    | st.datetimes(timezones=st.none() | st.timezones()).map(datetime.datetime.isoformat),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=10), children, max_size=3),
    max_leaves=5,
)


@pytest.mark.parametrize("stem", STEMS)
@settings(SETTINGS, max_examples=15)
@given(data=st.data())
def test_msgspec_decodes_exactly_what_the_schema_accepts(stem: str, data: st.DataObject) -> None:
    candidate: Any = data.draw(valid_instances(stem), label="valid")
    for _ in range(data.draw(st.integers(1, 3), label="edits")):
        site = data.draw(st.sampled_from(list(present_sites(plain_schema(stem), candidate))), label="site")
        edit = data.draw(st.sampled_from(["replace", "near", "drop", "add"]), label="edit")
        if edit == "replace":
            candidate = replaced(candidate, site.path, data.draw(JSON_VALUES, label="value"))
        elif edit == "near":
            near = data.draw(st.sampled_from(_near_values(stem)), label="near")
            candidate = replaced(candidate, site.path, near)
        elif edit == "drop" and site.path:
            candidate = edited(candidate, site.path, _drop)
        elif edit == "add" and isinstance(node_at(candidate, site.path), dict):
            candidate = replaced(candidate, (*site.path, "extra"), data.draw(JSON_VALUES, label="extra"))
    assert decodes(stem, candidate) == schema_accepts(stem, candidate), candidate


# --- deviations, pinned ----------------------------------------------------------------------------------


def _period(limit: str) -> bytes:
    return b'{"startPeriod": 0, "limit": %s}' % limit.encode()


@pytest.mark.parametrize("limit", ["0.3", "16.3", "7", "16.25"])
def test_multiple_of_0_1_is_not_enforced_on_decimal_limits(limit: str) -> None:
    period = msgspec.json.decode(_period(limit), type=ChargingSchedulePeriod)
    assert period.limit == float(limit)


def test_multiple_of_0_1_is_unusable_in_both_msgspec_and_jsonschema() -> None:
    # Why it is left out: both float checks get 0.1 multiples wrong.
    strict = msgspec.json.Decoder(Annotated[float, msgspec.Meta(multiple_of=0.1)])
    with pytest.raises(msgspec.ValidationError):
        strict.decode(b"1.0")
    period = SCHEMAS["SetChargingProfile"]["properties"]["csChargingProfiles"]["properties"]["chargingSchedule"]
    limit_schema = period["properties"]["chargingSchedulePeriod"]["items"]["properties"]["limit"]
    assert not jsonschema.Draft4Validator(limit_schema).is_valid(0.3)


def test_number_beyond_double_range_is_rejected_though_the_schema_has_no_bound() -> None:
    huge = "1" + "0" * 400
    # (jsonschema's multipleOf overflows on such a number, so check the type alone.)
    assert jsonschema.Draft4Validator({"type": "number"}).is_valid(int(huge))
    with pytest.raises(msgspec.ValidationError):
        msgspec.json.decode(_period(huge), type=ChargingSchedulePeriod)


@pytest.mark.parametrize("value", [2**63, -(2**63) - 1, 2**70])
def test_integer_beyond_64_bits_is_rejected_though_the_schema_has_no_bound(value: int) -> None:
    instance = {"transactionId": value}
    assert jsonschema.Draft4Validator(SCHEMAS["RemoteStopTransaction"]).is_valid(instance)
    assert not decodes("RemoteStopTransaction", instance)
    assert decodes("RemoteStopTransaction", {"transactionId": 2**63 - 1})
    assert decodes("RemoteStopTransaction", {"transactionId": -(2**63)})


def test_integer_valued_float_is_not_an_integer() -> None:
    instance = {"transactionId": 1.0}
    assert not validator("RemoteStopTransaction").is_valid(instance)  # Draft 4; draft-06 would accept it
    assert not decodes("RemoteStopTransaction", instance)


def test_date_time_without_offset_is_rejected_by_both() -> None:
    instance = {"currentTime": "2020-01-01T00:00:00"}
    assert not validator("HeartbeatResponse").is_valid(instance)
    assert not decodes("HeartbeatResponse", instance)


def test_date_time_lowercase_t_and_z_are_accepted_by_both() -> None:
    instance = {"currentTime": "2020-01-01t00:00:00z"}
    assert validator("HeartbeatResponse").is_valid(instance)
    assert decodes("HeartbeatResponse", instance)


@pytest.mark.parametrize("lenient", ["2020-01-01 00:00:00Z", "2020-01-01T00:00:00+0100"])
def test_date_time_space_separator_and_colonless_offset_are_accepted_and_reencoded_as_rfc3339(
    lenient: str,
) -> None:
    instance = {"currentTime": lenient}
    assert not validator("HeartbeatResponse").is_valid(instance)
    response = decode("HeartbeatResponse", instance)
    assert validator("HeartbeatResponse").is_valid(json.loads(msgspec.json.encode(response)))


def test_date_time_fraction_is_rounded_to_microseconds() -> None:
    response = decode("HeartbeatResponse", {"currentTime": "2020-01-01T00:00:00.1234567Z"})
    assert msgspec.json.encode(response) == b'{"currentTime":"2020-01-01T00:00:00.123457Z"}'


def test_date_time_rounding_past_year_9999_is_rejected() -> None:
    instance = {"currentTime": "9999-12-31T23:59:59.9999999Z"}
    assert validator("HeartbeatResponse").is_valid(instance)
    assert not decodes("HeartbeatResponse", instance)


def test_constraints_are_checked_on_decode_not_on_construction() -> None:
    request = AuthorizeRequest(id_tag="x" * 21)
    with pytest.raises(msgspec.ValidationError):
        msgspec.json.decode(msgspec.json.encode(request), type=AuthorizeRequest)


def test_date_time_check_is_active() -> None:
    assert not DATE_TIME_CHECKER.conforms("yesterday", "date-time")


# --- frozen, omitted, camelCase --------------------------------------------------------------------------


def test_heartbeat_request_encodes_as_empty_object() -> None:
    assert msgspec.json.encode(HeartbeatRequest()) == b"{}"
    assert msgspec.json.decode(b"{}", type=HeartbeatRequest) == HeartbeatRequest()


def test_unset_optional_field_is_omitted_not_null() -> None:
    info = IdTagInfo(status=messages.AuthorizationStatus.ACCEPTED)
    assert msgspec.json.encode(info) == b'{"status":"Accepted"}'


def test_snake_case_fields_are_camel_case_on_the_wire() -> None:
    request = BootNotificationRequest(charge_point_vendor="Acme", charge_point_model="X1")
    assert msgspec.json.encode(request) == b'{"chargePointVendor":"Acme","chargePointModel":"X1"}'


def test_messages_are_frozen() -> None:
    response = HeartbeatResponse(current_time=datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC))
    with pytest.raises(AttributeError):
        response.current_time = datetime.datetime(2021, 1, 1, tzinfo=datetime.UTC)  # type: ignore[misc]
