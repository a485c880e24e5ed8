"""The schema: one numbered sequence of migrations, gathered from the table modules that own them.

Each table module declares the migrations that create or alter its tables as ``MIGRATIONS =
{number: sql}``, numbered in the one global sequence; every module of this package that does is
part of the schema, so a new table module needs no list edited here. ``PRAGMA user_version`` records the last
number applied; an applied migration is never edited, the next number is added. Gathering checks
the numbers at import, so two engineers adding the same next number, or a skipped one, fail every
test at once rather than one station in the field.
"""

from __future__ import annotations

import importlib
import pkgutil
import sqlite3
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Final

FILE_NAME: Final = "station.sqlite"
_STORE_ITSELF: Final = frozenset({"core", "schema"})  # the modules that are not table modules (core imports this one)

# Migration 2 created the tables of three groups at once, before the store was split into modules;
# its parts run in the order of the modules' names, in one transaction. Every later number belongs
# to one module.
SHARED: Final = frozenset({2})


def gather(owners: Mapping[str, Mapping[int, str]], shared: frozenset[int] = SHARED) -> tuple[str, ...]:
    """The migration scripts in order (number N at index N-1), from each owner's ``MIGRATIONS``.

    Raises:
        RuntimeError: a number is missing, or declared by two modules without being in ``shared``.
    """
    parts: dict[int, list[str]] = {}
    declared_by: dict[int, list[str]] = {}
    for owner, migrations in owners.items():
        for number, script in migrations.items():
            parts.setdefault(number, []).append(script)
            declared_by.setdefault(number, []).append(owner)
    clashes = {number: names for number, names in declared_by.items() if len(names) > 1 and number not in shared}
    if clashes:
        raise RuntimeError(f"store migrations declared by more than one module: {clashes}")
    numbers = sorted(parts)
    if numbers != list(range(1, len(numbers) + 1)):
        raise RuntimeError(f"store migrations must be numbered 1, 2, 3... without gaps, not {numbers}")
    return tuple("".join(parts[number]) for number in numbers)


def table_modules(directory: Path = Path(__file__).parent, package: str = __package__) -> dict[str, Mapping[int, str]]:
    """The ``MIGRATIONS`` of every module of the package that declares them, by module name, sorted."""
    owners: dict[str, Mapping[int, str]] = {}
    for info in sorted(pkgutil.iter_modules([str(directory)]), key=lambda info: info.name):
        if info.name not in _STORE_ITSELF:
            module = importlib.import_module(f"{package}.{info.name}")
            migrations: Mapping[int, str] | None = getattr(module, "MIGRATIONS", None)
            if migrations is not None:
                owners[module.__name__] = migrations
    return owners


MIGRATIONS: Final[tuple[str, ...]] = gather(table_modules())
SCHEMA_VERSION: Final = len(MIGRATIONS)


def migrate(db: sqlite3.Connection) -> None:
    """Apply every migration newer than the file's ``user_version``, each in its own transaction."""
    current = int(db.execute("PRAGMA user_version").fetchone()[0])
    if current > SCHEMA_VERSION:
        raise sqlite3.DatabaseError(f"schema version {current} is newer than this chargebox ({SCHEMA_VERSION})")
    for number in range(current + 1, SCHEMA_VERSION + 1):
        db.execute("BEGIN IMMEDIATE")
        try:
            for statement in _statements(MIGRATIONS[number - 1]):
                db.execute(statement)
            db.execute(f"PRAGMA user_version = {number}")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")


def _statements(script: str) -> Iterator[str]:
    for statement in script.split(";"):
        if statement.strip():
            yield statement
