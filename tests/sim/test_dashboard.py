"""The dashboard's server side: its pages, the server-sent events, the answers of the actions and the
routes mounted under a prefix, through a real aiohttp client against a station on loopback."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from chargebox.protocol.messages import Action, AuthorizationStatus
from chargebox.sim.control import add_station_routes
from chargebox.sim.dashboard import add_fleet_dashboard
from chargebox.sim.feed import FRAME_RING, feed_of
from chargebox.sim.simulator import Simulator
from chargebox.web import SHUTDOWN_TIMEOUT, control_app, serve
from tests.sim.test_control import WAIT, Control, control, until

__all__ = ["control"]  # the fixture, imported


class Events:
    """A server-sent-event stream read event by event."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self.response = response

    async def next(self) -> tuple[str, Any]:
        event, data = "", ""
        while True:
            line = (await asyncio.wait_for(self.response.content.readline(), WAIT)).decode().rstrip("\n")
            if line.startswith("event: "):
                event = line.removeprefix("event: ")
            elif line.startswith("data: "):
                data = line.removeprefix("data: ")
            elif not line and event:
                return event, json.loads(data)

    async def until(self, event: str, check: Any = lambda _data: True) -> Any:
        while True:
            name, data = await self.next()
            if name == event and check(data):
                return data


async def test_page_and_its_assets_are_served(control: Control) -> None:
    for path, kind in [("/", "text/html"), ("/dashboard/dashboard.js", "text/javascript"),
                       ("/dashboard/dashboard.css", "text/css")]:  # fmt: skip
        async with control.http.get(control.base + path) as response:
            assert response.status == 200
            assert response.content_type == kind
            body = await response.text()
    async with control.http.get(control.base + "/") as response:
        html = await response.text()
    assert 'data-view="station"' in html
    assert "http" not in html.replace("http-equiv", "")  # no CDN: every asset from the package
    assert body


async def test_events_push_the_state_and_the_frames_as_they_happen(control: Control) -> None:
    async with control.http.get(control.base + "/api/events") as response:
        assert response.content_type == "text/event-stream"
        events = Events(response)
        first = await events.until("state")
        assert [c["status"] for c in first["connectors"]] == ["Available", "Available"]
        ring = await events.until("frames")
        assert any('"BootNotification"' in f["frame"] for f in ring)
        await control.post("connectors/1/plug")
        seen: dict[str, Any] = {}
        while len(seen) < 2:  # the state and the frame, in whichever order they come
            name, data = await events.next()
            if name == "frame" and '"StatusNotification"' in data["frame"]:
                seen["frame"] = data
            elif name == "state" and data["connectors"][0]["status"] == "Preparing":
                seen["state"] = data
        assert seen["frame"]["dir"] == "out"
        assert seen["state"]["connectors"][0]["plugged"] is True


async def test_a_station_whose_dashboard_is_open_stops_at_once(control: Control) -> None:
    """An event stream is endless by design: the server's shutdown ends it rather than waiting for it (until
    SHUTDOWN_TIMEOUT, or with aiohttp's default 60 s for a page left open, ``simulate`` hung on Ctrl-C)."""
    async with control.http.get(control.base + "/api/events") as response:
        await Events(response).until("state")
        await asyncio.wait_for(control.runner.cleanup(), SHUTDOWN_TIMEOUT / 2)
        await response.content.read()  # what was pushed before, then the end of a complete response
        assert response.content.at_eof()


async def test_frame_ring_is_bounded(control: Control) -> None:
    feed = feed_of(control.sim)
    for _ in range(FRAME_RING // 4 + 5):  # a StatusNotification and its answer each time
        await control.post("connectors/1/plug")
        await control.post("connectors/1/unplug")
    await until(lambda: len(feed.frames) == FRAME_RING)
    await asyncio.sleep(0.05)  # the last answers
    assert len(feed.frames) == FRAME_RING


async def test_plug_then_swipe_answer_what_happened(control: Control) -> None:
    status, answer = await control.post("connectors/1/plug")
    assert status == 200
    assert answer["outcome"] == {"result": "waiting", "connectorId": 1, "reason": "a card or a RemoteStartTransaction"}
    status, answer = await control.post("connectors/1/swipe", json={"idTag": "CARD-1"})
    assert answer["outcome"] == {"result": "started", "connectorId": 1, "reason": None}
    assert answer["connectors"][0]["status"] == "Charging"
    status, answer = await control.post("connectors/1/swipe", json={"idTag": "CARD-1"})
    assert answer["outcome"] == {"result": "stopped", "connectorId": 1, "reason": "Local"}


async def test_A_1_a_refused_card_answers_refused_and_why(control: Control) -> None:
    control.csms.policy.id_tag_status = AuthorizationStatus.BLOCKED
    await control.post("connectors/1/plug")
    status, answer = await control.post("connectors/1/swipe", json={"idTag": "CARD-1"})
    assert status == 200
    assert answer["outcome"] == {"result": "refused", "connectorId": 1, "reason": "idTag Blocked"}
    assert answer["connectors"][0]["transactionId"] is None


async def test_state_shows_the_transaction_id_once_the_central_system_answered(control: Control) -> None:
    await control.post("connectors/2/plug")
    await control.post("connectors/2/swipe", json={"idTag": "CARD-1"})
    await control.next_event(Action.START_TRANSACTION)
    await until(lambda: control.sim.station.connectors[2].transaction_id is not None)
    state = await control.state()
    assert state["connectors"][1]["transactionId"] == control.sim.station.connectors[2].transaction_id


async def test_numbers_have_one_type(control: Control) -> None:
    """offeredA is always a float and powerW, meterWh always integers, whether 0 or not."""
    idle = await control.state()
    await control.post("connectors/1/plug")
    _, charging = await control.post("connectors/1/swipe", json={"idTag": "CARD-1"})
    for state in (idle, charging):
        for connector in state["connectors"]:
            assert type(connector["offeredA"]) is float
            assert type(connector["powerW"]) is int
            assert type(connector["meterWh"]) is int
    assert charging["connectors"][0]["offeredA"] > 0


async def test_reboot_and_connection_answer_the_new_state(control: Control) -> None:
    status, state = await control.post("connection/disconnect")
    assert status == 200
    assert state["connected"] is False
    status, state = await control.post("connection/connect")
    assert status == 200
    assert state["connected"] is True
    await until(lambda: control.sim.station.boot.registration is not None)
    await control.post("connectors/1/plug")
    _, state = await control.post("connectors/1/swipe", json={"idTag": "CARD-1"})
    assert state["connectors"][0]["status"] == "Charging"
    status, state = await control.post("reboot")
    assert status == 200
    assert state["connectors"][0]["transactionId"] is None
    assert state["connectors"][0]["status"] != "Charging"


# -- mounted under a prefix, as a fleet does ------------------------------------------------------


@pytest.fixture
async def prefixed(control: Control) -> AsyncIterator[str]:
    def lookup(request: web.Request) -> Simulator:
        if request.match_info["id"] != control.sim.station.id:
            raise web.HTTPNotFound(text=json.dumps({"error": "no such station"}), content_type="application/json")
        return control.sim

    app = control_app()
    add_station_routes(app, "/stations/{id}", lookup)
    runner, port = await serve(app, "127.0.0.1", 0, "--control")
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


async def test_station_routes_work_under_a_prefix(control: Control, prefixed: str) -> None:
    async with control.http.post(f"{prefixed}/api/stations/CP-1/connectors/2/plug", json={}) as response:
        assert response.status == 200
        assert (await response.json())["connectors"][1]["plugged"] is True
    async with control.http.get(f"{prefixed}/api/stations/CP-1/state") as response:
        assert (await response.json())["id"] == "CP-1"
    async with control.http.get(f"{prefixed}/api/stations/CP-2/state") as response:
        assert response.status == 404
        assert (await response.json()) == {"error": "no such station"}
    async with control.http.get(f"{prefixed}/api/stations/CP-1/events") as response:
        assert (await Events(response).until("state"))["id"] == "CP-1"


# -- the fleet page, against a tiny app that serves the fleet's two endpoints --------------------

FLEET_FIGURES = {"stations": 3, "connected": 2, "booted": 2, "messagesSent": 1234, "messagesPerSecond": 56.5,
                 "errors": 1, "reconnects": 4, "rttP50Ms": 1.5, "rttP99Ms": 9.25}  # fmt: skip
FLEET_STATIONS = [
    {"id": f"FLEET-{n}", "ocpp": "2.0.1" if n == 2 else "1.6", "connected": n != 3,
     "registration": "Accepted" if n != 3 else None,
     "connectors": [{"id": 1, "status": "Charging" if n == 2 else "Available"}]}
    for n in (1, 2, 3)
]  # fmt: skip


async def serve_fleet(*, token: str | None = None) -> tuple[web.AppRunner, str]:
    """The fleet's endpoints as its colleague builds them, and the dashboard of this module, guarded as every
    control API is."""

    async def fleet(_request: web.Request) -> web.Response:
        return web.json_response(FLEET_FIGURES)

    async def stations(request: web.Request) -> web.Response:
        query = request.query.get("q", "").lower()
        limit = int(request.query.get("limit", "100"))
        found = [s for s in FLEET_STATIONS if query in str(s["id"]).lower()]
        return web.json_response({"total": len(found), "stations": found[:limit]})

    app = control_app()
    app.router.add_get("/api/fleet", fleet)
    app.router.add_get("/api/stations", stations)
    add_fleet_dashboard(app)
    runner, port = await serve(app, "127.0.0.1", 0, "--control", token=token)
    return runner, f"http://127.0.0.1:{port}"


async def test_fleet_dashboard_serves_the_fleet_page_and_each_station_page() -> None:
    runner, base = await serve_fleet()
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(base + "/") as response:
                assert 'data-view="fleet"' in await response.text()
            async with http.get(base + "/stations/FLEET-1/") as response:
                assert 'data-view="station"' in await response.text()
            async with http.get(base + "/dashboard/dashboard.js") as response:
                assert response.status == 200
    finally:
        await runner.cleanup()
