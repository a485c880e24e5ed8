"""Device-model variables as the features declare them: one ``Variable`` per variable, by the feature that owns it.

OCPP 2.0.1 replaces 1.6's configuration keys with components and variables (Part 2, "Referenced Components and
Variables"). The catalogue of the ones the Core and Advanced Security profiles use, with their data type, unit,
values, limits and the mutabilities Part 2 allows, is ``protocol/v201/device_model.toml``; ``declare`` reads a
variable from it and lets its owner make the choices the specification leaves to the station (which of two
mutabilities, the default value, which values of a list it supports, tighter limits, whether a change waits
for a reboot), refusing any that the catalogue does not allow: a declaration is generated from the catalogue
and checked against it at import.

A feature names its variables in its declaration (``Feature(variables=(...))``); the device model
(``device_model.py``) holds those of the features the station builds, and each ``Tier`` says where a variable
is instantiated: once for the station (a controller component), once per EVSE (component ``EVSE``, with its
evse id) or once per connector (component ``Connector``, with evse id and connectorId).
"""

from __future__ import annotations

import enum
import functools
import importlib.resources
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from chargebox.protocol.v201 import messages as m

Attribute = m.AttributeEnumType
Mutability = m.MutabilityEnumType
DataType = m.DataEnumType

LISTS: Final = frozenset({DataType.OPTION_LIST, DataType.MEMBER_LIST, DataType.SEQUENCE_LIST})


class Tier(enum.StrEnum):
    """Where a variable's component sits (ComponentType.evse): the station, each EVSE, or each connector."""

    STATION = "station"
    EVSE = "evse"
    CONNECTOR = "connector"


@dataclass(frozen=True, slots=True, kw_only=True)
class Variable:
    """One device-model variable: what a report says of it (its characteristics and attributes) and how the
    station treats it (its default, whether a change waits for a reboot). ``key`` names it for ``get``."""

    component: str  # ComponentType.name
    name: str  # VariableType.name
    instance: str | None = None  # VariableType.instance
    component_instance: str | None = None  # ComponentType.instance
    tier: Tier = Tier.STATION
    data_type: DataType
    mutability: Mutability
    unit: str | None = None
    values: tuple[str, ...] | None = None  # valuesList: what a list variable may hold
    min_limit: float | None = None
    max_limit: float | None = None  # numbers: the largest value; strings and lists: the longest value
    default: str | None = None  # the Actual value until one is set or seeded; None: no value ("" when read)
    attributes: tuple[Attribute, ...] = (Attribute.ACTUAL,)  # the attribute types it supports (B06.FR.08)
    reboot_required: bool = False  # SetVariables answers RebootRequired; the value applies after a reboot
    supports_monitoring: bool = False
    description: str = ""

    @property
    def key(self) -> str:
        """``Component.Variable[instance]``: how the kernel and the features name a station-level variable
        (``kernel.config.get_int(...)``); per-EVSE and per-connector instances are reached through the device
        model's ``VariableRef``."""
        component = (
            self.component if self.component_instance is None else f"{self.component}[{self.component_instance}]"
        )
        return f"{component}.{self.name}" if self.instance is None else f"{component}.{self.name}[{self.instance}]"

    @property
    def persistent(self) -> bool:
        """A value the central system (or a seed) can set survives a reboot; a read-only one is the station's."""
        return self.mutability is not Mutability.READ_ONLY


@dataclass(frozen=True, slots=True)
class Entry:
    """A variable as the catalogue (``device_model.toml``) describes it."""

    component: str
    name: str
    instance: str | None
    tier: Tier
    required: bool
    data_type: DataType
    mutabilities: tuple[Mutability, ...]
    unit: str | None
    values: tuple[str, ...] | None
    min_limit: float | None
    max_limit: float | None
    default: str | None
    note: str


def declare(
    component: str,
    name: str,
    instance: str | None = None,
    *,
    mutability: Mutability | None = None,
    default: str | None = None,
    values: tuple[str, ...] | None = None,
    min_limit: float | None = None,
    max_limit: float | None = None,
    reboot_required: bool = False,
    description: str = "",
) -> Variable:
    """The catalogue's variable with the station's choices. ``mutability`` is required where Part 2 allows two;
    ``values`` narrows a list's valuesList, the limits narrow the catalogue's.

    Raises:
        KeyError: the catalogue has no such variable.
        ValueError: a choice the catalogue does not allow (a mutability, a value, a limit outside its own).
    """
    entry = catalogue()[(component, name, instance)]
    chosen = Mutability(mutability) if mutability else entry.mutabilities[0] if len(entry.mutabilities) == 1 else None
    if chosen is None or chosen not in entry.mutabilities:
        allowed = ", ".join(entry.mutabilities)
        raise ValueError(f"{_spelt(entry)}: mutability must be chosen among {allowed}, not {mutability}")
    if values is not None:
        if entry.values is not None and not set(values) <= set(entry.values):
            raise ValueError(f"{_spelt(entry)}: values {sorted(set(values) - set(entry.values))} are not its own")
    elif entry.data_type in LISTS:
        values = entry.values
    if entry.data_type in LISTS and not values:
        raise ValueError(f"{_spelt(entry)}: a {entry.data_type} needs its valuesList")
    if (min_limit is not None and entry.min_limit is not None and min_limit < entry.min_limit) or (
        max_limit is not None and entry.max_limit is not None and max_limit > entry.max_limit
    ):
        raise ValueError(f"{_spelt(entry)}: limits {min_limit}..{max_limit} outside the catalogue's")
    low = entry.min_limit if min_limit is None else min_limit
    high = entry.max_limit if max_limit is None else max_limit
    return Variable(
        component=component,
        name=name,
        instance=instance,
        tier=entry.tier,
        data_type=entry.data_type,
        mutability=chosen,
        unit=entry.unit,
        values=values,
        min_limit=low,
        max_limit=high,
        default=default if default is not None else entry.default,
        reboot_required=reboot_required,
        description=description or entry.note,
    )


@functools.cache
def catalogue() -> Mapping[tuple[str, str, str | None], Entry]:
    """Every variable of ``protocol/v201/device_model.toml``, by (component, variable, instance)."""
    text = (importlib.resources.files("chargebox.protocol.v201") / "device_model.toml").read_text(encoding="utf-8")
    data = tomllib.loads(text)
    tiers = {component["name"]: Tier(component["tier"]) for component in data["component"]}
    return {
        (raw["component"], raw["name"], raw.get("instance")): _entry(raw, tiers[raw["component"]])
        for raw in data["variable"]
    }


def _entry(raw: Mapping[str, Any], tier: Tier) -> Entry:
    data_type = DataType(raw["data_type"])
    values: tuple[str, ...] | None = None
    if "values" in raw:
        values = tuple(str(value) for value in raw["values"])
    elif "values_from" in raw:
        values = tuple(member.value for member in getattr(m, raw["values_from"]))
    default = raw.get("default")
    return Entry(
        component=raw["component"],
        name=raw["name"],
        instance=raw.get("instance"),
        tier=tier,
        required=bool(raw["required"]),
        data_type=data_type,
        mutabilities=tuple(Mutability(item) for item in raw["mutability"]),
        unit=raw.get("unit"),
        values=values,
        min_limit=raw.get("min_limit"),
        max_limit=raw.get("max_limit"),
        default=None if default is None else (str(default).lower() if isinstance(default, bool) else str(default)),
        note=str(raw.get("note", "")),
    )


def _spelt(entry: Entry) -> str:
    return f"{entry.component}.{entry.name}" + ("" if entry.instance is None else f"[{entry.instance}]")
