"""A load tester's scenarios on a running fleet (sim/scenarios.py), under a VirtualClock against the built-in central
system on loopback: a blackout (PowerLoss after the power comes back, spread as the seed says), a partition (charging
goes on offline, the lane drains after), a rolling reboot (batch after batch); and their bad arguments refused."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp import web

from chargebox.clock import VirtualClock
from chargebox.csms.server import CentralSystem, CsmsEvent
from chargebox.sim import scenarios
from chargebox.sim.fleet import Fleet, FleetSettings
from chargebox.sim.fleet_live import LiveFleet, Refused
from chargebox.sim.ocpp_mix import Mix
from tests.loopback import until


@dataclass
class Running:
    fleet: Fleet
    live: LiveFleet
    clock: VirtualClock
    seen: list[CsmsEvent]
    task: asyncio.Future[None]

    def sent(self, station_id: str, action: str) -> list[Any]:
        return [e.request for e in self.seen if e.charge_point_id == station_id and str(e.action) == action]

    async def charging(self, *ids: str) -> None:
        for station_id in ids:
            sim = self.fleet.sims[station_id]
            await sim.plug(1)
            await sim.swipe("CARD-1", 1)
        await settle(lambda: all(self.sent(station_id, "StartTransaction") for station_id in ids))


async def settle(condition: Callable[[], object]) -> None:
    await until(condition, timeout=20.0, poll=0.02)


async def advancing(running: Running, condition: Callable[[], object], most: int = 120) -> None:
    """Until ``condition`` holds, the clock moved a second at a time (a reboot's reconnect waits on it), with the
    loopback's real I/O let through in between."""
    for _ in range(most):
        if condition():
            return
        await running.clock.advance(1)
        with contextlib.suppress(TimeoutError):
            await until(condition, timeout=0.1, poll=0.01)
    assert condition()


async def start(
    port: int, seen: list[CsmsEvent], *, count: int, prefix: str = "CP", seed: int = 0, ocpp: Mix | None = None
) -> Running:
    clock = VirtualClock()
    settings = FleetSettings(csms_url=f"ws://127.0.0.1:{port}", count=count, id_prefix=prefix, seed=seed,
                             connect_rate=1000, ocpp=ocpp)  # fmt: skip
    fleet = Fleet(settings, clock=clock)
    running = Running(fleet, LiveFleet(fleet), clock, seen, asyncio.ensure_future(fleet.run()))
    await clock.advance(1)  # the ramp
    await settle(lambda: fleet.counts()["booted"] == count)
    return running


@pytest.fixture
async def fleets(csms: tuple[CentralSystem, int]) -> AsyncIterator[Callable[..., Any]]:
    system, port = csms
    seen: list[CsmsEvent] = []
    system.on_event = seen.append
    made: list[Running] = []

    async def make(**kwargs: Any) -> Running:
        made.append(await start(port, seen, **kwargs))
        return made[-1]

    yield make
    for running in made:
        running.live.tasks.cancel()
        running.task.cancel()
        await running.fleet.stop()


async def test_X_12_a_blackout_cuts_every_station_and_each_ends_its_transaction_with_power_loss_once_back(
    fleets: Callable[..., Any],
) -> None:
    running: Running = await fleets(count=4)
    await running.charging("CP1", "CP3")
    answer = await scenarios.blackout(running.live, 30)
    assert answer == {"scenario": "blackout", "stations": 4, "restoreOver": 30.0}
    assert not running.fleet.sims and set(running.live.dark) == {"CP1", "CP2", "CP3", "CP4"}
    assert {running.live.state(f"CP{i}") for i in range(1, 5)} == {"dark"}
    assert not running.sent("CP1", "StopTransaction")  # a power cut ends nothing before it goes
    with pytest.raises(Refused, match="no station is running"):
        await scenarios.blackout(running.live, 30)
    await running.clock.advance(30)
    await settle(lambda: running.fleet.counts()["booted"] == 4)
    for station_id in ("CP1", "CP3"):
        await settle(lambda station_id=station_id: running.sent(station_id, "StopTransaction"))  # type: ignore[misc]
        [stop] = running.sent(station_id, "StopTransaction")
        assert stop.reason == "PowerLoss"
    assert [len(running.sent(f"CP{i}", "BootNotification")) for i in range(1, 5)] == [2, 2, 2, 2]


async def back_after(running: Running, seconds: float) -> list[int]:
    """Which stations (by position in id order) have their power back ``seconds`` after a blackout."""
    await scenarios.blackout(running.live, 60)
    await running.clock.advance(seconds)
    ids = sorted(running.live.kinds)
    return [position for position, station_id in enumerate(ids) if station_id not in running.live.dark]


async def test_a_blackouts_restore_times_come_from_the_seed(fleets: Callable[..., Any]) -> None:
    first = await back_after(await fleets(count=8, prefix="A", seed=5), 30)
    assert first == await back_after(await fleets(count=8, prefix="B", seed=5), 30)
    assert 0 < len(first) < 8  # spread over the minute: some are back at half time, not all
    assert first != await back_after(await fleets(count=8, prefix="C", seed=6), 30)


async def test_Q_1_a_partitioned_station_charges_offline_and_drains_its_lane_in_order_once_back(
    fleets: Callable[..., Any],
) -> None:
    running: Running = await fleets(count=4)
    await running.charging("CP1", "CP2", "CP3", "CP4")
    answer = await scenarios.partition(running.live, 0.5, 120)
    assert answer == {"scenario": "partition", "stations": 2, "seconds": 120.0}
    await settle(lambda: running.fleet.counts()["connected"] == 2)
    offline = sorted(s for s, sim in running.fleet.sims.items() if not sim.station.transport.connected)
    await running.clock.advance(60)
    for station_id in offline:  # the session goes on and ends offline: its messages wait in the lane
        await running.fleet.sims[station_id].unplug(1)
        assert running.fleet.sims[station_id].station.lane.pending() >= 1
    assert not any(running.sent(station_id, "StopTransaction") for station_id in offline)
    await running.clock.advance(60)
    await settle(lambda: all(running.sent(station_id, "StopTransaction") for station_id in offline))
    for station_id in offline:
        [stop] = running.sent(station_id, "StopTransaction")
        assert stop.reason == "EVDisconnected" and stop.meter_stop > 0  # charged while offline


async def test_a_rolling_reboot_reboots_batch_after_batch(fleets: Callable[..., Any]) -> None:
    running: Running = await fleets(count=4)
    await running.charging("CP2")
    assert await scenarios.rolling_reboot(running.live, 2) == {"scenario": "rolling-reboot", "stations": 4, "batch": 2}
    await settle(lambda: running.sent("CP2", "StopTransaction"))
    [stop] = running.sent("CP2", "StopTransaction")
    assert stop.reason == "Reboot"
    assert all(len(running.sent(f"CP{i}", "BootNotification")) == 1 for i in (1, 2, 3, 4))  # none is back yet
    await advancing(running, lambda: all(len(running.sent(f"CP{i}", "BootNotification")) == 2 for i in (1, 2)))
    back = running.clock.monotonic()
    assert all(len(running.sent(f"CP{i}", "BootNotification")) == 1 for i in (3, 4))  # the next waits its turn
    await advancing(running, lambda: all(len(running.sent(f"CP{i}", "BootNotification")) == 2 for i in (3, 4)))
    assert running.clock.monotonic() > back


@pytest.fixture
async def firmware_url() -> AsyncIterator[str]:
    """A file server on loopback, as the user of a campaign serves the image."""

    async def image(_request: web.Request) -> web.Response:
        return web.Response(body=b"firmware 2.0 " * 100)

    app = web.Application()
    app.router.add_get("/fw-2.0.img", image)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}/fw-2.0.img"
    await runner.cleanup()


async def test_F_7_a_firmware_campaign_installs_on_each_1_6_station_in_turn(
    fleets: Callable[..., Any], firmware_url: str
) -> None:
    running: Running = await fleets(count=4, ocpp=(("1.6", 50), ("2.0.1", 50)))
    answer = await scenarios.firmware_campaign(running.live, firmware_url, 1)
    assert answer == {"scenario": "firmware-campaign", "stations": 2, "skipped": 2, "batch": 1}

    def statuses(station_id: str) -> list[str]:
        return [str(request.status) for request in running.sent(station_id, "FirmwareStatusNotification")]

    await advancing(running, lambda: "Installed" in statuses("CP3"))
    for station_id in ("CP1", "CP3"):
        assert statuses(station_id) == ["Downloading", "Downloaded", "Installing", "Installed"]
        assert len(running.sent(station_id, "BootNotification")) == 2  # F-7: rebooted before Installed
    order = [(e.charge_point_id, str(getattr(e.request, "status", ""))) for e in running.seen
             if str(e.action) == "FirmwareStatusNotification"]  # fmt: skip
    assert order.index(("CP3", "Downloading")) > order.index(("CP1", "Installed"))  # one at a time, in id order
    assert {station_id for station_id, _status in order} == {"CP1", "CP3"}  # the 2.0.1 stations skipped


async def test_a_firmware_campaign_needs_a_url_and_a_1_6_station(fleets: Callable[..., Any]) -> None:
    running: Running = await fleets(count=1, ocpp=(("2.0.1", 100),))
    for location in ("file:///etc/passwd", "http://", "", 7, "http://x/" + "a" * 600):
        with pytest.raises(Refused, match="location must be an http, https, ftp or ftps URL"):
            await scenarios.firmware_campaign(running.live, location, 1)
    with pytest.raises(Refused, match=r"OCPP 1\.6 stations only") as refused:
        await scenarios.firmware_campaign(running.live, "http://127.0.0.1:1/fw.img", 1)
    assert refused.value.status == 409 and running.live.scenarios == 0


@pytest.mark.parametrize(
    ("scenario", "arguments", "fragment"),
    [
        (scenarios.blackout, (-1,), "restoreOver must be a number of seconds from 0 to 86400"),
        (scenarios.blackout, ("10",), "restoreOver must be"),
        (scenarios.partition, (0, 10), "share must be a number above 0 and at most 1"),
        (scenarios.partition, (1.5, 10), "share must be"),
        (scenarios.partition, (0.5, None), "seconds must be"),
        (scenarios.rolling_reboot, (0,), "batch must be a whole number"),
        (scenarios.rolling_reboot, (True,), "batch must be a whole number"),
    ],
)
async def test_a_bad_scenario_argument_is_refused_and_changes_nothing(
    fleets: Callable[..., Any], scenario: Callable[..., Any], arguments: tuple[object, ...], fragment: str
) -> None:
    running: Running = await fleets(count=2)
    with pytest.raises(Refused, match=fragment) as refused:
        await scenario(running.live, *arguments)
    assert refused.value.status == 400
    assert running.fleet.counts()["connected"] == 2 and not running.live.dark and running.live.scenarios == 0
