"""The guard every control API shares (web.py), against a real server on a real socket: the rules that decide
(``host_allowed``, ``token_required``), the token off loopback, and slow clients (half-sent requests closed at
their deadline by an injected clock, connections capped)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from chargebox.clock import VirtualClock
from chargebox.errors import UserError
from chargebox.web import Limits, control_app, host_allowed, json_body, serve, token_required
from tests.loopback import until

WAIT = 5.0
TOKEN = "Tok-0123456789abcdef_~."
JSON = {"Content-Type": "application/json"}


@dataclass
class Api:
    """A tiny control API: ``GET /api/state``, and ``POST /api/act`` that records each body it was given."""

    runner: web.AppRunner
    base: str
    acted: list[dict[str, Any]] = field(default_factory=list)

    @property
    def open_connections(self) -> int:
        assert self.runner.server is not None
        return len(self.runner.server.connections)


async def start_api(host: str = "127.0.0.1", **serve_args: Any) -> Api:
    app = control_app()
    api = Api(web.AppRunner(app), "")

    async def state(_request: web.Request) -> web.Response:
        return web.json_response({"acted": len(api.acted)})

    async def act(request: web.Request) -> web.Response:
        api.acted.append(await json_body(request))
        return web.json_response({"acted": len(api.acted)})

    app.router.add_get("/api/state", state)
    app.router.add_post("/api/act", act)
    api.runner, port = await serve(app, host, 0, "--control", **serve_args)
    api.base = f"http://{host}:{port}"
    return api


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


# -- the decisions ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "required"),
    [("127.0.0.1", False), ("127.3.4.5", False), ("::1", False), ("localhost", False), ("LOCALHOST", False),
     ("0.0.0.0", True), ("::", True), ("", True), ("192.0.2.2", True), ("fd00::2", True), ("box.lan", True)],
)  # fmt: skip
def test_a_token_is_required_for_every_address_but_loopback(host: str, required: bool) -> None:
    assert token_required(host) is required


@pytest.mark.parametrize(
    ("header", "allowed"),
    [("127.0.0.1:9001", True), ("localhost:9001", True), ("LocalHost.:9001", True), ("[::1]:9001", True),
     ("192.0.2.2:9001", True), ("127.0.0.1", True), ("box.lan:9001", True),
     ("evil.example:9001", False), ("evil.example", False), ("127.0.0.1.evil.example:9001", False),
     ("localhost.evil.example", False), ("[::1", False), ("", False), (None, False)],
)  # fmt: skip
def test_host_names_only_this_server_so_dns_rebinding_is_refused(header: str | None, allowed: bool) -> None:
    assert host_allowed(header, frozenset({"localhost", "box.lan"})) is allowed


# -- the token off loopback ---------------------------------------------------------------------------------


def non_loopback_address() -> str | None:
    """An address of this machine other than loopback (the one it would send from), if it has one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # nothing is sent: UDP connect only picks the route
        except OSError:
            return None
        address = str(probe.getsockname()[0])
    return None if address.startswith("127.") else address


LAN = non_loopback_address()


async def test_an_address_other_than_loopback_needs_a_token() -> None:
    for host in ("0.0.0.0", LAN or "192.0.2.2"):
        with pytest.raises(UserError, match=r"--control .*: not a loopback address, so the control API needs a token"):
            await start_api(host)
    with pytest.raises(UserError, match="the control token must be 16 to 128"):
        await start_api("127.0.0.1", token="short")


@pytest.mark.skipif(LAN is None, reason="this machine has no address but loopback")
async def test_off_loopback_every_request_needs_the_token_and_a_browser_gets_it_once_by_query(
    http: aiohttp.ClientSession,
) -> None:
    assert LAN is not None
    api = await start_api(LAN, token=TOKEN)
    try:
        async with http.get(api.base + "/api/state") as response:
            assert response.status == 401 and "needs its token" in (await response.json())["error"]
            assert response.headers["WWW-Authenticate"].startswith("Bearer")
        async with http.post(api.base + "/api/act", json={"n": 1}, headers={"Authorization": "Bearer wrong" + TOKEN}):
            pass
        assert api.acted == []
        async with http.post(api.base + "/api/act", json={"n": 1}, headers={"Authorization": f"Bearer {TOKEN}"}) as r:
            assert r.status == 200
        assert api.acted == [{"n": 1}]
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:  # as a browser: IPs too
            async with browser.get(f"{api.base}/api/state?token={TOKEN}&x=1", allow_redirects=False) as response:
                assert response.status == 303
                assert response.headers["Location"] == "/api/state?x=1"  # the token leaves the address bar
                cookie = response.cookies[f"chargebox-token-{api.base.rsplit(':', 1)[1]}"]
                assert cookie.value == TOKEN and cookie["httponly"] and cookie["samesite"] == "Lax"
            async with browser.post(api.base + "/api/act", json={"n": 2}) as response:
                assert response.status == 200  # by the cookie
        assert api.acted == [{"n": 1}, {"n": 2}]
    finally:
        await api.runner.cleanup()


# -- slow clients ---------------------------------------------------------------------------------------------


async def half_open(port: int, sent: bytes) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(sent)
    await writer.drain()
    return reader, writer


async def closed_by_server(reader: asyncio.StreamReader) -> bool:
    """The server closed the connection: end of stream or reset, without an answer."""
    try:
        return await asyncio.wait_for(reader.read(), WAIT) == b""
    except ConnectionResetError:
        return True


HALF_HEAD = b"GET /api/state HTTP/1.1\r\nHost: 127.0.0.1\r\n"
HALF_BODY = (
    b"POST /api/act HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 99\r\n\r\n{"
)


async def test_slowloris_half_sent_requests_are_closed_at_the_deadline_and_capped_meanwhile(
    clock: VirtualClock, http: aiohttp.ClientSession
) -> None:
    limits = Limits(connections=8, request_timeout=10.0)
    api = await start_api(limits=limits, clock=clock)
    port = int(api.base.rsplit(":", 1)[1])
    held = [await half_open(port, HALF_HEAD) for _ in range(5)]
    held += [await half_open(port, b"") for _ in range(1)]  # connected, silent
    held += [await half_open(port, HALF_BODY) for _ in range(2)]  # a whole head, a body short of its length
    await until(lambda: api.open_connections == 8, timeout=WAIT)
    try:
        extra = [await half_open(port, HALF_HEAD) for _ in range(20)]
        for reader, _writer in extra:  # over the cap: each closed as it comes, its descriptor back at once
            assert await closed_by_server(reader)
        assert api.open_connections == 8
        await clock.advance(9.9)
        assert api.open_connections == 8
        await clock.advance(0.2)
        for reader, _writer in held:
            assert await closed_by_server(reader)
        await until(lambda: api.open_connections == 0, timeout=WAIT)
        assert api.acted == []
        async with http.post(api.base + "/api/act", json={"whole": True}) as response:
            assert response.status == 200  # a whole request is served at once, and its slot freed after
        assert api.acted == [{"whole": True}]
    finally:
        for _reader, writer in held:
            writer.close()
        await api.runner.cleanup()


async def test_a_later_request_on_a_kept_connection_gets_its_own_body_deadline(clock: VirtualClock) -> None:
    api = await start_api(limits=Limits(request_timeout=10.0), clock=clock)
    port = int(api.base.rsplit(":", 1)[1])
    reader, writer = await half_open(port, HALF_HEAD + b"\r\n")
    try:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), WAIT)
        assert head.startswith(b"HTTP/1.1 200")
        await clock.advance(30)  # idle between requests: aiohttp's keep-alive timeout (on the loop's clock) is on it
        length = int(next(line for line in head.split(b"\r\n") if line.lower().startswith(b"content-length"))[15:])
        await reader.readexactly(length)
        writer.write(HALF_BODY)
        await writer.drain()
        await clock.advance(10.1)
        assert await closed_by_server(reader)
        assert api.acted == []
    finally:
        writer.close()
        await api.runner.cleanup()


async def test_a_request_head_with_too_many_headers_is_refused(http: aiohttp.ClientSession) -> None:
    api = await start_api()
    try:
        headers = {f"X-Filler-{n}": "x" for n in range(40)}
        async with http.get(api.base + "/api/state", headers=headers) as response:
            assert response.status == 400
    finally:
        await api.runner.cleanup()


@pytest.mark.parametrize(
    "head",
    [b"GET /api/state HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Long: " + b"a" * 20_000 + b"\r\n\r\n",
     b"POST /api/act HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: -5\r\n\r\n"],
    ids=["header line too long", "negative Content-Length"],
)  # fmt: skip
async def test_a_request_that_cannot_be_parsed_is_one_log_line_not_a_traceback(
    head: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    """Anyone who reaches the port may send these: a line each, so they cannot bury the log in tracebacks."""
    api = await start_api()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", int(api.base.rpartition(":")[2]))
        writer.write(head)
        assert (await reader.read(12)) == b"HTTP/1.0 400"
        writer.close()
        await until(lambda: any(r.name == "chargebox.web.server" for r in caplog.records))
    finally:
        await api.runner.cleanup()
    (record,) = [r for r in caplog.records if r.name == "chargebox.web.server"]
    assert record.exc_info is None and record.getMessage().startswith("! bad HTTP request from 127.0.0.1, answered 400")
    assert "\n" not in record.getMessage() and api.acted == []


async def test_an_app_served_without_its_guard_lets_nothing_through(http: aiohttp.ClientSession) -> None:
    app = control_app()
    app.router.add_get("/api/state", lambda _request: web.json_response({}))  # type: ignore[arg-type, return-value]
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        async with http.get(f"http://127.0.0.1:{runner.addresses[0][1]}/api/state") as response:
            assert response.status == 500 and "without its guard" in (await response.json())["error"]
    finally:
        await runner.cleanup()
    with pytest.raises(ValueError, match="control_app"):
        await serve(web.Application(), "127.0.0.1", 0, "--control")


def test_a_control_api_serves_on_uvloop_too() -> None:
    """The ``fast`` extra runs the station on uvloop, whose transports are no ``asyncio.Transport`` subclass: the
    guard's connection wrapper must take them all the same (every ``--control`` broke there once)."""
    import uvloop

    async def main() -> int:
        app = control_app()
        runner, port = await serve(app, "127.0.0.1", 0, "--control")
        try:
            async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{port}/none") as response:
                return response.status
        finally:
            await runner.cleanup()

    assert uvloop.run(main()) == 404
