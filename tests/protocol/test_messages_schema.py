"""chargebox.protocol.messages against the OCPP 1.6 JSON schemas shipped with `ocpp`.

The module is generated from those schemas (tools/gen_messages.py); these tests prove it is current, complete,
and that msgspec decoding accepts exactly what the schema accepts: every valid instance round-trips, every
mutation that breaks the schema is rejected by msgspec too, and for random edits of valid instances the two
verdicts agree. Where msgspec and the schema cannot agree, a test below pins the decision (see the docstring
of messages.py).

The checks themselves are in schema_check.py, shared with the 2.0.1 module's tests; the schema verdict is
jsonschema's validator of each schema's draft with a date-time FormatChecker backed by rfc3339-validator.
"""

from __future__ import annotations

import datetime
import enum
import json
from pathlib import Path
from typing import Annotated

import jsonschema
import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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
from tests.protocol.schema_check import (
    DATE_TIME_CHECKER,
    REPO_ROOT,
    SETTINGS,
    Schemas,
    check_mutation_rejected,
    check_round_trip,
    check_struct_mirrors_schema,
    check_verdicts_agree,
    load_generator,
)

MESSAGES_PY = REPO_ROOT / "src" / "chargebox" / "protocol" / "messages.py"
gen_messages = load_generator()
SCHEMAS_DIR: Path = gen_messages.default_schemas_dir()
V16 = Schemas(SCHEMAS_DIR, REQUESTS, RESPONSES, Action, request_suffix="")
SCHEMAS = V16.schemas
STEMS = V16.stems
struct_for = V16.struct_for
validator = V16.validator
plain_schema = V16.plain
decode = V16.decode
decodes = V16.decodes
schema_accepts = V16.accepts
MUTATION_CASES = V16.mutation_cases()


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


@pytest.mark.parametrize("stem", STEMS)
def test_struct_wire_names_and_required_fields_mirror_the_schema(stem: str) -> None:
    info = msgspec.inspect.type_info(struct_for(stem))
    assert isinstance(info, msgspec.inspect.StructType)
    assert info.forbid_unknown_fields
    check_struct_mirrors_schema(info, plain_schema(stem), stem)


# --- valid instances round-trip --------------------------------------------------------------------------


@pytest.mark.parametrize("stem", STEMS)
@SETTINGS
@given(data=st.data())
def test_valid_instance_decodes_and_reencodes_to_the_same_valid_json(stem: str, data: st.DataObject) -> None:
    check_round_trip(V16, stem, data)


# --- invalid instances are rejected by both --------------------------------------------------------------


@pytest.mark.parametrize(("stem", "mutation"), MUTATION_CASES)
@settings(SETTINGS, max_examples=5)
@given(data=st.data())
def test_invalid_instance_is_rejected_by_schema_and_msgspec(stem: str, mutation: str, data: st.DataObject) -> None:
    check_mutation_rejected(V16, stem, mutation, data)


# --- for any candidate, the two verdicts agree -----------------------------------------------------------


@pytest.mark.parametrize("stem", STEMS)
@settings(SETTINGS, max_examples=15)
@given(data=st.data())
def test_msgspec_decodes_exactly_what_the_schema_accepts(stem: str, data: st.DataObject) -> None:
    check_verdicts_agree(V16, stem, data)


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
