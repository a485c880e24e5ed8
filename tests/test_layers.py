"""The layers of DESIGN.md hold: nothing below knows what is above it (checked on the source, by import)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src" / "chargebox"


def imports(package: str) -> set[tuple[str, str]]:
    """(file, imported module) for every chargebox import in the package's files."""
    found = set()
    for path in (SRC / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                found.add((path.name, node.module))
            elif isinstance(node, ast.Import):
                found.update((path.name, alias.name) for alias in node.names)
    return found


@pytest.mark.parametrize(
    ("package", "above"),
    [
        ("station", ("chargebox.sim", "chargebox.csms", "chargebox.cli")),
        ("protocol", ("chargebox.station", "chargebox.sim", "chargebox.rpc", "chargebox.transport", "asyncio")),
        ("store", ("chargebox.station", "chargebox.sim", "chargebox.rpc")),
        ("run", ("chargebox.csms", "chargebox.cli")),  # the drivers may use the simulator's parts, not a CSMS
    ],
)
def test_a_layer_imports_nothing_above_it(package: str, above: tuple[str, ...]) -> None:
    wrong = sorted((name, module) for name, module in imports(package) if module.startswith(above))
    assert wrong == [], f"{package}/ imports from above it: {wrong}"


def test_the_kernel_knows_no_feature_and_no_feature_knows_the_assembly() -> None:
    """station/kernel/ is what every feature of either OCPP version uses: it imports none of them, nor the
    assembly above them (station.py, feature.py, front.py); a feature reaches another only through its build."""
    assembly = ("chargebox.station.station", "chargebox.station.feature", "chargebox.station.front")
    features = ("chargebox.station.v16", "chargebox.station.v201")
    wrong = sorted((name, m) for name, m in imports("station/kernel") if m.startswith((*features, *assembly)))
    assert wrong == [], f"station/kernel/ imports a feature or the assembly: {wrong}"
    for version in ("v16", "v201"):
        station = "chargebox.station.station"
        wrong = sorted((name, m) for name, m in imports(f"station/{version}") if m.startswith(station))
        assert wrong == [], f"station/{version}/ imports the station: {wrong}"


def test_the_kernel_speaks_no_version_but_through_the_version_it_is_given() -> None:
    """The kernel (and the Rpc under it) carries either version's messages without importing them: it reads
    the request types, actions and subprotocol from ``Version.dialect``, so neither version's message module
    (1.6's, nor 2.0.1's, which a 1.6 station never loads) is an import of theirs."""
    versions = ("chargebox.protocol.messages", "chargebox.protocol.v201")
    wrong = sorted((name, m) for name, m in imports("station/kernel") if m.startswith(versions))
    wrong += sorted(("rpc.py", m) for name, m in imports(".") if name == "rpc.py" and m.startswith(versions))
    assert wrong == [], f"the kernel imports a version's messages: {wrong}"


def test_the_features_of_one_version_do_not_import_the_other_versions() -> None:
    wrong = sorted((name, m) for name, m in imports("station/v16") if m.startswith("chargebox.station.v201"))
    wrong += sorted(
        (name, m)
        for name, m in imports("station/v201")
        if m.startswith(("chargebox.station.v16", "chargebox.protocol.messages"))
    )
    assert wrong == [], f"a version's features import the other version's: {wrong}"
