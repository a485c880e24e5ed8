"""The walls of ``docs/topics/design.md`` hold, as that page draws them (its two tables under "The walls").

Checked on the source: every import statement counts, at the top, inside a function or under ``TYPE_CHECKING``.
``from chargebox import hal`` is an import of ``chargebox.hal``, not of the package's ``__init__``.
"""

from __future__ import annotations

import ast
import graphlib
import re
import subprocess
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Final

import pytest

ROOT: Final = Path(__file__).resolve().parent.parent
SRC: Final = ROOT / "src" / "chargebox"
DESIGN: Final = ROOT / "docs" / "topics" / "design.md"
_ROW: Final = re.compile(r"^\|(.*)\|\s*$")
_NAMES: Final = re.compile(r"`([^`]+)`")


@cache
def walls() -> tuple[dict[str, tuple[str, ...]], dict[str, set[str]], dict[str, set[str]]]:
    """From design.md: each layer's modules (paths under src/chargebox, a package ending in ``/``), the layers it
    may import, and the modules outside chargebox it never imports."""
    text = DESIGN.read_text(encoding="utf-8").split("### The walls", 1)[1].split("\n## ", 1)[0]
    modules: dict[str, tuple[str, ...]] = {}
    may: dict[str, set[str]] = {}
    never: dict[str, set[str]] = {}
    for line in text.splitlines():
        row = _ROW.match(line)
        if row is None:
            continue
        cells = [cell.strip() for cell in row.group(1).split("|")]
        if cells[0] in ("layer", "") or set(cells[0]) <= {"-"}:
            continue
        if len(cells) == 3:
            modules[cells[0]] = tuple(_NAMES.findall(cells[1]))
            may[cells[0]] = {name.strip() for name in cells[2].split(",") if name.strip()}
        else:
            for layer in cells[0].split(","):
                never.setdefault(layer.strip(), set()).update(_NAMES.findall(cells[1]))
    return modules, may, never


def source_files() -> Iterator[Path]:
    return (path for path in sorted(SRC.rglob("*.py")) if "__pycache__" not in path.parts)


def layers_of(path: Path) -> list[str]:
    relative = path.relative_to(SRC).as_posix()
    modules, _may, _never = walls()
    return [
        layer
        for layer, names in modules.items()
        if any(relative == name or (name.endswith("/") and relative.startswith(name)) for name in names)
    ]


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def module_files() -> dict[str, Path]:
    return {module_name(path): path for path in source_files()}


def imports(path: Path) -> set[str]:
    """Every module ``path`` imports, chargebox's resolved to the module file it names."""
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            module = ".".join([*base, node.module] if node.module else base)
            for alias in node.names:
                found.add(f"{module}.{alias.name}" if f"{module}.{alias.name}" in module_files() else module)
    return found


def chargebox_imports(path: Path) -> set[str]:
    return {module for module in imports(path) if module == "chargebox" or module.startswith("chargebox.")}


def test_every_module_is_in_exactly_one_layer() -> None:
    wrong = {path.relative_to(SRC).as_posix(): layers_of(path) for path in source_files() if len(layers_of(path)) != 1}
    assert wrong == {}, f"in no layer or in several (docs/topics/design.md, The walls): {wrong}"


def test_the_tables_name_only_layers_they_define() -> None:
    modules, may, never = walls()
    named = set().union(*may.values(), never)
    assert named - modules.keys() == set()


@pytest.mark.parametrize("layer", list(walls()[0]))
def test_a_layer_imports_only_its_own_and_the_layers_its_row_names(layer: str) -> None:
    _modules, may, _never = walls()
    files = module_files()
    wrong = sorted(
        (path.relative_to(SRC).as_posix(), module)
        for path in source_files()
        if layers_of(path) == [layer]
        for module in chargebox_imports(path)
        if (target := layers_of(files[module])[0]) != layer and target not in may[layer]
    )
    assert wrong == [], f"{layer} imports across its walls: {wrong}"


@pytest.mark.parametrize("layer", list(walls()[2]))
def test_a_layer_never_imports_what_its_row_forbids(layer: str) -> None:
    forbidden = walls()[2][layer]
    wrong = sorted(
        (path.relative_to(SRC).as_posix(), module)
        for path in source_files()
        if layers_of(path) == [layer]
        for module in imports(path)
        if module.split(".")[0] in forbidden
    )
    assert wrong == [], f"{layer} imports {sorted(forbidden)}: {wrong}"


def test_the_kernel_knows_no_feature_and_no_feature_knows_the_assembly() -> None:
    """station/kernel/ is what every feature of either OCPP version uses: its row names none of them, nor the
    assembly above them (station.py, feature.py, front.py); a feature reaches another only through its build, so
    neither version's row names the station, nor the other version. The rows hold on the source (the test per
    layer above)."""
    _modules, may, _never = walls()
    assert may["kernel"] & {"station", "declaration", "v16", "v201"} == set()
    assert may["declaration"] & {"station", "v16", "v201"} == set()
    assert may["v16"] & {"station", "v201"} == set()
    assert may["v201"] & {"station", "v16"} == set()


def test_the_kernel_speaks_no_version_but_through_the_version_it_is_given() -> None:
    """The kernel (and the Rpc under it) carries either version's messages without importing them: it reads
    the request types, actions and subprotocol from ``Version.dialect``, so neither version's message module
    (1.6's, nor 2.0.1's, which a 1.6 station never loads) is an import of theirs."""
    versions = ("chargebox.protocol.messages", "chargebox.protocol.v201")
    wrong = sorted(
        (path.relative_to(SRC).as_posix(), module)
        for path in source_files()
        if layers_of(path) == ["kernel"] or path == SRC / "rpc.py"
        for module in imports(path)
        if module.startswith(versions)
    )
    assert wrong == [], f"the kernel imports a version's messages: {wrong}"


def test_2_0_1_features_do_not_import_1_6_messages() -> None:
    wrong = sorted(
        (path.relative_to(SRC).as_posix(), module)
        for path in source_files()
        if layers_of(path) == ["v201"]
        for module in imports(path)
        if module.startswith("chargebox.protocol.messages")
    )
    assert wrong == [], f"a 2.0.1 feature imports 1.6's messages: {wrong}"


def test_no_import_circles() -> None:
    """Not even type-only ones: a module that needs another's type and is needed by it is one module in two
    files, or wants a Protocol."""
    graph = {module: chargebox_imports(path) & module_files().keys() for module, path in module_files().items()}
    try:
        tuple(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as exc:
        pytest.fail(f"import circle: {' -> '.join(exc.args[1])}")


def test_a_real_charger_loads_no_simulator_code() -> None:
    """What ``chargebox run`` imports to start, checked in a fresh interpreter: nothing of ``sim/``."""
    code = (
        "import sys, chargebox.cli, chargebox.run.app, chargebox.run.config, chargebox.run.hardware\n"
        "print(sorted(m for m in sys.modules if m.startswith('chargebox.sim')))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert result.stdout.strip() == "[]"


def test_only_chargebox_mcp_loads_the_mcp_sdk() -> None:
    """The mcp extra is optional: the other commands (their modules imported as each command imports them) load
    neither ``agent/`` nor the SDK, so they run without it, and start no faster or slower for it."""
    code = (
        "import sys, chargebox.cli, chargebox.run.app, chargebox.sim.simulator, chargebox.sim.fleet_control,"
        " chargebox.csms.control\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('mcp', 'mcp_types', 'uvicorn', 'starlette')"
        " or m.startswith('chargebox.agent')))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert result.stdout.strip() == "[]"
