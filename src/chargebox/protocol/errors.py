"""CALLERROR codes and the mapping from a validation failure to the code OCPP-J 1.6 asks for.

The table is the whole policy (checklist 1.4), kept as data as h11 keeps its transitions. The 1.6
spellings are frozen, typos included: ``FormationViolation`` and ``OccurenceConstraintViolation``.
"""

from __future__ import annotations

import enum
import re
from typing import Final

import msgspec


class CallErrorCode(enum.StrEnum):
    """OCPP-J 1.6 Table 7, in its own spelling."""

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


# How each msgspec validation message maps to a code; the first match wins.
#  - a required field missing, an array with too few or too many items: OccurenceConstraintViolation
#    (chosen over ProtocolError, which the checklist allows too; we answer it only for short frames)
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


def code_for_validation_error(error: msgspec.ValidationError) -> CallErrorCode:
    """The CALLERROR code for a payload that failed validation against its Struct."""
    text = str(error)
    for pattern, code in _VALIDATION_TABLE:
        if pattern.search(text):
            return code
    return CallErrorCode.FORMATION_VIOLATION
