"""Uploads kept under ``csms --files DIR`` (csms/uploads.py): a real station's GetDiagnostics lands in DIR/uploads/,
readable by its owner only and through the API with the token, never at /files/; bounded in count and size, nothing
half-written left behind, and listed again after a restart."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from chargebox.csms import control as csms_control
from chargebox.csms import uploads as csms_uploads
from chargebox.csms.server import CentralSystem
from chargebox.protocol import messages as m
from chargebox.sim.simulator import Simulator, simulated_station
from chargebox.station.station import StationSettings
from chargebox.transport import ReconnectPolicy
from chargebox.web import serve
from tests.loopback import until

TOKEN = "csms-control-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@dataclass
class Served:
    system: CentralSystem
    ws_port: int
    base: str
    http: aiohttp.ClientSession
    files: Path

    async def uploads(self) -> list[dict[str, Any]]:
        async with self.http.get(f"{self.base}/api/uploads", headers=AUTH) as response:
            assert response.status == 200
            found: list[dict[str, Any]] = (await response.json())["uploads"]
            return found

    async def put(self, name: str, data: bytes) -> int:
        async with self.http.put(f"{self.base}/uploads/{name}", data=data) as response:
            return response.status


@contextlib.asynccontextmanager
async def served(files: Path) -> AsyncIterator[Served]:
    system = CentralSystem()
    ws_port = await system.start()
    runner, port = await serve(csms_control.make_app(system, files=files), "127.0.0.1", 0, "--control", token=TOKEN)
    try:
        async with aiohttp.ClientSession() as http:
            yield Served(system, ws_port, f"http://127.0.0.1:{port}", http, files)
    finally:
        await runner.cleanup()
        await system.stop()


@pytest.fixture
async def csms(tmp_path: Path) -> AsyncIterator[Served]:
    files = tmp_path / "files"
    files.mkdir()
    (files / "fw-2.0.img").write_bytes(b"image")
    (files / ".hidden").write_bytes(b"secret")
    async with served(files) as found:
        yield found


async def test_a_stations_diagnostics_land_under_files_readable_only_with_the_token(
    csms: Served, tmp_path: Path
) -> None:
    settings = StationSettings(
        charge_point_id="CP-U", csms_url=f"ws://127.0.0.1:{csms.ws_port}", connectors=1, data_dir=tmp_path / "cp",
        reconnect=ReconnectPolicy(initial=0.05, maximum=0.2),
    )  # fmt: skip
    sim = Simulator(simulated_station(settings))
    run = asyncio.ensure_future(sim.run())
    try:
        await until(lambda: sim.station.boot.registration is not None)
        result = await csms.system.call("CP-U", m.GetDiagnosticsRequest(location=f"{csms.base}/uploads/"))
        assert result.ok and result.response is not None
        name = result.response.file_name
        path = csms.files / "uploads" / name
        await until(lambda: path.exists())
    finally:
        await sim.stop()
        run.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await run
    assert path.stat().st_mode & 0o777 == 0o600 and (csms.files / "uploads").stat().st_mode & 0o777 == 0o700
    assert [u["name"] for u in await csms.uploads()] == [name]
    async with csms.http.get(f"{csms.base}/api/uploads/{name}") as response:
        assert response.status == 401
    async with csms.http.get(f"{csms.base}/api/uploads/{name}", headers=AUTH) as response:
        assert (response.status, await response.read()) == (200, path.read_bytes())
    for public in (f"/files/uploads/{name}", f"/files/{name}", "/files/uploads", "/files/.hidden"):
        async with csms.http.get(csms.base + public) as response:
            assert response.status == 404, public
    async with csms.http.get(f"{csms.base}/files/fw-2.0.img") as response:
        assert (response.status, await response.read()) == (200, b"image")  # public, the firmware


async def test_past_the_count_the_oldest_upload_is_deleted(csms: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(csms_uploads, "MAX_UPLOADS", 2)
    for name in ("a.zip", "b.zip", "c.zip"):
        assert await csms.put(name, name.encode()) == 201
    assert [u["name"] for u in await csms.uploads()] == ["c.zip", "b.zip"]
    assert sorted(p.name for p in (csms.files / "uploads").iterdir()) == ["b.zip", "c.zip"]


async def test_an_upload_over_the_bound_leaves_nothing_on_disk(csms: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(csms_uploads, "MAX_UPLOAD_BYTES", 100_000)
    assert await csms.put("big.zip", b"x" * 100_001) == 413
    assert await csms.put("fits.zip", b"x" * 100_000) == 201
    assert sorted(p.name for p in (csms.files / "uploads").iterdir()) == ["fits.zip"]  # no partial file either


async def test_uploads_on_disk_are_listed_again_after_a_restart(csms: Served) -> None:
    assert await csms.put("before.zip", b"zip") == 201
    async with served(csms.files) as again:
        assert [(u["name"], u["bytes"]) for u in await again.uploads()] == [("before.zip", 3)]
        async with again.http.get(f"{again.base}/api/uploads/before.zip", headers=AUTH) as response:
            assert await response.read() == b"zip"
