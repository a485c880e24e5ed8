"""The MCP server of ``chargebox mcp``: the tools of tools.py, over stdio (an agent starts the command) or over
streamable HTTP (``--http HOST:PORT``, at ``/mcp``).

It is built on the ``mcp`` SDK's low-level ``Server``: the tools and their schemas are chargebox's own (tools.py),
and a tool that fails answers a result with ``isError`` and the reason as its text (the MCP way: the agent reads it
and can correct itself), never a protocol error or a traceback.

Over HTTP the server is guarded as every control API is (web.py): off loopback it needs a token (``--http-token-file``
or ``CHARGEBOX_MCP_TOKEN``), sent as ``Authorization: Bearer TOKEN`` (401 else); on loopback the SDK's own check of
``Host`` and ``Origin`` refuses a page of another site and DNS rebinding. The HTTP server is uvicorn, started and
stopped from chargebox's own signal handling (cli.py), not uvicorn's.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import socket
from collections.abc import Iterator
from importlib import metadata
from typing import Any, Final

import mcp_types as types
import uvicorn
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel import Server
from mcp.server.stdio import stdio_server
from mcp.server.transport_security import TransportSecuritySettings
from starlette.types import ASGIApp, Receive, Scope, Send

from chargebox.agent.control import ToolFailure
from chargebox.agent.tools import TOOLS, Targets, call, text_of
from chargebox.errors import UserError
from chargebox.web import token_required, url

log = logging.getLogger("chargebox.agent")

PATH: Final = "/mcp"
INSTRUCTIONS: Final = (
    "chargebox drives simulated OCPP charge points and a central system. Station tools (get_station_state, "
    "plug_in, swipe_card, set_fault, ...) act on the --station simulator, or on a fleet's station named by the "
    "station argument; send_csms_call makes the central system send an OCPP CALL to a station and returns its "
    "answer. A cable plugged in and a card swiped start a transaction, which the central system then lists."
)


async def run(targets: Targets, http: tuple[str, int] | None, http_token: str | None) -> int:
    """``chargebox mcp``: serve until the agent leaves (stdio) or a signal; then a started fleet is stopped."""
    try:
        if http is None:
            await serve_stdio(targets)
        else:
            await serve_http(targets, *http, http_token)
    finally:
        await targets.close()
    return 0


def make_server(targets: Targets) -> Server[Any]:
    """The MCP server whose tools drive ``targets``."""

    async def list_tools(
        _ctx: ServerRequestContext[Any], _params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        return types.ListToolsResult(
            tools=[
                types.Tool(
                    name=tool.name,
                    description=tool.description,
                    input_schema=dict(tool.schema),
                    annotations=types.ToolAnnotations(read_only_hint=tool.read_only),
                )
                for tool in TOOLS
            ]
        )

    async def call_tool(_ctx: ServerRequestContext[Any], params: types.CallToolRequestParams) -> types.CallToolResult:
        try:
            answer = await call(targets, params.name, params.arguments)
        except ToolFailure as exc:
            log.info("! %s: %s", params.name, exc)
            return types.CallToolResult(content=[types.TextContent(type="text", text=str(exc))], is_error=True)
        structured = answer if isinstance(answer, dict) else None
        return types.CallToolResult(
            content=[types.TextContent(type="text", text=text_of(answer))], structured_content=structured
        )

    return Server(
        "chargebox",
        version=metadata.version("chargebox"),
        instructions=INSTRUCTIONS,
        on_list_tools=list_tools,
        on_call_tool=call_tool,
    )


async def serve_stdio(targets: Targets) -> None:
    """Until the agent closes stdin (or a signal cancels it)."""
    server = make_server(targets)
    async with stdio_server() as (read, write):
        await server.run(read, write, server.create_initialization_options())


async def serve_http(targets: Targets, host: str, port: int, token: str | None) -> None:
    """Listen on ``host:port`` (0: any free one) until cancelled. A port in use is the user's error."""
    server = make_server(targets)
    # off loopback a token is required (cli.py), and it is what keeps out pages and strangers
    security = None if token_required(host) else _transport_security(host)
    app = server.streamable_http_app(streamable_http_path=PATH, transport_security=security, host=host)
    try:
        sock = socket.create_server((host, port), family=socket.AF_INET6 if ":" in host else socket.AF_INET)
    except OSError as exc:
        raise UserError(f"--http {host}:{port}: cannot listen: {exc.strerror or exc}") from exc
    bound = int(sock.getsockname()[1])
    config = uvicorn.Config(
        _Bearer(app, token) if token is not None else app, log_config=None, access_log=False, lifespan="on"
    )
    http = _Uvicorn(config)
    serving = asyncio.ensure_future(http.serve(sockets=[sock]))
    try:
        while not http.started and not serving.done():
            await asyncio.sleep(0.01)
        if not serving.done():
            log.info("= MCP server on %s", url(host, bound).rstrip("/") + PATH)
        await asyncio.wait({serving})  # a signal cancels this task, not uvicorn's: it ends gracefully below
        serving.result()
    finally:
        http.should_exit = True
        await asyncio.wait({serving})
        sock.close()


def _transport_security(host: str) -> TransportSecuritySettings:
    """On loopback: only this machine's own names in ``Host`` (no DNS rebinding), no page of another origin."""
    names = sorted({f"[{host}]" if ":" in host else host, "127.0.0.1", "localhost", "[::1]"})
    hosts = [*names, *(f"{name}:*" for name in names)]  # with its port or without, as web.host_allowed reads it
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=hosts,
        allowed_origins=[f"http://{name}" for name in hosts],
    )


class _Uvicorn(uvicorn.Server):
    """uvicorn without its signal handlers: cli.py's own end the command (and cancel ``serve_http``)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class _Bearer:
    """The token of ``--http``, as web.py asks a control API's: ``Authorization: Bearer TOKEN``, compared in
    constant time; 401 with ``{"error": ...}`` else."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self._app = app
        self._expected = f"Bearer {token}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            given = dict(scope["headers"]).get(b"authorization", b"")
            if not hmac.compare_digest(given, self._expected):
                await _refuse(send)
                return
        await self._app(scope, receive, send)


async def _refuse(send: Send) -> None:
    body = json.dumps({"error": "this MCP server needs its token: send 'Authorization: Bearer TOKEN'"}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 401,
            "headers": [
                (b"content-type", b"application/json"),
                (b"www-authenticate", b'Bearer realm="chargebox"'),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
