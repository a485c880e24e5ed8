"""``chargebox demo --fleet``: a live fleet of a few stations against the built-in central system.

Eight stations boot ramped, each with automatic sessions (``--auto``, seed 1): EVs of the built-in
models arrive, a card starts a transaction, energy flows along the EV's curve. The figures update
live on a terminal; the demo exits 0 when every station booted and sessions started, 1 otherwise.
"""

from __future__ import annotations

import asyncio
import time

from rich.console import Console
from rich.live import Live

from chargebox.auto_sessions import AutoSettings
from chargebox.csms.server import CentralSystem, CsmsPolicy
from chargebox.sim.fleet import Fleet, FleetSettings, figures_table
from chargebox.sim.template import Template

STATIONS = 8
SECONDS = 4.0


async def run_fleet_demo(console: Console | None = None) -> int:
    console = console or Console()
    csms = CentralSystem(CsmsPolicy(heartbeat_interval=60))
    port = await csms.start("127.0.0.1", 0)
    fleet = Fleet(
        FleetSettings(
            csms_url=f"ws://127.0.0.1:{port}", count=STATIONS, id_prefix="DEMO-", connect_rate=8.0,
            template=Template(model="Demo", connectors=2, config={"MeterValueSampleInterval": 1}),
            auto=True, seed=1, auto_settings=AutoSettings(mean_gap_s=1.5, session_min_s=2, session_max_s=4),
        )
    )  # fmt: skip
    console.rule(f"[bold]chargebox demo --fleet[/]: {STATIONS} stations, central system on ws://127.0.0.1:{port}")
    task = asyncio.ensure_future(fleet.run(SECONDS))
    try:
        with Live(figures_table(fleet.figures()), console=console, refresh_per_second=4, transient=False) as view:
            deadline = time.monotonic() + SECONDS + 5
            while not task.done() and time.monotonic() < deadline:
                await asyncio.wait({task}, timeout=0.25)
                view.update(figures_table(fleet.figures()))
        task.result()
        figures = fleet.figures()
        sessions = sum(driver.sessions for driver in fleet.drivers.values())
        plugged = sum(1 for driver in fleet.drivers.values() for event in driver.events if event[1] == "plug")
        console.print()
        console.print(f"  {plugged} EVs arrived, {sessions} sessions completed, {figures['messagesSent']} messages")
        if figures["booted"] != STATIONS or plugged == 0:
            console.print("[bold red]demo failed:[/] not every station booted and charged")
            return 1
        console.rule("[bold green]fleet demo finished[/]")
        return 0
    finally:
        task.cancel()
        await fleet.stop()
        await csms.stop()
