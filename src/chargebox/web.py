"""The one server of every control API (``simulate --control``, ``fleet --control``, ``csms --control``): an app
made by ``control_app`` and served by ``serve`` is guarded the same way, whichever API it is.

A control API drives a station from a person's browser and from scripts. A page from anywhere must not drive it,
and a slow or hostile client must not take what the station needs for its central system (docs/reliability.md,
"Control plane"):

- **Cross-site requests (CSRF).** A browser sends a cross-origin request without asking first (a CORS preflight,
  which this server never approves) only with a form's or a ``text/plain`` body. So every state-changing request
  must say ``Content-Type: application/json`` (415 else), and one whose ``Origin`` is not this server's own, or
  whose ``Sec-Fetch-Site`` says another site sent it (except a plain navigation), is refused (403).
- **DNS rebinding.** A page of ``evil.example`` whose name is made to resolve to 127.0.0.1 reaches the server as
  its own origin, but its ``Host`` still says ``evil.example``. Only this server's own names are accepted
  (``host_allowed``), 403 else.
- **Anyone on the network.** Bound to an address other than loopback, the API needs a token: ``serve`` refuses to
  start without one. A script sends ``Authorization: Bearer TOKEN``; a browser opens a page once with
  ``?token=TOKEN``, which sets a cookie (HttpOnly, SameSite=Lax) and redirects to the page without it. 401 else.
- **Slow clients (slowloris).** At most ``Limits.connections`` connections are open at once (one more is closed
  as it comes, so its descriptor is back at once); a connection has ``Limits.request_timeout`` seconds to send its
  first request whole, head and body, and a later request's body as long from its head (aiohttp's keep-alive
  timeout, set to the same, bounds an idle connection and a later head). Request heads are bounded in size, bodies
  to ``MAX_BODY_SIZE``, and event streams (sim/control.py) to ``Limits.event_streams``.

Paths an app declares public (``control_app(public=...)``: the files of ``csms --files`` a station downloads) are
read (GET, HEAD) without the token and whatever the ``Host``; paths it declares for uploads (``uploads=...``: where
``csms`` takes the diagnostics and logs a station uploads) are written (PUT, POST) the same way, with any body type
and a body the handler reads and bounds itself. Neither is let through from another site's page (the CSRF check
holds). Every refusal is JSON ``{"error": ...}``.

Past the guard, what the APIs share is here too: every answer is JSON, a bad request gets 400 with
``{"error": "..."}`` and changes nothing, a bug is logged with its traceback and answered 500 without it, and a
body (``json_body``) is UTF-8 JSON (RFC 8259) nesting no deeper than a frame may (``codec.MAX_DEPTH``): what the
requests carry reaches a station or a central system. So are server-sent events (``event_stream``): at most
``Limits.event_streams`` open (503 beyond), each ended cleanly when the server stops, a comment sent when idle so a
page that is gone is noticed.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import ipaddress
import json
import logging
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Final, cast

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from chargebox.clock import Clock, SystemClock, TimerHandle
from chargebox.credentials import token_problem
from chargebox.errors import UserError
from chargebox.protocol.codec import MAX_DEPTH, nests_deeper

log = logging.getLogger("chargebox.web")


class _OneLineForBadRequests(logging.Filter):
    """aiohttp logs every request it cannot parse (a header line too long, a bad Content-Length) with a
    traceback: anyone who reaches the port could fill the log with them. Such a request is the client's fault,
    already answered 400: one line says so. A real failure keeps its traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, HttpProcessingError):
            reason = (exc.message or type(exc).__name__).strip().splitlines()[0]
            remote = record.args[0] if isinstance(record.args, tuple) and record.args else "?"
            record.msg, record.args = "! bad HTTP request from %s, answered %d: %s", (remote, exc.code, reason)
            record.levelno, record.levelname = logging.INFO, "INFO"
            record.exc_info = record.exc_text = None
        return True


_server_log = logging.getLogger("chargebox.web.server")  # aiohttp's server logger for our apps
_server_log.addFilter(_OneLineForBadRequests())

SHUTDOWN_TIMEOUT: Final = 2.0  # seconds a request still running when the server stops may take to finish
MAX_BODY_SIZE: Final = 16 * 1024  # every request body is a small JSON object
MAX_HEADERS: Final = 32  # in a request head, each at most aiohttp's 8190 bytes (its default: 128 of them)
_SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})
_WILDCARDS: Final = frozenset({"", "0.0.0.0", "::"})


@dataclass(frozen=True, slots=True)
class Limits:
    """What one control server may hold at once; the station's own link to its central system needs the rest."""

    connections: int = 64
    request_timeout: float = 10.0
    event_streams: int = 16


@dataclass(slots=True)
class _Guard:
    """What ``serve`` knows of the server, read by the middleware and by each connection."""

    names: frozenset[str]  # the Host names accepted besides IP addresses
    token: str | None
    cookie: str
    public: tuple[str, ...]
    limits: Limits
    clock: Clock
    open: int = 0
    refusing: bool = False


@dataclass(slots=True)
class _EventStreams:
    """The event streams open on an app, each woken to end when the app shuts down."""

    closing: bool = False
    open: set[asyncio.Event] = field(default_factory=set)


_PUBLIC: Final = web.AppKey("chargebox.public_paths", tuple[str, ...])
_UPLOADS: Final = web.AppKey("chargebox.upload_paths", tuple[str, ...])
_GUARD: Final = web.AppKey("chargebox.guard", _Guard)
_EVENT_STREAMS: Final = web.AppKey("chargebox.sse_streams", _EventStreams)
IDLE_EVERY: Final = 1.0  # seconds an event stream may be silent before a comment checks that its page is there


def control_app(*, public: tuple[str, ...] = (), uploads: tuple[str, ...] = ()) -> web.Application:
    """A new control API, guarded once ``serve`` serves it; ``public`` path prefixes are readable by anyone who
    reaches the port (no token, any ``Host``), ``uploads`` prefixes writable so (PUT, POST: a station's upload)."""
    app = web.Application(middlewares=[_guard_middleware, errors_middleware], client_max_size=MAX_BODY_SIZE)
    app[_PUBLIC] = public
    app[_UPLOADS] = uploads
    app[_EVENT_STREAMS] = _EventStreams()
    app.on_shutdown.append(_end_event_streams)
    return app


def open_paths(app: web.Application) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The path prefixes read (GET) and written (uploads) without the token, as ``control_app`` was told."""
    return app[_PUBLIC], app[_UPLOADS]


def limits_of(request: web.Request) -> Limits:
    return request.app[_GUARD].limits


async def serve(
    app: web.Application,
    host: str,
    port: int,
    option: str,
    *,
    token: str | None = None,
    limits: Limits | None = None,
    clock: Clock | None = None,
) -> tuple[web.AppRunner, int]:
    """Listen (port 0: any free one); returns the runner to clean up and the port. A port in use, or an address
    other than loopback without a token, is the user's error, named by its ``option``."""
    if _PUBLIC not in app:
        raise ValueError("serve() serves an app made by control_app()")
    check_token(host, token, option)
    limits = limits or Limits()
    guard = _Guard(_own_names(host), token, "", app[_PUBLIC], limits, clock or SystemClock())
    app[_GUARD] = guard
    runner = web.AppRunner(
        app,
        access_log=None,
        logger=_server_log,
        shutdown_timeout=SHUTDOWN_TIMEOUT,
        keepalive_timeout=limits.request_timeout,
        max_headers=MAX_HEADERS,
    )
    await runner.setup()
    site = _Site(runner, host, port, guard)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        raise UserError(f"{option} {host}:{port}: cannot listen: {exc.strerror or exc}") from exc
    addresses = runner.addresses
    bound = int(addresses[0][1]) if addresses else port
    guard.cookie = f"chargebox-token-{bound}"  # cookies ignore ports: one per server on the same host
    return runner, bound


def check_token(host: str, token: str | None, option: str) -> None:
    """The token rule, checked by ``serve`` and by a command before it opens anything else (so a mistake is
    said before a port is taken). Raises UserError naming ``option``."""
    if token is not None and (problem := token_problem(token)) is not None:
        raise UserError(f"the control token {problem}")
    if token is None and token_required(host):
        raise UserError(
            f"{option} {host}: not a loopback address, so the control API needs a token "
            "(--control-token-file FILE or CHARGEBOX_CONTROL_TOKEN; docs/howto/security.md)"
        )


def url(host: str, port: int) -> str:
    """``http://HOST:PORT/`` for a log line, an IPv6 address in brackets."""
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


def token_required(host: str) -> bool:
    """Every address but loopback (``localhost``, 127.0.0.0/8, ::1) is reachable from other machines."""
    if host.lower() == "localhost":
        return False
    try:
        return not ipaddress.ip_address(host).is_loopback
    except ValueError:
        return True  # a host name may resolve to any address


def host_allowed(host_header: str | None, names: frozenset[str]) -> bool:
    """A ``Host`` names this server: an IP address (a browser sends one only when it connected to that address,
    and no one can rebind it), or one of ``names``. The port is not compared: a forwarded port may differ."""
    if not host_header:
        return False
    name = host_header.strip().lower()
    if name.startswith("["):
        name, bracket, _ = name[1:].partition("]")
        if not bracket:
            return False
    else:
        name = name.rpartition(":")[0] if ":" in name else name
    name = name.rstrip(".")
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return name in names
    return True


def _own_names(host: str) -> frozenset[str]:
    """The names a server bound to ``host`` answers to, besides its addresses."""
    names = {"localhost"}
    if host.lower() in _WILDCARDS:
        names.add(socket.gethostname().lower())
    else:
        names.add(host.lower().rstrip("."))
    return frozenset(names)


# -- server-sent events --------------------------------------------------------------------------------------


class EventStream:
    """One open ``text/event-stream`` answer: ``send`` events, ``wait`` for the next reason to."""

    def __init__(self, response: web.StreamResponse, wake: asyncio.Event, streams: _EventStreams) -> None:
        self.response = response  # what the handler returns once the stream ends
        self.wake = wake  # set it to have ``wait`` return
        self._streams = streams

    async def send(self, *events: tuple[str, object]) -> None:
        await self.response.write(b"".join(sse(name, data) for name, data in events))

    async def wait(self) -> bool:
        """Until ``wake`` is set (True) or the server stops (False); a comment every ``IDLE_EVERY`` seconds
        meanwhile, so a page that is gone ends the stream (its write fails)."""
        while not self._streams.closing:
            try:
                await asyncio.wait_for(self.wake.wait(), IDLE_EVERY)
            except TimeoutError:
                await self.response.write(b": idle\n\n")
                continue
            self.wake.clear()
            return not self._streams.closing
        return False


@contextlib.asynccontextmanager
async def event_stream(request: web.Request) -> AsyncIterator[EventStream]:
    """An event stream answering ``request``, counted against ``Limits.event_streams`` (503 beyond: each holds a
    connection and work per change). A page closed while it is written to ends it quietly."""
    streams = request.app[_EVENT_STREAMS]
    if len(streams.open) >= limits_of(request).event_streams:
        raise json_error(web.HTTPServiceUnavailable, f"{len(streams.open)} event streams open: no more")
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
    await response.prepare(request)
    wake = asyncio.Event()
    streams.open.add(wake)
    try:
        yield EventStream(response, wake, streams)
    except ConnectionResetError:
        pass  # the page was closed
    finally:
        streams.open.discard(wake)


def sse(event: str, data: object) -> bytes:
    """One server-sent event (the data is one line of JSON, so it needs no escaping)."""
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


async def _end_event_streams(app: web.Application) -> None:
    streams = app[_EVENT_STREAMS]
    streams.closing = True
    for wake in streams.open:
        wake.set()


# -- the middlewares -----------------------------------------------------------------------------------------


@web.middleware
async def _guard_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    guard = request.app.get(_GUARD)
    if guard is None:  # served some other way: nothing is let through unguarded
        return _refused(request, 500, "this control API is served without its guard (chargebox.web.serve)")
    connection = _connection_of(request)
    has_body = request.body_exists
    if connection is not None:
        connection.head_received(body=has_body)
    upload = (
        request.method in ("PUT", "POST")
        and bool(request.app[_UPLOADS])
        and request.path.startswith(request.app[_UPLOADS])
    )
    public = upload or (request.method in ("GET", "HEAD") and request.path.startswith(guard.public))
    if not public and not host_allowed(request.headers.get("Host"), guard.names):
        return _refused(request, 403, f"Host {request.headers.get('Host', '')[:100]!r} does not name this server")
    if (refused := _cross_site(request)) is not None:
        return refused
    if request.method not in _SAFE_METHODS and request.content_type != "application/json" and not upload:
        return _refused(request, 415, "a request that changes anything must be Content-Type: application/json")
    if guard.token is not None and not public and not _carries(request, guard.token, guard.cookie):
        return _refused(
            request,
            401,
            "this control API needs its token: send 'Authorization: Bearer TOKEN', or open /?token=TOKEN once in "
            "a browser",
            headers={"WWW-Authenticate": 'Bearer realm="chargebox"'},
        )
    if upload:  # the handler streams the body, bounded, before the connection's deadline
        try:
            return await handler(request)
        finally:
            if connection is not None:
                connection.body_received()
    if has_body:
        if (refused := await _read_body(request)) is not None:
            return refused
        if connection is not None:
            connection.body_received()
    if guard.token is not None and "token" in request.query and request.method == "GET":
        return _signed_in(request, guard)
    return await handler(request)


def _cross_site(request: web.Request) -> web.Response | None:
    """CSRF: a request another origin's page made, unless it is a person following a link (a GET navigation)."""
    origin = request.headers.get("Origin")
    host = request.headers.get("Host", "").lower()
    if origin is not None and origin.lower() not in (f"http://{host}", f"https://{host}"):
        return _refused(request, 403, f"a request from another origin ({origin[:100]!r}) is refused")
    site = request.headers.get("Sec-Fetch-Site", "same-origin")
    navigation = request.method == "GET" and request.headers.get("Sec-Fetch-Mode") == "navigate"
    if site not in ("same-origin", "none") and not navigation:
        return _refused(request, 403, f"a request from another site (Sec-Fetch-Site: {site[:20]!r}) is refused")
    return None


def _carries(request: web.Request, token: str, cookie: str) -> bool:
    """The token, as a script sends it (``Authorization: Bearer``), a browser once (``?token=``) or then always
    (its cookie); compared in constant time."""
    authorization = request.headers.get("Authorization", "")
    if authorization[:7].lower() == "bearer ":
        given = authorization[7:].strip()
    elif request.method == "GET" and "token" in request.query:
        given = request.query["token"]
    else:
        given = request.cookies.get(cookie, "")
    return hmac.compare_digest(given.encode(), token.encode())


def _signed_in(request: web.Request, guard: _Guard) -> web.Response:
    """``?token=`` was right: the browser keeps it as a cookie, and the address bar loses it."""
    query = request.rel_url.query.copy()
    query.popall("token")
    response = web.Response(status=303, headers={"Location": str(request.rel_url.with_query(query))})
    assert guard.token is not None
    response.set_cookie(guard.cookie, guard.token, httponly=True, samesite="Lax", path="/")
    return response


async def _read_body(request: web.Request) -> web.Response | None:
    """The whole body, before any handler sees the request; a connection that sends it too slowly is closed by
    its deadline (``_Connection``), which ends this read."""
    try:
        await request.read()  # kept by aiohttp: the handler's own read returns it
    except web.HTTPRequestEntityTooLarge:
        return _refused(request, 400, f"body over {MAX_BODY_SIZE} bytes")
    except ConnectionError:
        return _refused(request, 408, "the request was not sent in time")
    return None


@web.middleware
async def errors_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Every error is JSON; a bug is logged with its traceback and answered without it."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.content_type != "application/json":
            exc.text = json.dumps({"error": exc.reason})
            exc.content_type = "application/json"
        raise
    except Exception:
        log.exception("control API: %s %s failed", request.method, request.raw_path)  # raw: no decoded newline
        return web.json_response({"error": "internal error, see the log"}, status=500)


def _refused(request: web.Request, status: int, message: str, *, headers: dict[str, str] | None = None) -> web.Response:
    """A request the guard turns away, logged (the path raw: no decoded newline forges a line)."""
    log.info("! control API: %s %s refused (%d): %s", request.method, request.raw_path[:200], status, message)
    return web.json_response({"error": message}, status=status, headers=headers)


def json_error(kind: type[web.HTTPException], message: str) -> web.HTTPException:
    """An HTTP error to raise, its body ``{"error": message}``."""
    return kind(text=json.dumps({"error": message}), content_type="application/json")


async def json_body(request: web.Request) -> dict[str, Any]:
    """A request's body as one JSON object, held to what a frame may be (UTF-8, bounded depth); 400 else."""
    if not request.body_exists:
        return {}
    if request.charset is not None and request.charset.lower() not in ("utf-8", "utf8"):
        raise json_error(web.HTTPBadRequest, "body must be JSON in UTF-8")
    try:
        text = (await request.read()).decode("utf-8")
    except UnicodeDecodeError:
        raise json_error(web.HTTPBadRequest, "body must be JSON in UTF-8") from None
    if nests_deeper(text, MAX_DEPTH):
        raise json_error(web.HTTPBadRequest, f"body nests deeper than {MAX_DEPTH} levels")
    try:
        body = json.loads(text)
    except ValueError:
        raise json_error(web.HTTPBadRequest, "body is not JSON") from None
    if not isinstance(body, dict):
        raise json_error(web.HTTPBadRequest, "body must be a JSON object")
    return body


# -- the connections -----------------------------------------------------------------------------------------


class _Connection(asyncio.Protocol):
    """One accepted connection, in front of aiohttp's own protocol: counted against ``Limits.connections``, and
    closed if its request does not arrive whole within ``Limits.request_timeout``."""

    def __init__(self, guard: _Guard, make_handler: Callable[[], asyncio.Protocol]) -> None:
        self._guard = guard
        self._make_handler = make_handler
        self._handler: asyncio.Protocol | None = None
        self._transport: asyncio.Transport | None = None
        self._deadline: TimerHandle | None = None

    def connection_made(self, base: asyncio.BaseTransport) -> None:
        # a stream transport, though not always an asyncio.Transport subclass (uvloop's are not)
        transport = cast(asyncio.Transport, base)
        guard = self._guard
        if guard.open >= guard.limits.connections:
            if not guard.refusing:
                log.warning("! control API: %d connections open, refusing more", guard.open)
                guard.refusing = True
            transport.abort()  # its descriptor is back at once; the central system's link needs them
            return
        guard.refusing = False
        guard.open += 1
        self._transport = transport
        self._arm()
        self._handler = self._make_handler()
        self._handler.connection_made(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._handler is None:
            return
        self._guard.open -= 1
        self._disarm()
        self._handler.connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        assert self._handler is not None
        self._handler.data_received(data)

    def eof_received(self) -> bool | None:
        return self._handler.eof_received() if self._handler is not None else None

    def pause_writing(self) -> None:
        if self._handler is not None:
            self._handler.pause_writing()

    def resume_writing(self) -> None:
        if self._handler is not None:
            self._handler.resume_writing()

    def head_received(self, *, body: bool) -> None:
        """A request's head is in: done, or its body has until the deadline (the first request's since the
        connection opened)."""
        if body:
            if self._deadline is None:
                self._arm()
        else:
            self._disarm()

    def body_received(self) -> None:
        self._disarm()

    def _arm(self) -> None:
        self._deadline = self._guard.clock.call_later(self._guard.limits.request_timeout, self._expired)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self) -> None:
        self._deadline = None
        log.debug("control API: no whole request within %g s, connection closed", self._guard.limits.request_timeout)
        if self._transport is not None:
            self._transport.abort()


def _connection_of(request: web.Request) -> _Connection | None:
    transport = request.transport
    protocol = transport.get_protocol() if transport is not None else None
    return protocol if isinstance(protocol, _Connection) else None


class _Site(web.BaseSite):
    """aiohttp's TCPSite, each connection behind a ``_Connection``."""

    __slots__ = ("_guard", "_host", "_port")

    def __init__(self, runner: web.AppRunner, host: str, port: int, guard: _Guard) -> None:
        super().__init__(runner)
        self._host = host
        self._port = port
        self._guard = guard

    @property
    def name(self) -> str:
        return url(self._host, self._port)

    async def start(self) -> None:
        await super().start()
        handlers = self._runner.server
        assert handlers is not None
        self._server = await asyncio.get_running_loop().create_server(
            lambda: _Connection(self._guard, handlers), self._host, self._port, backlog=self._backlog
        )
