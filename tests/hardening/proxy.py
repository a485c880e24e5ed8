"""A fault-injecting TCP proxy on 127.0.0.1 between a station and its central system.

The station connects to ``FaultProxy.url``; each connection is relayed to the central system's port. The HTTP
upgrade is relayed as it is, then the proxy relays whole WebSocket frames (it reads each frame's header to know
where the frame ends), so a fault can hit a chosen frame. Faults are switched at run time:

- ``drop()``: close every open connection at the TCP level (no WebSocket close frame);
- ``refuse``: close new connections before the handshake (the central system looks unreachable);
- ``delay``: wait this long before relaying each frame, in both directions, order kept;
- ``stall()``: relay nothing more, to or from any connection, old or new, while keeping every socket open
  (a half-open link: what goes in is lost); ``flow()`` ends it;
- ``reset_mid_frame(direction, match)``: the next frame in ``direction`` whose text contains ``match`` is
  relayed in part, then both sockets are reset (RST);
- ``close_after_handshake``: new connections are closed right after the 101 answer is relayed.

``heal()`` switches every fault off. Loopback only; every loop is bounded in count (frames per connection) and in
time (the life of a connection, every wait).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final, Literal

HOST: Final = "127.0.0.1"
HTTP_END: Final = b"\r\n\r\n"
MAX_FRAME: Final = 2**22  # the station's own max_size
MAX_FRAMES: Final = 100_000  # per direction and connection
LIFETIME: Final = 120.0  # the longest one relayed connection may live, in seconds
CONNECT_TIMEOUT: Final = 5.0

Direction = Literal["up", "down"]  # up: station -> central system; down: central system -> station


@dataclass
class Link:
    """One relayed connection."""

    number: int
    opened_at: float
    client: asyncio.StreamWriter
    upstream: asyncio.StreamWriter | None = None
    lost: int = 0  # frames swallowed by a stall
    closed: asyncio.Event = field(default_factory=asyncio.Event)
    reset_at: float | None = None  # when a reset_mid_frame hit it

    def writers(self) -> list[asyncio.StreamWriter]:
        return [w for w in (self.client, self.upstream) if w is not None]


@dataclass
class _Cut:
    direction: Direction
    match: bytes


class FaultProxy:
    """Relays ``127.0.0.1:<port>`` to ``127.0.0.1:<upstream_port>`` with faults switchable at run time."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.port = 0
        self.refuse = False
        self.delay = 0.0
        self.close_after_handshake = False
        self.links: list[Link] = []
        self.refused: list[float] = []  # when each refused connection came
        self._flowing = True
        self._cut: _Cut | None = None
        self._changed = asyncio.Event()
        self._server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        return f"ws://{HOST}:{self.port}"

    def open_links(self) -> list[Link]:
        return [link for link in self.links if not link.closed.is_set()]

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._serve, HOST, 0)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self.port

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            self.drop()
            await self._server.wait_closed()
            self._server = None

    # -- faults ---------------------------------------------------------------------------------

    def drop(self) -> None:
        for link in self.open_links():
            for writer in link.writers():
                writer.close()

    def stall(self) -> None:
        self._flowing = False

    def flow(self) -> None:
        self._flowing = True

    def reset_mid_frame(self, direction: Direction, match: bytes = b"") -> None:
        self._cut = _Cut(direction, match)

    @property
    def cut_pending(self) -> bool:
        """A ``reset_mid_frame`` is armed and has not hit a frame yet."""
        return self._cut is not None

    def heal(self) -> None:
        self.refuse = False
        self.delay = 0.0
        self.close_after_handshake = False
        self._cut = None
        self.flow()

    async def wait_for(self, condition: Callable[[], object], timeout: float) -> None:
        """Until ``condition()`` holds (checked whenever a connection opens, closes or relays a frame)."""

        async def check() -> None:
            while not condition():
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(check(), timeout)

    # -- relaying -------------------------------------------------------------------------------

    async def _serve(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        now = asyncio.get_running_loop().time()
        if self.refuse:
            self.refused.append(now)
            self._notify()
            client_writer.close()
            return
        link = Link(len(self.links) + 1, now, client_writer)
        self.links.append(link)
        self._notify()
        try:
            async with asyncio.timeout(LIFETIME):
                upstream_reader, link.upstream = await asyncio.wait_for(
                    asyncio.open_connection(HOST, self.upstream_port), CONNECT_TIMEOUT
                )
                await self._relay(link, client_reader, upstream_reader)
        except (OSError, TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            for writer in link.writers():
                writer.close()
            link.closed.set()
            self._notify()

    async def _relay(
        self, link: Link, client_reader: asyncio.StreamReader, upstream_reader: asyncio.StreamReader
    ) -> None:
        assert link.upstream is not None
        await self._forward(link, link.upstream, await client_reader.readuntil(HTTP_END))
        await self._forward(link, link.client, await upstream_reader.readuntil(HTTP_END))
        if self.close_after_handshake:
            return
        pipes = [
            asyncio.ensure_future(self._pipe(link, "up", client_reader, link.upstream)),
            asyncio.ensure_future(self._pipe(link, "down", upstream_reader, link.client)),
        ]
        try:
            await asyncio.wait(pipes, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for pipe in pipes:
                pipe.cancel()
            await asyncio.gather(*pipes, return_exceptions=True)

    async def _pipe(
        self, link: Link, direction: Direction, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            for _ in range(MAX_FRAMES):
                header, payload = await _read_frame(reader)
                if self._cuts(direction, header, payload):
                    writer.write(header + payload[: len(payload) // 2])
                    await writer.drain()
                    link.reset_at = asyncio.get_running_loop().time()
                    for side in link.writers():
                        _reset(side)
                    return
                await self._forward(link, writer, header + payload)

    def _cuts(self, direction: Direction, header: bytes, payload: bytes) -> bool:
        cut = self._cut
        if cut is None or cut.direction != direction or cut.match not in _unmasked(header, payload):
            return False
        self._cut = None
        return True

    async def _forward(self, link: Link, writer: asyncio.StreamWriter, data: bytes) -> None:
        if self.delay > 0:
            await asyncio.sleep(self.delay)
        if not self._flowing:
            link.lost += 1
        else:
            writer.write(data)
            await writer.drain()
        self._notify()

    def _notify(self) -> None:
        self._changed.set()


async def _read_frame(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    """One WebSocket frame as it was on the wire: (header with any mask key, payload)."""
    head = await reader.readexactly(2)
    length = head[1] & 0x7F
    extended = b""
    if length == 126:
        extended = await reader.readexactly(2)
        length = int.from_bytes(extended, "big")
    elif length == 127:
        extended = await reader.readexactly(8)
        length = int.from_bytes(extended, "big")
    if length > MAX_FRAME:
        raise OSError(f"a frame of {length} bytes is more than the proxy relays")
    mask = await reader.readexactly(4) if head[1] & 0x80 else b""
    return head + extended + mask, await reader.readexactly(length)


def _unmasked(header: bytes, payload: bytes) -> bytes:
    if not header[1] & 0x80:
        return payload
    key = header[-4:]
    return bytes(byte ^ key[i % 4] for i, byte in enumerate(payload))


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with RST instead of FIN: SO_LINGER on, zero seconds."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()
