"""``chargebox fleet``: a fleet run (``Fleet`` in this process, or ``FleetProcesses`` on several) with its control API
(``--control``), its figures shown live on a terminal and its summary at the end, however the run ends.

Apart from ``fleet.py`` so that the fleet knows nothing of the API that drives it (``fleet_control.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.live import Live

from chargebox.errors import UserError
from chargebox.sim.fleet import Fleet, figures_table
from chargebox.sim.fleet_live import LiveFleet
from chargebox.sim.fleet_plan import Plan, run_plan
from chargebox.sim.fleet_processes import FleetProcesses
from chargebox.sim.template import Template

log = logging.getLogger("chargebox.fleet")


async def run_fleet(
    fleet: Fleet | FleetProcesses,
    *,
    duration: float | None,
    stats_json: Path | None,
    control: tuple[str, int] | None,
    live: bool,
    control_token: str | None = None,
    templates: Mapping[str, Template] | None = None,
    plan: Plan | None = None,
) -> int:
    """``chargebox fleet``: run, show the figures live (on a terminal), and always end with the summary
    and ``--stats-json``, whether the run ended by ``--duration``, Ctrl-C or SIGTERM. 0, or 1 when a process of
    ``--processes`` died (each is reported as it happens). ``templates``: the names stations are added by (the
    control API, ``plan``); ``plan``: ``--plan``'s steps, run alongside (one process only)."""
    console = Console()
    runner = None
    changes = LiveFleet(fleet, templates) if isinstance(fleet, Fleet) else None
    if changes is not None and plan is not None:
        changes.tasks.spawn(run_plan(changes, plan))  # supervised: a failure is logged with its traceback
    try:
        if control is not None:
            from chargebox.sim.fleet_control import start_fleet_control  # aiohttp: only with --control
            from chargebox.web import url

            runner, port = await start_fleet_control(fleet, *control, token=control_token, live=changes)
            base = url(control[0], port)
            log.info("= fleet dashboard on %s (control API: %sapi/fleet, %sapi/stations)", base, base, base)
        if live:
            with Live(figures_table(fleet.figures()), console=console, refresh_per_second=2) as view:
                task = asyncio.ensure_future(fleet.run(duration))
                try:
                    while not task.done():
                        await asyncio.wait({task}, timeout=0.5)
                        view.update(figures_table(fleet.figures()))
                    task.result()
                finally:
                    task.cancel()
        else:
            await fleet.run(duration)
    finally:
        if changes is not None:
            changes.tasks.cancel()  # the plan, a ramp, a blackout's return: no station starts while the fleet stops
        await _stopped(fleet)
        figures = fleet.figures()
        if runner is not None:
            await runner.cleanup()
        if fleet.ran:  # else the first station could not be made (its one-line error follows): nothing ran
            console.print(figures_table(figures, title="fleet summary"))
            if stats_json is not None:
                write_stats(stats_json, figures)
    return 1 if isinstance(fleet, FleetProcesses) and fleet.failures else 0


async def _stopped(fleet: Fleet | FleetProcesses) -> None:
    """Stop the fleet to the end, whatever signal comes meanwhile: a SIGTERM (or a second Ctrl-C) while
    ``--duration``'s stop runs must not leave it half done, with no summary and no ``--stats-json``. The stop
    is bounded by itself (its stations close, a process that does not is killed after ``STOP_TIMEOUT``)."""
    stopping = asyncio.ensure_future(fleet.stop())
    while not stopping.done():
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.shield(stopping)
    stopping.result()


def write_stats(path: Path, figures: dict[str, Any]) -> None:
    try:
        path.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    except OSError as exc:
        raise UserError(f"cannot write --stats-json {path}: {exc.strerror or exc}") from exc
