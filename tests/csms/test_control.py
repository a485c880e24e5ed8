"""The built-in central system's control API drives real stations on loopback: a simulated one, and a
bare WebSocket peer that answers as a broken station would (a CALLERROR, or nothing at all)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import websockets

from chargebox.csms import control as csms_control
from chargebox.csms.server import CentralSystem
from chargebox.errors import UserError
from chargebox.sim.simulator import Simulator, simulated_station
from chargebox.station.station import StationSettings
from chargebox.transport import SUBPROTOCOL, ReconnectPolicy
from chargebox.web import control_app, serve
from tests.sim.test_control import until

CALL_TIMEOUT = 0.3


@dataclass
class Csms:
    system: CentralSystem
    ws_port: int
    base: str
    http: aiohttp.ClientSession

    async def call(self, station: str, body: object) -> tuple[int, Any]:
        async with self.http.post(f"{self.base}/api/stations/{station}/call", json=body) as response:
            return response.status, await response.json()

    async def stations(self) -> list[dict[str, Any]]:
        async with self.http.get(f"{self.base}/api/stations") as response:
            assert response.status == 200
            stations: list[dict[str, Any]] = (await response.json())["stations"]
            return stations


@pytest.fixture
async def csms(tmp_path: Path) -> AsyncIterator[Csms]:
    system = CentralSystem()
    ws_port = await system.start()
    (tmp_path / "fw-2.0.img").write_bytes(b"image")
    app = csms_control.make_app(system, files=tmp_path, call_timeout=CALL_TIMEOUT)
    runner, port = await serve(app, "127.0.0.1", 0, "--control")
    async with aiohttp.ClientSession() as http:
        yield Csms(system, ws_port, f"http://127.0.0.1:{port}", http)
    await runner.cleanup()
    await system.stop()


@pytest.fixture
async def station(csms: Csms) -> AsyncIterator[Simulator]:
    settings = StationSettings(
        charge_point_id="CP-1",
        csms_url=f"ws://127.0.0.1:{csms.ws_port}",
        connectors=2,
        reconnect=ReconnectPolicy(initial=0.05, maximum=0.2, jitter=0.1),
    )
    sim = Simulator(simulated_station(settings))
    run = asyncio.ensure_future(sim.run())
    await until(lambda: sim.station.boot.registration is not None)
    yield sim
    await sim.stop()
    run.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await run


@contextlib.asynccontextmanager
async def bare_station(csms: Csms, answer: Any) -> AsyncIterator[list[Any]]:
    """A peer that answers every CALL with ``answer(message_id)`` (None: no answer); yields the CALLs."""
    calls: list[Any] = []
    async with websockets.connect(f"ws://127.0.0.1:{csms.ws_port}/BARE", subprotocols=[SUBPROTOCOL]) as ws:

        async def serve_calls() -> None:
            async for raw in ws:
                frame = json.loads(raw)
                calls.append(frame)
                reply = answer(frame[1])
                if reply is not None:
                    await ws.send(json.dumps(reply))

        task = asyncio.ensure_future(serve_calls())
        await until(lambda: "BARE" in csms.system.sessions)
        try:
            yield calls
        finally:
            task.cancel()


async def test_stations_lists_the_connected_ones_with_their_last_frames(csms: Csms, station: Simulator) -> None:
    (listed,) = await csms.stations()
    assert listed["id"] == "CP-1"
    assert listed["connected"] is True
    assert listed["frames"][0]["dir"] == "in"
    assert '"BootNotification"' in listed["frames"][0]["frame"]


async def test_C_13_remote_start_answers_the_stations_callresult(csms: Csms, station: Simulator) -> None:
    await station.plug(1)
    status, answer = await csms.call("CP-1", {"action": "RemoteStartTransaction",
                                              "payload": {"connectorId": 1, "idTag": "REMOTE-1"}})  # fmt: skip
    assert status == 200
    assert answer == {"result": "CALLRESULT", "payload": {"status": "Accepted"}}
    await until(lambda: 1 in station.station.transactions.sessions)


async def test_change_configuration_reaches_the_station(csms: Csms, station: Simulator) -> None:
    payload = {"key": "MeterValueSampleInterval", "value": "17"}
    status, answer = await csms.call("CP-1", {"action": "ChangeConfiguration", "payload": payload})
    assert (status, answer["payload"]["status"]) == (200, "Accepted")
    assert station.station.config.get_int("MeterValueSampleInterval") == 17


async def test_update_firmware_location_can_be_a_served_file(csms: Csms) -> None:
    async with csms.http.get(f"{csms.base}/files/fw-2.0.img") as response:
        assert (response.status, await response.read()) == (200, b"image")
    async with csms.http.get(f"{csms.base}/api/stations") as response:
        assert (await response.json())["files"] == ["fw-2.0.img"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"action": "Frobnicate", "payload": {}}, "unknown action"),
        ({"action": "BootNotification", "payload": {"chargePointVendor": "v", "chargePointModel": "m"}},
         "sent by a charge point"),
        ({"action": "RemoteStartTransaction", "payload": {"idTag": 5}}, "invalid RemoteStartTransaction payload"),
        ({"action": "RemoteStartTransaction", "payload": {}}, "invalid RemoteStartTransaction payload"),
        ({"action": "ChangeConfiguration", "payload": {"key": "K" * 51, "value": "1"}}, "invalid"),
        ({"action": "Reset", "payload": []}, "payload must be a JSON object"),
    ],
)  # fmt: skip
async def test_bad_call_is_400_and_nothing_is_sent(csms: Csms, body: object, message: str) -> None:
    async with bare_station(csms, lambda _id: None) as calls:
        status, answer = await csms.call("BARE", body)
        assert status == 400
        assert message in answer["error"]
        await asyncio.sleep(0.05)
        assert calls == []


async def test_unknown_station_is_404(csms: Csms) -> None:
    status, answer = await csms.call("NOBODY", {"action": "Reset", "payload": {"type": "Soft"}})
    assert status == 404
    assert "NOBODY" in answer["error"]


async def test_a_callerror_is_answered_as_the_station_sent_it(csms: Csms) -> None:
    def refuse(message_id: str) -> list[Any]:
        return [4, message_id, "NotImplemented", "no resets here", {}]

    async with bare_station(csms, refuse) as calls:
        status, answer = await csms.call("BARE", {"action": "Reset", "payload": {"type": "Hard"}})
    assert status == 200
    assert answer == {"result": "CALLERROR", "errorCode": "NotImplemented", "errorDescription": "no resets here"}
    assert calls[0][2:] == ["Reset", {"type": "Hard"}]


async def test_T_22_no_answer_is_504(csms: Csms) -> None:
    async with bare_station(csms, lambda _id: None):
        status, answer = await csms.call("BARE", {"action": "ClearCache", "payload": {}})
    assert status == 504
    assert "did not answer" in answer["error"]


async def test_history_is_bounded_per_station(csms: Csms, station: Simulator) -> None:
    for _ in range(csms_control.FRAMES_PER_STATION // 2 + 5):
        await csms.call("CP-1", {"action": "ClearCache", "payload": {}})
    (listed,) = await csms.stations()
    assert len(listed["frames"]) == csms_control.FRAMES_PER_STATION


async def test_page_is_served(csms: Csms) -> None:
    async with csms.http.get(csms.base + "/") as response:
        assert response.status == 200
        assert response.content_type == "text/html"
        assert "UpdateFirmware" in await response.text()


async def test_a_port_in_use_names_the_option(csms: Csms) -> None:
    port = int(csms.base.rsplit(":", 1)[1])
    with pytest.raises(UserError, match=r"--control 127\.0\.0\.1:"):
        await serve(control_app(), "127.0.0.1", port, "--control")


CHANGE = b'{"action": "ChangeConfiguration", "payload": {"key": "HeartbeatInterval", "value": "5"}}'


@pytest.mark.parametrize(
    "headers",
    [
        {"Content-Type": "text/plain", "Origin": "http://evil.example"},  # another site's page, in the browser
        {"Content-Type": "text/plain"},
        {"Content-Type": "application/json", "Host": "evil.example"},  # DNS rebinding
        {"Content-Type": "application/json", "Origin": "http://evil.example"},
    ],
)
async def test_csrf_another_sites_page_sends_no_call_to_a_station(csms: Csms, headers: dict[str, str]) -> None:
    async with bare_station(csms, lambda _id: None) as calls:
        async with csms.http.post(f"{csms.base}/api/stations/BARE/call", data=CHANGE, headers=headers) as response:
            assert response.status in (403, 415)
            assert "error" in await response.json()
        status, _ = await csms.call("BARE", {"action": "ClearCache", "payload": {}})  # sent after, so seen after
        assert status == 504
    assert [call[2] for call in calls] == ["ClearCache"]


async def test_the_files_are_public_so_a_station_downloads_them_by_any_name(csms: Csms) -> None:
    async with csms.http.get(f"{csms.base}/files/fw-2.0.img", headers={"Host": "csms.example:9001"}) as response:
        assert (response.status, await response.read()) == (200, b"image")
    async with csms.http.get(f"{csms.base}/api/stations", headers={"Host": "csms.example:9001"}) as response:
        assert response.status == 403  # only the files
