"""Checking a generated messages module against the JSON schemas it was generated from, for either version.

``Schemas`` holds one version's schema files and Structs; the helpers below build valid instances with
hypothesis-jsonschema, break them in every way a schema can be broken, and compare what msgspec decodes with
what the schema accepts. tests/protocol/test_messages_schema.py (1.6) and test_messages_v201_schema.py (2.0.1)
run the same checks through it.

The schema verdict is jsonschema's validator of the schema's draft with a date-time FormatChecker backed by
rfc3339-validator, integers counted as Draft 4 counts them (1.0 is not one; see the 2.0.1 module docstring) and
bounded to 64 bits, signed, as both generated modules decode them.
"""

from __future__ import annotations

import copy
import datetime
import functools
import importlib.util
import json
import sys
import types
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hypothesis.internal.conjecture.utils as conjecture_utils
import hypothesis_jsonschema._from_schema as hypothesis_jsonschema_internals
import jsonschema
import msgspec
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema

from chargebox.protocol.base import Message

REPO_ROOT = Path(__file__).resolve().parents[2]
DATE_TIME_CHECKER = jsonschema.FormatChecker(formats=("date-time",))

SETTINGS = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


def load_generator() -> types.ModuleType:
    """tools/gen_messages.py, imported as the module ``gen_messages`` (tools/ is not a package)."""
    if "gen_messages" in sys.modules:
        return sys.modules["gen_messages"]
    spec = importlib.util.spec_from_file_location("gen_messages", REPO_ROOT / "tools" / "gen_messages.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


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


def _draft4_integer(checker: Any, instance: object) -> bool:
    return isinstance(instance, int) and not isinstance(instance, bool)


# --- one version's schemas and Structs -------------------------------------------------------------------


class Schemas:
    """The schema files of one OCPP version (file stem -> schema) and the Struct each one decodes into."""

    def __init__(
        self,
        directory: Path,
        requests: Mapping[Any, type[Message]],
        responses: Mapping[Any, type[Message]],
        action: Callable[[str], Any],
        request_suffix: str,
    ) -> None:
        self.schemas: dict[str, dict[str, Any]] = {
            path.stem: json.loads(path.read_text(encoding="utf-8")) for path in sorted(directory.glob("*.json"))
        }
        self.stems = sorted(self.schemas)
        self._requests, self._responses, self._action = requests, responses, action
        self._request_suffix = request_suffix

    def struct_for(self, stem: str) -> type[Message]:
        """The Struct for a schema file stem (BootNotification or BootNotificationRequest, ...Response)."""
        if stem.endswith("Response"):
            return self._responses[self._action(stem.removesuffix("Response"))]
        return self._requests[self._action(stem.removesuffix(self._request_suffix))]

    @functools.cache  # noqa: B019 (one instance per test module, alive as long as it)
    def validator(self, stem: str) -> jsonschema.protocols.Validator:
        """The schema's verdict, with integers bounded to 64 bits as the generated module decodes them (a pinned
        deviation)."""
        schema = int64(self.schemas[stem])
        base = jsonschema.validators.validator_for(schema)
        strict = jsonschema.validators.extend(base, type_checker=base.TYPE_CHECKER.redefine("integer", _draft4_integer))
        validator: jsonschema.protocols.Validator = strict(schema, format_checker=DATE_TIME_CHECKER)
        return validator

    @functools.cache  # noqa: B019
    def plain(self, stem: str) -> dict[str, Any]:
        """The schema with its references inlined, as hypothesis-jsonschema needs it."""
        result: dict[str, Any] = inline_refs(int64(self.schemas[stem]))
        return result

    @functools.cache  # noqa: B019
    def full(self, stem: str) -> dict[str, Any]:
        """The schema with every property required and every array non-empty: its instances are valid for the
        original and hold every place a mutation can go."""
        return _full(self.plain(stem))

    @functools.cache  # noqa: B019
    def valid_instances(self, stem: str) -> st.SearchStrategy[dict[str, Any]]:
        return from_schema(_small(self.plain(stem))).filter(self.validator(stem).is_valid)

    @functools.cache  # noqa: B019
    def full_instances(self, stem: str) -> st.SearchStrategy[dict[str, Any]]:
        return from_schema(_small(self.full(stem))).filter(self.validator(stem).is_valid)

    def decode(self, stem: str, instance: Any) -> Message:
        return msgspec.json.decode(json.dumps(instance).encode(), type=self.struct_for(stem))

    def decodes(self, stem: str, instance: Any) -> bool:
        try:
            self.decode(stem, instance)
        except msgspec.ValidationError:
            return False
        return True

    def accepts(self, stem: str, instance: Any) -> bool:
        """The schema's verdict, ignoring multipleOf (deliberately not enforced, see messages.py)."""
        return all(error.validator == "multipleOf" for error in self.validator(stem).iter_errors(instance))

    def mutation_sites(self, stem: str, mutation: str) -> list[Site]:
        # Sites of the original schema (for required/optional), at paths a full instance has.
        return [site for site in sites(self.plain(stem)) if MUTATIONS[mutation].applies(site)]

    def mutation_cases(self) -> list[tuple[str, str]]:
        return [(stem, name) for stem in self.stems for name in MUTATIONS if self.mutation_sites(stem, name)]

    def near_values(self, stem: str) -> list[Any]:
        """Values that are valid somewhere in this schema, or just not: enum values, boundary lengths, dates."""
        values: list[Any] = ["2020-01-01T00:00:00Z", "2020-01-01T00:00:00.5+05:30", 1.0, 0.3, 16.3, 2**70, -1]
        for site in sites(self.plain(stem)):
            values.extend(site.schema.get("enum", []))
            if "maxLength" in site.schema:
                values += ["x" * site.schema["maxLength"], "x" * (site.schema["maxLength"] + 1)]
            for bound in ("minimum", "maximum"):
                if bound in site.schema:
                    values += [int(site.schema[bound]) + step for step in (-1, 0, 1)]
        return values + NOT_DATE_TIMES


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


def _small(node: Any) -> Any:
    """The schema with arrays of at most 2 items (or their minimum) and the unknown properties of an open object
    (2.0.1 customData) kept to plain values: 2.0.1's lists of up to 1,024 charging periods, each open to nested
    vendor data, would otherwise make instances too big to generate. Instances stay valid for the original."""
    if isinstance(node, list):
        return [_small(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _small(value) for key, value in node.items()}
    if node.get("type") == "array":
        node["maxItems"] = min(node.get("maxItems", 2), max(node.get("minItems", 0), 2))
    if node.get("type") == "object" and "additionalProperties" not in node:
        node["additionalProperties"] = {"type": ["string", "integer", "boolean", "null"]}
        node["maxProperties"] = len(node.get("properties", {})) + 2
    return node


def normalise(schema: dict[str, Any], value: Any) -> Any:
    """`value` as a round trip gives it back: date-times parsed, numbers as floats, and the properties an open
    object (2.0.1 customData) does not declare dropped, since decoding ignores them."""
    kind = schema.get("type")
    if kind == "object" and isinstance(value, dict):
        properties = schema.get("properties", {})
        closed = schema.get("additionalProperties") is False
        return {
            key: normalise(properties.get(key, {}), item) for key, item in value.items() if closed or key in properties
        }
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
    """Every place the schema describes; in a full instance, all of them exist."""
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


def drop(parent: Any, key: str | int) -> None:
    del parent[key]


# --- ways to break a valid instance ----------------------------------------------------------------------

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


def _closed_object(site: Site) -> bool:
    return site.schema.get("type") == "object" and site.schema.get("additionalProperties") is False


MUTATIONS: dict[str, Mutation] = {
    "drop_required_field": Mutation(
        lambda s: s.required is True,
        lambda i, s, data: edited(i, s.path, drop),
    ),
    "unknown_property_at_top_level": Mutation(
        lambda s: s.path == (),
        lambda i, s, data: edited(i, s.path, _add_unknown),
    ),
    "unknown_property_in_nested_object": Mutation(
        lambda s: s.path != () and _closed_object(s),
        lambda i, s, data: edited(i, s.path, _add_unknown),
    ),
    "wrong_json_type": Mutation(
        lambda s: s.path != () and "type" in s.schema,
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
    "integer_below_minimum": Mutation(
        lambda s: "minimum" in s.schema,
        lambda i, s, data: replaced(i, s.path, int(s.schema["minimum"]) - data.draw(st.integers(1, 3))),
    ),
    "integer_above_maximum": Mutation(
        lambda s: "maximum" in s.schema,
        lambda i, s, data: replaced(i, s.path, int(s.schema["maximum"]) + data.draw(st.integers(1, 3))),
    ),
    "empty_array_under_min_items": Mutation(
        lambda s: s.schema.get("minItems", 0) >= 1,
        lambda i, s, data: replaced(i, s.path, []),
    ),
    "null_for_optional_field": Mutation(
        lambda s: s.required is False and "type" in s.schema,  # a typeless value (DataTransfer data) may be null
        lambda i, s, data: replaced(i, s.path, None),
    ),
    "string_not_a_date_time": Mutation(
        lambda s: s.schema.get("format") == "date-time",
        lambda i, s, data: replaced(i, s.path, data.draw(st.sampled_from(NOT_DATE_TIMES))),
    ),
}


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


def check_round_trip(schemas: Schemas, stem: str, data: st.DataObject) -> None:
    """A valid instance decodes, and re-encodes to JSON the schema accepts and that says the same."""
    instance = data.draw(schemas.valid_instances(stem), label="instance")
    encoded = json.loads(msgspec.json.encode(schemas.decode(stem, instance)))
    schemas.validator(stem).validate(encoded)
    schema = schemas.plain(stem)
    assert normalise(schema, encoded) == normalise(schema, instance)


def check_mutation_rejected(schemas: Schemas, stem: str, mutation: str, data: st.DataObject) -> None:
    """A full valid instance broken by `mutation` at one of its sites is rejected by the schema and msgspec."""
    instance = data.draw(schemas.full_instances(stem), label="valid")
    site = data.draw(st.sampled_from(schemas.mutation_sites(stem, mutation)), label="site")
    invalid = MUTATIONS[mutation].apply(instance, site, data)
    assert not schemas.validator(stem).is_valid(invalid)
    assert not schemas.decodes(stem, invalid)


def check_verdicts_agree(schemas: Schemas, stem: str, data: st.DataObject) -> None:
    """For a randomly edited valid instance, msgspec decodes it exactly when the schema accepts it."""
    candidate = edited_candidate(schemas, stem, data)
    assert schemas.decodes(stem, candidate) == schemas.accepts(stem, candidate), candidate


def edited_candidate(schemas: Schemas, stem: str, data: st.DataObject) -> Any:
    """A valid instance with one to three random edits: replaced values, near values, drops and additions."""
    candidate: Any = data.draw(schemas.valid_instances(stem), label="valid")
    for _ in range(data.draw(st.integers(1, 3), label="edits")):
        site = data.draw(st.sampled_from(list(present_sites(schemas.plain(stem), candidate))), label="site")
        edit = data.draw(st.sampled_from(["replace", "near", "drop", "add"]), label="edit")
        if edit == "replace":
            candidate = replaced(candidate, site.path, data.draw(JSON_VALUES, label="value"))
        elif edit == "near":
            near = data.draw(st.sampled_from(schemas.near_values(stem)), label="near")
            candidate = replaced(candidate, site.path, near)
        elif edit == "drop" and site.path:
            candidate = edited(candidate, site.path, drop)
        elif edit == "add" and isinstance(node_at(candidate, site.path), dict):
            candidate = replaced(candidate, (*site.path, "extra"), data.draw(JSON_VALUES, label="extra"))
    return candidate


def widest(schema: dict[str, Any]) -> Any:
    """The instance of `schema` with every property present, every string at its maximum length and one item in
    each list (or the minimum): the largest a message can be but for the number of list items."""
    if "enum" in schema:
        return max(schema["enum"], key=len)
    kind = schema.get("type")
    if kind == "object":
        return {name: widest(sub) for name, sub in schema.get("properties", {}).items()}
    if kind == "array":
        return [widest(schema["items"])] * max(schema.get("minItems", 1), 1)
    if kind == "string":
        return "2020-01-01T00:00:00.000+01:00" if schema.get("format") == "date-time" else "x" * schema["maxLength"]
    if kind == "integer":
        return int(schema.get("maximum", 2**31 - 1))
    if kind == "number":
        return -123456.789
    if kind == "boolean":
        return False
    return {"any": "value"}  # DataTransfer data


def depth_of(value: object) -> int:
    if isinstance(value, list):
        return 1 + max(map(depth_of, value), default=0)
    if isinstance(value, dict):
        return 1 + max(map(depth_of, value.values()), default=0)
    return 0


def check_struct_mirrors_schema(info: msgspec.inspect.StructType, schema: dict[str, Any], where: str) -> None:
    """Wire names, order and required fields of a Struct and its nested Structs are the schema's."""
    assert [f.encode_name for f in info.fields] == list(schema.get("properties", {})), where
    assert info.forbid_unknown_fields is (schema.get("additionalProperties") is False), where
    required = set(schema.get("required", []))
    for f in info.fields:
        assert f.required == (f.encode_name in required), f"{where}.{f.encode_name}"
        sub = schema["properties"][f.encode_name]
        for nested in _structs_in(f.type):
            target = sub["items"] if sub.get("type") == "array" else sub
            check_struct_mirrors_schema(nested, target, f"{where}.{f.encode_name}")


def _structs_in(t: msgspec.inspect.Type) -> Iterator[msgspec.inspect.StructType]:
    if isinstance(t, msgspec.inspect.StructType):
        yield t
    elif isinstance(t, msgspec.inspect.UnionType):
        for member in t.types:
            yield from _structs_in(member)
    elif isinstance(t, msgspec.inspect.ListType):
        yield from _structs_in(t.item_type)
