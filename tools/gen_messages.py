"""Generate chargebox.protocol.messages from the OCPP 1.6 JSON schemas shipped with `ocpp`.

The schemas (``ocpp/v16/schemas/*.json``: 28 OCPP 1.6 actions plus 11 of the security whitepaper) decide what
goes on the wire; this script turns each into a msgspec Struct and names nested types and enums after OCPP 1.6
section 7 and the whitepaper's definitions, so the result reads like hand-written code. It is re-runnable:
after upgrading `ocpp`, run it and review the diff.

    python tools/gen_messages.py                  # writes src/chargebox/protocol/messages.py
    python tools/gen_messages.py --check          # exits 1 if the committed file is out of date
    python tools/gen_messages.py --schemas DIR    # reads another schema directory

A schema construct this script does not understand, or two schemas that would give one name to different
types, stops the run with an error naming the schema and property, instead of guessing.
"""

from __future__ import annotations

import argparse
import importlib.resources
import json
import keyword
import re
import sys
import textwrap
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import msgspec

REPO_ROOT: Final = Path(__file__).resolve().parent.parent
OUTPUT: Final = REPO_ROOT / "src" / "chargebox" / "protocol" / "messages.py"

# Actions the charge point sends (OCPP 1.6 §4 and the whitepaper); DataTransfer goes both ways.
CHARGE_POINT_INITIATED: Final = frozenset(
    {
        "Authorize",
        "BootNotification",
        "DataTransfer",
        "DiagnosticsStatusNotification",
        "FirmwareStatusNotification",
        "Heartbeat",
        "LogStatusNotification",
        "MeterValues",
        "SecurityEventNotification",
        "SignCertificate",
        "SignedFirmwareStatusNotification",
        "StartTransaction",
        "StatusNotification",
        "StopTransaction",
    }
)
BOTH_WAYS: Final = frozenset({"DataTransfer"})

# Nested objects: OCPP 1.6 §7 type names, by the property holding them ...
NESTED_NAMES_BY_PROPERTY: Final = {
    "certificateHashData": "CertificateHashData",
    "chargingProfile": "ChargingProfile",
    "chargingSchedule": "ChargingSchedule",
    "chargingSchedulePeriod": "ChargingSchedulePeriod",
    "configurationKey": "KeyValue",
    "csChargingProfiles": "ChargingProfile",
    "firmware": "Firmware",
    "idTagInfo": "IdTagInfo",
    "localAuthorizationList": "AuthorizationData",
    "log": "LogParameters",
    "meterValue": "MeterValue",
    "sampledValue": "SampledValue",
}
# ... unless the (owning Struct, property) pair says otherwise: StopTransaction.json's transactionData differs
# from MeterValues.json's meterValue, so it gets its own types.
NESTED_NAMES: Final = {
    ("StopTransactionRequest", "transactionData"): "StopTransactionMeterValue",
    ("StopTransactionMeterValue", "sampledValue"): "StopTransactionSampledValue",
}

# Enums: OCPP 1.6 §7 type names, by (owning Struct, property) ...
ENUM_NAMES: Final = {
    ("BootNotificationResponse", "status"): "RegistrationStatus",
    ("CancelReservationResponse", "status"): "CancelReservationStatus",
    ("ChangeAvailabilityRequest", "type"): "AvailabilityType",
    ("ChangeAvailabilityResponse", "status"): "AvailabilityStatus",
    ("ChangeConfigurationResponse", "status"): "ConfigurationStatus",
    ("ClearCacheResponse", "status"): "ClearCacheStatus",
    ("ClearChargingProfileResponse", "status"): "ClearChargingProfileStatus",
    ("DataTransferResponse", "status"): "DataTransferStatus",
    ("DiagnosticsStatusNotificationRequest", "status"): "DiagnosticsStatus",
    ("FirmwareStatusNotificationRequest", "status"): "FirmwareStatus",
    ("GetCompositeScheduleResponse", "status"): "GetCompositeScheduleStatus",
    ("IdTagInfo", "status"): "AuthorizationStatus",
    ("RemoteStartTransactionResponse", "status"): "RemoteStartStopStatus",
    ("RemoteStopTransactionResponse", "status"): "RemoteStartStopStatus",
    ("ReserveNowResponse", "status"): "ReservationStatus",
    ("ResetRequest", "type"): "ResetType",
    ("ResetResponse", "status"): "ResetStatus",
    ("SampledValue", "unit"): "MeterValuesUnitOfMeasure",
    ("SendLocalListResponse", "status"): "UpdateStatus",
    ("SetChargingProfileResponse", "status"): "ChargingProfileStatus",
    ("StatusNotificationRequest", "status"): "ChargePointStatus",
    ("TriggerMessageResponse", "status"): "TriggerMessageStatus",
    ("UnlockConnectorResponse", "status"): "UnlockStatus",
}
# ... or by property alone when the type is shared ...
ENUM_NAMES_BY_PROPERTY: Final = {
    "chargingProfileKind": "ChargingProfileKindType",
    "chargingProfilePurpose": "ChargingProfilePurposeType",
    "chargingRateUnit": "ChargingRateUnitType",
    "context": "ReadingContext",
    "errorCode": "ChargePointErrorCode",
    "format": "ValueFormat",
    "location": "Location",
    "measurand": "Measurand",
    "phase": "Phase",
    "reason": "Reason",
    "recurrencyKind": "RecurrencyKindType",
    "requestedMessage": "MessageTrigger",
    "unit": "UnitOfMeasure",
    "updateType": "UpdateType",
}
# ... and whitepaper enums by their definition name minus "EnumType", except where that clashes with a 1.6
# type of different values (or is too vague: "Log").
DEFINITION_NAMES: Final = {
    "FirmwareStatusEnumType": "SignedFirmwareStatus",
    "LogEnumType": "LogType",
    "MessageTriggerEnumType": "ExtendedMessageTrigger",
}

# Docstrings for the types that are not one OCPP 1.6 type, saying why they exist.
DOCSTRINGS: Final = {
    "ExtendedMessageTrigger": (
        "Security whitepaper MessageTriggerEnumType (ExtendedTriggerMessage.requestedMessage).\n\n"
        "Not MessageTrigger: it adds LogStatusNotification and SignChargePointCertificate and drops"
        " DiagnosticsStatusNotification."
    ),
    "MeterValuesUnitOfMeasure": (
        "UnitOfMeasure as MeterValues.json has it (SampledValue.unit).\n\n"
        'The schema admits "Hertz" on top of UnitOfMeasure (StopTransaction.json does not), so the two are'
        " distinct enums with the same spellings for the shared values."
    ),
    "SignedFirmwareStatus": (
        "Security whitepaper FirmwareStatusEnumType (SignedFirmwareStatusNotification.status).\n\n"
        "Not FirmwareStatus: 14 values instead of 7 (DownloadScheduled, InvalidSignature, ...)."
    ),
    "StopTransactionMeterValue": (
        "MeterValue as StopTransaction.json has it (StopTransactionRequest.transactionData).\n\n"
        "Not MeterValue: this schema allows an empty sampledValue list, and its units are UnitOfMeasure"
        " (no Hertz)."
    ),
    "StopTransactionSampledValue": (
        "SampledValue as StopTransaction.json has it (StopTransactionMeterValue.sampledValue).\n\n"
        "Not SampledValue: unit is UnitOfMeasure, without the Hertz of MeterValues.json."
    ),
    "UnitOfMeasure": (
        "OCPP 1.6 UnitOfMeasure, as StopTransaction.json has it (StopTransactionSampledValue.unit).\n\n"
        'Both the 1.6 spelling "Celcius" and the errata\'s "Celsius" are admitted, as the schema does. For'
        " MeterValues see MeterValuesUnitOfMeasure."
    ),
}

# Member names whose value splitting into words would get wrong (unit prefixes, "State of Charge").
MEMBER_NAMES: Final = {"kVA": "KVA", "kW": "KW", "kWh": "KWH", "SoC": "SOC"}

# OCPP 1.6 CiStringNType lengths; other lengths (whitepaper) are plain StringN.
CI_STRING_LENGTHS: Final = frozenset({20, 25, 50, 255, 500})

LINE_LENGTH: Final = 110

KNOWN_KEYWORDS: Final = frozenset(
    {
        "$id",
        "$schema",
        "additionalItems",
        "additionalProperties",
        "definitions",
        "enum",
        "format",
        "items",
        "javaType",
        "maxItems",
        "maxLength",
        "minItems",
        "multipleOf",
        "properties",
        "required",
        "title",
        "type",
    }
)

JSON = dict[str, Any]


class GenerationError(Exception):
    """The schemas hold something this script cannot map faithfully; the message names where."""


@dataclass(frozen=True)
class Field:
    """One Struct field: Python name, wire name, annotation, and an optional trailing comment."""

    name: str
    wire_name: str
    annotation: str
    required: bool
    explicit_name: bool
    comment: str = ""


@dataclass(frozen=True)
class StructDef:
    """A Struct to emit; `fields` in schema order."""

    name: str
    fields: tuple[Field, ...]


@dataclass(frozen=True)
class MessageDef:
    """A request or response Struct and the action it belongs to."""

    struct: StructDef
    action: str
    is_response: bool
    whitepaper: bool


@dataclass
class Model:
    """Everything read from the schemas, keyed by generated name."""

    messages: list[MessageDef] = field(default_factory=list)
    nested: dict[str, StructDef] = field(default_factory=dict)
    enums: dict[str, tuple[str, ...]] = field(default_factory=dict)
    origins: dict[str, str] = field(default_factory=dict)
    users: defaultdict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    string_lengths: set[int] = field(default_factory=set)


def render(schemas_dir: Path) -> str:
    """The text of messages.py for the schemas in `schemas_dir`."""
    model = _read_schemas(schemas_dir)
    return _Renderer(model).render()


def default_schemas_dir() -> Path:
    """The schema directory of the installed `ocpp` package."""
    return Path(str(importlib.resources.files("ocpp.v16") / "schemas"))


def main(argv: Sequence[str] | None = None) -> int:
    """Write messages.py, or with --check report whether the committed one is current."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--schemas", type=Path, default=None, help="schema directory (default: ocpp's)")
    parser.add_argument("--check", action="store_true", help="exit 1 if messages.py is out of date")
    args = parser.parse_args(argv)
    schemas_dir: Path = args.schemas if args.schemas is not None else default_schemas_dir()
    try:
        text = render(schemas_dir)
    except GenerationError as exc:
        print(f"gen_messages: {exc}", file=sys.stderr)
        return 2
    relative = OUTPUT.relative_to(REPO_ROOT) if OUTPUT.is_relative_to(REPO_ROOT) else OUTPUT
    if args.check:
        current = OUTPUT.read_text(encoding="utf-8") if OUTPUT.exists() else ""
        if current != text:
            print(f"{relative} is out of date; run python tools/gen_messages.py")
            return 1
        return 0
    OUTPUT.write_text(text, encoding="utf-8")
    print(f"wrote {relative}")
    return 0


# --- reading the schemas ---------------------------------------------------------------------------------


def _read_schemas(schemas_dir: Path) -> Model:
    model = Model()
    paths = sorted(schemas_dir.glob("*.json"))
    if not paths:
        raise GenerationError(f"no *.json schemas in {schemas_dir}")
    for path in paths:
        schema: JSON = json.loads(path.read_text(encoding="utf-8"))
        stem = path.stem
        is_response = stem.endswith("Response")
        action = stem.removesuffix("Response")
        expected = f"{action}{'Response' if is_response else 'Request'}"
        title = schema.get("title")
        if title is not None and title != expected:
            raise GenerationError(f"{path.name}: title {title!r}, expected {expected!r}")
        struct = _Reader(model, path.name, schema).struct(expected, schema)
        model.messages.append(MessageDef(struct, action, is_response, whitepaper=title is None))
    actions = {m.action for m in model.messages}
    for action in sorted(actions):
        kinds = sorted(m.is_response for m in model.messages if m.action == action)
        if kinds != [False, True]:
            raise GenerationError(f"{action}: needs exactly one request and one response schema")
    unknown = (CHARGE_POINT_INITIATED | BOTH_WAYS) - actions
    if unknown:
        raise GenerationError(f"CHARGE_POINT_INITIATED names actions without schemas: {sorted(unknown)}")
    return model


class _Reader:
    """Walks one schema file, registering nested Structs and enums in the shared model."""

    def __init__(self, model: Model, filename: str, root: JSON) -> None:
        self.model = model
        self.filename = filename
        self.root = root

    def struct(self, name: str, schema: JSON) -> StructDef:
        self._check_keywords(schema, name)
        if schema.get("type") != "object" or schema.get("additionalProperties") is not False:
            raise GenerationError(f"{self.filename}: {name} must be an object with additionalProperties false")
        required = set(schema.get("required", []))
        properties: JSON = schema.get("properties", {})
        if not required <= properties.keys():
            raise GenerationError(f"{self.filename}: {name} requires undeclared {sorted(required - properties.keys())}")
        fields = tuple(self._field(name, wire, sub, wire in required) for wire, sub in properties.items())
        return StructDef(name, fields)

    def _field(self, owner: str, wire: str, schema: JSON, required: bool) -> Field:
        annotation, comment = self._annotation(owner, wire, schema)
        name = _snake(wire)
        if keyword.iskeyword(name):
            name += "_"
        explicit = _camel(name) != wire
        return Field(name, wire, annotation, required, explicit, comment)

    def _annotation(self, owner: str, prop: str, schema: JSON) -> tuple[str, str]:
        schema, definition = self._resolve(schema)
        where = f"{owner}.{prop}"
        self._check_keywords(schema, where)
        kind = schema.get("type")
        if "enum" in schema:
            if kind != "string":
                raise GenerationError(f"{self.filename}: {where}: only string enums are supported")
            return self._enum(owner, prop, tuple(schema["enum"]), definition), ""
        if kind == "string":
            if schema.get("format") == "date-time":
                return "DateTime", ""
            if "maxLength" in schema:
                length = int(schema["maxLength"])
                self.model.string_lengths.add(length)
                return _string_alias(length), ""
            return "str", ""
        if kind == "integer":
            if "multipleOf" in schema:
                raise GenerationError(f"{self.filename}: {where}: an integer multipleOf is not supported")
            return "Integer", ""
        if kind == "number":
            if "multipleOf" in schema:
                # msgspec's float multiple_of rejects 1.0 and 0.3 for 0.1: see the module docstring.
                return "float", f"schema: multipleOf {schema['multipleOf']!r}, not enforced"
            return "float", ""
        if kind == "boolean":
            return "bool", ""
        if kind == "array":
            item, comment = self._annotation(owner, prop, schema["items"])
            meta = []
            if "minItems" in schema:
                meta.append(f"min_length={int(schema['minItems'])}")
            if "maxItems" in schema:
                meta.append(f"max_length={int(schema['maxItems'])}")
            if meta:
                return f"Annotated[list[{item}], msgspec.Meta({', '.join(meta)})]", comment
            return f"list[{item}]", comment
        if kind == "object":
            return self._nested(owner, prop, schema, definition), ""
        raise GenerationError(f"{self.filename}: {where}: unsupported type {kind!r}")

    def _nested(self, owner: str, prop: str, schema: JSON, definition: str | None) -> str:
        name = NESTED_NAMES.get((owner, prop)) or NESTED_NAMES_BY_PROPERTY.get(prop) or _pascal(prop)
        struct = self.struct(name, schema)
        known = self.model.nested.get(name)
        if known is not None and known != struct:
            raise GenerationError(
                f"{self.filename}: {owner}.{prop} differs from the {name} seen before; name it in NESTED_NAMES"
            )
        self.model.nested[name] = struct
        self._origin(name, definition)
        self.model.users[name].add(f"{owner}.{prop}")
        return name

    def _enum(self, owner: str, prop: str, values: tuple[str, ...], definition: str | None) -> str:
        if (owner, prop) in ENUM_NAMES:
            name = ENUM_NAMES[owner, prop]
        elif definition is not None:
            name = DEFINITION_NAMES.get(definition, definition.removesuffix("EnumType"))
        else:
            name = ENUM_NAMES_BY_PROPERTY.get(prop) or f"{owner}{_pascal(prop)}"
        known = self.model.enums.get(name)
        if known is not None and known != values:
            raise GenerationError(
                f"{self.filename}: {owner}.{prop} has values {list(values)}, but {name} has {list(known)};"
                " name it in ENUM_NAMES"
            )
        self.model.enums[name] = values
        self._origin(name, definition)
        self.model.users[name].add(f"{owner}.{prop}")
        return name

    def _origin(self, name: str, definition: str | None) -> None:
        """Where a type comes from, for its docstring; a 1.6 type reused by the whitepaper stays 1.6."""
        if definition is None:
            self.model.origins[name] = f"OCPP 1.6 {name}"
        else:
            self.model.origins.setdefault(name, f"Security whitepaper {definition}")

    def _resolve(self, schema: JSON) -> tuple[JSON, str | None]:
        ref = schema.get("$ref")
        if ref is None:
            return schema, None
        prefix = "#/definitions/"
        if not isinstance(ref, str) or not ref.startswith(prefix) or len(schema) != 1:
            raise GenerationError(f"{self.filename}: unsupported $ref {ref!r}")
        definition = ref.removeprefix(prefix)
        target: JSON = self.root["definitions"][definition]
        return target, definition

    def _check_keywords(self, schema: JSON, where: str) -> None:
        unknown = schema.keys() - KNOWN_KEYWORDS
        if unknown:
            raise GenerationError(f"{self.filename}: {where}: unsupported keywords {sorted(unknown)}")
        fmt = schema.get("format")
        if fmt is not None and fmt not in {"date-time", "uri"}:
            raise GenerationError(f"{self.filename}: {where}: unsupported format {fmt!r}")


# --- rendering -------------------------------------------------------------------------------------------

MODULE_DOCSTRING: Final = '''\
"""OCPP 1.6J messages: one msgspec Struct per JSON schema of the 1.6 actions and the security whitepaper.

Generated by tools/gen_messages.py from the schemas the `ocpp` package ships (ocpp/v16/schemas), which are the
contract on the wire. Requests and responses take the schema titles (BootNotificationRequest); the whitepaper
schemas have no title and are named after the file (SignCertificateRequest, SignCertificateResponse). Nested
types and enums take their OCPP 1.6 section 7 names (IdTagInfo, ChargingProfile, AuthorizationStatus); where
two schemas disagree on what the spec calls one type, each gets its own, documented, type (UnitOfMeasure vs
MeterValuesUnitOfMeasure, MeterValue vs StopTransactionMeterValue). Look a Struct up by action in REQUESTS and
RESPONSES; CHARGE_POINT_INITIATED and CENTRAL_SYSTEM_INITIATED say who may send which CALL.

Decoding (msgspec.json.decode(data, type=...)) accepts what the schema accepts (validated with Draft 4
semantics and a date-time format check), and encoding omits unset optional fields, never sending null. The
deliberate deviations, each pinned by tests/protocol/test_messages_schema.py:

- multipleOf 0.1 (ChargingSchedulePeriod.limit, ChargingSchedule.minChargingRate) is not enforced: msgspec's
  float multiple_of rejects 1.0 and 0.3, and the schema's own float arithmetic rejects 0.3 but accepts 16.3,
  so neither is a usable check. Any number is accepted.
- Numbers must fit a double (msgspec: "Number out of range"); the schema sets no bound. Integers must fit
  64 bits, signed (``Integer``): the schema sets no bound either, but the store (SQLite INTEGER) and every
  central system's integer type (Java's long, Postgres bigint) end there, so a larger one is a value the
  station cannot hold and is refused as out of range (PropertyConstraintViolation for a CALL, an invalid
  answer for a CALLRESULT). 1.0 is not an integer (Draft 4; the draft-06 whitepaper schemas would accept it).
- Date-times must carry an offset (DateTime is tz=True), as RFC 3339 requires. msgspec also accepts a space
  for "T" and an offset without colon ("+0100"), which the schema's date-time check rejects; encoding always
  writes RFC 3339 with "T". Fractions of a second are rounded to microseconds, and a date-time that rounds
  past year 9999 is rejected.
- Constraints are checked when decoding, not when a Struct is built in Python: build only what you would
  accept, e.g. aware datetimes.
"""'''


class _Renderer:
    def __init__(self, model: Model) -> None:
        self.model = model
        self.lines: list[str] = []

    def render(self) -> str:
        model = self.model
        self._emit("# Generated by tools/gen_messages.py from ocpp/v16/schemas/*.json. Do not edit: re-run it.")
        self._emit(MODULE_DOCSTRING, "")
        self._emit("import datetime", "import enum", "import types")
        self._emit("from collections.abc import Mapping", "from typing import Annotated, Final, TypeAlias", "")
        self._emit("import msgspec", "", "")
        self._emit(
            "class Message(",
            "    msgspec.Struct,",
            "    frozen=True,",
            "    kw_only=True,",
            '    rename="camel",',
            "    omit_defaults=True,",
            "    forbid_unknown_fields=True,",
            "):",
            *_docstring(
                "Base of every OCPP payload: snake_case in Python, camelCase on the wire, unknown keys rejected."
            ),
            "",
            "",
        )
        self._action_enum()
        self._aliases()
        self._emit(_section("Enums"), "", "")
        for name in sorted(model.enums):
            self._enum(name)
        self._emit(_section("Nested types"), "", "")
        for name in self._nested_order():
            doc = DOCSTRINGS.get(name) or self._with_users(model.origins[name], name)
            self._struct(model.nested[name], doc)
        self._emit(_section("Requests and responses"), "", "")
        for message in sorted(model.messages, key=lambda m: (m.action, m.is_response)):
            self._struct(message.struct, self._message_doc(message))
        self._registries()
        while self.lines and self.lines[-1] == "":
            self.lines.pop()
        return "\n".join(self.lines) + "\n"

    def _emit(self, *lines: str) -> None:
        self.lines.extend(lines)

    def _action_enum(self) -> None:
        self._emit("class Action(enum.StrEnum):", '    """An OCPP-J CALL action, spelt as on the wire."""', "")
        for action in sorted({m.action for m in self.model.messages}):
            self._emit(f'    {_member_name(action)} = "{action}"')
        self._emit("", "")

    def _aliases(self) -> None:
        self._emit(
            "DateTime: TypeAlias = Annotated[datetime.datetime, msgspec.Meta(tz=True)]",
            '"""OCPP dateTime: RFC 3339 with an offset; decoding rejects a naive date-time."""',
            "",
            "Integer: TypeAlias = Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)]",
            '"""OCPP integer, as far as the store can hold it: 64 bits, signed (SQLite INTEGER)."""',
            "",
        )
        for length in sorted(self.model.string_lengths):
            alias = _string_alias(length)
            self._emit(f"{alias}: TypeAlias = Annotated[str, msgspec.Meta(max_length={length})]")
            if length in CI_STRING_LENGTHS:
                self._emit(f'"""OCPP 1.6 CiString{length}Type: at most {length} characters."""', "")
            else:
                self._emit(f'"""Security whitepaper string[0..{length}]."""', "")

    def _enum(self, name: str) -> None:
        values = self.model.enums[name]
        doc = DOCSTRINGS.get(name) or self._with_users(self.model.origins[name], name)
        self._emit(f"class {name}(enum.StrEnum):", *_docstring(doc), "")
        members = [_member_name(value) for value in values]
        if len(set(members)) != len(members):
            raise GenerationError(f"{name}: member names collide: {members}")
        for member, value in zip(members, values, strict=True):
            self._emit(f'    {member} = "{value}"')
        self._emit("", "")

    def _struct(self, struct: StructDef, doc: str) -> None:
        self._emit(f"class {struct.name}(Message, frozen=True, kw_only=True):", *_docstring(doc))
        if struct.fields:
            self._emit("")
        for f in struct.fields:
            self._field(f)
        self._emit("", "")

    def _field(self, f: Field) -> None:
        comment = f"  # {f.comment}" if f.comment else ""
        name_arg = f'name="{f.wire_name}"' if f.explicit_name else ""
        if f.required:
            annotation = f.annotation
            default = f" = msgspec.field({name_arg})" if name_arg else ""
        else:
            annotation = f"msgspec.UnsetType | {f.annotation}"
            default = f" = msgspec.field(default=msgspec.UNSET, {name_arg})" if name_arg else " = msgspec.UNSET"
        line = f"    {f.name}: {annotation}{default}{comment}"
        if len(line) <= LINE_LENGTH:
            self._emit(line)
        else:
            self._emit(f"    {f.name}: (", f"        {annotation}", f"    ){default}{comment}")

    def _registries(self) -> None:
        messages = sorted(self.model.messages, key=lambda m: m.action)
        for title, is_response in (("REQUESTS", False), ("RESPONSES", True)):
            self._emit(f"{title}: Final[Mapping[Action, type[Message]]] = types.MappingProxyType(", "    {")
            for m in messages:
                if m.is_response == is_response:
                    self._emit(f"        Action.{_member_name(m.action)}: {m.struct.name},")
            self._emit("    }", ")", "")
        actions = sorted({m.action for m in messages})
        cp = [a for a in actions if a in CHARGE_POINT_INITIATED or a in BOTH_WAYS]
        cs = [a for a in actions if a not in CHARGE_POINT_INITIATED or a in BOTH_WAYS]
        for title, doc, members in (
            ("CHARGE_POINT_INITIATED", "Actions the charge point sends as CALLs.", cp),
            ("CENTRAL_SYSTEM_INITIATED", "Actions the central system sends as CALLs.", cs),
        ):
            self._emit(f"{title}: Final[frozenset[Action]] = frozenset(", "    {")
            self._emit(*(f"        Action.{_member_name(a)}," for a in members))
            self._emit("    }", ")", f'"""{doc} DataTransfer goes both ways."""', "")

    def _message_doc(self, message: MessageDef) -> str:
        action = message.action
        sender = (
            "the charge point" if (action in CHARGE_POINT_INITIATED) != message.is_response else "the central system"
        )
        if action in BOTH_WAYS:
            sender = "either side"
        suffix = ".conf" if message.is_response else ".req"
        source = " (security whitepaper)" if message.whitepaper else ""
        doc = f"{action}{suffix}{source}, sent by {sender}."
        return _doc(doc, "" if message.struct.fields else "No fields: {} on the wire.")

    def _with_users(self, origin: str, name: str) -> str:
        users = ", ".join(sorted(self.model.users[name]))
        one_line = f"{origin}, used by {users}."
        return one_line if _fits(one_line) else _doc(f"{origin}.", f"Used by {users}.")

    def _nested_order(self) -> list[str]:
        """Nested Structs alphabetically, each after the Structs its fields refer to."""
        done: list[str] = []

        def visit(name: str) -> None:
            if name in done:
                return
            for f in self.model.nested[name].fields:
                for other in sorted(self.model.nested):
                    if re.search(rf"\b{other}\b", f.annotation):
                        visit(other)
            done.append(name)

        for name in sorted(self.model.nested):
            visit(name)
        return done


def _section(title: str) -> str:
    return f"# --- {title} ".ljust(LINE_LENGTH, "-")


def _fits(docstring: str) -> bool:
    """Whether `docstring` fits on one line of a class body."""
    return len(docstring) + len('    """"""') <= LINE_LENGTH


def _doc(summary: str, details: str) -> str:
    """One line if it fits, else the summary, a blank line, and the details."""
    if not details:
        return summary
    one_line = f"{summary} {details}"
    return one_line if _fits(one_line) else f"{summary}\n\n{details}"


def _docstring(text: str) -> list[str]:
    """`text` as an indented docstring wrapped to the line length; paragraphs kept."""
    paragraphs = text.split("\n\n")
    lines: list[str] = []
    for i, paragraph in enumerate(paragraphs):
        if i:
            lines.append("")
        width = LINE_LENGTH - 4 - 3 * (i == 0)
        lines.extend(textwrap.wrap(paragraph, width=width, break_on_hyphens=False))
    if len(lines) == 1 and _fits(lines[0]):
        return [f'    """{lines[0]}"""']
    body = [f'    """{lines[0]}'] + [f"    {line}".rstrip() for line in lines[1:]] + ['    """']
    return body


def _snake(camel: str) -> str:
    """idTag -> id_tag; csChargingProfiles -> cs_charging_profiles."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", camel).lower()


def _camel(snake: str) -> str:
    """What msgspec's rename="camel" makes of `snake` (asked of msgspec itself, not reimplemented)."""
    probe = msgspec.defstruct("Probe", [(snake, int)], rename="camel")
    encoded: tuple[str, ...] = probe.__struct_encode_fields__
    return encoded[0]


def _pascal(camel: str) -> str:
    return camel[:1].upper() + camel[1:]


def _member_name(value: str) -> str:
    """UPPER_SNAKE from an OCPP spelling: Energy.Active.Import.Register, L1-N, SuspendedEVSE, kWh."""
    if value in MEMBER_NAMES:
        return MEMBER_NAMES[value]
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", value)
    name = re.sub(r"[^0-9A-Za-z]+", "_", words).strip("_").upper()
    if not name.isidentifier() or keyword.iskeyword(name):
        raise GenerationError(f"cannot make a member name from {value!r}")
    return name


def _string_alias(length: int) -> str:
    return f"CiString{length}" if length in CI_STRING_LENGTHS else f"String{length}"


if __name__ == "__main__":
    sys.exit(main())
