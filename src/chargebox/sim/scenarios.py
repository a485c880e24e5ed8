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
- ``firmware-campaign``: the running stations install the firmware at ``location`` (a URL the user serves: http,
  https, ftp, ftps), ``batch`` at a time in id order, each batch once the one before has ended (Installed, or a
  failure; at most ``CAMPAIGN_WAIT`` seconds). A central system starts a campaign with UpdateFirmware, and ours is not
  the one under test, so each station is given the UpdateFirmware its central system would send, through its own
  handler (journaled, downloaded, F-6's wait for transactions, installed, rebooted, F-7): the central system sees
  every FirmwareStatusNotification of it. OCPP 1.6 stations only: a 2.0.1 station installs signed firmware only
  (L01), whose certificate and signature a campaign of ours has no business forging; they are counted as skipped.

The scenario answers once it has begun (the stations cut, the links dropped, the first batch told); what follows runs
in the background, supervised.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

from chargebox.protocol.messages import FirmwareStatus, UpdateFirmwareRequest
from chargebox.rpc import Reply
from chargebox.sim.fleet_live import MAX_STATIONS, LiveFleet, Refused
from chargebox.transfer import SUPPORTED_SCHEMES

if TYPE_CHECKING:
    from chargebox.sim.simulator import Simulator

MAX_SCENARIO_SECONDS: Final = 86_400.0  # restoreOver, a partition's seconds
REBOOT_WAIT: Final = 120.0  # seconds a rolling reboot waits for a batch to boot again before it goes on
POLL: Final = 0.2  # seconds between two looks at a rebooting batch
CAMPAIGN_WAIT: Final = 3600.0  # seconds a firmware campaign waits for a batch to end before it goes on
MAX_LOCATION: Final = 512  # characters of a campaign's URL (2.0.1's and the security whitepaper's bound of a location)
_ENDED: Final = frozenset(
    {FirmwareStatus.INSTALLED, FirmwareStatus.DOWNLOAD_FAILED, FirmwareStatus.INSTALLATION_FAILED}
)  # a station's part of a campaign is over


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
            if kind is not None and not live.fleet.stopping:
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
    size = _batch(batch)
    async with live.lock:
        ids = _running(live)
        live.scenarios += 1
    live.tasks.spawn(_roll(live, ids, size))
    return {"scenario": "rolling-reboot", "stations": len(ids), "batch": size}


def _batch(batch: object) -> int:
    if isinstance(batch, bool) or not isinstance(batch, int) or not 1 <= batch <= MAX_STATIONS:
        raise Refused(400, f"batch must be a whole number from 1 to {MAX_STATIONS}")
    return batch


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


async def firmware_campaign(live: LiveFleet, location: object, batch: object) -> dict[str, Any]:
    """Every running 1.6 station installs the firmware at ``location``, ``batch`` at a time (module docstring)."""
    url = checked_location(location)
    size = _batch(batch)
    async with live.lock:
        ids = _running(live)
        chosen = [station_id for station_id in ids if live.fleet.sims[station_id].station.firmware is not None]
        if not chosen:
            raise Refused(409, "no running station takes a firmware campaign (OCPP 1.6 stations only)")
        live.scenarios += 1
    live.tasks.spawn(_campaign(live, chosen, url, size))
    return {"scenario": "firmware-campaign", "stations": len(chosen), "skipped": len(ids) - len(chosen), "batch": size}


def checked_location(location: object) -> str:
    """A firmware campaign's URL: one the stations can download from (sim/transfer.py's schemes), bounded."""
    if not (
        isinstance(location, str)
        and 1 <= len(location) <= MAX_LOCATION
        and location.isascii()
        and location.isprintable()
        and urlsplit(location).scheme.lower() in SUPPORTED_SCHEMES
        and urlsplit(location).netloc
    ):
        raise Refused(400, f"location must be an http, https, ftp or ftps URL of at most {MAX_LOCATION} characters")
    return location


async def _campaign(live: LiveFleet, ids: list[str], location: str, batch: int) -> None:
    fleet, clock = live.fleet, live.fleet.clock
    for first in range(0, len(ids), batch):
        told = []
        async with live.lock:
            for station_id in ids[first : first + batch]:
                sim = fleet.sims.get(station_id)
                if sim is None or (firmware := sim.station.firmware) is None:
                    continue  # stopped, removed or cut meanwhile
                request = UpdateFirmwareRequest(location=location, retrieve_date=clock.now())
                answer = firmware.on_update_firmware(request)
                if isinstance(answer, Reply) and answer.then is not None:
                    await answer.then()
                told.append(sim)
        deadline = clock.monotonic() + CAMPAIGN_WAIT
        while clock.monotonic() < deadline and not all(
            firmware.status in _ENDED
            for sim in told
            if fleet.sims.get(sim.station.id) is sim and (firmware := sim.station.firmware) is not None
        ):
            await clock.sleep(POLL)
