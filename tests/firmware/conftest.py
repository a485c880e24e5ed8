"""Firmware and diagnostics test rigs.

- ``ScriptedTransfer``: the scripted twin of ``chargebox.transfer.Transfer`` (httpcore's mock backend idea) for
  service tests under a VirtualClock: each download takes the next scripted outcome (bytes written to the file,
  or an error), can be held mid-way, and every attempt is recorded with the virtual time it started.
- ``fw``: a station with 2 connectors wired to the built-in central system, its transfers scripted, files in
  ``tmp_path``.
- ``FirmwareCsms``: the interop suite's central system on the mobilityhouse ``ocpp`` library (an independent
  implementation), answering every message a charge point sends during an update, for the integration and crash
  tests.
- ``http_files`` / ``ftp_server`` / ``ftps_server``: real file servers on 127.0.0.1:0 that count what they serve.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import shutil
import ssl
import threading
import zipfile
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aioftp
import pytest
import trustme
from aiohttp import web
from ocpp.routing import on
from ocpp.v16 import call_result
from ocpp.v16.enums import Action
from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import FTPHandler
from pyftpdlib.servers import FTPServer

from chargebox.clock import VirtualClock
from chargebox.errors import TransferError
from chargebox.firmware_image import make_image
from chargebox.station.kernel.settings import Identity
from chargebox.transfer import Progress, Transfer, partial_path
from tests.interop.conftest import CsmsChargePoint, OcppCsms
from tests.loopback import running
from tests.wire import Wire

WAIT = 10.0  # the longest one expected event may take in the real-time tests: a poll timeout, not a sleep


# -- the scripted transfer (service tests) --------------------------------------------------------


@dataclass
class ScriptedTransfer(Transfer):
    """Downloads and uploads that do what the test scripted, at virtual times it can check."""

    clock: VirtualClock
    downloads: list[tuple[str, datetime]] = field(default_factory=list)
    uploads: list[tuple[str, str, bytes, datetime]] = field(default_factory=list)
    script: list[bytes | str] = field(default_factory=list)  # bytes: the file; str: the error of that attempt
    upload_script: list[str | None] = field(default_factory=list)  # None: uploaded; str: the error
    hold: asyncio.Event | None = None  # set: downloads wait for it (a download "under way")

    def __post_init__(self) -> None:
        Transfer.__init__(self)

    async def download(self, url: str, dest: Path, *, progress: Progress | None = None) -> int:
        self.downloads.append((url, self.clock.now()))
        outcome = self.script.pop(0) if self.script else make_image("9.9.9", b"firmware")
        if progress is not None:
            progress(0, 100)
        if self.hold is not None:
            await self.hold.wait()
        if isinstance(outcome, str):
            raise TransferError(f"{url}: {outcome}")
        partial_path(dest).write_bytes(outcome)
        partial_path(dest).replace(dest)
        return len(outcome)

    async def upload(self, source: Path, directory_url: str, file_name: str) -> None:
        self.uploads.append((directory_url, file_name, source.read_bytes(), self.clock.now()))
        outcome = self.upload_script.pop(0) if self.upload_script else None
        if outcome is not None:
            raise TransferError(f"{directory_url}: {outcome}")


@dataclass
class FwRig:
    wire: Wire
    transfer: ScriptedTransfer

    @property
    def clock(self) -> VirtualClock:
        return self.wire.clock

    def statuses(self, action: str = "FirmwareStatusNotification") -> list[str]:
        return [p["status"] for p in self.wire.calls(action)]

    async def update_firmware(self, *, delay: float = 0, **fields: Any) -> list[Any]:
        """UpdateFirmware from the central system; returns the station's answer frame."""
        payload = {"location": "http://files.example/fw.img", "retrieveDate": iso(self.clock.now(), delay), **fields}
        return await self.wire.inject(json.dumps([2, f"u{len(self.wire.frames)}", "UpdateFirmware", payload]))

    async def trigger(self, message: str = "FirmwareStatusNotification") -> list[Any]:
        frame = [2, f"t{len(self.wire.frames)}", "TriggerMessage", {"requestedMessage": message}]
        return await self.wire.inject(json.dumps(frame))

    async def power_cycle(self) -> None:
        """What the simulated reboot does to a real link: it drops, and the next one boots again."""
        await self.wire.disconnect()
        await self.wire.connect()
        await self.clock.advance(0)


async def settled(clock: VirtualClock, condition: Callable[[], object]) -> None:
    """Let work handed to a thread (image verification, the archive) finish: the virtual clock stands still
    while the loop polls real time briefly. TimeoutError after WAIT seconds."""

    async def poll() -> None:
        while not condition():
            await asyncio.sleep(0.002)
            await clock.advance(0)

    await asyncio.wait_for(poll(), WAIT)


def iso(moment: datetime, delay: float = 0) -> str:
    return datetime.fromtimestamp(moment.timestamp() + delay, UTC).isoformat()


@pytest.fixture
async def fw(wired: Callable[..., Wire], clock: VirtualClock, tmp_path: Path) -> FwRig:
    identity = Identity(vendor="chargebox", model="Test", firmware_version="1.0.0")
    wire = wired(connectors=2, data_dir=tmp_path, identity=identity)
    transfer = ScriptedTransfer(clock)
    wire.station.firmware.transfer = transfer
    wire.station.diagnostics.transfer = transfer
    await wire.connect()
    return FwRig(wire, transfer)


def read_zip(data: bytes) -> dict[str, str]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name).decode() for name in archive.namelist()}


# -- an ocpp-library central system (integration and crash tests) --------------------------------


class FirmwareCsmsChargePoint(CsmsChargePoint):
    """The ``ocpp`` library's central-system side, answering what a charge point sends during an update too."""

    @on(Action.firmware_status_notification)
    def on_firmware_status_notification(self, **_payload: Any) -> call_result.FirmwareStatusNotification:
        return call_result.FirmwareStatusNotification()

    @on(Action.diagnostics_status_notification)
    def on_diagnostics_status_notification(self, **_payload: Any) -> call_result.DiagnosticsStatusNotification:
        return call_result.DiagnosticsStatusNotification()


@dataclass
class FirmwareCsms(OcppCsms):
    """The interop suite's central system (on the ``ocpp`` library, on 127.0.0.1), answering the firmware and
    diagnostics statuses, with the longer waits of the real-time firmware tests."""

    charge_point_class: type[CsmsChargePoint] = FirmwareCsmsChargePoint
    wait: float = WAIT

    @property
    def points(self) -> list[CsmsChargePoint]:
        """The ``ocpp`` ChargePoint of each connection, oldest first."""
        return [session.cp for session in self.sessions]

    async def call(self, request: Any, *, timeout: float = WAIT) -> Any:
        """A CALL through the ``ocpp`` library on the latest connection, once there is one."""
        await self.wait_session(timeout=timeout)
        return await super().call(request, timeout=timeout)

    async def wait_for(self, action: str, *, start: int = 0, **payload: Any) -> int:
        """Index of the first CALL ``action`` from ``start`` whose payload has these values."""
        index, _ = await self.frames.wait_for(
            lambda f: f.action == action and all(f.payload.get(k) == v for k, v in payload.items()),
            start=start,
            timeout=WAIT,
        )
        return index

    def sequence(self, *actions: str, start: int = 0) -> list[str]:
        """The CALLs of these actions, as ``Action`` or ``Action:status`` / ``Boot:version``, in order."""
        out = []
        for frame in self.frames.calls(start=start):
            if frame.action not in actions:
                continue
            if frame.action == "BootNotification":
                out.append(f"Boot:{frame.payload.get('firmwareVersion')}")
            elif "status" in frame.payload:
                out.append(f"{frame.action}:{frame.payload['status']}")
            else:
                out.append(str(frame.action))
        return out


@pytest.fixture
async def csms() -> AsyncIterator[FirmwareCsms]:
    async with running(FirmwareCsms()) as server:
        yield server


# -- real file servers --------------------------------------------------------------------------


@dataclass
class HttpFiles:
    """An aiohttp server on 127.0.0.1:0: GET /<name> serves ``files`` (with Range), PUT/POST store uploads.

    ``hits`` counts requests per path; ``fail`` makes a path answer a status; ``truncate`` sends a path's
    Content-Length but only that many bytes; ``gate`` holds a path's body half-way until set (an upload: its
    answer); a path in ``endless`` streams zeros with no Content-Length and no end (bounded at 256 MiB so a test
    always stops), counting them in ``sent``; ``drip`` sends a path's body a byte at a time, that many seconds
    apart, and a path in ``unsized`` goes without Content-Length.
    """

    files: dict[str, bytes] = field(default_factory=dict)
    hits: dict[str, int] = field(default_factory=dict)
    ranges: list[str | None] = field(default_factory=list)
    uploads: dict[str, bytes] = field(default_factory=dict)
    fail: dict[str, int] = field(default_factory=dict)
    truncate: dict[str, int] = field(default_factory=dict)
    gate: dict[str, asyncio.Event] = field(default_factory=dict)
    sent_half: asyncio.Event = field(default_factory=asyncio.Event)
    endless: set[str] = field(default_factory=set)
    drip: dict[str, float] = field(default_factory=dict)
    unsized: set[str] = field(default_factory=set)
    sent: int = 0
    url: str = ""

    async def handle(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        self.hits[name] = self.hits.get(name, 0) + 1
        if name in self.fail:
            return web.Response(status=self.fail[name])
        if request.method == "PUT":
            self.uploads[name] = await request.read()
            if name in self.gate:
                await self.gate[name].wait()
            return web.Response(status=201)
        if request.method == "POST":
            form = await request.post()
            upload = form["file"]
            assert isinstance(upload, web.FileField)
            self.uploads[upload.filename] = upload.file.read()
            return web.Response(status=200)
        if name in self.endless:
            response = web.StreamResponse()
            await response.prepare(request)
            for _ in range(4096):
                await response.write(b"\0" * 65536)
                self.sent += 65536
            return response
        if name not in self.files:
            return web.Response(status=404)
        body = self.files[name]
        self.ranges.append(request.headers.get("Range"))
        start = 0
        response = web.StreamResponse(status=200)
        if (spec := request.headers.get("Range")) and spec.startswith("bytes="):
            start = int(spec[6:].split("-")[0])
            response = web.StreamResponse(status=206)
            response.headers["Content-Range"] = f"bytes {start}-{len(body) - 1}/{len(body)}"
        if name in self.unsized:
            response.enable_chunked_encoding()
        else:
            response.content_length = len(body) - start
        await response.prepare(request)
        rest = body[start:]
        if name in self.drip:
            for index in range(len(rest)):
                await response.write(rest[index : index + 1])
                await asyncio.sleep(self.drip[name])
            rest = b""
        if name in self.truncate:
            await response.write(rest[: self.truncate[name]])
            request.transport.close()  # type: ignore[union-attr]
            return response
        if name in self.gate:
            await response.write(rest[: len(rest) // 2])
            self.sent_half.set()
            await self.gate[name].wait()
            rest = rest[len(rest) // 2 :]
        await response.write(rest)
        await response.write_eof()
        return response


@pytest.fixture
async def http_files() -> AsyncIterator[HttpFiles]:
    files = HttpFiles()
    app = web.Application()
    app.router.add_route("*", "/{name}", files.handle)
    app.router.add_route("*", "/{name}/", files.handle)
    app.router.add_route("*", "/{folder}/{name}", files.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    files.url = f"http://127.0.0.1:{port}"
    yield files
    for gate in files.gate.values():
        gate.set()
    await runner.cleanup()


@dataclass
class FtpServer:
    root: Path
    url: str  # ftp://user:password@127.0.0.1:port
    retrieved: list[str] = field(default_factory=list)


@pytest.fixture
def ftp_server(tmp_path: Path) -> Iterator[FtpServer]:
    """pyftpdlib in a thread on 127.0.0.1:0, one user ``station`` with a password, passive mode."""
    root = tmp_path / "ftp"
    (root / "uploads").mkdir(parents=True)
    authorizer = DummyAuthorizer()
    authorizer.add_user("station", "s3cret:pw", str(root), perm="elradfmwMT")
    served: list[str] = []

    class Handler(FTPHandler):
        def on_file_sent(self, file: str) -> None:
            served.append(Path(file).name)

    Handler.authorizer = authorizer
    server = FTPServer(("127.0.0.1", 0), Handler)
    port = server.socket.getsockname()[1]
    thread = threading.Thread(target=server.serve_forever, kwargs={"timeout": 0.05}, daemon=True)
    thread.start()
    try:
        yield FtpServer(root, f"ftp://station:s3cret%3Apw@127.0.0.1:{port}", served)
    finally:
        server.close_all()
        thread.join(5)


@dataclass
class TlsFiles:
    ca: trustme.CA
    client_context: ssl.SSLContext
    server_context: ssl.SSLContext


@pytest.fixture(scope="session")
def tls() -> TlsFiles:
    ca = trustme.CA()
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(server)
    client = ssl.create_default_context()
    ca.configure_trust(client)
    return TlsFiles(ca, client, server)


@pytest.fixture
async def ftps_server(tmp_path: Path, tls: TlsFiles) -> AsyncIterator[FtpServer]:
    """aioftp's server with implicit TLS (pyftpdlib's TLS needs pyOpenSSL, which is not a dependency)."""
    root = tmp_path / "ftps"
    (root / "uploads").mkdir(parents=True)
    user = aioftp.User("station", "pw", base_path=root, home_path="/")
    server = aioftp.Server([user], ssl=tls.server_context)
    await server.start("127.0.0.1", 0)
    port = server.server.sockets[0].getsockname()[1]
    try:
        yield FtpServer(root, f"ftps://station:pw@127.0.0.1:{port}")
    finally:
        await server.close()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def copy_tree(source: Path, target: Path) -> None:
    shutil.copytree(source, target, dirs_exist_ok=True)
