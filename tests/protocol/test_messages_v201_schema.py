"""chargebox.protocol.v201.messages against the OCPP 2.0.1 JSON schemas shipped with `ocpp` (Part 3).

The module is generated from those schemas (tools/gen_messages.py --version 2.0.1); these tests prove it is
current, complete, named after the schemas' definitions, and that msgspec decoding accepts exactly what the
schema accepts: every valid instance round-trips, every mutation that breaks the schema is rejected by msgspec
too, and for random edits of valid instances the two verdicts agree (schema_check.py, shared with 1.6). Where
msgspec and the schema cannot agree, or where a schema leaves a choice, a test below pins the decision (see the
docstring of v201/messages.py).
"""

from __future__ import annotations

import datetime
import enum
import json
from pathlib import Path
from typing import Any

import jsonschema
import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chargebox.protocol.v201 import messages
from chargebox.protocol.v201.messages import (
    CHARGING_STATION_INITIATED,
    CSMS_INITIATED,
    REQUESTS,
    RESPONSES,
    Action,
    ConnectorEnumType,
    CustomDataType,
    DataTransferRequest,
    GetCertificateIdUseEnumType,
    HeartbeatRequest,
    IdTokenEnumType,
    MeasurandEnumType,
    Message,
    PhaseEnumType,
    SampledValueType,
    VPNEnumType,
)
from tests.protocol.schema_check import (
    REPO_ROOT,
    SETTINGS,
    Schemas,
    check_mutation_rejected,
    check_round_trip,
    check_struct_mirrors_schema,
    check_verdicts_agree,
    load_generator,
)

MESSAGES_PY = REPO_ROOT / "src" / "chargebox" / "protocol" / "v201" / "messages.py"
gen_messages = load_generator()
SCHEMAS_DIR: Path = gen_messages.default_schemas_dir(gen_messages.OCPP201)
V201 = Schemas(SCHEMAS_DIR, REQUESTS, RESPONSES, Action, request_suffix="Request")
SCHEMAS = V201.schemas
STEMS = V201.stems


def definitions() -> dict[str, dict[str, Any]]:
    """Every definition of every schema file, by name (the same name means the same type, checked below)."""
    found: dict[str, dict[str, Any]] = {}
    for schema in SCHEMAS.values():
        found.update(schema.get("definitions", {}))
    return found


# --- the module is current and complete ------------------------------------------------------------------


def test_committed_v201_messages_py_equals_render_of_installed_schemas() -> None:
    assert MESSAGES_PY.read_text(encoding="utf-8") == gen_messages.render(SCHEMAS_DIR, gen_messages.OCPP201)


def test_check_reports_the_stale_version_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    stale = tmp_path / "messages.py"
    stale.write_text("# stale\n", encoding="utf-8")
    monkeypatch.setattr(gen_messages, "OUTPUT_V201", stale)
    assert gen_messages.main(["--check", "--version", "1.6"]) == 0
    assert gen_messages.main(["--check"]) == 1
    [line] = capsys.readouterr().out.strip().splitlines()
    assert str(stale) in line


def test_schemas_need_a_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        gen_messages.main(["--schemas", str(SCHEMAS_DIR)])
    assert exited.value.code == 2


def test_every_schema_file_has_a_struct_named_after_it() -> None:
    assert len(STEMS) == 128
    for stem in STEMS:
        assert V201.struct_for(stem).__name__ == stem


def test_requests_and_responses_cover_all_64_actions() -> None:
    assert len(Action) == 64
    assert set(REQUESTS) == set(RESPONSES) == set(Action)
    assert {action.value for action in Action} == {stem.removesuffix("Request") for stem in STEMS} - {
        stem for stem in STEMS if stem.endswith("Response")
    }


def test_every_action_has_an_initiator_and_only_data_transfer_has_both() -> None:
    assert set(Action) == CHARGING_STATION_INITIATED | CSMS_INITIATED
    assert {Action.DATA_TRANSFER} == CHARGING_STATION_INITIATED & CSMS_INITIATED
    assert (len(CHARGING_STATION_INITIATED), len(CSMS_INITIATED)) == (25, 40)
    assert {Action.TRANSACTION_EVENT, Action.NOTIFY_REPORT, Action.SIGN_CERTIFICATE} <= CHARGING_STATION_INITIATED
    assert {Action.GET_TRANSACTION_STATUS, Action.CERTIFICATE_SIGNED, Action.SET_VARIABLES} <= CSMS_INITIATED


def test_a_definition_name_means_one_type_in_every_schema_file() -> None:
    seen: dict[str, str] = {}
    for schema in SCHEMAS.values():
        for name, definition in schema.get("definitions", {}).items():
            shape = json.dumps({k: v for k, v in definition.items() if k != "description"}, sort_keys=True)
            assert seen.setdefault(name, shape) == shape, name


def test_nested_types_and_enums_take_their_definition_names() -> None:
    for name, definition in definitions().items():
        generated = getattr(messages, name)
        if "enum" in definition:
            assert issubclass(generated, enum.StrEnum), name
            assert [member.value for member in generated] == definition["enum"], name
        else:
            assert issubclass(generated, Message), name
    assert {"IdTokenType", "EVSEType", "ComponentType", "VariableType", "ChargingProfileType"} <= definitions().keys()


def test_enum_members_are_upper_snake_case_of_the_ocpp_spelling() -> None:
    assert MeasurandEnumType.ENERGY_ACTIVE_IMPORT_REGISTER == "Energy.Active.Import.Register"
    assert PhaseEnumType.L1_N == "L1-N"
    assert IdTokenEnumType.E_MAID == "eMAID"
    assert GetCertificateIdUseEnumType.V2G_CERTIFICATE_CHAIN == "V2GCertificateChain"
    assert ConnectorEnumType.S309_1P_16A == "s309-1P-16A"
    assert VPNEnumType.IKEV2 == "IKEv2"
    assert Action.GET_15118_EV_CERTIFICATE == "Get15118EVCertificate"


@pytest.mark.parametrize("stem", STEMS)
def test_struct_wire_names_and_required_fields_mirror_the_schema(stem: str) -> None:
    info = msgspec.inspect.type_info(V201.struct_for(stem))
    assert isinstance(info, msgspec.inspect.StructType)
    check_struct_mirrors_schema(info, V201.plain(stem), stem)


# --- valid instances round-trip --------------------------------------------------------------------------


@pytest.mark.parametrize("stem", STEMS)
@settings(SETTINGS, max_examples=10)
@given(data=st.data())
def test_valid_instance_decodes_and_reencodes_to_the_same_valid_json(stem: str, data: st.DataObject) -> None:
    check_round_trip(V201, stem, data)


# --- invalid instances are rejected by both --------------------------------------------------------------


@pytest.mark.parametrize(("stem", "mutation"), V201.mutation_cases())
@settings(SETTINGS, max_examples=2)
@given(data=st.data())
def test_invalid_instance_is_rejected_by_schema_and_msgspec(stem: str, mutation: str, data: st.DataObject) -> None:
    check_mutation_rejected(V201, stem, mutation, data)


# --- for any candidate, the two verdicts agree -----------------------------------------------------------


@pytest.mark.parametrize("stem", STEMS)
@settings(SETTINGS, max_examples=8)
@given(data=st.data())
def test_msgspec_decodes_exactly_what_the_schema_accepts(stem: str, data: st.DataObject) -> None:
    check_verdicts_agree(V201, stem, data)


# --- decisions and deviations, pinned --------------------------------------------------------------------

HEARTBEAT_WITH_EXTENSION = {"customData": {"vendorId": "com.acme", "mainMeter": 12345, "more": [{"a": None}]}}


def test_custom_data_properties_beside_vendor_id_are_accepted_and_dropped() -> None:
    # Part 4 section 9: a receiver that does not know the vendor ignores its properties.
    assert V201.validator("HeartbeatRequest").is_valid(HEARTBEAT_WITH_EXTENSION)
    request = V201.decode("HeartbeatRequest", HEARTBEAT_WITH_EXTENSION)
    assert request == HeartbeatRequest(custom_data=CustomDataType(vendor_id="com.acme"))
    assert msgspec.json.encode(request) == b'{"customData":{"vendorId":"com.acme"}}'


@pytest.mark.parametrize("custom_data", [{}, {"vendorId": "v" * 256}, {"vendorId": 5}, "com.acme"])
def test_custom_data_vendor_id_is_checked_like_the_schema(custom_data: object) -> None:
    instance = {"customData": custom_data}
    assert not V201.validator("HeartbeatRequest").is_valid(instance)
    assert not V201.decodes("HeartbeatRequest", instance)


def test_custom_data_of_ones_own_is_sent_by_subclassing() -> None:
    class MainMeter(CustomDataType, frozen=True, kw_only=True):
        main_meter: int

    request = HeartbeatRequest(custom_data=MainMeter(vendor_id="com.acme", main_meter=12345))
    encoded = json.loads(msgspec.json.encode(request))
    assert encoded == {"customData": {"vendorId": "com.acme", "mainMeter": 12345}}
    assert V201.validator("HeartbeatRequest").is_valid(encoded)


def test_schema_defaults_are_not_filled_in() -> None:
    value = msgspec.json.decode(b'{"value": 1.5}', type=SampledValueType)
    assert value.location is msgspec.UNSET and value.measurand is msgspec.UNSET and value.context is msgspec.UNSET
    assert msgspec.json.encode(value) == b'{"value":1.5}'
    location = SCHEMAS["MeterValuesRequest"]["definitions"]["LocationEnumType"]
    assert location["default"] == "Outlet"


def test_integer_valued_float_is_not_an_integer_though_draft_6_says_it_is() -> None:
    instance = {"currentTime": "2020-01-01T00:00:00Z", "interval": 1.0, "status": "Accepted"}
    assert jsonschema.Draft6Validator(SCHEMAS["BootNotificationResponse"]).is_valid(instance)
    assert not V201.accepts("BootNotificationResponse", instance)  # the verdict these tests use
    assert not V201.decodes("BootNotificationResponse", instance)


def test_number_beyond_double_range_is_rejected_though_the_schema_has_no_bound() -> None:
    huge = int("1" + "0" * 400)
    instance = {"evseId": 1, "meterValue": [{"timestamp": "2020-01-01T00:00:00Z", "sampledValue": [{"value": huge}]}]}
    assert V201.validator("MeterValuesRequest").is_valid(instance)
    assert not V201.decodes("MeterValuesRequest", instance)


@pytest.mark.parametrize(("soc", "valid"), [(-1, False), (0, True), (100, True), (101, False)])
def test_integer_minimum_and_maximum_are_enforced(soc: int, valid: bool) -> None:
    needs = {"requestedEnergyTransfer": "DC", "dcChargingParameters": {"evMaxCurrent": 1, "evMaxVoltage": 1}}
    needs["dcChargingParameters"]["stateOfCharge"] = soc  # type: ignore[index]
    instance = {"evseId": 1, "chargingNeeds": needs}
    assert V201.validator("NotifyEVChargingNeedsRequest").is_valid(instance) is valid
    assert V201.decodes("NotifyEVChargingNeedsRequest", instance) is valid


@pytest.mark.parametrize("value", [2**63, -(2**63) - 1, 2**70])
def test_integer_beyond_64_bits_is_rejected_though_the_schema_has_no_bound(value: int) -> None:
    instance = {"currentTime": "2020-01-01T00:00:00Z", "interval": value, "status": "Accepted"}
    assert jsonschema.Draft6Validator(SCHEMAS["BootNotificationResponse"]).is_valid(instance)
    assert not V201.accepts("BootNotificationResponse", instance)  # the verdict these tests use
    assert not V201.decodes("BootNotificationResponse", instance)
    for edge in (2**63 - 1, -(2**63)):
        assert V201.decodes("BootNotificationResponse", instance | {"interval": edge})


@pytest.mark.parametrize(("level", "valid"), [(-1, False), (0, True), (2**63 - 1, True), (2**63, False)])
def test_an_integer_with_only_a_minimum_ends_at_64_bits(level: int, valid: bool) -> None:
    # SalesTariffEntryType.ePriceLevel: the schema says minimum 0 and no maximum
    entry = json.dumps({"relativeTimeInterval": {"start": 0}, "ePriceLevel": level}).encode()
    try:
        msgspec.json.decode(entry, type=messages.SalesTariffEntryType)
    except msgspec.ValidationError:
        assert not valid
    else:
        assert valid


@pytest.mark.parametrize(("length", "valid"), [(7500, True), (7501, False)])
def test_exi_response_admits_the_ocpp_package_s_7500_characters(length: int, valid: bool) -> None:
    # OCPP 2.0.1 Part 3's own schema says 5,600; the package's (the generator's source) says 7,500.
    instance = {"status": "Accepted", "exiResponse": "x" * length}
    assert V201.validator("Get15118EVCertificateResponse").is_valid(instance) is valid
    assert V201.decodes("Get15118EVCertificateResponse", instance) is valid


@pytest.mark.parametrize("data", ['{"a":[1,{"b":null}],"c":1.50}', '"text"', "[]", "12", "null"])
def test_data_transfer_data_is_any_json_kept_as_sent(data: str) -> None:
    frame = f'{{"data":{data},"vendorId":"com.acme"}}'.encode()  # schema order
    request = msgspec.json.decode(frame, type=DataTransferRequest)
    assert bytes(request.data) == data.encode()  # type: ignore[arg-type]
    assert msgspec.json.encode(request) == frame


def test_naive_date_time_is_rejected_by_both() -> None:
    instance = {"currentTime": "2020-01-01T00:00:00"}
    assert not V201.validator("HeartbeatResponse").is_valid(instance)
    assert not V201.decodes("HeartbeatResponse", instance)


def test_constraints_are_checked_on_decode_not_on_construction() -> None:
    request = HeartbeatRequest(custom_data=CustomDataType(vendor_id="v" * 256))
    with pytest.raises(msgspec.ValidationError):
        msgspec.json.decode(msgspec.json.encode(request), type=HeartbeatRequest)


def test_messages_are_frozen_and_share_the_1_6_base() -> None:
    from chargebox.protocol import messages as messages_16

    assert Message is messages_16.Message
    response = messages.HeartbeatResponse(current_time=datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC))
    with pytest.raises(AttributeError):
        response.current_time = datetime.datetime(2021, 1, 1, tzinfo=datetime.UTC)  # type: ignore[misc]
