"""The WebSocket link to the central system: connect, authenticate, keep alive, reconnect.

It hands frames to ``Rpc`` and back, nothing more (the httpcore shape). Rules: T-1..T-7 (URL,
subprotocol, Basic auth, no compression by default), T-30/T-31 (WebSocketPingInterval, dead-link
detection), T-5/T-33 (reconnect with bounded exponential back-off and jitter), T-35 (reconnect with
new credentials). Security profiles 2 and 3 (TLS) plug in through ``ssl_context`` and
``server_hostname`` (``station/kernel/tls.py`` builds them); a failed attempt is told to ``on_failure``,
which raises the security events a TLS or authentication failure means (T-44).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import random
import ssl
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Final
from urllib.parse import quote, urlsplit

import websockets
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

from chargebox.clock import Clock, Event, sleep_or_wake
from chargebox.errors import ConnectionLost, CsmsUnreachable
from chargebox.log import Log
from chargebox.redact import redact, redact_logger
from chargebox.rpc import Rpc
from chargebox.tasks import Tasks

SUBPROTOCOL: Final = Subprotocol("ocpp1.6")
CLOSE_ON_EXIT: Final = 2.0  # seconds a closing handshake may take when the process stops
_RNG: Final = random.Random()  # jitter needs no per-station generator (2.5 KiB each, bench/)
# T-6: websockets logs every handshake header at DEBUG, the Basic credentials among them.
redact_logger("websockets.client")


def csms_url_problem(url: str) -> str | None:
    """Why ``url`` cannot be a CSMS endpoint (None if it can): T-2 appends ``/<id>`` to it, so
    whatever would end up after the id (a query, a fragment) or beside it (credentials, which
    belong in AuthorizationKey, T-6) is refused rather than guessed at."""
    if any(not ch.isprintable() or ch.isspace() for ch in url):
        return "must not contain spaces or control characters"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        return f"not a valid URL ({exc})"
    if parts.scheme.lower() not in ("ws", "wss"):
        return "must be a ws:// or wss:// URL"
    if "@" in parts.netloc:
        return "must not hold credentials (user:password@): give the password as AuthorizationKey"
    if not parts.hostname:
        return "has no host name"
    try:
        too_long = len(parts.hostname.encode("idna")) > 253  # what the resolver does with it (RFC 1035)
    except UnicodeError:
        too_long = True
    if too_long:
        return "host name is not a valid DNS name (labels of 1 to 63 characters, 253 in all)"
    if port == 0:
        return "port must be 1 to 65535"
    if "?" in url or "#" in url:
        return "must not have a query (?) or fragment (#): the charge point id is appended to its path (T-2)"
    return None


@dataclass(frozen=True, slots=True)
class LinkSettings:
    """What a connection attempt needs, read afresh before every attempt."""

    csms_url: str
    charge_point_id: str
    subprotocol: str = SUBPROTOCOL  # the OCPP version's (T-4)
    security_profile: int = 0
    authorization_key: str | None = None
    ping_interval: float = 0.0
    compression: bool = False
    ssl_context: ssl.SSLContext | None = None
    server_hostname: str | None = None  # the name the central system's certificate must carry, if not the URL's host
    problem: str | None = None  # why no attempt can be made (TLS without a root: never unverified, T-44)

    @property
    def url(self) -> str:
        """T-2: the CSMS URL, a slash and the percent-encoded charge point id, nothing else."""
        return f"{self.csms_url.rstrip('/')}/{quote(self.charge_point_id, safe='')}"

    def headers(self) -> dict[str, str]:
        """T-6: Basic credentials on every attempt with profile 1 or 2."""
        if self.security_profile in (1, 2) and self.authorization_key is not None:
            token = base64.b64encode(f"{self.charge_point_id}:{self.authorization_key}".encode()).decode()
            return {"Authorization": f"Basic {token}"}
        return {}


@dataclass(frozen=True, slots=True)
class ReconnectPolicy:
    """Exponential back-off with jitter (T-5, T-33); OCPP 1.6 leaves the numbers to us.

    Delays grow from ``initial`` by ``factor`` up to ``maximum`` seconds, each spread by
    ±``jitter`` so that a fleet cut off at once does not come back at once, and ``spread`` seconds
    at most added to each (2.0.1's RetryBackOffRandomRange, Part 4 5.3). ``max_attempts``
    None means never give up (a charger); a number makes ``run()`` raise ``CsmsUnreachable``.
    """

    initial: float = 1.0
    factor: float = 2.0
    maximum: float = 60.0
    jitter: float = 0.25
    max_attempts: int | None = None
    spread: float = 0.0

    def delays(self, rng: random.Random) -> Iterator[float]:
        delay = self.initial
        while True:
            extra = rng.uniform(0, self.spread) if self.spread else 0.0
            yield delay * (1 + rng.uniform(-self.jitter, self.jitter)) + extra
            delay = min(delay * self.factor, self.maximum)


class Transport:
    """Keeps one WebSocket open to the central system for as long as it runs."""

    def __init__(
        self,
        *,
        settings: Callable[[], LinkSettings],
        rpc: Rpc,
        clock: Clock,
        logger: Log,
        on_open: Callable[[], Awaitable[None]],
        on_close: Callable[[], None],
        policy: ReconnectPolicy | None = None,
        rng: random.Random | None = None,
        on_failure: Callable[[BaseException], None] | None = None,
    ) -> None:
        self._settings = settings
        self._rpc = rpc
        self._clock = clock
        self._log = logger
        self._on_open = on_open
        self._on_close = on_close
        self._policy = policy or ReconnectPolicy()
        self._rng = rng or _RNG
        self._on_failure = on_failure
        self._ws: ClientConnection | None = None
        self._tasks = Tasks(logger, "link")
        self._enabled = Event()
        self._enabled.set()
        self._settings_changed = Event()
        self._stopping = False
        self._closing: asyncio.Future[None] | None = None
        self._policy_changed = False
        self.attempts = 0

    @property
    def connected(self) -> bool:
        return self._ws is not None

    async def run(self) -> None:
        """Connect, serve, and reconnect after every loss until ``stop()``.

        Only consecutive failed attempts count towards ``max_attempts``: a session that was served
        and then ended (a reboot, the central system closing) starts the count anew. The back-off
        starts anew only after a session in which the central system sent something: one that
        closes every connection right after the handshake is retried ever more slowly (T-5), not
        every ``initial`` seconds for ever.
        """
        delays = self._policy.delays(self._rng)
        failures = 0
        while not self._stopping:
            await self._enabled.wait()
            if self._stopping:
                break
            self.attempts += 1
            received = await self._connect_and_serve()
            if self._stopping:
                break
            if received is not None:
                failures = 0
                if received:
                    delays = self._policy.delays(self._rng)
                if not self._enabled.is_set():
                    continue
            else:
                failures += 1
                if self._policy.max_attempts is not None and failures >= self._policy.max_attempts:
                    raise CsmsUnreachable(
                        f"cannot reach the central system at {redact(self._settings().url)} after {failures} attempts"
                    )
            if self._policy_changed:
                self._policy_changed = False
                delays = self._policy.delays(self._rng)
            await self._clock.sleep(next(delays))

    def disconnect(self) -> None:
        """Drop the link and stay offline until ``connect()`` (a simulated network outage)."""
        self._enabled.clear()
        self._close()

    def connect(self) -> None:
        self._enabled.set()

    def reconnect(self) -> None:
        """Close and open again at once, e.g. with a new AuthorizationKey (T-35, T-42)."""
        self._close()

    def settings_changed(self) -> None:
        """WebSocketPingInterval changed: the keep-alive picks it up now (T-30)."""
        self._settings_changed.set()

    def use_policy(self, policy: ReconnectPolicy) -> None:
        """Back off by ``policy`` from the next wait on (2.0.1: the RetryBackOff* variables, Part 4 5.3)."""
        self._policy = policy
        self._policy_changed = True

    async def stop(self) -> None:
        self._stopping = True
        self._enabled.set()
        ws = self._ws
        if ws is not None:
            await ws.close()

    # -- internals ----------------------------------------------------------------------------

    async def _connect_and_serve(self) -> int | None:
        """Serve one connection; the number of messages received on it, None if it never opened."""
        settings = self._settings()
        if settings.problem is not None:
            self._log.warning("! cannot connect to %s: %s", redact(settings.url), settings.problem)
            return None
        tls: dict[str, str] = {} if settings.server_hostname is None else {"server_hostname": settings.server_hostname}
        try:
            ws = await connect(
                settings.url,
                subprotocols=[Subprotocol(settings.subprotocol)],
                additional_headers=settings.headers(),
                compression="deflate" if settings.compression else None,
                ssl=settings.ssl_context,
                ping_interval=None,
                open_timeout=30,
                close_timeout=5,
                max_size=2**22,
                proxy=None,
                user_agent_header=None,
                **tls,  # type: ignore[arg-type]
            )
        except (OSError, TimeoutError, websockets.InvalidHandshake) as exc:
            self._log.warning("! cannot connect to %s: %s", redact(settings.url), _reason(exc))
            if self._on_failure is not None:
                self._on_failure(exc)
            return None
        if ws.subprotocol != settings.subprotocol:  # T-4
            self._log.warning("! %s did not agree to %s; closing", redact(settings.url), settings.subprotocol)
            await ws.close(1002, f"{settings.subprotocol} required")
            return None
        self._ws = ws
        self._log.info("= connected to %s", redact(settings.url))
        self._rpc.attach(self._sender(ws))
        keepalive = self._tasks.supervise(lambda: self._keepalive(ws), self._clock, "keep-alive")
        opened = asyncio.ensure_future(self._on_open())
        received = 0
        try:
            async for message in ws:
                received += 1
                await self._rpc.receive(message)
        except websockets.ConnectionClosed:
            pass
        except asyncio.CancelledError:  # the process stops (SIGTERM, Ctrl-C): say goodbye, not 1006
            await _close_going_away(ws)
            raise
        finally:
            keepalive.cancel()
            self._ws = None
            self._rpc.detach()
            self._on_close()
            if not opened.done():
                opened.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await opened
        self._log.info("= disconnected from %s (%s)", redact(settings.url), ws.close_reason or ws.close_code)
        return received

    def _sender(self, ws: ClientConnection) -> Callable[[bytes], Awaitable[None]]:
        async def send(data: bytes) -> None:
            try:
                await ws.send(data, text=True)  # OCPP-J frames are text frames
            except websockets.ConnectionClosed as exc:
                raise ConnectionLost(str(exc)) from exc

        return send

    async def _keepalive(self, ws: ClientConnection) -> None:
        """T-30/T-31: ping every WebSocketPingInterval seconds; no pong in time means a dead link."""
        while True:
            self._settings_changed.clear()
            interval = self._settings().ping_interval
            if interval <= 0:
                await self._settings_changed.wait()
                continue
            if not await sleep_or_wake(self._clock, interval, self._settings_changed):
                continue
            try:
                pong = await ws.ping()
            except websockets.ConnectionClosed:
                return
            if not await self._wait_for(asyncio.ensure_future(pong), interval):
                # T-31: the peer is dead, so a polite close would only wait for it in vain
                self._log.warning("! no pong within %ss; dropping the dead link", interval)
                ws.transport.abort()
                return

    async def _wait_for(self, future: asyncio.Future[float], timeout: float) -> bool:
        sleeper: asyncio.Future[None] = asyncio.ensure_future(self._clock.sleep(timeout))
        done, _ = await asyncio.wait([future, sleeper], return_when=asyncio.FIRST_COMPLETED)  # type: ignore[type-var]
        sleeper.cancel()
        if future not in done:
            future.cancel()
        return future in done

    def _close(self) -> None:
        ws = self._ws
        if ws is not None:
            self._closing = asyncio.ensure_future(ws.close())


async def _close_going_away(ws: ClientConnection) -> None:
    """RFC 6455 7.4.1: 1001, the endpoint is going away. The central system logs a clean close instead of an
    abnormal closure; one that does not answer the close frame within ``CLOSE_ON_EXIT`` is cut off, so a
    shutdown never waits longer."""
    try:
        async with asyncio.timeout(CLOSE_ON_EXIT):
            await ws.close(1001, "going away")
    except TimeoutError:
        ws.transport.abort()


def _reason(exc: BaseException) -> str:
    if isinstance(exc, websockets.InvalidStatus):
        return f"HTTP {exc.response.status_code}"  # T-5: 401 and 404 are retried with back-off
    return str(exc) or type(exc).__name__
