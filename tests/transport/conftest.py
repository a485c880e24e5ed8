"""Plain ``websockets`` servers on 127.0.0.1:0 that misbehave on purpose, and a station to point at them.

``PlainServer`` records every upgrade request (time, path, headers), every accepted connection, the messages and
the pings it receives. Options make it answer an HTTP status instead of upgrading, omit or change the subprotocol,
or never answer pings. ``DeadPeer`` is a raw TCP server that completes the WebSocket handshake by hand and then
never writes another byte: a half-open link as seen from the charge point.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

import pytest
import websockets
from websockets.asyncio.server import ServerConnection
from websockets.datastructures import Headers
from websockets.frames import Frame, Opcode
from websockets.http11 import Request, Response

from chargebox.sim.simulator import simulated_station
from chargebox.station.station import Station, StationSettings
from chargebox.transport import ReconnectPolicy
from tests.loopback import LoopbackServer

WAIT = 5.0
QUICK = ReconnectPolicy(initial=0.05, maximum=0.2, jitter=0.1)


@dataclass(frozen=True, slots=True)
class Upgrade:
    at: float
    path: str
    headers: Headers  # case-insensitive


@dataclass
class PlainServer(LoopbackServer):
    """A websockets server with knobs for the handshake and keep-alive."""

    status: HTTPStatus | None = None  # answer this instead of upgrading (T-5)
    subprotocols: list[str] | None = field(default_factory=lambda: ["ocpp1.6"])  # None: answer without one (T-4)
    force_subprotocol: str | None = None  # put this in the 101 whatever the client offered (T-4)
    answer_pings: bool = True  # False: never send a pong (T-31)
    upgrades: list[Upgrade] = field(default_factory=list)
    connections: list[ServerConnection] = field(default_factory=list)
    messages: list[str | bytes] = field(default_factory=list)
    pings: list[float] = field(default_factory=list)
    close_codes: list[int | None] = field(default_factory=list)

    async def start(self) -> int:
        server = self

        class Recording(ServerConnection):
            def __init__(self, protocol: Any, *args: Any, **kwargs: Any) -> None:
                send_frame = protocol.send_frame

                def filtered(frame: Frame) -> None:
                    if frame.opcode is Opcode.PONG and not server.answer_pings:
                        return
                    send_frame(frame)

                protocol.send_frame = filtered
                super().__init__(protocol, *args, **kwargs)

            def process_event(self, event: Any) -> None:
                if isinstance(event, Frame) and event.opcode is Opcode.PING:
                    server.pings.append(self.loop.time())
                super().process_event(event)

        return await self.listen(
            self._serve,
            0,
            subprotocols=[websockets.Subprotocol(p) for p in self.subprotocols] if self.subprotocols else None,
            process_request=self._process_request,
            process_response=self._process_response,
            create_connection=Recording,
            compression="deflate",  # accept permessage-deflate if offered, so only the client decides
        )

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        self.upgrades.append(Upgrade(asyncio.get_running_loop().time(), request.path, request.headers.copy()))
        if self.status is not None:
            return connection.respond(self.status, f"{self.status.phrase}\n")
        return None

    def _process_response(self, connection: ServerConnection, request: Request, response: Response) -> None:
        if self.force_subprotocol is not None and response.status_code == 101:
            if "Sec-WebSocket-Protocol" in response.headers:
                del response.headers["Sec-WebSocket-Protocol"]
            response.headers["Sec-WebSocket-Protocol"] = self.force_subprotocol

    async def _serve(self, ws: ServerConnection) -> None:
        self.connections.append(ws)
        try:
            async for message in ws:
                self.messages.append(message)
        except websockets.ConnectionClosed:
            pass
        self.close_codes.append(ws.close_code)


class DeadPeer:
    """Completes the opening handshake (with ``ocpp1.6``), then reads and never answers: no pong, no close."""

    def __init__(self) -> None:
        self.accepted: list[float] = []
        self.closed: list[float] = []
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self.port

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    async def stop(self) -> None:
        for writer in self._writers:
            writer.close()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.append(writer)
        request = await reader.readuntil(b"\r\n\r\n")
        key = next(
            line.split(b":", 1)[1].strip()
            for line in request.split(b"\r\n")
            if line.lower().startswith(b"sec-websocket-key:")
        )
        accept = base64.b64encode(hashlib.sha1(key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest())
        writer.write(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: " + accept + b"\r\nSec-WebSocket-Protocol: ocpp1.6\r\n\r\n"
        )
        await writer.drain()
        self.accepted.append(asyncio.get_running_loop().time())
        with contextlib.suppress(ConnectionError):
            while await reader.read(65536):
                pass  # swallow frames, pings and the close frame alike
        self.closed.append(asyncio.get_running_loop().time())


class StationRunner:
    """``stations(url, **settings)`` runs a Station against ``url``; all are stopped at teardown."""

    def __init__(self) -> None:
        self.running: dict[Station, asyncio.Task[None]] = {}

    def __call__(self, url: str, **settings: Any) -> Station:
        settings.setdefault("charge_point_id", "CP-1")
        settings.setdefault("connectors", 1)
        settings.setdefault("reconnect", QUICK)
        station = simulated_station(StationSettings(csms_url=url, **settings))
        self.running[station] = asyncio.ensure_future(station.run())
        return station

    async def close(self) -> None:
        for station, task in self.running.items():
            await station.stop()
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


@pytest.fixture
async def stations() -> AsyncIterator[StationRunner]:
    runner = StationRunner()
    yield runner
    await runner.close()


@pytest.fixture
async def plain_server() -> AsyncIterator[Callable[..., Any]]:
    """``await plain_server(**options)`` starts a PlainServer; stopped at teardown."""
    servers: list[PlainServer] = []

    async def start(**options: Any) -> PlainServer:
        server = PlainServer(**options)
        await server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        await server.stop()


@pytest.fixture
async def dead_peer() -> AsyncIterator[DeadPeer]:
    peer = DeadPeer()
    await peer.start()
    yield peer
    await peer.stop()
