"""CALLERROR codes, which one answers what in each OCPP-J version, and the mapping from a validation failure.

The tables are the whole policy (checklist 1.4 for 1.6, OCPP-J 2.0.1 Part 4 sections 4.1.3, 4.2.3, 4.3 and 4.4
for 2.0.1), kept as data as h11 keeps its transitions. ``CallErrorCode`` holds every code of both versions in
its own spelling; a version's ``CallErrors`` says which of them it may send and how it spells the two that
2.0.1 renamed, so a caller may name a code in either version's words and ``spell`` writes it in the
connection's. 1.6 keeps its typos: ``FormationViolation`` and ``OccurenceConstraintViolation``.
"""

from __future__ import annotations

import enum
import re
import types
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

import msgspec


class CallErrorCode(enum.StrEnum):
    """OCPP-J 1.6 Table 7 and OCPP-J 2.0.1 Part 4 Table 8, each code in its own spelling.

    Both versions: NotImplemented, NotSupported, InternalError, ProtocolError, SecurityError,
    PropertyConstraintViolation, TypeConstraintViolation, GenericError. 1.6 only: FormationViolation,
    OccurenceConstraintViolation. 2.0.1 only: FormatViolation and OccurrenceConstraintViolation (the two 1.6
    codes renamed), MessageTypeNotSupported and RpcFrameworkError. CALLRESULTERROR, a message type, and its
    codes are OCPP 2.1's, not 2.0.1's.
    """

    NOT_IMPLEMENTED = "NotImplemented"
    NOT_SUPPORTED = "NotSupported"
    INTERNAL_ERROR = "InternalError"
    PROTOCOL_ERROR = "ProtocolError"
    SECURITY_ERROR = "SecurityError"
    FORMATION_VIOLATION = "FormationViolation"
    PROPERTY_CONSTRAINT_VIOLATION = "PropertyConstraintViolation"
    OCCURENCE_CONSTRAINT_VIOLATION = "OccurenceConstraintViolation"
    TYPE_CONSTRAINT_VIOLATION = "TypeConstraintViolation"
    GENERIC_ERROR = "GenericError"
    FORMAT_VIOLATION = "FormatViolation"
    OCCURRENCE_CONSTRAINT_VIOLATION = "OccurrenceConstraintViolation"
    MESSAGE_TYPE_NOT_SUPPORTED = "MessageTypeNotSupported"
    RPC_FRAMEWORK_ERROR = "RpcFrameworkError"


@dataclass(frozen=True, slots=True)
class CallErrors:
    """The CALLERROR rules of one OCPP-J version: the codes it has, and which one answers each fault.

    ``unreadable_frame`` and ``unknown_message_type`` are None where the version answers nothing (1.6 ignores
    such frames, T-15); a frame answered although its unique id cannot be read is answered with the id
    ``codec.UNREADABLE_MESSAGE_ID``. ``description_limit`` caps errorDescription where the version sets one.
    """

    version: str
    codes: frozenset[CallErrorCode]
    renamed: Mapping[CallErrorCode, CallErrorCode]  # the other version's spelling -> this version's
    incomplete_call: CallErrorCode  # a CALL of fewer than 4 elements
    malformed_call: CallErrorCode  # a CALL of more than 4 elements, a non-string Action, a unique id over 36
    unreadable_frame: CallErrorCode | None  # not an RPC message at all, or a CALL whose unique id is unreadable
    unknown_message_type: CallErrorCode | None  # a MessageTypeId other than 2, 3 and 4
    description_limit: int | None

    def spell(self, code: CallErrorCode) -> CallErrorCode:
        """``code`` as this version writes it (FormationViolation is FormatViolation in 2.0.1, and back)."""
        return self.renamed.get(code, code)


_SHARED: Final = frozenset(
    {
        CallErrorCode.NOT_IMPLEMENTED,
        CallErrorCode.NOT_SUPPORTED,
        CallErrorCode.INTERNAL_ERROR,
        CallErrorCode.PROTOCOL_ERROR,
        CallErrorCode.SECURITY_ERROR,
        CallErrorCode.PROPERTY_CONSTRAINT_VIOLATION,
        CallErrorCode.TYPE_CONSTRAINT_VIOLATION,
        CallErrorCode.GENERIC_ERROR,
    }
)
_RENAMED_IN_2_0_1: Final = {
    CallErrorCode.FORMATION_VIOLATION: CallErrorCode.FORMAT_VIOLATION,
    CallErrorCode.OCCURENCE_CONSTRAINT_VIOLATION: CallErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION,
}

OCPP16_CALL_ERRORS: Final = CallErrors(
    version="1.6",
    codes=_SHARED | {CallErrorCode.FORMATION_VIOLATION, CallErrorCode.OCCURENCE_CONSTRAINT_VIOLATION},
    renamed=types.MappingProxyType({new: old for old, new in _RENAMED_IN_2_0_1.items()}),
    incomplete_call=CallErrorCode.PROTOCOL_ERROR,  # checklist 1.4: a frame too short
    malformed_call=CallErrorCode.FORMATION_VIOLATION,  # checklist 1.4, T-11
    unreadable_frame=None,  # T-15
    unknown_message_type=None,  # T-15
    description_limit=None,
)
"""OCPP-J 1.6 (checklist 1.4)."""

OCPP201_CALL_ERRORS: Final = CallErrors(
    version="2.0.1",
    codes=_SHARED
    | {
        CallErrorCode.FORMAT_VIOLATION,
        CallErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION,
        CallErrorCode.MESSAGE_TYPE_NOT_SUPPORTED,
        CallErrorCode.RPC_FRAMEWORK_ERROR,
    },
    renamed=types.MappingProxyType(_RENAMED_IN_2_0_1),
    # Part 4 4.3: RpcFrameworkError, "content of the call is not a valid RPC Request"; 4.2.3 lists a unique id
    # too long among the calls a CALLERROR answers
    incomplete_call=CallErrorCode.RPC_FRAMEWORK_ERROR,
    malformed_call=CallErrorCode.RPC_FRAMEWORK_ERROR,
    unreadable_frame=CallErrorCode.RPC_FRAMEWORK_ERROR,  # Part 4 4.2.3: answered with MessageId "-1"
    unknown_message_type=CallErrorCode.MESSAGE_TYPE_NOT_SUPPORTED,  # Part 4 4.4 (4.1.3: its payload ignored)
    description_limit=255,  # Part 4 4.2.3, Table 7: ErrorDescription string[255]
)
"""OCPP-J 2.0.1 (Part 4)."""


# How each msgspec validation message maps to a code, named in 1.6's words and spelt by the version; the first
# match wins.
#  - a required field missing, an array with too few or too many items: OccurenceConstraintViolation
#    (chosen over ProtocolError, which the 1.6 checklist allows too; 1.6 answers it only for short frames)
#  - a property the schema does not define, or a payload that is not an object: FormationViolation
#  - a value outside its enum or range: PropertyConstraintViolation
#  - a wrong JSON type, a string over its maximum length, a malformed date-time: TypeConstraintViolation
_VALIDATION_TABLE: Final[tuple[tuple[re.Pattern[str], CallErrorCode], ...]] = (
    (re.compile(r"^Object missing required field"), CallErrorCode.OCCURENCE_CONSTRAINT_VIOLATION),
    (re.compile(r"^Expected `array` of length"), CallErrorCode.OCCURENCE_CONSTRAINT_VIOLATION),
    (re.compile(r"^Object contains unknown field"), CallErrorCode.FORMATION_VIOLATION),
    (re.compile(r"^Expected `object`, got .* - at `\$`$"), CallErrorCode.FORMATION_VIOLATION),
    (re.compile(r"^Expected `object`, got [^-]*$"), CallErrorCode.FORMATION_VIOLATION),
    (re.compile(r"^Invalid enum value"), CallErrorCode.PROPERTY_CONSTRAINT_VIOLATION),
    (re.compile(r"^Expected `(int|float|number)` [<>]=?"), CallErrorCode.PROPERTY_CONSTRAINT_VIOLATION),
    (
        re.compile(r"^Expected `(int|float|number)` that is a multiple"),
        CallErrorCode.PROPERTY_CONSTRAINT_VIOLATION,
    ),
    (re.compile(r"^Expected `str` of length"), CallErrorCode.TYPE_CONSTRAINT_VIOLATION),
    (re.compile(r"^Invalid RFC3339"), CallErrorCode.TYPE_CONSTRAINT_VIOLATION),
    (re.compile(r"^Expected `"), CallErrorCode.TYPE_CONSTRAINT_VIOLATION),
)


def code_for_validation_error(error: msgspec.ValidationError, errors: CallErrors = OCPP16_CALL_ERRORS) -> CallErrorCode:
    """The CALLERROR code, in the version of ``errors``, for a payload that failed validation against its Struct."""
    text = str(error)
    for pattern, code in _VALIDATION_TABLE:
        if pattern.search(text):
            return errors.spell(code)
    return errors.spell(CallErrorCode.FORMATION_VIOLATION)
