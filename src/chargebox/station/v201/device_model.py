"""The device model: a 2.0.1 station's configuration, its components and variables (Part 2, B05 to B08).

Every variable the station's features declare (``variables.py``) is instantiated where its tier says: once for
the station, once per EVSE (component ``EVSE`` with its evse id), once per connector (component ``Connector``
with evse id and connectorId). Each instance holds a value per attribute type it supports (Actual, Target,
MinSet, MaxSet): the declared default, a value the store keeps (set by the central system, by the station, or
seeded at first start), or, for a read-only variable whose value is a fact of the moment (ClockCtrlr.DateTime,
an EVSE's AvailabilityState), the value its owner's ``provide``\\ d reader gives when it is read.

The device model answers what a GetVariables or SetVariables entry asks (``get``/``set``, with B05's and B06's
statuses), writes what a SetVariables request changed in one commit before it is answered, and describes each
instance as a report does (``report_data``: attributes and characteristics, B07.FR.11, B08.FR.12).

To the kernel it is a ``KernelConfig`` (``kernel/config.py``): the link and the lane read
``SecurityCtrlr.SecurityProfile`` or ``OCPPCommCtrlr.MessageAttempts[TransactionEvent]`` by the name
``Variable.key`` gives, add their rules for a new value and subscribe to changes, exactly as they read 1.6's
configuration keys. Names of components and variables match without regard to case (identifierString, Part 2
2.1.4); they are reported as declared.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Final

import msgspec

from chargebox.errors import ConfigError
from chargebox.protocol.v201 import messages as m
from chargebox.station.kernel.config import Listener, Rule, TypedReads
from chargebox.station.v201.variables import LISTS, Attribute, DataType, Mutability, Tier, Variable
from chargebox.store import Store
from chargebox.store.device_model import DeviceModelTable

_INTEGER: Final = re.compile(r"^-?(0|[1-9][0-9]{0,9})$")  # Part 2 2.1.4: no leading 0, no plus sign
_DECIMAL: Final = re.compile(r"^-?[0-9]{1,15}(\.[0-9]{1,6})?$")  # at most six decimal places towards the station
INT32: Final = range(-(2**31), 2**31)
VALUE_SIZE: Final = 1000  # SetVariableData.attributeValue, string[0..1000]: the longest value a variable takes
_ATTRIBUTES: Final = frozenset(attribute.value for attribute in Attribute)
INVALID_VALUE: Final = "InvalidValue"  # reasonCode of a Rejected SetVariables entry (B05.FR.07, TC_B_11_CS)


@dataclass(frozen=True, slots=True)
class ComponentRef:
    """A component instance: its name and instance, and the EVSE (and connector) it sits at."""

    name: str
    instance: str | None = None
    evse: int | None = None
    connector: int | None = None

    @classmethod
    def of(cls, component: m.ComponentType) -> ComponentRef:
        evse = component.evse if isinstance(component.evse, m.EVSEType) else None
        return cls(
            name=component.name,
            instance=_opt(component.instance) or None,  # B06.FR.15: an empty instance names none
            evse=evse.id if evse is not None else None,
            connector=_opt(evse.connector_id) if evse is not None else None,
        )

    def wire(self) -> m.ComponentType:
        evse = msgspec.UNSET if self.evse is None else m.EVSEType(id=self.evse, connector_id=_unset(self.connector))
        return m.ComponentType(name=self.name, instance=_unset(self.instance), evse=evse)

    @property
    def match(self) -> tuple[str, str | None, int | None, int | None]:
        return self.name.lower(), None if self.instance is None else self.instance.lower(), self.evse, self.connector


@dataclass(frozen=True, slots=True)
class VariableRef:
    """One variable of one component instance, as GetVariables and SetVariables name it."""

    component: ComponentRef
    name: str
    instance: str | None = None

    @property
    def spelt(self) -> str:
        """``Component[instance]@evse:connector.Variable[instance]``: its name in the store and for ``get``."""
        c = self.component
        text = c.name if c.instance is None else f"{c.name}[{c.instance}]"
        if c.evse is not None:
            text += f"@{c.evse}" if c.connector is None else f"@{c.evse}:{c.connector}"
        text += f".{self.name}"
        return text if self.instance is None else f"{text}[{self.instance}]"

    def wire(self) -> m.VariableType:
        return m.VariableType(name=self.name, instance=_unset(self.instance))


@dataclass(frozen=True, slots=True)
class Slot:
    """One instance of a declared variable."""

    variable: Variable
    ref: VariableRef

    @property
    def name(self) -> str:
        return self.ref.spelt


Change = tuple[Slot, Attribute, str]  # an accepted SetVariables entry: the instance, attribute type, value as kept


class Seed(msgspec.Struct, frozen=True, kw_only=True, rename="camel", forbid_unknown_fields=True):
    """One entry of a 2.0.1 station's ``--ocpp-config``: a SetVariableData, its attributeType Actual by default.
    ``mutability`` and ``characteristics`` are what ``entries`` adds for the reader, so its output is a seed as it
    is; they are the station's and are not read. A write-only variable's entry may come without its value."""

    component: m.ComponentType
    variable: m.VariableType
    attribute_type: Attribute = Attribute.ACTUAL
    value: str | None = None
    mutability: Mutability | None = None
    characteristics: dict[str, Any] | None = None


class DeviceModel(TypedReads):
    """The component-variables of one station and their values (``KernelConfig`` for the kernel)."""

    def __init__(
        self,
        *,
        store: Store,
        variables: Iterable[Variable],
        evses: Sequence[int],
        log: logging.LoggerAdapter[logging.Logger] | logging.Logger | None = None,
    ) -> None:
        """``evses``: the connectors of each EVSE, EVSE 1 first (``--connectors 2``: ``(1, 1)``)."""
        self.evses = tuple(evses)
        self._table = DeviceModelTable(store)
        self._log = log or logging.getLogger(__name__)
        self._slots: dict[str, Slot] = {}  # by lower-case name
        self._components: dict[tuple[str, str | None, int | None, int | None], dict[tuple[str, str | None], Slot]] = {}
        self._order: list[Slot] = []
        for slot in _instances(tuple(variables), evses):
            self._add(slot)
        self._stored = self._table.load()
        self._values: dict[tuple[str, Attribute], str] = {}
        for slot in self._order:
            if slot.variable.default is not None:
                self._values[slot.name.lower(), Attribute.ACTUAL] = slot.variable.default
        for (name, attribute), value in self._stored.items():
            if name in self._slots and attribute in _ATTRIBUTES:
                self._values[name, Attribute(attribute)] = value
        self._effective = dict(self._values)  # what reboot-required values run with until a reboot
        self._providers: dict[str, Callable[[], str]] = {}
        self._rules: dict[str, list[Rule]] = {}
        self._listeners: dict[str, list[Listener]] = {}

    # -- the kernel's reading (KernelConfig) ------------------------------------------------

    def has(self, name: str) -> bool:
        return name.lower() in self._slots

    def get(self, name: str) -> str | None:
        """The Actual value in force (a provided one read now); None if it has none."""
        key = self._slot(name).name.lower()
        provider = self._providers.get(key)
        return provider() if provider is not None else self._effective.get((key, Attribute.ACTUAL))

    def configured(self, name: str) -> str | None:
        """The Actual value as set, including one waiting for a reboot (and a write-only one)."""
        return self._values.get((self._slot(name).name.lower(), Attribute.ACTUAL))

    def add_rule(self, name: str, rule: Rule) -> None:
        """An extra check a new Actual value must pass (SetVariables answers Rejected), owned by who knows why."""
        self._rules.setdefault(self._slot(name).name.lower(), []).append(rule)

    def subscribe(self, name: str, listener: Listener) -> None:
        """Call ``listener(value)`` after every accepted change of the Actual value."""
        self._listeners.setdefault(self._slot(name).name.lower(), []).append(listener)

    def set_internal(self, name: str, value: str) -> None:
        """A value the station itself sets (HeartbeatInterval from BootNotification, B01.FR.04): kept, in force,
        and told to the subscribers."""
        key = self._slot(name).name.lower()
        if self._values.get((key, Attribute.ACTUAL)) == value and self._effective.get((key, Attribute.ACTUAL)) == value:
            return
        self._table.save({(self._slot(name).name, Attribute.ACTUAL.value): value})
        self._values[key, Attribute.ACTUAL] = self._effective[key, Attribute.ACTUAL] = value
        self.notify(name)

    def notify(self, name: str) -> None:
        """Tell the variable's subscribers its value changed."""
        key = self._slot(name).name.lower()
        value = self._effective.get((key, Attribute.ACTUAL)) or ""
        for listener in self._listeners.get(key, ()):
            listener(value)

    def reboot(self) -> None:
        """The station rebooted: every value set with RebootRequired is in force now."""
        self._effective.update(self._values)

    # -- the owners' extension -------------------------------------------------------------

    def provide(self, name: str, reader: Callable[[], str]) -> None:
        """The Actual value of a read-only variable is ``reader()`` at the moment it is read (a clock, a status)."""
        slot = self._slot(name)
        if slot.variable.mutability is not Mutability.READ_ONLY:
            raise ValueError(f"{slot.name} is {slot.variable.mutability}: only a read-only value is provided")
        self._providers[slot.name.lower()] = reader

    def slot(self, name: str) -> Slot:
        """The instance of that name (``Variable.key`` for the station's, ``VariableRef.spelt`` for any)."""
        return self._slot(name)

    def slots(self) -> list[Slot]:
        """Every instance, in report order: the station's components, then each EVSE with its connectors."""
        return list(self._order)

    # -- GetVariables, SetVariables (B05, B06) ---------------------------------------------

    def find(self, component: m.ComponentType, variable: m.VariableType) -> Slot | str:
        """The instance a request names, or why there is none: UnknownComponent or UnknownVariable (B06.FR.06,
        B06.FR.07, B05.FR.04, B05.FR.05; B06.FR.15: an instance is named or there is none)."""
        variables = self._components.get(ComponentRef.of(component).match)
        if variables is None:
            return m.GetVariableStatusEnumType.UNKNOWN_COMPONENT
        instance = _opt(variable.instance) or None  # B06.FR.15: an empty instance names none
        slot = variables.get((variable.name.lower(), None if instance is None else instance.lower()))
        return slot if slot is not None else m.GetVariableStatusEnumType.UNKNOWN_VARIABLE

    def read(self, data: m.GetVariableDataType) -> m.GetVariableResultType:
        """One GetVariableResult (B06): the value of the attribute asked for, or why not."""
        attribute = data.attribute_type if isinstance(data.attribute_type, Attribute) else Attribute.ACTUAL  # .FR.11
        found = self.find(data.component, data.variable)
        status, value = m.GetVariableStatusEnumType.ACCEPTED, None
        if isinstance(found, str):
            status = m.GetVariableStatusEnumType(found)
        elif attribute not in found.variable.attributes:
            status = m.GetVariableStatusEnumType.NOT_SUPPORTED_ATTRIBUTE_TYPE  # B06.FR.08
        elif found.variable.mutability is Mutability.WRITE_ONLY:
            status = m.GetVariableStatusEnumType.REJECTED  # B06.FR.09
        else:
            value = self.value(found, attribute) or ""  # B06.FR.10; B06.FR.13: "" when it has none
        return m.GetVariableResultType(
            attribute_status=status,
            attribute_type=attribute,  # B06.FR.03, B06.FR.11
            attribute_value=_unset(value),  # B06.FR.06..08: omitted unless Accepted
            component=data.component,  # B06.FR.02
            variable=data.variable,
        )

    def change(self, data: m.SetVariableDataType) -> tuple[m.SetVariableResultType, Change | None]:
        """One SetVariableResult (B05) and, when accepted, the change it makes (the instance, the attribute type,
        the value as kept), checked but not yet applied: ``apply`` writes those of a request together."""
        attribute = data.attribute_type if isinstance(data.attribute_type, Attribute) else Attribute.ACTUAL  # .FR.12
        found = self.find(data.component, data.variable)
        info, normal = None, None
        if isinstance(found, str):
            status = m.SetVariableStatusEnumType(found)  # B05.FR.04, B05.FR.05
        elif attribute not in found.variable.attributes:
            status = m.SetVariableStatusEnumType.NOT_SUPPORTED_ATTRIBUTE_TYPE  # B05.FR.06
        elif found.variable.mutability is Mutability.READ_ONLY:
            status = m.SetVariableStatusEnumType.REJECTED  # B05.FR.09
            info = "ReadOnly"
        elif (normal := normalise(found.variable, data.attribute_value)) is None or not self._passes(found, normal):
            status = m.SetVariableStatusEnumType.REJECTED  # B05.FR.07, B05.FR.08
            info = INVALID_VALUE
        elif found.variable.reboot_required and attribute is Attribute.ACTUAL:
            status = m.SetVariableStatusEnumType.REBOOT_REQUIRED
        else:
            status = m.SetVariableStatusEnumType.ACCEPTED  # B05.FR.10
        result = m.SetVariableResultType(
            attribute_type=attribute,  # B05.FR.03, B05.FR.12
            attribute_status=status,
            attribute_status_info=msgspec.UNSET if info is None else m.StatusInfoType(reason_code=info),
            component=data.component,  # B05.FR.02
            variable=data.variable,
        )
        if status in (m.SetVariableStatusEnumType.ACCEPTED, m.SetVariableStatusEnumType.REBOOT_REQUIRED):
            assert isinstance(found, Slot) and normal is not None
            return result, (found, attribute, normal)
        return result, None

    def apply(self, changes: Sequence[Change]) -> list[str]:
        """Write the accepted values of one request in one commit, then put them in force (a reboot-required
        Actual only after the next reboot); the names whose subscribers are to be told, once the answer is out."""
        if not changes:
            return []
        self._table.save({(slot.name, attribute.value): value for slot, attribute, value in changes})
        told = []
        for slot, attribute, value in changes:
            key = slot.name.lower()
            self._values[key, attribute] = value
            if not (slot.variable.reboot_required and attribute is Attribute.ACTUAL):
                self._effective[key, attribute] = value
                if attribute is Attribute.ACTUAL:
                    told.append(slot.name)
        return told

    def value(self, slot: Slot, attribute: Attribute = Attribute.ACTUAL) -> str | None:
        """The value of one attribute of an instance: its Actual in force (a provided one read now)."""
        key = slot.name.lower()
        provider = self._providers.get(key) if attribute is Attribute.ACTUAL else None
        return provider() if provider is not None else self._effective.get((key, attribute))

    # -- reports (B07, B08) ----------------------------------------------------------------

    def report_data(self, slot: Slot) -> m.ReportDataType:
        """An instance as NotifyReport reports it: every attribute type it supports, valued or not (B07.FR.11),
        a write-only one without its value, and its characteristics (B08.FR.12)."""
        variable = slot.variable
        hidden = variable.mutability is Mutability.WRITE_ONLY
        attributes = [
            m.VariableAttributeType(
                type=attribute,
                value=msgspec.UNSET if hidden else self.value(slot, attribute) or "",  # omitted only if WriteOnly
                mutability=variable.mutability,
                persistent=variable.persistent,
            )
            for attribute in variable.attributes
        ]
        return m.ReportDataType(
            component=slot.ref.component.wire(),
            variable=slot.ref.wire(),
            variable_attribute=attributes,
            variable_characteristics=characteristics(variable),
        )

    # -- seeding (--ocpp-config) ------------------------------------------------------------

    def seed(self, entries: Sequence[Mapping[str, object]], source: str) -> None:
        """The values a station starts with, in the device model's own vocabulary (one SetVariableData each,
        attributeType Actual by default): each is written where the store holds no value for it yet, so a change
        the central system made survives a restart with the same seed; a read-only value may be seeded, as a
        manufacturer sets it. ConfigError naming the entry for a component, variable, attribute type or value
        the station does not have."""
        writes: dict[tuple[str, str], str] = {}
        for index, raw in enumerate(entries):
            where = f"{source}: entry {index + 1}"
            try:
                entry = msgspec.convert(raw, Seed)
            except msgspec.ValidationError as exc:
                raise ConfigError(f"{where}: {exc}") from None
            named = _named(entry.component, entry.variable)
            found = self.find(entry.component, entry.variable)
            if found == m.GetVariableStatusEnumType.UNKNOWN_COMPONENT:
                component = VariableRef(ComponentRef.of(entry.component), "").spelt.removesuffix(".")
                raise ConfigError(f"{where}: the station has no component {component}")
            if isinstance(found, str):
                raise ConfigError(f"{where}: the station has no variable {named}")
            if entry.attribute_type not in found.variable.attributes:
                raise ConfigError(f"{where}: {named} has no {entry.attribute_type} attribute")
            if entry.value is None:
                if found.variable.mutability is Mutability.WRITE_ONLY:
                    continue  # as ``entries`` prints it: nothing to seed
                raise ConfigError(f"{where}: {named} needs a value")
            if entry.value == "" and not self.value(found, entry.attribute_type):
                continue  # a variable without a value, as ``entries`` prints it
            normal = normalise(found.variable, entry.value)
            if normal is None:
                shown = "" if found.variable.mutability is Mutability.WRITE_ONLY else f" {entry.value!r}"  # a secret
                raise ConfigError(f"{where}: {named}: invalid value{shown} for a {describe(found.variable)}")
            key = (found.name.lower(), entry.attribute_type.value)
            if key in writes:
                raise ConfigError(f"{where}: {named} {entry.attribute_type} is seeded twice")
            if key not in self._stored:
                writes[key] = normal
        if writes:
            self._table.save(
                {(self._slots[name].name, attribute): value for (name, attribute), value in writes.items()}
            )
        for (name, attribute), value in writes.items():
            self._stored[name, attribute] = value
            self._values[name, Attribute(attribute)] = self._effective[name, Attribute(attribute)] = value

    def entries(self) -> list[dict[str, Any]]:
        """The whole model in ``--ocpp-config``'s vocabulary, with each attribute's mutability and the variable's
        characteristics (``chargebox device-model``); a write-only value is left out."""
        out: list[dict[str, Any]] = []
        for slot in self._order:
            report = msgspec.to_builtins(self.report_data(slot))
            for attribute in report["variableAttribute"]:
                entry = {
                    "component": report["component"],
                    "variable": report["variable"],
                    "attributeType": attribute["type"],
                    "value": attribute.get("value", ""),
                    "mutability": attribute["mutability"],
                    "characteristics": report["variableCharacteristics"],
                }
                if slot.variable.mutability is Mutability.WRITE_ONLY:
                    del entry["value"]
                out.append(entry)
        return out

    # -- internals --------------------------------------------------------------------------

    def _add(self, slot: Slot) -> None:
        name = slot.name.lower()
        if name in self._slots:
            raise ValueError(f"device-model variable {slot.name} declared twice")
        self._slots[name] = slot
        self._order.append(slot)
        variables = self._components.setdefault(slot.ref.component.match, {})
        variables[slot.ref.name.lower(), None if slot.ref.instance is None else slot.ref.instance.lower()] = slot

    def _slot(self, name: str) -> Slot:
        """KeyError if the station has no such variable (a feature asking for one it did not declare)."""
        return self._slots[name.lower()]

    def _passes(self, slot: Slot, value: str) -> bool:
        return all(rule(value) for rule in self._rules.get(slot.name.lower(), ()))


def characteristics(variable: Variable) -> m.VariableCharacteristicsType:
    """VariableCharacteristics: a list's valuesList always (TC_B_53_CS), limits and unit where declared."""
    return m.VariableCharacteristicsType(
        unit=_unset(variable.unit),
        data_type=variable.data_type,
        min_limit=_unset(variable.min_limit),
        max_limit=_unset(variable.max_limit),
        values_list=msgspec.UNSET if variable.values is None else ",".join(variable.values),
        supports_monitoring=variable.supports_monitoring,
    )


def normalise(variable: Variable, value: str) -> str | None:
    """The value as the variable keeps it, or None if its data type, values or limits refuse it (B05.FR.07,
    B05.FR.08). Lists are kept without spaces around their items."""
    kind, low, high = variable.data_type, variable.min_limit, variable.max_limit
    if kind in (DataType.INTEGER, DataType.DECIMAL):
        if not (_INTEGER if kind is DataType.INTEGER else _DECIMAL).match(value):
            return None
        try:
            number = Decimal(value)
        except InvalidOperation:
            return None
        if kind is DataType.INTEGER and int(number) not in INT32:
            return None
        if (low is not None and number < Decimal(str(low))) or (high is not None and number > Decimal(str(high))):
            return None
        return value
    if kind is DataType.BOOLEAN:
        return value if value in ("true", "false") else None  # Part 2 2.1.4: only these two
    if kind is DataType.DATE_TIME:
        return value if _is_date_time(value) else None
    limit = int(high) if high is not None else VALUE_SIZE
    if len(value) > limit:
        return None
    if kind not in LISTS:
        return value
    items = [item.strip() for item in value.split(",")] if value.strip() else []
    allowed = set(variable.values or ())
    if any(item not in allowed for item in items) or len(set(items)) != len(items):
        return None
    if kind is DataType.OPTION_LIST and len(items) != 1:
        return None
    return ",".join(items)


def describe(variable: Variable) -> str:
    """A variable's type in a line an operator reads (a refused seed)."""
    if variable.data_type in LISTS:
        return f"{variable.data_type} of {','.join(variable.values or ())}"
    if variable.min_limit is not None or variable.max_limit is not None:
        low = "" if variable.min_limit is None else f"{variable.min_limit:g}"
        high = "" if variable.max_limit is None else f"{variable.max_limit:g}"
        return f"{variable.data_type} ({low}..{high})"
    return str(variable.data_type)


def _instances(variables: tuple[Variable, ...], evses: Sequence[int]) -> Iterable[Slot]:
    """The instances of the declarations, in report order: the station's, then each EVSE and its connectors."""
    for variable in variables:
        if variable.tier is Tier.STATION:
            component = ComponentRef(variable.component, variable.component_instance)
            yield Slot(variable, VariableRef(component, variable.name, variable.instance))
    for evse, connectors in enumerate(evses, start=1):
        for variable in variables:
            if variable.tier is Tier.EVSE:
                component = ComponentRef(variable.component, variable.component_instance, evse)
                yield Slot(variable, VariableRef(component, variable.name, variable.instance))
        for connector in range(1, connectors + 1):
            for variable in variables:
                if variable.tier is Tier.CONNECTOR:
                    component = ComponentRef(variable.component, variable.component_instance, evse, connector)
                    yield Slot(variable, VariableRef(component, variable.name, variable.instance))


def _is_date_time(value: str) -> bool:
    """RFC 3339 with a time zone (Part 2 2.1.4), at most three decimals of a second."""
    if not re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,3})?(Z|[+-]\d\d:\d\d)$", value):
        return False
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _named(component: m.ComponentType, variable: m.VariableType) -> str:
    return VariableRef(ComponentRef.of(component), variable.name, _opt(variable.instance)).spelt


def _opt(value: Any) -> Any:
    return None if value is msgspec.UNSET else value


def _unset(value: Any) -> Any:
    return msgspec.UNSET if value is None else value
