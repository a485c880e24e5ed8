"""The results table (rich on the terminal, markdown in docs/performance.md) and the standing paragraph."""

from __future__ import annotations

import contextlib
import os
import platform
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

COLUMNS = ("Case", "Result", "vs raw", "vs ocpp", "Target", "Status", "Detail")
NUMERIC = frozenset({"Result", "vs raw", "vs ocpp"})
# docs/performance.md from this heading on is written by hand (what a change measured, and why) and kept by a re-run
KEPT = "## Measured by hand"


@dataclass(slots=True)
class Row:
    figure: str
    case: str
    result: str
    vs_raw: float | None = None
    vs_ocpp: float | None = None
    target: str = ""
    met: bool | None = None
    detail: str = ""

    def cells(self) -> tuple[str, ...]:
        status = "" if self.met is None else ("met" if self.met else "NOT met")
        return (self.case, self.result, _ratio(self.vs_raw), _ratio(self.vs_ocpp), self.target, status, self.detail)


@dataclass(slots=True)
class Report:
    command: str
    quick: bool
    rows: list[Row] = field(default_factory=list)
    standing: list[str] = field(default_factory=list)  # sentences on where we stand, from the numbers
    notes: list[str] = field(default_factory=list)  # how each figure was measured
    failures: list[str] = field(default_factory=list)
    load: str = ""  # how busy the machine was while the bench ran (it is shared)


def _ratio(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:.2f}x" if value < 10 else f"{value:.0f}x"


def print_table(report: Report) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="chargebox performance" + (" (--quick)" if report.quick else ""))
    for name in COLUMNS:
        table.add_column(
            name, justify="right" if name in NUMERIC else "left", style="dim" if name == "Detail" else None
        )
    previous = None
    for row in report.rows:
        if row.figure != previous:
            if previous is not None:
                table.add_section()
            table.add_row(f"[bold]{row.figure}[/]")
        previous = row.figure
        cells = list(row.cells())
        if row.met is not None:
            cells[5] = f"[green]{cells[5]}[/]" if row.met else f"[bold red]{cells[5]}[/]"
        table.add_row(*cells)
    console = Console()
    if not console.is_terminal:
        console = Console(width=170)
    console.print(table)
    for failure in report.failures:
        console.print(f"[bold red]failed:[/] {failure}")


def machine() -> dict[str, str]:
    model = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    versions = []
    for name in ("websockets", "msgspec", "orjson", "ocpp", "uvloop", "jsonschema"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions.append(f"{name} {metadata.version(name)}")
    return {
        "nproc": str(len(os.sched_getaffinity(0))),
        "cpu": model,
        "python": f"{platform.python_implementation()} {sys.version.split()[0]}",
        "os": f"{platform.system()} {platform.release()}",
        "libraries": ", ".join(versions),
        "commit": _commit(),
        "chargebox": _chargebox_location(),
    }


def pressure_totals() -> dict[str, int]:
    """Cumulative stall time (µs) in which some task waited for a CPU or for I/O (Linux PSI), if available."""
    totals = {}
    for resource in ("cpu", "io"):
        try:
            with open(f"/proc/pressure/{resource}") as f:
                some = f.readline().split()
        except OSError:
            continue
        totals[resource] = int(some[-1].split("=")[1])
    return totals


def describe_load(before: dict[str, int], seconds: float) -> str:
    """The share of the run's wall time in which other work competed for a CPU or the disk."""
    after = pressure_totals()
    parts = [
        f"{name.upper()} pressure {(after[name] - before[name]) / (seconds * 1e6):.0%}"
        for name in ("cpu", "io")
        if name in before and name in after
    ]
    text = ", ".join(parts)
    if text:
        text += " of the run's time (/proc/pressure, 'some': a task was waiting for a CPU / for I/O)"
    load1 = os.getloadavg()[0]
    return f"{text}; load average {load1:.2f} at the end" if text else f"load average {load1:.2f} at the end"


def _chargebox_location() -> str:
    import importlib.util

    spec = importlib.util.find_spec("chargebox")
    if spec is None or not spec.origin:
        return "not importable"
    source = Path(spec.origin).parent.parent
    try:  # relative to the checkout: a machine's own paths do not belong in the docs
        return str(source.relative_to(Path.cwd())) or "."
    except ValueError:
        return "an installed package"


def _commit() -> str:
    """The checked-out commit (read-only; the work tree may hold uncommitted changes on top)."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5, check=False
        )
    except OSError:
        return "unknown"
    return out.stdout.strip() or "unknown"


def write_markdown(report: Report, path: Path) -> None:
    info = machine()
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# Performance",
        "",
        'Measured by `bench/` (never by timed tests), against the targets in `DESIGN.md` ("Performance targets").',
        "This file is written by the bench; re-run it rather than editing the numbers.",
        "",
        f"- Command: `{report.command}`" + (" (quick smoke run: small sizes, noisy)" if report.quick else ""),
        f"- Date: {now}",
        f"- Machine: {info['nproc']} CPUs (`nproc`), {info['cpu']}, {info['os']}",
        f"- Python: {info['python']}; {info['libraries']}",
        f"- Code: `chargebox` imported from `{info['chargebox']}`; repository HEAD {info['commit']}"
        " (plus whatever the work tree held uncommitted when the bench ran)",
        *([f"- Load: {report.load}"] if report.load else []),
        "",
        "## Where we stand",
        "",
        " ".join(report.standing) if report.standing else "(no results)",
        "",
        "## Results",
        "",
        "Ratios are this row's figure divided by the raw (`vs raw`) or the `ocpp` library's (`vs ocpp`) figure",
        "of the same measurement: below 1x is less, above 1x is more.",
        "",
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "|".join("---:" if c in NUMERIC else "---" for c in COLUMNS) + "|",
    ]
    previous = None
    for row in report.rows:
        if row.figure != previous:
            lines.append(f"| **{row.figure}** |" + " |" * (len(COLUMNS) - 1))
        previous = row.figure
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in row.cells()) + " |")
    if report.failures:
        lines += ["", "Failed in this run:", ""] + [f"- {failure}" for failure in report.failures]
    lines += ["", "## How each figure is measured", ""] + [f"- {note}" for note in report.notes]
    kept = _kept(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n" + kept, encoding="utf-8")


def _kept(path: Path) -> str:
    """The file's hand-written part (from ``KEPT`` on): the bench rewrites the rest, never that."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return ""
    start = text.find(f"\n{KEPT}")
    return "" if start < 0 else text[start:]
