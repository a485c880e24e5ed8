"""What a load test does to a running fleet at once (``POST /api/scenarios/{name}`` and ``fleet --plan``), each one
reproducible: which stations and when come from ``--seed`` and the scenario's number in the run alone, and every wait
is on the fleet's clock.

- ``blackout``: every running station loses its power at once. The fleet's stations share one process, so a station
  without power is stopped as ``Fleet.stop_station`` stops it without a reason (its writes committed, its link
  closed, its transactions left open in the store, as a power cut leaves them); each comes back at a time drawn
  uniformly over ``restoreOver`` seconds and, as after any power cut, its first boot ends what was open with reason
  PowerLoss (X-12). Until then the list shows it ``dark``.
- ``partition``: the links of a ``share`` of the running stations (drawn at random) drop for ``seconds``. The stations
  keep running: a session goes on offline, its messages wait in the lane, and once the link is back the lane drains
  in order (Q-1).
- ``rolling-reboot``: the running stations reboot (a local reboot: transactions end with Reason Reboot, X-8) ``batch``
  at a time in id order; the next batch waits until the last one has booted again (or ``REBOOT_WAIT`` seconds).

The scenario answers once it has begun (the stations cut, the links dropped, the first batch told); what follows runs
in the background, supervised.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any, Final

from chargebox.sim.fleet_live import MAX_STATIONS, LiveFleet, Refused

if TYPE_CHECKING:
    from chargebox.sim.simulator import Simulator

MAX_SCENARIO_SECONDS: Final = 86_400.0  # restoreOver, a partition's seconds
REBOOT_WAIT: Final = 120.0  # seconds a rolling reboot waits for a batch to boot again before it goes on
POLL: Final = 0.2  # seconds between two looks at a rebooting batch


def _seconds(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= MAX_SCENARIO_SECONDS:
        raise Refused(400, f"{name} must be a number of seconds from 0 to {MAX_SCENARIO_SECONDS:g}")
    return float(value)


def _running(live: LiveFleet) -> list[str]:
    ids = sorted(live.fleet.sims, key=lambda station_id: live.kinds[station_id].index)
    if not ids:
        raise Refused(409, "no station is running")
    return ids


def _rng(live: LiveFleet, scenario: str) -> random.Random:
    """The scenario's random stream: the fleet's seed, the scenario, and how many of them ran before it."""
    live.scenarios += 1
    return random.Random(f"{live.fleet.settings.seed}:{scenario}:{live.scenarios}")


async def blackout(live: LiveFleet, restore_over: object) -> dict[str, Any]:
    """Cut the power of every running station; each comes back within ``restore_over`` seconds."""
    spread = _seconds(restore_over, "restoreOver")
    async with live.lock:
        ids = _running(live)
        rng = _rng(live, "blackout")
        back = sorted((rng.uniform(0.0, spread), station_id) for station_id in ids)
        for station_id in ids:
            live.dark[station_id] = live.kinds[station_id]
        await live.take_out(ids, None)
    live.tasks.spawn(_restore(live, back))
    return {"scenario": "blackout", "stations": len(ids), "restoreOver": spread}


async def _restore(live: LiveFleet, back: list[tuple[float, str]]) -> None:
    clock = live.fleet.clock
    start = clock.monotonic()
    for after, station_id in back:
        await clock.sleep(max(start + after - clock.monotonic(), 0.0))
        async with live.lock:
            kind = live.dark.pop(station_id, None)
            if kind is not None:
                live.fleet.start_station(kind.index, live.templates[kind.template])


async def partition(live: LiveFleet, share: object, seconds: object) -> dict[str, Any]:
    """Drop the links of ``share`` (0 to 1) of the running stations for ``seconds``."""
    if isinstance(share, bool) or not isinstance(share, int | float) or not 0 < share <= 1:
        raise Refused(400, "share must be a number above 0 and at most 1 (1: every running station)")
    length = _seconds(seconds, "seconds")
    async with live.lock:
        ids = _running(live)
        chosen = sorted(_rng(live, "partition").sample(ids, max(1, round(share * len(ids)))), key=ids.index)
        sims = {station_id: live.fleet.sims[station_id] for station_id in chosen}
        for sim in sims.values():
            sim.station.transport.disconnect()
    live.tasks.spawn(_heal(live, sims, length))
    return {"scenario": "partition", "stations": len(chosen), "seconds": length}


async def _heal(live: LiveFleet, sims: dict[str, Simulator], seconds: float) -> None:
    await live.fleet.clock.sleep(seconds)
    for station_id, sim in sims.items():
        if live.fleet.sims.get(station_id) is sim:  # else stopped, removed or cut meanwhile: its own start connects
            sim.station.transport.connect()


async def rolling_reboot(live: LiveFleet, batch: object) -> dict[str, Any]:
    """Reboot the running stations ``batch`` at a time, each batch once the one before has booted again."""
    if isinstance(batch, bool) or not isinstance(batch, int) or not 1 <= batch <= MAX_STATIONS:
        raise Refused(400, f"batch must be a whole number from 1 to {MAX_STATIONS}")
    async with live.lock:
        ids = _running(live)
        live.scenarios += 1
    live.tasks.spawn(_roll(live, ids, batch))
    return {"scenario": "rolling-reboot", "stations": len(ids), "batch": batch}


async def _roll(live: LiveFleet, ids: list[str], batch: int) -> None:
    fleet, clock = live.fleet, live.fleet.clock
    for first in range(0, len(ids), batch):
        async with live.lock:
            sims = [sim for station_id in ids[first : first + batch] if (sim := fleet.sims.get(station_id)) is not None]
            for sim in sims:
                await sim.station.local_reboot()
        deadline = clock.monotonic() + REBOOT_WAIT
        while clock.monotonic() < deadline and not all(
            sim.station.registration == "Accepted" and sim.station.transport.connected
            for sim in sims
            if fleet.sims.get(sim.station.id) is sim  # else stopped or removed meanwhile
        ):
            await clock.sleep(POLL)
