"""``GET /metrics`` of ``simulate --control`` and ``fleet --control`` (sim/metrics.py), scraped from real servers on
loopback while real stations talk to the built-in central system: the figures move as the wire moves."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from chargebox.csms.server import CentralSystem, CsmsPolicy
from chargebox.errors import RemoteProtocolError
from chargebox.protocol import messages as m
from chargebox.sim.control import start_control
from chargebox.sim.fleet import Fleet, FleetSettings
from chargebox.sim.fleet_control import start_fleet_control
from chargebox.sim.simulator import Simulator, simulated_station
from chargebox.station.station import StationSettings
from chargebox.transport import ReconnectPolicy
from tests.loopback import run_until_stopped, until
from tests.scrape import Scrape, scrape

TOKEN = "metrics-test-token-0123456789"


@dataclass
class Served:
    sim: Simulator
    csms: CentralSystem
    http: aiohttp.ClientSession
    base: str

    async def post(self, path: str, body: dict[str, Any] | None = None) -> None:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        async with self.http.post(f"{self.base}/api/{path}", json=body or {}, headers=headers) as response:
            assert response.status == 200, await response.text()

    async def scrape(self) -> Scrape:
        return await scrape(self.http, self.base, token=TOKEN)


@contextlib.asynccontextmanager
async def served(policy: CsmsPolicy | None = None) -> AsyncIterator[Served]:
    """A station on its control API (with a token), connected to a central system answering by ``policy``."""
    csms = CentralSystem(policy)
    port = await csms.start()
    settings = StationSettings(charge_point_id="CP-1", csms_url=f"ws://127.0.0.1:{port}", connectors=2,
                               reconnect=ReconnectPolicy(initial=0.05, maximum=0.2, jitter=0.1))  # fmt: skip
    sim = Simulator(simulated_station(settings))
    runner, control_port = await start_control(sim, "127.0.0.1", 0, token=TOKEN)
    try:
        async with run_until_stopped(sim), aiohttp.ClientSession() as http:
            await until(lambda: sim.station.boot.registration is not None)
            yield Served(sim, csms, http, f"http://127.0.0.1:{control_port}")
    finally:
        await runner.cleanup()
        await csms.stop()


async def test_a_station_s_figures_move_with_a_real_transaction() -> None:
    async with served() as api:
        await until(lambda: api.sim.station.lane.backlog() == [])  # the boot's StatusNotifications answered
        before = await api.scrape()
        assert before.value("chargebox_stations") == 1
        assert before.value("chargebox_stations_connected") == 1
        assert before.value("chargebox_stations_registration", status="Accepted") == 1
        assert before.value("chargebox_connectors", status="Available") == 2
        assert before.messages("sent", "CALL", "BootNotification") == 1
        assert before.messages("received", "CALLRESULT", "BootNotification") == 1
        assert before.value("chargebox_round_trip_seconds_count", action="BootNotification") == 1
        assert before.messages("sent", "CALL", "StartTransaction") == 0
        assert before.families["chargebox_round_trip_seconds"].type == "histogram"

        await api.post("connectors/1/plug")
        await api.post("connectors/1/swipe", {"idTag": "TAG-1"})
        await until(lambda: api.sim.station.connectors.connectors[1].transaction_id is not None)
        await api.sim.station.lane.drained()
        after = await api.scrape()
        for action in ("Authorize", "StartTransaction"):
            assert after.messages("sent", "CALL", action) == 1
            assert after.messages("received", "CALLRESULT", action) == 1
            assert after.value("chargebox_round_trip_seconds_count", action=action) == 1
            assert after.value("chargebox_round_trip_seconds_bucket", action=action, le="+Inf") == 1
        assert after.value("chargebox_connectors", status="Charging") == 1
        assert after.value("chargebox_connectors", status="Available") == 1
        assert after.value("chargebox_messages_queued") == 0  # answered, and its delete committed
        assert after.value("chargebox_callerrors_total") == 0

        result = await api.csms.call(
            "CP-1", m.TriggerMessageRequest(requested_message=m.MessageTrigger.HEARTBEAT), timeout=5.0
        )
        assert result.ok
        called = await api.scrape()
        assert called.messages("received", "CALL", "TriggerMessage") == 1
        assert called.messages("sent", "CALLRESULT", "TriggerMessage") == 1


def _refuse_authorize(_request: m.AuthorizeRequest) -> m.AuthorizeResponse:
    raise RemoteProtocolError("SecurityError", "this central system refuses every card")


async def test_callerrors_are_counted_by_code_both_ways_and_an_unusable_frame_is_rejected() -> None:
    async with served(CsmsPolicy(extra_handlers={m.Action.AUTHORIZE: _refuse_authorize})) as api:
        await api.post("connectors/1/swipe", {"idTag": "TAG-1"})
        connection = api.csms.connections["CP-1"]
        await connection.send('[2,"bogus-1","NoSuchAction",{}]')  # answered NotImplemented by the Connection
        await connection.send("[5]")  # not OCPP-J at all: ignored
        await until(lambda: api.sim.station.rpc.last_outcome.get(m.Action.AUTHORIZE) is not None)
        figures = await api.scrape()
        assert figures.value("chargebox_callerrors_total", direction="received", code="SecurityError",
                             action="Authorize") == 1  # fmt: skip
        assert figures.messages("received", "CALLERROR", "Authorize") == 1
        assert figures.value("chargebox_round_trip_seconds_count", action="Authorize") == 1
        figures = await _scraped_when(api, lambda s: s.value("chargebox_frames_rejected_total") == 2)
        assert (
            figures.value("chargebox_callerrors_total", direction="sent", code="NotImplemented", action="unknown") == 1
        )


async def _scraped_when(api: Served, condition: Any) -> Scrape:
    """The first scrape for which ``condition`` holds (frames sent to the station arrive when they arrive)."""
    found: list[Scrape] = []

    async def holds() -> bool:
        found.append(await api.scrape())
        return bool(condition(found[-1]))

    for _ in range(200):
        if await holds():
            return found[-1]
        await asyncio.sleep(0.02)
    pytest.fail(f"never: the last scrape was\n{found[-1].text}")


async def test_a_control_api_with_a_token_refuses_metrics_without_it() -> None:
    async with served() as api:
        async with api.http.get(f"{api.base}/metrics") as response:
            assert response.status == 401
            assert "error" in await response.json()
        async with api.http.get(f"{api.base}/metrics", headers={"Authorization": "Bearer wrong-token-0123456789"}) as r:
            assert r.status == 401
        assert (await api.scrape()).value("chargebox_stations") == 1


async def test_a_fleet_s_figures_count_its_stations_and_their_messages() -> None:
    csms = CentralSystem(CsmsPolicy(heartbeat_interval=600))
    port = await csms.start()
    fleet = Fleet(FleetSettings(csms_url=f"ws://127.0.0.1:{port}", count=3, connectors=2, connect_rate=1000))
    runner: web.AppRunner | None = None
    task = asyncio.ensure_future(fleet.run())
    try:
        runner, control_port = await start_fleet_control(fleet, "127.0.0.1", 0)
        base = f"http://127.0.0.1:{control_port}"
        await until(lambda: fleet.figures()["booted"] == 3 and fleet.round_trips.sent >= 3 * 4, timeout=20.0)
        async with aiohttp.ClientSession() as http:
            before = fleet.round_trips.sent
            figures = await scrape(http, base)
            after = fleet.round_trips.sent  # a round trip may land while the scrape is answered
            assert figures.value("chargebox_stations") == 3
            assert figures.value("chargebox_stations_connected") == 3
            assert figures.value("chargebox_stations_registration", status="Accepted") == 3
            assert figures.value("chargebox_connectors", status="Available") == 6
            assert figures.messages("sent", "CALL", "BootNotification") == 3
            assert figures.messages("sent", "CALL", "StatusNotification") == 9  # 0, 1, 2
            assert before <= figures.value("chargebox_round_trip_seconds_count") <= after
            assert figures.value("chargebox_reconnects_total") == 0

            for path, body in (("connectors/1/plug", {}), ("connectors/1/swipe", {"idTag": "TAG-1"})):
                async with http.post(f"{base}/api/stations/CP2/{path}", json=body) as response:
                    assert response.status == 200, await response.text()
            sim = fleet.sims["CP2"]
            await until(lambda: sim.station.connectors.connectors[1].transaction_id is not None)
            figures = await scrape(http, base)
            assert figures.messages("sent", "CALL", "StartTransaction") == 1
            assert figures.value("chargebox_connectors", status="Charging") == 1
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await fleet.stop()
        if runner is not None:
            await runner.cleanup()
        await csms.stop()
