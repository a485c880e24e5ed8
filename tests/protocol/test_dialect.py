"""Dialects: what each OCPP-J version bundles, its CALLERROR vocabulary (2.0.1 Part 4 4.3), and that 2.0.1's
messages stay off the 1.6 path."""

from __future__ import annotations

import subprocess
import sys

import pytest

from chargebox.protocol import messages as v16
from chargebox.protocol.dialect import OCPP16, SUBPROTOCOLS, dialect_for
from chargebox.protocol.errors import OCPP16_CALL_ERRORS, OCPP201_CALL_ERRORS, CallErrorCode
from chargebox.protocol.v201 import messages as v201
from chargebox.protocol.v201.dialect import OCPP201


def test_part4_3_1_2_each_dialect_names_its_subprotocol() -> None:
    assert (OCPP16.subprotocol, OCPP201.subprotocol) == ("ocpp1.6", "ocpp2.0.1")
    assert SUBPROTOCOLS == ("ocpp1.6", "ocpp2.0.1")
    assert dialect_for("ocpp1.6") is OCPP16 and dialect_for("ocpp2.0.1") is OCPP201
    with pytest.raises(KeyError):
        dialect_for("ocpp2.1")


def test_each_dialect_bundles_its_version_s_messages() -> None:
    assert OCPP16.action is v16.Action and OCPP16.requests is v16.REQUESTS
    assert OCPP201.action is v201.Action and OCPP201.responses is v201.RESPONSES
    assert OCPP201.station_initiated == v201.CHARGING_STATION_INITIATED
    assert OCPP16.csms_initiated == v16.CENTRAL_SYSTEM_INITIATED
    assert OCPP201.action_of_request[v201.TransactionEventRequest] is v201.Action.TRANSACTION_EVENT
    assert OCPP201.actions_by_name["TransactionEvent"] is v201.Action.TRANSACTION_EVENT
    assert "StartTransaction" not in OCPP201.actions_by_name


def test_part4_4_3_the_2_0_1_codes_are_table_8() -> None:
    table_8 = {
        "FormatViolation", "GenericError", "InternalError", "MessageTypeNotSupported", "NotImplemented",
        "NotSupported", "OccurrenceConstraintViolation", "PropertyConstraintViolation", "ProtocolError",
        "RpcFrameworkError", "SecurityError", "TypeConstraintViolation",
    }  # fmt: skip
    assert {code.value for code in OCPP201_CALL_ERRORS.codes} == table_8
    assert "CallResultError" not in {code.value for code in CallErrorCode}  # OCPP 2.1's, not 2.0.1's


def test_1_4_the_1_6_codes_are_table_7_typos_included() -> None:
    table_7 = {
        "NotImplemented", "NotSupported", "InternalError", "ProtocolError", "SecurityError", "FormationViolation",
        "PropertyConstraintViolation", "OccurenceConstraintViolation", "TypeConstraintViolation", "GenericError",
    }  # fmt: skip
    assert {code.value for code in OCPP16_CALL_ERRORS.codes} == table_7


SPELLINGS = [
    # a code, named in either version's words: how 1.6 writes it, how 2.0.1 writes it (Part 4 4.3)
    (CallErrorCode.FORMATION_VIOLATION, "FormationViolation", "FormatViolation"),
    (CallErrorCode.FORMAT_VIOLATION, "FormationViolation", "FormatViolation"),
    (CallErrorCode.OCCURENCE_CONSTRAINT_VIOLATION, "OccurenceConstraintViolation", "OccurrenceConstraintViolation"),
    (CallErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION, "OccurenceConstraintViolation", "OccurrenceConstraintViolation"),
    (CallErrorCode.PROPERTY_CONSTRAINT_VIOLATION, "PropertyConstraintViolation", "PropertyConstraintViolation"),
    (CallErrorCode.INTERNAL_ERROR, "InternalError", "InternalError"),
]  # fmt: skip


@pytest.mark.parametrize(("code", "v16_spelling", "v201_spelling"), SPELLINGS)
def test_part4_4_3_a_code_named_in_either_version_is_spelt_in_the_connection_s(
    code: CallErrorCode, v16_spelling: str, v201_spelling: str
) -> None:
    assert OCPP16_CALL_ERRORS.spell(code) == v16_spelling
    assert OCPP201_CALL_ERRORS.spell(code) == v201_spelling


def test_the_1_6_path_does_not_import_2_0_1_messages() -> None:
    # ~70 ms of Struct classes that a 1.6 station never uses (a fresh interpreter: this one has them).
    probe = (
        "import sys, chargebox, chargebox.protocol.connection, chargebox.rpc;"
        "print('chargebox.protocol.v201.messages' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
