"""A fleet changed while it runs (sim/fleet_live.py, fleet_live_control.py): stations added by template name,
stopped, started and removed through the control API, against the built-in central system on loopback; what the
central system sees of it; bad changes refused whole; and the guard on the new routes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest

from chargebox.csms.server import CentralSystem, CsmsEvent
from chargebox.sim.fleet import Fleet, FleetSettings
from chargebox.sim.fleet_control import make_processes_app, start_fleet_control
from chargebox.sim.fleet_live import MAX_ADD, LiveFleet, Refused
from chargebox.sim.fleet_processes import FleetProcesses
from chargebox.sim.template import Template
from chargebox.web import serve
from tests.loopback import until


async def until_fleet(condition: object) -> None:
    await until(condition, timeout=20.0, poll=0.05)  # type: ignore[arg-type]


@dataclass
class Api:
    fleet: Fleet
    live: LiveFleet
    system: CentralSystem
    http: aiohttp.ClientSession
    base: str
    seen: list[CsmsEvent]

    async def request(self, method: str, path: str, status: int, **kwargs: Any) -> Any:
        async with self.http.request(method, self.base + path, **kwargs) as response:
            body = await response.json()
            assert response.status == status, body
            return body

    def actions(self, station_id: str) -> list[str]:
        return [str(event.action) for event in self.seen if event.charge_point_id == station_id]


@pytest.fixture
async def api(csms: tuple[CentralSystem, int]) -> AsyncIterator[Api]:
    system, port = csms
    seen: list[CsmsEvent] = []
    system.on_event = seen.append
    fleet = Fleet(FleetSettings(csms_url=f"ws://127.0.0.1:{port}", count=3, connect_rate=500))
    live = LiveFleet(fleet, {"wallbox": Template(vendor="Acme", model="Wallbox 22", connectors=2)})
    task = asyncio.ensure_future(fleet.run())
    runner, control = await start_fleet_control(fleet, "127.0.0.1", 0, live=live)
    try:
        async with aiohttp.ClientSession() as http:
            await until_fleet(lambda: fleet.figures()["booted"] == 3)
            yield Api(fleet, live, system, http, f"http://127.0.0.1:{control}/api", seen)
    finally:
        await runner.cleanup()
        task.cancel()
        await fleet.stop()


async def test_stations_of_a_template_are_added_by_name_with_the_next_ids_and_boot(api: Api) -> None:
    answer = await api.request("POST", "/stations", 201, json={"template": "wallbox", "count": 2})
    assert answer == {"added": ["CP4", "CP5"]}
    await until_fleet(lambda: {"CP4", "CP5"} <= set(api.system.sessions) and api.fleet.figures()["booted"] == 5)
    boots = [event.request for event in api.seen if str(event.action) == "BootNotification"]
    assert {(b.charge_point_vendor, b.charge_point_model) for b in boots[-2:]} == {("Acme", "Wallbox 22")}  # type: ignore[attr-defined]
    listing = await api.request("GET", "/stations?q=CP5", 200)
    [row] = listing["stations"]
    assert row["template"] == "wallbox" and row["state"] == "connected"
    assert [c["status"] for c in row["connectors"]] == ["Available", "Available"]


async def test_a_stopped_station_ends_its_transaction_with_reason_other_and_starts_again_as_itself(api: Api) -> None:
    await api.request("POST", "/stations/CP2/connectors/1/plug", 200, json={})
    await api.request("POST", "/stations/CP2/connectors/1/swipe", 200, json={"idTag": "CARD-1"})
    await until_fleet(lambda: "StartTransaction" in api.actions("CP2"))
    stopped = await api.request("POST", "/stations/CP2/stop", 200, json={})
    assert stopped["state"] == "stopped"
    [stop] = [e.request for e in api.seen if e.charge_point_id == "CP2" and str(e.action) == "StopTransaction"]
    assert stop.reason == "Other"  # type: ignore[attr-defined]  # X-8: taken out of service, delivered before the stop
    await until_fleet(lambda: "CP2" not in api.system.sessions)
    assert (await api.request("GET", "/stations?state=stopped", 200))["total"] == 1
    await api.request("POST", "/stations/CP2/stop", 409, json={})  # stopped already: nothing changes
    await api.request("POST", "/stations/CP2/start", 200, json={})
    await until_fleet(lambda: api.actions("CP2").count("BootNotification") == 2)
    await until_fleet(lambda: api.fleet.sims["CP2"].station.registration == "Accepted")
    assert api.fleet.sims["CP2"].station.connectors[1].transaction_id is None  # ended, not left for PowerLoss


async def test_a_removed_station_closes_cleanly_and_its_id_is_never_given_again(api: Api) -> None:
    await api.request("POST", "/stations/CP3/connectors/1/plug", 200, json={})
    await api.request("POST", "/stations/CP3/connectors/1/swipe", 200, json={"idTag": "CARD-1"})
    await until_fleet(lambda: "StartTransaction" in api.actions("CP3"))
    assert await api.request("DELETE", "/stations/CP3", 200, json={}) == {"removed": "CP3"}
    [stop] = [e.request for e in api.seen if e.charge_point_id == "CP3" and str(e.action) == "StopTransaction"]
    assert stop.reason == "Other"  # type: ignore[attr-defined]  # delivered before the answer
    await until_fleet(lambda: "CP3" not in api.system.sessions)
    assert [s["id"] for s in (await api.request("GET", "/stations", 200))["stations"]] == ["CP1", "CP2"]
    await api.request("DELETE", "/stations/CP3", 404, json={})
    assert await api.request("POST", "/stations", 201, json={"count": 1}) == {"added": ["CP4"]}


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        ({"template": "nope", "count": 1}, 400, "unknown template 'nope' (known: default, wallbox)"),
        ({"template": "wallbox", "count": 0}, 400, f"count must be 1 to {MAX_ADD}"),
        ({"template": "wallbox", "count": MAX_ADD + 1}, 400, f"count must be 1 to {MAX_ADD}"),
        ({"template": "wallbox", "count": "2"}, 400, "count: a whole number"),
        ({"template": "wallbox", "count": True}, 400, "count: a whole number"),
        ({"template": 7, "count": 1}, 400, "template: a name"),
    ],
)
async def test_a_bad_add_is_one_json_error_and_changes_nothing(
    api: Api, body: dict[str, object], status: int, fragment: str
) -> None:
    answer = await api.request("POST", "/stations", status, json=body)
    assert fragment in str(answer["error"])
    assert (await api.request("GET", "/stations", 200))["total"] == 3 and len(api.fleet.sims) == 3
    assert await api.request("POST", "/stations", 201, json={"count": 1}) == {"added": ["CP4"]}  # no id was used up


async def test_an_unknown_station_is_404_and_a_change_in_the_wrong_state_409(api: Api) -> None:
    for method, path in (("POST", "/stations/CP9/stop"), ("POST", "/stations/CP9/start"), ("DELETE", "/stations/CP9")):
        assert "no station 'CP9'" in str((await api.request(method, path, 404, json={}))["error"])
    refused = await api.request("POST", "/stations/CP1/start", 409, json={})
    assert "start: station CP1 is connected" in str(refused["error"])
    assert len(api.fleet.sims) == 3


async def test_the_station_list_is_paged_filtered_and_streamed(api: Api) -> None:
    await api.request("POST", "/stations", 201, json={"count": 7})
    await until_fleet(lambda: api.fleet.figures()["booted"] == 10)
    page = await api.request("GET", "/stations?offset=4&limit=3", 200)
    assert page["total"] == 10 and [s["id"] for s in page["stations"]] == ["CP5", "CP6", "CP7"]
    await api.request("GET", "/stations?state=asleep", 400)
    await api.request("GET", "/stations?offset=-1", 400)
    async with api.http.get(f"{api.base}/fleet/events", params={"state": "stopped"}) as response:
        assert response.content_type == "text/event-stream"
        first = await _events(response, 2)
        assert first[0][0] == "fleet" and first[0][1]["stations"] == 10
        assert first[1] == ("stations", {"total": 0, "offset": 0, "stations": []})
        await api.request("POST", "/stations/CP8/stop", 200, json={})
        [*_, (name, listing)] = await _events(response, 1, wanted="stations")
        assert (name, [s["id"] for s in listing["stations"]]) == ("stations", ["CP8"])


async def _events(response: aiohttp.ClientResponse, count: int, wanted: str | None = None) -> list[tuple[str, Any]]:
    """The next ``count`` events of a stream (of name ``wanted`` only, when given), as (name, data)."""
    found: list[tuple[str, Any]] = []
    name = ""
    while len(found) < count:
        line = (await asyncio.wait_for(response.content.readline(), 10)).decode().rstrip("\n")
        if line.startswith("event: "):
            name = line[len("event: ") :]
        elif line.startswith("data: ") and wanted in (None, name):
            found.append((name, json.loads(line[len("data: ") :])))
    return found


async def test_a_cross_origin_add_is_refused_and_adds_nothing(api: Api) -> None:
    """The guard (web.py) holds on the new routes: another site's page adds no station and runs no blackout."""
    foreign = {"Origin": "http://evil.example", "Content-Type": "application/json"}
    for path, body in (("/stations", '{"count": 5}'), ("/scenarios/blackout", "{}")):
        async with api.http.post(api.base + path, data=body, headers=foreign) as response:
            assert response.status == 403
        async with api.http.post(api.base + path, data=body, headers={"Content-Type": "text/plain"}) as response:
            assert response.status == 415
    assert len(api.live.kinds) == len(api.fleet.sims) == 3 and not api.live.dark


async def test_under_processes_adding_is_one_409_saying_why() -> None:
    fleet = FleetProcesses(FleetSettings(csms_url="ws://127.0.0.1:1", count=2), 2, control=True)
    runner, port = await serve(make_processes_app(fleet), "127.0.0.1", 0, "--control")
    try:
        async with aiohttp.ClientSession() as http:
            for path in ("/api/stations", "/api/scenarios/blackout"):
                async with http.post(f"http://127.0.0.1:{port}{path}", json={"count": 1}) as response:
                    assert response.status == 409
                    assert "fleet --processes" in (await response.json())["error"]
    finally:
        await runner.cleanup()


async def test_an_add_past_the_id_rule_or_while_the_fleet_stops_is_409_and_adds_nothing() -> None:
    fleet = Fleet(FleetSettings(csms_url="ws://127.0.0.1:1", count=9, id_prefix="P" * 46))
    live = LiveFleet(fleet)
    with pytest.raises(Refused, match="the next ids cannot be made") as refused:
        await live.add("default", 100)  # P...P109: 49 characters
    assert refused.value.status == 409 and len(live.kinds) == 9
    await fleet.stop()
    with pytest.raises(Refused, match="the fleet is stopping"):
        await live.add("default", 1)
    assert len(live.kinds) == 9 and not live.starting
