"""Configuration: the typed key store every feature reads, and the keys the kernel itself needs.

Values are OCPP strings, persisted through the store before a change is answered (K-13). Services
read typed values and subscribe to the keys whose changes must take effect at once
(HeartbeatInterval, WebSocketPingInterval); they can add rules of their own for a key
(``add_rule``), as the link does for SecurityProfile. Which keys a station serves is the version's
catalogue, filtered by what it offers (1.6: ``v16/config_keys.py``, K-4); the kernel reads only the
keys ``KernelKeys`` names, by the names the version gives them, through ``KernelConfig``: the narrow
read, subscribe and rule surface that 1.6's ``Configuration`` and 2.0.1's device model
(``station/v201/device_model.py``) both offer, so ``kernel.config.get_int(keys.message_attempts)`` reads
TransactionMessageAttempts on a 1.6 station and OCPPCommCtrlr.MessageAttempts[TransactionEvent] on a 2.0.1 one.
"""

from __future__ import annotations

import difflib
import enum
import logging
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final, Protocol

from chargebox.errors import ConfigError
from chargebox.log import Log
from chargebox.store import Store

_INTEGER_RE: Final = re.compile(r"^[+-]?\d{1,10}$")
_BOOLEANS: Final = {"true": "true", "false": "false"}
Rule = Callable[[str], bool]
Listener = Callable[[str], None]


class KeyType(enum.StrEnum):
    INTEGER = "integer"
    BOOLEAN = "boolean"
    CSL = "CSL"
    STRING = "string"


class Access(enum.StrEnum):
    READ_ONLY = "R"
    READ_WRITE = "RW"
    WRITE_ONLY = "W"


class ChangeStatus(enum.StrEnum):
    """What became of a change of a key, spelt as 1.6's ConfigurationStatus and 2.0.1's SetVariableStatus spell
    the same outcomes (the kernel imports neither version's messages)."""

    ACCEPTED = "Accepted"
    REJECTED = "Rejected"
    REBOOT_REQUIRED = "RebootRequired"
    NOT_SUPPORTED = "NotSupported"


class Owner(enum.StrEnum):
    STACK = "stack"
    INTEGRATOR = "integrator"
    BOTH = "stack+integrator"


@dataclass(frozen=True, slots=True, kw_only=True)
class ConfigKey:
    name: str
    type: KeyType
    access: Access
    default: str | None
    profile: str  # the feature profile (1.6) or functional block (2.0.1) that serves it (K-4)
    owner: Owner = Owner.STACK
    required: bool = True
    reboot_required: bool = False
    minimum: int | None = None
    maximum: int | None = None
    items: frozenset[str] | None = None
    max_length_key: str | None = None
    min_chars: int = 0
    max_chars: int = 500
    description: str = ""

    @property
    def readonly(self) -> bool:
        return self.access is Access.READ_ONLY


@dataclass(frozen=True, slots=True, kw_only=True)
class KernelKeys:
    """The configuration the kernel itself reads, named as the station's version names it: the lane's
    attempts and their interval (Q-4), the link's security profile and password (T-40..T-43), its
    ping interval (T-30) and the time an answer may take (T-22). One place, so a second version
    (2.0.1's device model) supplies the same values under its own names."""

    message_attempts: str
    message_retry_interval: str
    security_profile: str
    authorization_key: str
    ping_interval: str
    message_timeout: str


class KernelConfig(Protocol):
    """The configuration as the kernel (the lane, the link) reads it, by the names ``KernelKeys`` gives: values
    as OCPP strings and typed, the value a reboot-required change is waiting with, a service's own checks of a
    new value, and the listeners told of a change. 1.6's ``Configuration`` and 2.0.1's ``DeviceModel`` offer it."""

    def has(self, name: str) -> bool: ...

    def get(self, name: str) -> str | None: ...

    def get_int(self, name: str, default: int = 0) -> int: ...

    def get_bool(self, name: str) -> bool: ...

    def configured(self, name: str) -> str | None: ...

    def add_rule(self, name: str, rule: Rule) -> None: ...

    def subscribe(self, name: str, listener: Listener) -> None: ...

    def set_internal(self, name: str, value: str) -> None: ...


class TypedReads(ABC):
    """A value read as what it is, on top of ``get`` (the OCPP string): the same for 1.6's keys and 2.0.1's
    variables, whose integers, booleans and comma-separated lists are written alike."""

    @abstractmethod
    def get(self, name: str) -> str | None:
        """The value in force, as OCPP writes it; None if it has none."""

    def get_int(self, name: str, default: int = 0) -> int:
        value = self.get(name)
        return int(value) if value not in (None, "") else default

    def get_bool(self, name: str) -> bool:
        return self.get(name) == "true"

    def get_list(self, name: str) -> list[str]:
        value = self.get(name)
        return [item.strip() for item in value.split(",") if item.strip()] if value else []


class Configuration(TypedReads):
    """The keys a station serves and their current values."""

    def __init__(
        self,
        *,
        store: Store,
        keys: Mapping[str, ConfigKey],
        facts: Mapping[str, str] | None = None,
        known: Mapping[str, ConfigKey] | None = None,
        log: Log | None = None,
    ) -> None:
        """``keys`` are the keys served, by lower-case name (G-1): a table stations may share, never
        changed here; ``facts`` are read-only values the hardware dictates (NumberOfConnectors);
        ``known`` is the version's whole catalogue (``keys`` when not given): what a template may name."""
        self._store = store
        self._log = log or logging.getLogger(__name__)
        self._keys = keys  # shared by every station alike until one declares a key
        self._known = keys if known is None else known
        self._rules: dict[str, list[Rule]] = {}
        self._listeners: dict[str, list[Listener]] = {}
        # Only what differs from the catalogue's defaults is the station's own: a fleet's idle stations share the rest
        self._values: dict[str, str | None] = {}  # as configured, by key name (absent: the key's default)
        self._held: dict[str, str | None] = {}  # reboot-required keys changed since the start: their running value
        self._stored = {k.lower(): v for k, v in store.config.load().items()}
        for name, value in (facts or {}).items():
            self._values[self.key(name).name] = value
        for lower, value in self._stored.items():
            stored_key = self._keys.get(lower)
            if stored_key is not None and not stored_key.readonly:
                self._values[stored_key.name] = value

    def load_template(self, values: Mapping[str, object], source: str) -> None:
        """Starting values from a station template (``--ocpp-config``); ConfigError if unusable.

        Read-only keys (NumberOfConnectors, SupportedFeatureProfiles...) describe the station and
        always apply; the others apply where the store holds no value yet, so a change made by the
        central system survives a restart with the same template. Both kinds pass the same checks.
        A key of the catalogue the station does not serve (its profile is not offered) passes them
        too and is not served (K-4): the same template serves it at a start that offers its profile,
        so a configuration written for another stack is taken whole. Only a name no document of the
        version defines is an error, with the closest known name (a typo).
        """
        check_distinct_keys(values, source)

        def readonly_first(item: tuple[str, object]) -> bool:
            return not (self.has(item[0]) and self.key(item[0]).readonly)

        for name, raw in sorted(values.items(), key=readonly_first):
            key = self._keys.get(name.lower()) or self._known.get(name.lower())
            if key is None:
                hint = _closest(name, self._known)
                raise ConfigError(f"{source}: unknown configuration key {name!r}: not an OCPP configuration key{hint}")
            text = _as_ocpp_string(raw)
            if text is None:
                raise ConfigError(f"{source}: {key.name}: cannot use a value of type {type(raw).__name__}")
            normal = self.normalise(key, text)
            if normal is None:
                shown = "" if key.access is Access.WRITE_ONLY else f" {text!r}"  # T-41: a secret is never echoed
                raise ConfigError(f"{source}: {key.name}: invalid value{shown} for a {key.type} key{_bounds(key)}")
            if not self.has(key.name):
                continue  # checked, not served: its profile is not offered (K-4)
            if key.readonly or key.name.lower() not in self._stored:
                self._set(key.name, normal)

    # -- reading ------------------------------------------------------------------------------

    def key(self, name: str) -> ConfigKey:
        """The key of that name, matched case-insensitively (G-1); KeyError if not served."""
        return self._keys[name.lower()]

    def has(self, name: str) -> bool:
        return name.lower() in self._keys

    def keys(self) -> list[ConfigKey]:
        return sorted(self._keys.values(), key=lambda k: k.name)

    def get(self, name: str) -> str | None:
        return self._in_force(self.key(name))

    def configured(self, name: str) -> str | None:
        """The value as stored, including a change still waiting for a reboot."""
        key = self.key(name)
        return self._values.get(key.name, key.default)

    def _in_force(self, key: ConfigKey) -> str | None:
        held = self._held
        return held[key.name] if key.name in held else self._values.get(key.name, key.default)

    def _set(self, name: str, value: str | None) -> None:
        """Configured and in force at once."""
        self._values[name] = value
        self._held.pop(name, None)

    # -- extending ----------------------------------------------------------------------------

    def declare(self, key: ConfigKey, value: str | None = None) -> None:
        """Add a key (a vendor key of the integrator's, or a standard one a service takes over)."""
        self._keys = {**self._keys, key.name.lower(): key}
        stored = self._stored.get(key.name.lower())
        current = value if value is not None else key.default
        if stored is not None and not key.readonly:
            current = stored
        self._set(key.name, current)

    def add_rule(self, name: str, rule: Rule) -> None:
        """An extra check a new value must pass, owned by the service that knows why."""
        self._rules.setdefault(self.key(name).name, []).append(rule)

    def subscribe(self, name: str, listener: Listener) -> None:
        """Call ``listener(value)`` after every accepted change of the key."""
        self._listeners.setdefault(self.key(name).name, []).append(listener)

    # -- changing -----------------------------------------------------------------------------

    def change(self, name: str, value: str, *, notify: bool = True) -> ChangeStatus:
        """ChangeConfiguration's decision (K-10..K-12); an accepted value is persisted first.

        With ``notify=False`` the value is in force but the subscribers hear of it only from
        ``notify(name)``: the answer to the central system goes out first (a new AuthorizationKey
        closes the connection, T-23)."""
        if not self.has(name):
            return ChangeStatus.NOT_SUPPORTED  # K-10
        key = self.key(name)
        normal = self.normalise(key, value)
        if key.readonly or normal is None or not all(rule(normal) for rule in self._rules.get(key.name, ())):
            return ChangeStatus.REJECTED  # K-11
        self._store.config.save(key.name, normal)  # K-13: journal first
        self._stored[key.name.lower()] = normal
        if key.reboot_required:
            self._held.setdefault(key.name, self._in_force(key))
            self._values[key.name] = normal
            return ChangeStatus.REBOOT_REQUIRED  # K-12: applied after the next reboot
        self._set(key.name, normal)
        if notify:
            self.notify(key.name)
        return ChangeStatus.ACCEPTED

    def set_internal(self, name: str, value: str) -> None:
        """A value the stack itself sets (HeartbeatInterval from BootNotification, B-4)."""
        key = self.key(name)
        if self._values.get(key.name, key.default) == value:
            return
        self._store.config.save(key.name, value)
        self._stored[key.name.lower()] = value
        self._set(key.name, value)
        self.notify(key.name)

    def notify(self, name: str) -> None:
        """Tell the key's subscribers its value changed."""
        key = self.key(name)
        value = self._in_force(key) or ""
        for listener in self._listeners.get(key.name, ()):
            listener(value)

    def normalise(self, key: ConfigKey, value: str) -> str | None:
        """The value in canonical form, or None if the key cannot take it (K-6, K-11, MV-5)."""
        if not key.min_chars <= len(value) <= key.max_chars or not value.isascii():
            return None
        if key.type is KeyType.INTEGER:
            if not _INTEGER_RE.match(value.strip()):
                return None
            number = int(value)
            if (key.minimum is not None and number < key.minimum) or (key.maximum is not None and number > key.maximum):
                return None
            return str(number)
        if key.type is KeyType.BOOLEAN:
            return _BOOLEANS.get(value.strip().lower())
        if key.type is KeyType.CSL:
            items = [item.strip() for item in value.split(",")] if value.strip() else []
            if any(not item for item in items) or len(set(items)) != len(items):
                return None
            if key.items is not None and not all(item in key.items for item in items):
                return None
            if key.max_length_key is not None and self.has(key.max_length_key):
                limit = self.get_int(key.max_length_key, default=1)
                if len(items) > limit:
                    return None
            return ",".join(items)
        return value


def check_distinct_keys(values: Mapping[str, object], source: str) -> None:
    """ConfigError naming both spellings if two template keys differ only in case: keys are
    case-insensitive (G-1), so one of the two values would silently win."""
    seen: dict[str, str] = {}
    for name in values:
        other = seen.setdefault(name.lower(), name)
        if other != name:
            raise ConfigError(f"{source}: {other!r} and {name!r} are the same configuration key (keys ignore case)")


def _closest(name: str, known: Mapping[str, ConfigKey]) -> str:
    """The hint for a name no document defines: the known key it most resembles, if any does."""
    names = {key.name.lower(): key.name for key in known.values()}
    close = difflib.get_close_matches(name.lower(), names, n=1, cutoff=0.6)
    return f" (did you mean {names[close[0]]!r}?)" if close else ""


def _bounds(key: ConfigKey) -> str:
    if key.min_chars:
        return f" (needs {key.min_chars} to {key.max_chars} characters)"
    if key.minimum is not None and key.maximum is not None:
        return f" (needs {key.minimum} to {key.maximum})"
    if key.minimum is not None:
        return f" (needs at least {key.minimum})"
    return ""


def _as_ocpp_string(raw: object) -> str | None:
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if isinstance(raw, int):
        return str(raw)
    if isinstance(raw, float) and raw.is_integer():
        return str(int(raw))
    if isinstance(raw, str):
        return raw
    if isinstance(raw, list) and all(isinstance(item, str) for item in raw):
        return ",".join(raw)
    return None
