"""Generate the OCPP message modules from the JSON schemas shipped with `ocpp`, one module per version.

- OCPP 1.6 (``ocpp/v16/schemas``: 28 actions plus 11 of the security whitepaper) becomes
  ``chargebox.protocol.messages``; nested types and enums take the names of OCPP 1.6 section 7 and of the
  whitepaper's definitions.
- OCPP 2.0.1 (``ocpp/v201/schemas``: 64 actions in 128 files) becomes ``chargebox.protocol.v201.messages``; every
  nested type and enum takes the name of its schema definition, which is OCPP 2.0.1 Part 2's datatype name
  (IdTokenType, EVSEType, ChargingStateEnumType).

Each schema becomes a msgspec Struct, so the result reads like hand-written code. It is re-runnable: after
upgrading `ocpp`, run it and review the diff.

    python tools/gen_messages.py                              # writes both modules
    python tools/gen_messages.py --check                      # exits 1 if a committed module is out of date
    python tools/gen_messages.py --version 2.0.1              # one version only (1.6 or 2.0.1)
    python tools/gen_messages.py --version 1.6 --schemas DIR  # reads another schema directory

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
# The written modules, read at call time so that a test can point them elsewhere.
OUTPUT = REPO_ROOT / "src" / "chargebox" / "protocol" / "messages.py"
OUTPUT_V201 = REPO_ROOT / "src" / "chargebox" / "protocol" / "v201" / "messages.py"

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

# Docstrings for the types that are not one OCPP type, saying why they exist.
DOCSTRINGS: Final = {
    "CustomDataType": (
        "OCPP 2.0.1 CustomDataType: a vendor's extension of the object holding it (Part 4 section 9).\n\n"
        "The schema admits any property beside vendorId; decoding checks vendorId and ignores the others, as Part 4"
        " tells a receiver that does not know the vendor to do. To send properties of your own, subclass it:"
        " msgspec encodes the fields of the instance's own class."
    ),
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

# Actions the Charging Station sends (OCPP 2.0.1 Part 2, each message's "sent by"); DataTransfer goes both ways.
CHARGING_STATION_INITIATED: Final = frozenset(
    {
        "Authorize",
        "BootNotification",
        "ClearedChargingLimit",
        "DataTransfer",
        "FirmwareStatusNotification",
        "Get15118EVCertificate",
        "GetCertificateStatus",
        "Heartbeat",
        "LogStatusNotification",
        "MeterValues",
        "NotifyChargingLimit",
        "NotifyCustomerInformation",
        "NotifyDisplayMessages",
        "NotifyEVChargingNeeds",
        "NotifyEVChargingSchedule",
        "NotifyEvent",
        "NotifyMonitoringReport",
        "NotifyReport",
        "PublishFirmwareStatusNotification",
        "ReportChargingProfiles",
        "ReservationStatusUpdate",
        "SecurityEventNotification",
        "SignCertificate",
        "StatusNotification",
        "TransactionEvent",
    }
)

# Member names whose value splitting into words would get wrong (unit prefixes, "State of Charge", V2G, socket
# ratings, IKEv2).
MEMBER_NAMES: Final = {
    "kVA": "KVA",
    "kW": "KW",
    "kWh": "KWH",
    "SoC": "SOC",
    "Get15118EVCertificate": "GET_15118_EV_CERTIFICATE",
    "IKEv2": "IKEV2",
    "L2TP": "L2TP",
    "Other1PhMax16A": "OTHER_1PH_MAX_16A",
    "Other1PhOver16A": "OTHER_1PH_OVER_16A",
    "Other3Ph": "OTHER_3PH",
    "SignV2GCertificate": "SIGN_V2G_CERTIFICATE",
    "V2GCertificate": "V2G_CERTIFICATE",
    "V2GCertificateChain": "V2G_CERTIFICATE_CHAIN",
    "V2GRootCertificate": "V2G_ROOT_CERTIFICATE",
    "s309-1P-16A": "S309_1P_16A",
    "s309-1P-32A": "S309_1P_32A",
    "s309-3P-16A": "S309_3P_16A",
    "s309-3P-32A": "S309_3P_32A",
}

# OCPP 1.6 CiStringNType lengths; other lengths (whitepaper) are plain StringN.
CI_STRING_LENGTHS: Final = frozenset({20, 25, 50, 255, 500})

# Field names whose wire spelling splitting into words would get wrong ("State of Charge").
FIELD_NAMES: Final = {"bulkSoC": "bulk_soc", "fullSoC": "full_soc"}

LINE_LENGTH: Final = 110

KNOWN_KEYWORDS: Final = frozenset(
    {
        "$id",
        "$schema",
        "additionalItems",
        "additionalProperties",
        "comment",
        "default",
        "definitions",
        "description",
        "enum",
        "format",
        "items",
        "javaType",
        "maxItems",
        "maxLength",
        "maximum",
        "minItems",
        "minimum",
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
class Target:
    """One OCPP version: where its schemas and module are, and how its types are named and described."""

    version: str
    package: str
    station_initiated: frozenset[str]
    initiator_registries: tuple[str, str]  # names of the station's and the central system's action sets
    senders: tuple[str, str]  # the station and the central system, as docstrings call them
    docstring: str
    names_by_definition: bool  # 2.0.1: every nested type and enum is a named definition; 1.6: see the tables
    open_definitions: frozenset[str] = frozenset()  # objects the schema leaves open to unknown properties
    ci_string_lengths: frozenset[int] = frozenset()  # lengths that are OCPP 1.6 CiStringNType
    definitions_from: str = ""  # where a type named by its definition comes from, for its docstring

    @property
    def schemas_dir(self) -> Path:
        return Path(str(importlib.resources.files(self.package) / "schemas"))

    @property
    def output(self) -> Path:
        return OUTPUT if self.version == "1.6" else OUTPUT_V201


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
    """A Struct to emit; `fields` in schema order. `open` admits unknown properties (and drops them)."""

    name: str
    fields: tuple[Field, ...]
    open: bool = False


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


def render(schemas_dir: Path, target: Target | None = None) -> str:
    """The text of the messages module of `target` (default OCPP 1.6) for the schemas in `schemas_dir`."""
    target = target or OCPP16
    model = _read_schemas(schemas_dir, target)
    return _Renderer(model, target).render()


def default_schemas_dir(target: Target | None = None) -> Path:
    """The schema directory of the installed `ocpp` package for `target` (default OCPP 1.6)."""
    return (target or OCPP16).schemas_dir


def main(argv: Sequence[str] | None = None) -> int:
    """Write the modules, or with --check report whether the committed ones are current."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--version", choices=sorted(TARGETS), default=None, help="one OCPP version (default: all)")
    parser.add_argument("--schemas", type=Path, default=None, help="schema directory (default: ocpp's)")
    parser.add_argument("--check", action="store_true", help="exit 1 if a module is out of date")
    args = parser.parse_args(argv)
    if args.schemas is not None and args.version is None:
        parser.error("--schemas needs --version")
    targets = [TARGETS[args.version]] if args.version else list(TARGETS.values())
    stale = False
    for target in targets:
        schemas_dir: Path = args.schemas if args.schemas is not None else target.schemas_dir
        try:
            text = render(schemas_dir, target)
        except GenerationError as exc:
            print(f"gen_messages: {exc}", file=sys.stderr)
            return 2
        output = target.output
        relative = output.relative_to(REPO_ROOT) if output.is_relative_to(REPO_ROOT) else output
        if args.check:
            current = output.read_text(encoding="utf-8") if output.exists() else ""
            if current != text:
                print(f"{relative} is out of date; run python tools/gen_messages.py")
                stale = True
            continue
        output.write_text(text, encoding="utf-8")
        print(f"wrote {relative}")
    return 1 if stale else 0


# --- reading the schemas ---------------------------------------------------------------------------------


def _read_schemas(schemas_dir: Path, target: Target) -> Model:
    model = Model()
    paths = sorted(schemas_dir.glob("*.json"))
    if not paths:
        raise GenerationError(f"no *.json schemas in {schemas_dir}")
    for path in paths:
        schema: JSON = json.loads(path.read_text(encoding="utf-8"))
        stem = path.stem
        is_response = stem.endswith("Response")
        action = stem.removesuffix("Response") if is_response else stem.removesuffix("Request")
        expected = f"{action}{'Response' if is_response else 'Request'}"
        title = schema.get("title")
        if title is not None and title != expected:
            raise GenerationError(f"{path.name}: title {title!r}, expected {expected!r}")
        struct = _Reader(model, target, path.name, schema).struct(expected, schema)
        whitepaper = title is None and not target.names_by_definition
        model.messages.append(MessageDef(struct, action, is_response, whitepaper))
    actions = {m.action for m in model.messages}
    for action in sorted(actions):
        kinds = sorted(m.is_response for m in model.messages if m.action == action)
        if kinds != [False, True]:
            raise GenerationError(f"{action}: needs exactly one request and one response schema")
    unknown = target.station_initiated - actions
    if unknown:
        raise GenerationError(f"{target.initiator_registries[0]} names actions without schemas: {sorted(unknown)}")
    return model


class _Reader:
    """Walks one schema file, registering nested Structs and enums in the shared model."""

    def __init__(self, model: Model, target: Target, filename: str, root: JSON) -> None:
        self.model = model
        self.target = target
        self.filename = filename
        self.root = root

    def struct(self, name: str, schema: JSON) -> StructDef:
        self._check_keywords(schema, name)
        is_open = schema.get("additionalProperties") is not False
        if schema.get("type") != "object" or (is_open and name not in self.target.open_definitions):
            raise GenerationError(f"{self.filename}: {name} must be an object with additionalProperties false")
        required = set(schema.get("required", []))
        properties: JSON = schema.get("properties", {})
        if not required <= properties.keys():
            raise GenerationError(f"{self.filename}: {name} requires undeclared {sorted(required - properties.keys())}")
        fields = tuple(self._field(name, wire, sub, wire in required) for wire, sub in properties.items())
        return StructDef(name, fields, is_open)

    def _field(self, owner: str, wire: str, schema: JSON, required: bool) -> Field:
        annotation, comment = self._annotation(owner, wire, schema)
        default = self._resolve(schema)[0].get("default")
        if default is not None:
            # Not filled in: an absent field stays UNSET, so what was received is what is re-encoded.
            comment = "; ".join(filter(None, (comment, f"schema default: {json.dumps(default)}")))
        name = FIELD_NAMES.get(wire) or _snake(wire)
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
                return _string_alias(length, self.target), ""
            return "str", ""
        if kind == "integer":
            if not schema.keys() & {"multipleOf", "minimum", "maximum"}:
                return "Integer", ""
            meta = []
            if "multipleOf" in schema:
                meta.append(f"multiple_of={schema['multipleOf']!r}")
            meta += _bounds(schema, int, where)
            return f"Annotated[int, msgspec.Meta({', '.join(meta)})]", ""
        if kind == "number":
            bounds = _bounds(schema, float, where)
            annotation = f"Annotated[float, msgspec.Meta({', '.join(bounds)})]" if bounds else "float"
            if "multipleOf" in schema:
                # msgspec's float multiple_of rejects 1.0 and 0.3 for 0.1: see the module docstring.
                return annotation, f"schema: multipleOf {schema['multipleOf']!r}, not enforced"
            return annotation, ""
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
        if kind is None and not schema.keys() - {"description"}:
            # Any JSON value (2.0.1 DataTransfer data): kept as its raw text for the vendor to decode.
            return "msgspec.Raw", "any JSON value, undecoded"
        raise GenerationError(f"{self.filename}: {where}: unsupported type {kind!r}")

    def _nested(self, owner: str, prop: str, schema: JSON, definition: str | None) -> str:
        if self.target.names_by_definition:
            if definition is None:
                raise GenerationError(f"{self.filename}: {owner}.{prop}: an inline object, not a definition")
            name = definition
        else:
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
        if self.target.names_by_definition:
            if definition is None:
                raise GenerationError(f"{self.filename}: {owner}.{prop}: an inline enum, not a definition")
            name = definition
        elif (owner, prop) in ENUM_NAMES:
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
            self.model.origins.setdefault(name, f"{self.target.definitions_from} {definition}")

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


INTEGER_LIMITS: Final = {"ge": (-(2**63), "-(2**63)"), "le": (2**63 - 1, "2**63 - 1")}
"""An integer's 64-bit bounds (what SQLite INTEGER holds), as a value and as written in the generated source."""


def _bounds(schema: JSON, kind: type[int] | type[float], where: str) -> list[str]:
    """msgspec.Meta arguments for the schema's minimum and maximum; an integer's absent bound is its 64-bit one."""
    meta = []
    for keyword_, argument in (("minimum", "ge"), ("maximum", "le")):
        if keyword_ in schema:
            bound = schema[keyword_]
            if kind is int and bound != int(bound):
                raise GenerationError(f"{where}: {keyword_} {bound!r} of an integer is not an integer")
            if kind is int and not INTEGER_LIMITS["ge"][0] <= bound <= INTEGER_LIMITS["le"][0]:
                raise GenerationError(f"{where}: {keyword_} {bound!r} of an integer does not fit 64 bits")
            meta.append(f"{argument}={kind(bound)!r}")
        elif kind is int:
            meta.append(f"{argument}={INTEGER_LIMITS[argument][1]}")
    return meta


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


MODULE_DOCSTRING_V201: Final = '''\
"""OCPP 2.0.1 messages: one msgspec Struct per JSON schema of the 64 actions (OCPP 2.0.1 Part 3).

Generated by tools/gen_messages.py from the schemas the `ocpp` package ships (ocpp/v201/schemas), which are the
contract on the wire. Requests and responses take the schema file names (BootNotificationRequest,
BootNotificationResponse); every nested type and enum takes its schema definition name, which is its OCPP 2.0.1
Part 2 datatype name (IdTokenType, EVSEType, ComponentType, VariableType, ChargingProfileType,
ChargingStateEnumType). Look a Struct up by action in REQUESTS and RESPONSES; CHARGING_STATION_INITIATED and
CSMS_INITIATED say who may send which CALL.

Decoding (msgspec.json.decode(data, type=...)) accepts what the schema accepts (validated with Draft 6
semantics and a date-time format check): lengths, enums, minItems/maxItems and the minimum/maximum of
integers are checked. Encoding omits unset optional fields, never sending null (Part 4 section 4.1.5). The
decisions and deliberate deviations, each pinned by tests/protocol/test_messages_v201_schema.py:

- customData (CustomDataType, on every object: Part 4 section 9) keeps vendorId, which is checked (at most 255
  characters), and drops the vendor's other properties when decoding, as Part 4 tells a receiver that does
  not know the vendor to ignore them; a decoded message re-encodes without them. To send properties of your
  own, subclass CustomDataType.
- Schema defaults are not filled in: an absent field decodes as UNSET and its reader applies the default,
  which the field's comment names (SampledValueType.location "Outlet", measurand
  "Energy.Active.Import.Register", context "Sample.Periodic", UnitOfMeasureType.unit "Wh" and multiplier 0,
  attributeType "Actual", tbc and offline false, ...). So what was received is what is re-encoded.
- An integer-valued number such as 1.0 is not an integer, although Draft 6 accepts it as one. Integers must
  fit 64 bits, signed (``Integer``; within that, the schema's minimum and maximum where it sets one): the
  schema sets no bound, but the store (SQLite INTEGER) ends there, as in 1.6, so a larger one is refused as
  out of range (a CALLERROR for a CALL, an invalid answer for a CALLRESULT).
- Numbers must fit a double (msgspec: "Number out of range"); the schema sets no bound.
- Date-times must carry an offset (DateTime is tz=True), as RFC 3339 requires. msgspec also accepts a space
  for "T" and an offset without colon ("+0100"), which the schema's date-time check rejects; encoding always
  writes RFC 3339 with "T". Fractions of a second are rounded to microseconds, and a date-time that rounds
  past year 9999 is rejected.
- Get15118EVCertificateResponse.exiResponse admits 7,500 characters, as the `ocpp` package's schema does;
  OCPP 2.0.1 Part 3's schema and Part 2 say 5,600 (a station may announce more through
  OCPPCommCtrlr.FieldLength).
- Constraints are checked when decoding, not when a Struct is built in Python: build only what you would
  accept, e.g. aware datetimes.
"""'''


OCPP16: Final = Target(
    version="1.6",
    package="ocpp.v16",
    station_initiated=CHARGE_POINT_INITIATED,
    initiator_registries=("CHARGE_POINT_INITIATED", "CENTRAL_SYSTEM_INITIATED"),
    senders=("the charge point", "the central system"),
    docstring=MODULE_DOCSTRING,
    names_by_definition=False,
    ci_string_lengths=CI_STRING_LENGTHS,
    definitions_from="Security whitepaper",
)
OCPP201: Final = Target(
    version="2.0.1",
    package="ocpp.v201",
    station_initiated=CHARGING_STATION_INITIATED,
    initiator_registries=("CHARGING_STATION_INITIATED", "CSMS_INITIATED"),
    senders=("the Charging Station", "the CSMS"),
    docstring=MODULE_DOCSTRING_V201,
    names_by_definition=True,
    open_definitions=frozenset({"CustomDataType"}),
    definitions_from="OCPP 2.0.1",
)
TARGETS: Final = {target.version: target for target in (OCPP16, OCPP201)}


class _Renderer:
    def __init__(self, model: Model, target: Target) -> None:
        self.model = model
        self.target = target
        self.lines: list[str] = []

    def render(self) -> str:
        model = self.model
        package = self.target.package.removeprefix("ocpp.")
        self._emit(f"# Generated by tools/gen_messages.py from ocpp/{package}/schemas/*.json. Do not edit: re-run it.")
        self._emit(self.target.docstring, "")
        self._emit("import datetime", "import enum", "import types")
        self._emit("from collections.abc import Mapping", "from typing import Annotated, Final, TypeAlias", "")
        self._emit("import msgspec", "")
        self._emit("from chargebox.protocol.base import Message as Message", "", "")
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
            f"Integer: TypeAlias = Annotated[int, msgspec.Meta({', '.join(_bounds({}, int, 'Integer'))})]",
            '"""OCPP integer, as far as the store can hold it: 64 bits, signed (SQLite INTEGER)."""',
            "",
        )
        for length in sorted(self.model.string_lengths):
            alias = _string_alias(length, self.target)
            self._emit(f"{alias}: TypeAlias = Annotated[str, msgspec.Meta(max_length={length})]")
            if length in self.target.ci_string_lengths:
                self._emit(f'"""OCPP 1.6 CiString{length}Type: at most {length} characters."""', "")
            else:
                self._emit(f'"""{self.target.definitions_from} string[0..{length}]."""', "")

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
        options = "frozen=True, kw_only=True" + (", forbid_unknown_fields=False" if struct.open else "")
        self._emit(f"class {struct.name}(Message, {options}):", *_docstring(doc))
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
        station_initiated = self.target.station_initiated
        station = [a for a in actions if a in station_initiated or a in BOTH_WAYS]
        central = [a for a in actions if a not in station_initiated or a in BOTH_WAYS]
        station_set, central_set = self.target.initiator_registries
        station_name, central_name = self.target.senders
        for title, sender, members in ((station_set, station_name, station), (central_set, central_name, central)):
            self._emit(f"{title}: Final[frozenset[Action]] = frozenset(", "    {")
            self._emit(*(f"        Action.{_member_name(a)}," for a in members))
            self._emit("    }", ")", f'"""Actions {sender} sends as CALLs. DataTransfer goes both ways."""', "")

    def _message_doc(self, message: MessageDef) -> str:
        action = message.action
        station, central = self.target.senders
        sender = station if (action in self.target.station_initiated) != message.is_response else central
        if action in BOTH_WAYS:
            sender = "either side"
        if self.target.names_by_definition:
            doc = f"{message.struct.name}, sent by {sender}."
        else:
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


def _string_alias(length: int, target: Target) -> str:
    return f"CiString{length}" if length in target.ci_string_lengths else f"String{length}"


if __name__ == "__main__":
    sys.exit(main())
