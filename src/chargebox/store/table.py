"""What every table group shares: a view onto one ``Store`` that reads rows by column name.

Rows are never unpacked by position: a column added by a later migration must not shift what an
older reader takes for ``attempts`` or ``tx_ref``.

Every table added from migration 7 on has a ``station`` column (``TEXT NOT NULL DEFAULT ''``) in
its key, and every statement on it names ``station = ?`` with ``self.station``: a fleet keeps its
stations in one file (one set of fsyncs for all), and a single station's store is station ``''``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, Protocol, TypeVar

Op = Callable[[sqlite3.Connection], Any]
T = TypeVar("T")


class TableStore(Protocol):
    """What a table group needs of its store (``core.Store`` is one): the station whose rows it reads, reads,
    and writes in one commit each. A protocol, not the store itself, because the store is built from the
    table groups: neither module imports the other's."""

    @property
    def station(self) -> str:
        """The station whose rows the group reads and writes."""

    def rows(self, sql: str, args: tuple[object, ...] = ()) -> list[sqlite3.Row]:
        """Rows read by column name."""

    def transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        """One commit made at once."""

    async def write(self, op: Callable[[sqlite3.Connection], T]) -> T:
        """``op`` in the next group commit."""


class Table:
    """A group of tables reached as one attribute of the store (``store.outbox``, ``store.firmware``)."""

    def __init__(self, store: TableStore) -> None:
        self._store = store

    @property
    def station(self) -> str:
        """The station whose rows this view reads and writes (``''`` in a store of its own)."""
        return self._store.station


def opt_str(value: object) -> str | None:
    """A nullable TEXT column as ``str | None``."""
    return None if value is None else str(value)


def opt_int(value: object) -> int | None:
    """A nullable INTEGER column as ``int | None`` (also when an older writer stored it as text)."""
    return None if value is None else int(str(value))


def as_bytes(value: object) -> bytes:
    """A BLOB column as bytes, even if an older writer stored the payload as TEXT."""
    return value if isinstance(value, bytes) else str(value).encode()
