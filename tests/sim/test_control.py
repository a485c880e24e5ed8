"""The control API of a running simulated station, through a real aiohttp client on loopback.

Every bad request is a 400 with ``{"error": ...}`` (404 for a connector that does not exist) and changes nothing:
what reaches the station is held to what OCPP lets through (G-1, G-2).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from chargebox.csms.server import CentralSystem, CsmsEvent
from chargebox.protocol.messages import Action
from chargebox.sim.control import start_control
from chargebox.sim.hardware import HardwarePart
from chargebox.sim.simulator import Simulator, simulated_station
from chargebox.station.station import StationSettings
from chargebox.transport import ReconnectPolicy
from chargebox.web import Limits
from tests.loopback import run_until_stopped, until

WAIT = 5.0


@dataclass
class Control:
    sim: Simulator
    runner: web.AppRunner
    csms: CentralSystem
    http: aiohttp.ClientSession
    base: str

    async def post(self, path: str, **kwargs: Any) -> tuple[int, Any]:
        """Without a body of its own, an empty JSON object: every POST is JSON (web.py)."""
        if "json" not in kwargs and "data" not in kwargs:
            kwargs["json"] = {}
        async with self.http.post(f"{self.base}/api/{path}", **kwargs) as response:
            assert response.content_type == "application/json", await response.text()
            return response.status, await response.json()

    async def state(self) -> Any:
        async with self.http.get(f"{self.base}/api/state") as response:
            assert response.status == 200, await response.text()
            return await response.json()

    async def next_event(self, action: Action) -> CsmsEvent:
        async def wait() -> CsmsEvent:
            while (event := await self.csms.events.get()).action is not action:
                pass
            return event

        return await asyncio.wait_for(wait(), WAIT)

    def events(self, action: Action) -> list[CsmsEvent]:
        """The events of ``action`` received so far (read off the queue)."""
        found = []
        while not self.csms.events.empty():
            if (event := self.csms.events.get_nowait()).action is action:
                found.append(event)
        return found


@pytest.fixture
async def control() -> AsyncIterator[Control]:
    csms = CentralSystem()
    port = await csms.start()
    settings = StationSettings(
        charge_point_id="CP-1",
        csms_url=f"ws://127.0.0.1:{port}",
        connectors=2,
        reconnect=ReconnectPolicy(initial=0.05, maximum=0.2, jitter=0.1),
    )
    sim = Simulator(simulated_station(settings))
    runner, control_port = await start_control(sim, "127.0.0.1", 0)
    async with run_until_stopped(sim), aiohttp.ClientSession() as http:
        api = Control(sim, runner, csms, http, f"http://127.0.0.1:{control_port}")
        await until(lambda: sim.station.boot.registration is not None and sim.station.transport.connected)
        yield api
    await runner.cleanup()
    await csms.stop()


DEEP_BODY = '{"idTag":' + "[" * 1000 + "]" * 1000 + "}"


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        (DEEP_BODY.encode(), {"Content-Type": "application/json"}),  # RecursionError in json.loads before
        (b'{"idTag":"\xff\xfe"}', {"Content-Type": "application/json"}),  # not UTF-8
        (b'{"idTag":"TAG"}', {"Content-Type": "application/json; charset=bogus"}),
        (b'{"idTag":"TAG"}', {"Content-Type": "application/json; charset=latin-1"}),  # JSON is UTF-8 (RFC 8259)
        (b'{"idTag":', {"Content-Type": "application/json"}),
        (b'["TAG"]', {"Content-Type": "application/json"}),
        (b'{"idTag":"' + b"x" * 20_000 + b'"}', {"Content-Type": "application/json"}),
    ],
)
async def test_bad_body_is_400_with_a_json_error(control: Control, body: bytes, headers: dict[str, str]) -> None:
    status, answer = await control.post("connectors/1/swipe", data=body, headers=headers)
    assert status == 400
    assert isinstance(answer["error"], str)
    assert control.events(Action.AUTHORIZE) == []


# superscript two and Arabic-Indic one: str.isdigit() says yes, and int("\u0661") == 1
@pytest.mark.parametrize("connector_id", ["\u00b2", "\u0661", "1.0", "-1", "0", "3", " 1", "9" * 5000])
async def test_G_5_connector_id_is_ascii_digits_of_an_existing_connector_else_404(
    control: Control, connector_id: str
) -> None:
    status, answer = await control.post(f"connectors/{connector_id}/plug")
    assert status == 404
    assert "error" in answer
    assert not any(c["plugged"] for c in (await control.state())["connectors"])


@pytest.mark.parametrize(
    "id_tag",
    ["TAG\x00", "TAG\nINFO forged log line", "TAG\r", "T\u00c4G", "\uff34\uff21\uff27", "x" * 21, "", 12345678, None],
)
@pytest.mark.parametrize("path", ["swipe", "connectors/1/swipe"])
async def test_G_1_G_2_id_tag_not_printable_ascii_up_to_20_is_400_and_not_sent(
    control: Control, path: str, id_tag: object
) -> None:
    status, answer = await control.post(path, json={"idTag": id_tag})
    assert status == 400
    assert "printable ASCII" in answer["error"]
    await asyncio.sleep(0.05)  # what a swipe would have sent by now
    assert control.events(Action.AUTHORIZE) == []


async def test_G_2_a_1_6_station_refuses_a_21_character_id_tag_with_its_version_s_limit(control: Control) -> None:
    status, answer = await control.post("swipe", json={"idTag": "x" * 21})
    assert (status, answer["error"]) == (400, "idTag: an OCPP 1.6 idToken is 1 to 20 printable ASCII characters")


async def test_a_1_6_swipe_that_names_a_type_is_400(control: Control) -> None:
    """A 1.6 idTag has no type (2.0.1's IdTokenType has): a swipe naming one is refused, not sent without it."""
    status, answer = await control.post("swipe", json={"idTag": "TAG-1", "type": "ISO14443"})
    assert (status, answer["error"]) == (400, "type: an OCPP 1.6 idTag has no type")


async def test_G_2_id_tag_of_20_printable_ascii_characters_is_sent(control: Control) -> None:
    id_tag = "Ab 0~!#$%&'()*+,-./:"  # 20 characters from the whole printable range, a space among them
    status, _ = await control.post("swipe", json={"idTag": id_tag})
    assert status == 200
    event = await control.next_event(Action.AUTHORIZE)
    assert event.request.id_tag == id_tag  # type: ignore[attr-defined]


async def test_fault_info_with_a_newline_is_400(control: Control) -> None:
    status, _ = await control.post("connectors/1/fault", json={"errorCode": "GroundFailure", "info": "a\nb"})
    assert status == 400
    assert (await control.state())["connectors"][0]["status"] != "Faulted"


async def test_hardware_fault_is_injected_shown_and_mended(control: Control) -> None:
    status, state = await control.post("connectors/2/hardware-fault", json={"part": "contactor", "on": True})
    assert status == 200
    assert [c["hardwareFaults"] for c in state["connectors"]] == [[], ["contactor"]]
    await control.post("connectors/2/hardware-fault", json={"part": "lock", "on": True})
    assert control.sim.hardware.faults(2) == {HardwarePart.CONTACTOR, HardwarePart.LOCK}
    status, state = await control.post("connectors/2/hardware-fault", json={"part": "contactor", "on": False})
    assert status == 200
    assert state["connectors"][1]["hardwareFaults"] == ["lock"]
    assert (await control.state())["connectors"][1]["hardwareFaults"] == ["lock"]


async def test_state_still_answers_while_a_meter_is_broken(control: Control) -> None:
    status, _ = await control.post("connectors/1/hardware-fault", json={"part": "meter", "on": True})
    assert status == 200
    assert (await control.state())["connectors"][0]["hardwareFaults"] == ["meter"]


@pytest.mark.parametrize(
    "body",
    [
        {"part": "fuse", "on": True},
        {"part": "Contactor", "on": True},
        {"part": ["contactor"], "on": True},
        {"part": "contactor", "on": "true"},
        {"part": "contactor", "on": 1},
        {"part": "contactor"},
        {"on": True},
        {},
    ],
)
async def test_bad_hardware_fault_is_400_and_changes_nothing(control: Control, body: dict[str, object]) -> None:
    status, answer = await control.post("connectors/1/hardware-fault", json=body)
    assert status == 400
    assert "error" in answer
    assert control.sim.hardware.faults(1) == frozenset()


async def test_hardware_fault_on_an_unknown_connector_is_404(control: Control) -> None:
    status, _ = await control.post("connectors/3/hardware-fault", json={"part": "meter", "on": True})
    assert status == 404


# -- the guard of every control API (web.py), against this station ------------------------------------------

EVIL = "http://evil.example"


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"Content-Type": "text/plain", "Origin": EVIL}, 403),  # a page's fetch(..., {mode: "no-cors"}) or form
        ({"Content-Type": "text/plain"}, 415),  # the same from a browser that sends no Origin
        ({"Content-Type": "application/x-www-form-urlencoded", "Origin": "null"}, 403),  # a sandboxed form
        ({"Content-Type": "multipart/form-data; boundary=x"}, 415),
        ({"Content-Type": "application/octet-stream"}, 415),  # no type at all: fetch's bare body
        ({"Content-Type": "application/json", "Origin": EVIL}, 403),  # had a preflight been approved
        ({"Content-Type": "application/json", "Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "no-cors"}, 403),
        ({"Content-Type": "application/json", "Sec-Fetch-Site": "same-site", "Sec-Fetch-Mode": "cors"}, 403),
    ],
)
async def test_csrf_a_cross_site_request_swipes_no_card_and_reboots_nothing(
    control: Control, headers: dict[str, str], status: int
) -> None:
    """A page of another site, in the operator's browser, swiped ATTACKER1, rebooted and emergency-stopped."""
    boots = control.csms.sessions["CP-1"].boots
    for path in ("connectors/1/plug", "connectors/1/swipe", "swipe", "emergency-stop", "reboot",
                 "connection/disconnect"):  # fmt: skip
        async with control.http.post(
            f"{control.base}/api/{path}", data=b'{"idTag": "ATTACKER1"}', headers=headers
        ) as response:
            assert response.status == status, path
            assert "error" in await response.json()
    status, _ = await control.post("swipe", json={"idTag": "FRIEND-1"})  # answered once its Authorize is
    assert status == 200
    assert [e.request.id_tag for e in control.events(Action.AUTHORIZE)] == ["FRIEND-1"]  # type: ignore[attr-defined]
    state = await control.state()
    assert not any(c["plugged"] for c in state["connectors"]) and state["connected"]
    assert control.csms.sessions["CP-1"].boots == boots and control.sim.station.transport.connected


async def test_a_request_from_the_dashboards_own_origin_is_served(control: Control) -> None:
    status, _ = await control.post(
        "connectors/1/plug", json={}, headers={"Origin": control.base, "Sec-Fetch-Site": "same-origin"}
    )
    assert status == 200
    assert control.sim.hardware.plugged(1)


@pytest.mark.parametrize("host", ["evil.example", "evil.example:{port}", "127.0.0.1.evil.example:{port}"])
async def test_dns_rebinding_a_foreign_host_reads_and_changes_nothing(control: Control, host: str) -> None:
    """``evil.example`` made to resolve to 127.0.0.1: the browser treats the station as evil.example's own."""
    headers = {"Host": host.format(port=control.base.rsplit(":", 1)[1])}
    for path in ("/", "/api/state", "/api/events", "/dashboard/dashboard.js"):
        async with control.http.get(control.base + path, headers=headers) as response:
            assert response.status == 403, path
            assert "does not name this server" in (await response.json())["error"]
    status, _ = await control.post("connectors/1/plug", json={}, headers=headers)
    assert status == 403
    assert not control.sim.hardware.plugged(1)


async def test_the_stations_own_names_are_its_hosts(control: Control) -> None:
    port = control.base.rsplit(":", 1)[1]
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"LOCALHOST:{port}"):
        async with control.http.get(control.base + "/api/state", headers={"Host": host}) as response:
            assert response.status == 200, host


async def test_event_streams_are_capped_and_a_closed_one_frees_its_place(control: Control) -> None:
    """Thousands of subscribers took the station's CPU: at most ``Limits.event_streams`` at once, 503 beyond."""
    cap = Limits().event_streams
    streams = [await control.http.get(control.base + "/api/events") for _ in range(cap)]
    try:
        assert all(s.status == 200 for s in streams)
        async with control.http.get(control.base + "/api/events") as response:
            assert response.status == 503 and "event streams open" in (await response.json())["error"]
        assert (await control.state())["connected"]  # the rest of the API, and the station, carry on
        streams.pop().close()  # noticed by the stream's next write, within a second

        async def reopen() -> aiohttp.ClientResponse:
            while (response := await control.http.get(control.base + "/api/events")).status != 200:
                response.release()
                await asyncio.sleep(0.05)
            return response

        streams.append(await asyncio.wait_for(reopen(), WAIT))
    finally:
        for stream in streams:
            stream.close()
