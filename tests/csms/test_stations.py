"""What the central system's control API knows of each station (csms/stations.py), read from real frames of real
stations on loopback: connector statuses, the transaction running there with the id the central system gave it,
search, and the page's server-sent events."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import websockets

from chargebox.csms import control as csms_control
from chargebox.csms.server import CentralSystem
from chargebox.sim.simulator import Simulator, simulated_station
from chargebox.station.station import StationSettings
from chargebox.transport import SUBPROTOCOL, ReconnectPolicy
from chargebox.web import SHUTDOWN_TIMEOUT, Limits, serve
from tests.csms.test_control import Csms, csms, station
from tests.loopback import until
from tests.sim.test_dashboard import Events

__all__ = ["csms", "station"]  # the fixtures, imported


def connector(listed: dict[str, Any], connector_id: int) -> dict[str, Any]:
    found: dict[str, Any] = next(c for c in listed["connectors"] if c["id"] == connector_id)
    return found


async def test_a_running_transaction_shows_with_the_id_the_central_system_gave_it(
    csms: Csms, station: Simulator
) -> None:
    await station.plug(1)
    await csms.call("CP-1", {"action": "RemoteStartTransaction", "payload": {"connectorId": 1, "idTag": "REMOTE-1"}})

    async def charging() -> dict[str, Any]:
        while True:
            (listed,) = await csms.stations()
            if connector(listed, 1)["status"] == "Charging" and connector(listed, 1)["transaction"]:
                return listed
            await asyncio.sleep(0.02)

    listed = await asyncio.wait_for(charging(), 10)
    transaction = connector(listed, 1)["transaction"]
    frames = [json.loads(f["frame"]) for f in (await csms.get("/api/stations/CP-1"))["frames"]]
    start = next(f[1] for f in frames if f[0] == 2 and f[2] == "StartTransaction")
    given = next(f[2]["transactionId"] for f in frames if f[0] == 3 and f[1] == start)
    assert (transaction["id"], transaction["idTag"]) == (given, "REMOTE-1")
    assert connector(listed, 2)["status"] == "Available" and connector(listed, 2)["transaction"] is None
    assert (listed["vendor"], listed["boots"]) == (station.station.settings.identity.vendor, 1)

    await station.unplug(1)

    async def stopped() -> None:
        while connector((await csms.stations())[0], 1)["transaction"] is not None:
            await asyncio.sleep(0.02)

    await asyncio.wait_for(stopped(), 10)


async def test_a_frame_the_central_system_refused_changes_nothing(csms: Csms) -> None:
    """A StatusNotification outside the schema is answered with a CALLERROR and is not taken as the status."""
    async with websockets.connect(f"ws://127.0.0.1:{csms.ws_port}/BARE", subprotocols=[SUBPROTOCOL]) as ws:
        await ws.send(json.dumps([2, "1", "StatusNotification", {"connectorId": 1, "errorCode": "NoError",
                                                                  "status": "Available"}]))  # fmt: skip
        assert json.loads(await ws.recv())[0] == 3
        await ws.send(json.dumps([2, "2", "StatusNotification", {"connectorId": 1, "errorCode": "NoError",
                                                                  "status": "Exploded"}]))  # fmt: skip
        assert json.loads(await ws.recv())[0] == 4
        (listed,) = await csms.stations()
    assert [(c["id"], c["status"]) for c in listed["connectors"]] == [(1, "Available")]


async def test_search_finds_stations_by_id_in_any_case_and_a_long_query_is_400(csms: Csms) -> None:
    for name in ("CP-2", "CP-10", "OTHER-1"):
        csms.system.open_session(name, _nowhere)
    assert [s["id"] for s in await csms.stations()] == ["CP-2", "CP-10", "OTHER-1"]  # CP-2 before CP-10
    assert [s["id"] for s in (await csms.get("/api/stations?q=cp-"))["stations"]] == ["CP-2", "CP-10"]
    async with csms.http.get(f"{csms.base}/api/stations", params={"q": "x" * 65}) as response:
        assert response.status == 400
    async with csms.http.get(f"{csms.base}/api/stations/NOBODY") as response:
        assert response.status == 404


async def test_events_push_the_list_then_each_change_and_the_frames_of_the_station_shown(
    csms: Csms, station: Simulator
) -> None:
    async with csms.http.get(f"{csms.base}/api/events", params={"station": "CP-1"}) as response:
        assert response.content_type == "text/event-stream"
        events = Events(response)
        first = await events.until("stations")
        assert [s["id"] for s in first["stations"]] == ["CP-1"]
        assert (await events.until("uploads")) == {"uploads": []}
        frames = await events.until("frames")
        assert frames["id"] == "CP-1" and '"BootNotification"' in frames["frames"][0]["frame"]
        await station.plug(1)
        changed = await events.until("station", lambda s: connector(s, 1)["status"] == "Preparing")
        assert changed["id"] == "CP-1" and "frames" not in changed
        frame = await events.until("frame", lambda f: '"Preparing"' in f["frame"])
        assert (frame["id"], frame["dir"]) == ("CP-1", "in")
        async with csms.http.put(f"{csms.base}/uploads/d.zip", data=b"zip") as uploaded:
            assert uploaded.status == 201
        assert [u["name"] for u in (await events.until("uploads"))["uploads"]] == ["d.zip"]


async def test_events_of_a_station_not_shown_send_its_changes_without_its_frames(
    csms: Csms, station: Simulator
) -> None:
    async with csms.http.get(f"{csms.base}/api/events") as response:
        events = Events(response)
        await events.until("stations")
        await station.plug(2)
        seen: list[str] = []
        while True:
            name, data = await events.next()
            seen.append(name)
            if name == "station" and connector(data, 2)["status"] == "Preparing":
                break
        assert "frame" not in seen and "frames" not in seen


async def test_event_streams_are_bounded_and_end_when_the_server_stops() -> None:
    system = CentralSystem()
    app = csms_control.make_app(system)
    runner, port = await serve(app, "127.0.0.1", 0, "--control", limits=Limits(event_streams=1))
    base = f"http://127.0.0.1:{port}"
    async with aiohttp.ClientSession() as http, http.get(f"{base}/api/events") as first:
        await Events(first).until("stations")
        async with http.get(f"{base}/api/events") as second:
            assert second.status == 503
            assert "event streams open" in (await second.json())["error"]
        await asyncio.wait_for(runner.cleanup(), SHUTDOWN_TIMEOUT / 2)  # ended, not waited for
        await first.content.read()  # what was pushed before, then the end of a complete response
        assert first.content.at_eof()


@pytest.fixture
async def many(csms: Csms) -> AsyncIterator[list[Simulator]]:
    sims = [
        Simulator(simulated_station(StationSettings(
            charge_point_id=f"CP-{n}", csms_url=f"ws://127.0.0.1:{csms.ws_port}", connectors=1,
            reconnect=ReconnectPolicy(initial=0.05, maximum=0.2, jitter=0.1),
        )))
        for n in range(2, 6)
    ]  # fmt: skip
    runs = [asyncio.ensure_future(sim.run()) for sim in sims]
    await until(lambda: all(sim.station.boot.registration is not None for sim in sims))
    yield sims
    for sim in sims:
        await sim.stop()
    for run in runs:
        run.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await run


async def test_a_disconnected_station_stays_listed_as_disconnected(csms: Csms, many: list[Simulator]) -> None:
    await many[0].stop()
    await until(lambda: "CP-2" not in csms.system.sessions)
    listed = {s["id"]: s for s in await csms.stations()}
    assert (listed["CP-2"]["connected"], listed["CP-2"]["securityProfile"]) == (False, None)
    assert [s["id"] for s in await csms.stations()][-1] == "CP-2"  # the connected ones first


async def _nowhere(_data: bytes) -> None:
    return None
