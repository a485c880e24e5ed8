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
from chargebox.csms import uploads as csms_uploads
from chargebox.csms.server import CentralSystem
from chargebox.csms.stations import FRAMES_PER_STATION
from chargebox.errors import UserError
from chargebox.protocol import messages as m
from chargebox.sim.simulator import Simulator, simulated_station
from chargebox.station.station import StationSettings
from chargebox.transfer import TransferSettings, UploadMethod
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

    async def get(self, path: str) -> Any:
        async with self.http.get(f"{self.base}{path}") as response:
            assert response.status == 200, await response.text()
            return await response.json()

    async def stations(self) -> list[dict[str, Any]]:
        stations: list[dict[str, Any]] = (await self.get("/api/stations"))["stations"]
        return stations

    async def uploads(self) -> list[dict[str, Any]]:
        uploads: list[dict[str, Any]] = (await self.get("/api/uploads"))["uploads"]
        return uploads


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


async def test_stations_lists_the_connected_ones_and_one_shows_its_last_frames(csms: Csms, station: Simulator) -> None:
    (listed,) = await csms.stations()
    assert (listed["id"], listed["connected"], listed["securityProfile"]) == ("CP-1", True, 0)
    assert "frames" not in listed  # the list stays small: a page asks for one station's frames
    detail = await csms.get("/api/stations/CP-1")
    assert detail["frames"][0]["dir"] == "in"
    assert '"BootNotification"' in detail["frames"][0]["frame"]


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
    assert (await csms.get("/api/files"))["files"] == ["fw-2.0.img"]


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
    for _ in range(FRAMES_PER_STATION // 2 + 5):
        await csms.call("CP-1", {"action": "ClearCache", "payload": {}})
    detail = await csms.get("/api/stations/CP-1")
    assert len(detail["frames"]) == FRAMES_PER_STATION


async def test_page_is_served(csms: Csms) -> None:
    async with csms.http.get(csms.base + "/") as response:
        assert response.status == 200
        assert response.content_type == "text/html"
        assert "/api/templates" in await response.text()


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


# -- a template for every action, and the uploads they point at ----------------------------------------------------

# SignedUpdateFirmware: a station offers it with signed_firmware_only, and then answers UpdateFirmware NotSupported
# (SF-10: SignedUpdateFirmware takes its place). The rest of the whitepaper is offered on every station.
SIGNED = {"SignedUpdateFirmware"}


async def test_every_central_system_action_has_a_template_the_station_answers(tmp_path: Path) -> None:
    """Each template of GET /api/templates, posted as it is to a real station (SignedUpdateFirmware's to one with
    signed_firmware_only): schema-valid (the API validates before sending), answered with a CALLRESULT (never a
    FormationViolation), and GetDiagnostics and GetLog upload to a port where the central system listens."""
    system = CentralSystem()
    ws_port = await system.start()
    runner, port = await serve(csms_control.make_app(system, call_timeout=10), "127.0.0.1", 0, "--control")
    base = f"http://127.0.0.1:{port}"
    sims = {
        cp: Simulator(simulated_station(StationSettings(
            charge_point_id=cp, csms_url=f"ws://127.0.0.1:{ws_port}", connectors=2, data_dir=tmp_path / cp,
            signed_firmware_only=signed, reconnect=ReconnectPolicy(initial=0.05, maximum=0.2, jitter=0.1),
        )))
        for cp, signed in (("CP-16", False), ("CP-SEC", True))
    }  # fmt: skip
    runs = [asyncio.ensure_future(sim.run()) for sim in sims.values()]
    answers: dict[str, Any] = {}
    try:
        await until(lambda: all(sim.station.boot.registration is not None for sim in sims.values()))
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{base}/api/templates") as response:
                templates = await response.json()
            assert set(templates) == {action.value for action in m.CENTRAL_SYSTEM_INITIATED}
            assert list(templates)[-1] == "Reset"  # last: the station reboots
            for action, payload in templates.items():
                if action == "Reset":  # once the uploads are in, or the reboot could cut them
                    await until_uploaded(http, base, 2)
                station = "CP-SEC" if action in SIGNED else "CP-16"
                body = {"action": action, "payload": payload}
                async with http.post(f"{base}/api/stations/{station}/call", json=body) as response:
                    answers[action] = (response.status, await response.json())
            async with http.get(f"{base}/api/uploads") as response:
                uploads = (await response.json())["uploads"]
            async with http.get(f"{base}/api/uploads/{uploads[0]['name']}") as response:
                assert response.status == 200 and len(await response.read()) == uploads[0]["bytes"] > 0
    finally:
        for sim in sims.values():
            await sim.stop()
        for run in runs:
            run.cancel()
        await asyncio.gather(*runs, return_exceptions=True)
        await runner.cleanup()
        await system.stop()
    refused = {action: answer for action, answer in answers.items() if answer[0] != 200 or
               answer[1]["result"] != "CALLRESULT"}  # fmt: skip
    assert refused == {}
    assert len(answers) == len(m.CENTRAL_SYSTEM_INITIATED)


async def until_uploaded(http: aiohttp.ClientSession, base: str, count: int) -> None:
    async def uploaded() -> None:
        while True:
            async with http.get(f"{base}/api/uploads") as response:
                if len((await response.json())["uploads"]) >= count:
                    return
            await asyncio.sleep(0.05)

    await asyncio.wait_for(uploaded(), 15)


@pytest.mark.parametrize("method", ["put", "post"])
async def test_a_station_uploads_its_diagnostics_by_put_or_post_and_the_page_lists_them(
    csms: Csms, tmp_path: Path, method: str
) -> None:
    settings = StationSettings(
        charge_point_id="CP-U", csms_url=f"ws://127.0.0.1:{csms.ws_port}", connectors=1,
        transfer=TransferSettings(upload_method=UploadMethod(method.upper())),
    )  # fmt: skip
    sim = Simulator(simulated_station(settings))
    run = asyncio.ensure_future(sim.run())
    try:
        await until(lambda: sim.station.boot.registration is not None)
        status, answer = await csms.call("CP-U", {"action": "GetDiagnostics", "payload": {
            "location": f"{csms.base}/uploads/"}})  # fmt: skip
        assert status == 200 and answer["result"] == "CALLRESULT"
        await until_uploaded(csms.http, csms.base, 1)
    finally:
        await sim.stop()
        run.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await run
    [upload] = await csms.uploads()
    assert upload["name"] == answer["payload"]["fileName"] and upload["bytes"] > 0


@pytest.mark.parametrize(
    ("path", "status"), [("/uploads/..%2Fescape", 400), ("/uploads/a%0Ab", 400), ("/uploads/" + "x" * 201, 400)]
)
async def test_an_upload_name_that_is_not_a_plain_file_name_is_refused(csms: Csms, path: str, status: int) -> None:
    async with csms.http.put(csms.base + path, data=b"zip") as response:
        assert response.status == status
    assert await csms.uploads() == []


async def test_an_upload_over_the_bound_is_413_and_kept_nowhere(csms: Csms, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(csms_uploads, "MAX_UPLOAD_BYTES", 200_000)  # above the API's 16 KiB for a JSON body
    async with csms.http.put(f"{csms.base}/uploads/big.zip", data=b"x" * 200_001) as response:
        assert response.status == 413
    async with csms.http.put(f"{csms.base}/uploads/small.zip", data=b"x" * 200_000) as response:
        assert response.status == 201
    assert [u["name"] for u in await csms.uploads()] == ["small.zip"]


async def test_uploads_are_written_by_anyone_but_read_only_with_the_token(tmp_path: Path) -> None:
    system = CentralSystem()
    runner, port = await serve(csms_control.make_app(system), "127.0.0.1", 0, "--control", token=TOKEN)
    base = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as http:
            async with http.put(f"{base}/uploads/d.zip", data=b"zip", headers={"Host": "csms.example"}) as response:
                assert response.status == 201  # a station: no token, any name of this host
            async with http.get(f"{base}/api/uploads/d.zip") as response:
                assert response.status == 401
            async with http.get(f"{base}/api/uploads/d.zip", headers={"Authorization": f"Bearer {TOKEN}"}) as r:
                assert (r.status, await r.read()) == (200, b"zip")
            async with http.put(
                f"{base}/uploads/e.zip", data=b"zip", headers={"Origin": "http://evil.example"}
            ) as response:
                assert response.status == 403  # another site's page may not write
    finally:
        await runner.cleanup()


TOKEN = "csms-control-token-0123456789"
