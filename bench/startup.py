"""Start-up: from spawning ``chargebox simulate`` to its BootNotification reaching the central system.

The raw central system runs in the bench process here (wall time, not CPU, is measured) and notes the
moment each charge point's BootNotification arrives. For scale, the same spawn-to-exit time is taken
for a bare interpreter and for importing what ``simulate`` imports.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from typing import IO, Final

from bench.common import HOST, CsmsStats, median, server_port, start_csms

IMPORTS: Final = "import chargebox.cli, chargebox.sim.simulator, chargebox.station.station"


@dataclass(frozen=True, slots=True)
class StartupResult:
    case: str
    median_s: float
    runs: list[float]
    cpu_s: list[float]  # each child's CPU (user + system), spawn to exit: what a loaded machine does not inflate


def compile_bytecode() -> None:
    """Write chargebox's bytecode, as ``pip install`` does for an installed package: a work tree run with
    PYTHONDONTWRITEBYTECODE (as this machine's shells set it) would otherwise compile every module at every start."""
    import compileall

    import chargebox

    compileall.compile_dir(os.path.dirname(chargebox.__file__), quiet=1)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def chargebox_command() -> list[str]:
    """The installed console script beside this interpreter, else ``python -m chargebox.cli``."""
    script = os.path.join(os.path.dirname(sys.executable), "chargebox")
    if os.access(script, os.X_OK):
        return [script]
    found = shutil.which("chargebox")
    return [found] if found else [sys.executable, "-m", "chargebox.cli"]


def measure_startup(runs: int) -> list[StartupResult]:
    compile_bytecode()
    return asyncio.run(_measure(runs))


async def _measure(runs: int) -> list[StartupResult]:
    loop = asyncio.get_running_loop()
    arrivals: dict[str, asyncio.Future[float]] = {}

    def on_boot(charge_point_id: str, when: float) -> None:
        future = arrivals.get(charge_point_id)
        if future is not None and not future.done():
            future.set_result(when)

    server = await start_csms(CsmsStats(), on_boot)
    url = f"ws://{HOST}:{server_port(server)}"
    times, cpu = [], []
    try:
        for run in range(runs):
            charge_point_id = f"START{run}"
            arrivals[charge_point_id] = loop.create_future()
            command = [*chargebox_command(), "simulate", "--csms", url, "--id", charge_point_id]
            with tempfile.TemporaryFile() as stderr:
                c0, t0 = _children_cpu(), time.perf_counter()
                proc = await asyncio.create_subprocess_exec(
                    *command, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL, stderr=stderr
                )
                try:
                    times.append(await _boot_time(arrivals[charge_point_id], proc, stderr) - t0)
                finally:
                    await _end(proc)
                cpu.append(_children_cpu() - c0)
    finally:
        server.close()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(server.wait_closed(), 10)
    results = [StartupResult("chargebox simulate → BootNotification at the CSMS", median(times), times, cpu)]
    for case, argv in (
        ("python -c pass (interpreter alone)", [sys.executable, "-c", "pass"]),
        ("python -c 'import <what simulate needs>'", [sys.executable, "-c", IMPORTS]),
    ):
        spent = [await _run_to_exit(argv) for _ in range(runs)]
        results.append(StartupResult(case, median([wall for wall, _ in spent]), [wall for wall, _ in spent],
                                     [used for _, used in spent]))  # fmt: skip
    return results


async def _boot_time(arrival: asyncio.Future[float], proc: asyncio.subprocess.Process, stderr: IO[bytes]) -> float:
    """When the BootNotification arrived; a CLI that exits first, or takes over 30 s, is an error."""
    exited = asyncio.ensure_future(proc.wait())
    try:
        await asyncio.wait([arrival, exited], timeout=30, return_when=asyncio.FIRST_COMPLETED)
    finally:
        exited.cancel()
    if arrival.done():
        return arrival.result()
    stderr.seek(0)
    tail = stderr.read().decode(errors="replace").strip().splitlines()[-3:]
    state = f"exited with {proc.returncode}" if proc.returncode is not None else "sent no BootNotification in 30 s"
    raise RuntimeError(f"chargebox simulate {state}: {' / '.join(tail)}")


async def _run_to_exit(argv: list[str]) -> tuple[float, float]:
    """Wall time and the child's CPU, spawn to exit."""
    c0, t0 = _children_cpu(), time.perf_counter()
    proc = await asyncio.create_subprocess_exec(
        *argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
    )
    try:
        await asyncio.wait_for(proc.wait(), 30)
    finally:
        await _end(proc)
    return time.perf_counter() - t0, _children_cpu() - c0


async def _end(proc: asyncio.subprocess.Process) -> None:
    """SIGTERM (the CLI ends cleanly on it), then SIGKILL if it lingers."""
    if proc.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        proc.terminate()
    try:
        await asyncio.wait_for(proc.wait(), 5)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await asyncio.wait_for(proc.wait(), 5)
