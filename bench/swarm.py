"""The swarm: ``chargebox swarm``'s stations on a Locust master and workers, against the bench's central system.

A master (headless, ``--expect-workers W``) and W workers, each a process of its own as on separate machines, run
``users`` stations spawned at once, each with ``--auto`` sessions: an EV comes within seconds (2 s on average)
and stays the whole run, metered every second (``MeterValueSampleInterval`` 1), so each charging station sends a
MeterValues a second through its durable lane. An EV that comes before its station's boot is accepted is refused
(no connection, no cached card) and leaves that station idle for the run: the StartTransaction count says how
many charged. Locust's own statistics (``--csv``) give
the round trips; the processes' CPU comes from ``psutil`` (a dependency of Locust), sampled until each exits.
"""

from __future__ import annotations

import csv
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from bench.common import HOST

TEMPLATE: Final = """connectors = 1
[meter]
sample_interval = 1
measurands = ["Energy.Active.Import.Register", "Power.Active.Import"]
[auto]
mean_gap = 2
session_min = 86400
session_max = 86400
"""


@dataclass(frozen=True, slots=True)
class SwarmResult:
    users: int
    workers: int
    seconds: float  # the run, from the master's start to its exit
    booted: int  # BootNotifications answered, as the master's statistics count them
    charging: int  # StartTransactions answered: the stations whose session sends MeterValues
    failures: int
    meter_values_rate: float  # MeterValues round trips a second, as Locust reports them
    p50_ms: float | None
    p99_ms: float | None
    master_cpu_share: float  # CPU seconds per wall second of the master
    worker_cpu_share: float  # the same, per worker (their mean)


def locust_installed() -> bool:
    import importlib.util

    return importlib.util.find_spec("locust") is not None


def measure_swarm(port: int, users: int, workers: int, seconds: float) -> SwarmResult:
    """Run the master and its workers to the end of ``--run-time``; their figures."""
    import psutil

    with tempfile.TemporaryDirectory(prefix="bench-swarm-") as tmp:
        template = Path(tmp) / "template.toml"
        template.write_text(TEMPLATE)
        master_port = _free_port()
        chargebox = [sys.executable, "-m", "chargebox.cli", "swarm"]
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
        t0 = time.perf_counter()
        master = subprocess.Popen(
            [*chargebox, "--csms", f"ws://{HOST}:{port}", "--template", str(template), "--auto",
             "--users", str(users), "--spawn-rate", str(users), "--run-time", f"{seconds:g}s", "--headless",
             "--master", "--master-bind-host", HOST, "--master-bind-port", str(master_port),
             "--expect-workers", str(workers), "--csv", f"{tmp}/swarm", "--loglevel", "WARNING"],
            **quiet,
        )  # fmt: skip
        worker = [*chargebox, "--worker", "--master-host", HOST, "--master-port", str(master_port)]
        others = [subprocess.Popen([*worker, "--loglevel", "WARNING"], **quiet) for _ in range(workers)]
        processes = [master, *others]
        cpu = {proc.pid: 0.0 for proc in processes}
        watched = {proc.pid: psutil.Process(proc.pid) for proc in processes}
        try:
            while master.poll() is None and time.perf_counter() - t0 < seconds + 120:
                for pid, proc in watched.items():
                    try:
                        times = proc.cpu_times()
                    except psutil.Error:  # it has exited: its last sample stands
                        continue
                    cpu[pid] = times.user + times.system
                time.sleep(0.2)
            wall = time.perf_counter() - t0
        finally:
            for proc in processes:
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        rows = _stats(Path(f"{tmp}/swarm_stats.csv"))
    meter, boots = rows.get("MeterValues", {}), rows.get("BootNotification", {})
    return SwarmResult(
        users=users, workers=workers, seconds=wall, booted=int(boots.get("Request Count", 0)),
        charging=int(rows.get("StartTransaction", {}).get("Request Count", 0)),
        failures=int(rows.get("Aggregated", {}).get("Failure Count", 0)),
        meter_values_rate=float(meter.get("Requests/s", 0.0)), p50_ms=_ms(meter.get("50%")),
        p99_ms=_ms(meter.get("99%")), master_cpu_share=cpu[master.pid] / wall,
        worker_cpu_share=sum(cpu[p.pid] for p in others) / workers / wall,
    )  # fmt: skip


def _stats(path: Path) -> dict[str, dict[str, str]]:
    """Locust's ``--csv`` statistics, a row per request type (the ``Aggregated`` row under that name)."""
    if not path.exists():
        return {}
    with path.open(newline="") as file:
        return {row["Type"] or row["Name"]: row for row in csv.DictReader(file)}


def _ms(text: str | None) -> float | None:
    return None if text in (None, "", "N/A") else float(text)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])
