"""One table of the station file, read key by key: every problem is one line naming the file, the table and
the key (``station.toml: [hardware.meter] unit_id: must be 1 to 247``), raised as ``ConfigError``.

A reader takes what it knows with the typed getters and calls ``done()``, which refuses any key left over
(a misspelt key is an error, never silently ignored). A new key is one getter call where it is used.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final, TypeVar

from chargebox.errors import ConfigError

T = TypeVar("T")
_REQUIRED: Final[Any] = object()


class Section:
    def __init__(self, file: str, name: str, data: Mapping[str, Any]) -> None:
        self.file = file
        self.name = name
        self._data = dict(data)
        self._taken: set[str] = set()

    def error(self, key: str, problem: str) -> ConfigError:
        return ConfigError(f"{self.file}: [{self.name}] {key}: {problem}")

    def has(self, key: str) -> bool:
        return key in self._data

    def peek(self, key: str) -> object:
        """The raw value, not yet checked (to choose between the forms a key may take)."""
        return self._data.get(key)

    def _get(self, key: str, default: Any) -> Any:
        self._taken.add(key)
        if key in self._data:
            return self._data[key]
        if default is _REQUIRED:
            raise self.error(key, "required")
        return default

    def string(self, key: str, default: Any = _REQUIRED, *, max_length: int = 1000) -> Any:
        value = self._get(key, default)
        if value is default:
            return value
        if not isinstance(value, str):
            raise self.error(key, "must be a string")
        if not 1 <= len(value) <= max_length:
            raise self.error(key, f"must be 1 to {max_length} characters")
        return value

    def ascii(self, key: str, default: Any = _REQUIRED, *, max_length: int) -> Any:
        """A printable ASCII string of at most ``max_length`` characters (an OCPP CiString)."""
        value = self.string(key, default, max_length=max_length)
        if value is not default and not (value.isascii() and value.isprintable()):
            raise self.error(key, f"must be 1 to {max_length} printable ASCII characters")
        return value

    def choice(self, key: str, choices: tuple[str, ...], default: Any = _REQUIRED) -> Any:
        value = self._get(key, default)
        if value is default:
            return value
        if value not in choices:
            raise self.error(key, f"must be one of {', '.join(repr(c) for c in choices)}")
        return value

    def integer(self, key: str, low: int, high: int, default: Any = _REQUIRED) -> Any:
        value = self._get(key, default)
        if value is default:
            return value
        return self._integer(key, value, low, high)

    def integers(self, key: str, low: int, high: int, default: Any = _REQUIRED) -> Any:
        """A list of integers (one per connector, most often)."""
        value = self._get(key, default)
        if value is default:
            return value
        if not isinstance(value, list) or not value:
            raise self.error(key, "must be a non-empty list of integers")
        return tuple(self._integer(key, item, low, high) for item in value)

    def number(self, key: str, low: float, high: float, default: Any = _REQUIRED) -> Any:
        value = self._get(key, default)
        if value is default:
            return value
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise self.error(key, "must be a number")
        if not low <= value <= high:
            raise self.error(key, f"must be {low:g} to {high:g}")
        return float(value)

    def boolean(self, key: str, default: Any = _REQUIRED) -> Any:
        value = self._get(key, default)
        if value is not default and not isinstance(value, bool):
            raise self.error(key, "must be true or false")
        return value

    def path(self, key: str, default: Any = _REQUIRED) -> Any:
        value = self.string(key, default, max_length=4096)
        return value if value is default else Path(value)

    def argv(self, key: str, default: Any = _REQUIRED) -> Any:
        """A command as a list of strings, run without a shell."""
        value = self._get(key, default)
        if value is default:
            return value
        if not isinstance(value, list) or not value or not all(isinstance(a, str) and a for a in value):
            raise self.error(key, "must be a non-empty list of strings (the command and its arguments, no shell)")
        return tuple(value)

    def table(self, key: str, default: Any = _REQUIRED) -> Any:
        value = self._get(key, default)
        if value is default:
            return value
        if not isinstance(value, dict):
            raise self.error(key, "must be a table")
        return value

    def sub(self, key: str) -> Section:
        """A nested table as a Section of its own (``[hardware.meter]`` in ``[hardware]``)."""
        return Section(self.file, f"{self.name}.{key}", self.table(key))

    def done(self) -> None:
        """Refuse every key no reader took: a misspelt key must not be silently ignored."""
        for key in self._data:
            if key not in self._taken:
                raise self.error(key, "unknown key")

    def _integer(self, key: str, value: object, low: int, high: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(key, "must be an integer")
        if not low <= value <= high:
            raise self.error(key, f"must be {low} to {high}")
        return value
