"""An independent central system for interop tests: the mobilityhouse ``ocpp`` library (h11's "against stdlib").

``OcppCsms`` serves ``ocpp.v16.ChargePoint`` over websockets' asyncio server on 127.0.0.1 with the ``ocpp1.6``
subprotocol. Its BootNotification answer is configurable (``boot_answers``), it can demand Basic credentials
(``passwords``), and it records every frame it receives, with the loop time it arrived, so tests can check order
and timing. Tests can also write raw text on the WebSocket (``raw``) to send frames the ``ocpp`` library would
refuse to build.

chargebox runs with the real ``SystemClock`` here: every wait is a poll with a short timeout, never a fixed sleep.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import ssl
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any

import pytest
import websockets
from ocpp.routing import on
from ocpp.v16 import ChargePoint, call_result
from ocpp.v16.enums import Action, RegistrationStatus
from websockets.asyncio.server import ServerConnection
from websockets.http11 import Request, Response

from chargebox.sim.simulator import simulated_station
from chargebox.station.station import Station, StationSettings
from chargebox.transport import ReconnectPolicy
from tests.loopback import LoopbackServer, running

WAIT = 5.0  # the longest any single expected event may take; a poll timeout, not a sleep


@dataclass(frozen=True, slots=True)
class Frame:
    """One WebSocket message the central system received: ``data`` is the parsed JSON (or the raw text)."""

    at: float
    session: int
    data: Any

    @property
    def is_call(self) -> bool:
        return isinstance(self.data, list) and len(self.data) >= 4 and self.data[0] == 2

    @property
    def action(self) -> str | None:
        return self.data[2] if self.is_call else None

    @property
    def payload(self) -> Any:
        return self.data[3] if self.is_call else None


class FrameLog:
    """Every frame received, in order, and a way to wait for the next one that matches."""

    def __init__(self) -> None:
        self.frames: list[Frame] = []
        self._changed = asyncio.Event()

    def add(self, frame: Frame) -> None:
        self.frames.append(frame)
        self._changed.set()

    async def wait_for(
        self, predicate: Callable[[Frame], bool], *, start: int = 0, timeout: float = WAIT
    ) -> tuple[int, Frame]:
        """The first frame from index ``start`` on that matches: (index, frame); TimeoutError after ``timeout``."""

        async def scan() -> tuple[int, Frame]:
            index = start
            while True:
                while index < len(self.frames):
                    if predicate(self.frames[index]):
                        return index, self.frames[index]
                    index += 1
                self._changed.clear()
                await self._changed.wait()

        return await asyncio.wait_for(scan(), timeout)

    def calls(self, action: str | None = None, *, start: int = 0) -> list[Frame]:
        return [f for f in self.frames[start:] if f.is_call and (action is None or f.action == action)]


class Tap:
    """What ``ocpp.ChargePoint`` needs of a connection (``recv``/``send``), recording what comes in.

    websockets' ServerConnection has both methods already; the tap only adds the record.
    """

    def __init__(self, ws: ServerConnection, log: FrameLog, session: int) -> None:
        self.ws = ws
        self._log = log
        self._session = session

    async def recv(self) -> str | bytes:
        data = await self.ws.recv()
        try:
            parsed: Any = json.loads(data)
        except ValueError:
            parsed = data
        self._log.add(Frame(asyncio.get_running_loop().time(), self._session, parsed))
        return data

    async def send(self, data: str) -> None:
        await self.ws.send(data)


@dataclass
class Session:
    """One accepted WebSocket connection from a charge point."""

    number: int
    path: str
    authorization: str | None
    ws: ServerConnection
    cp: Any  # the ``ocpp`` library's ChargePoint of the version served
    opened_at: float


class CsmsChargePoint(ChargePoint):
    """The ``ocpp`` library's central-system side of one charge point."""

    def __init__(self, id: str, connection: Tap, csms: OcppCsms) -> None:
        super().__init__(id, connection, response_timeout=csms.wait)
        self._csms = csms

    @on(Action.boot_notification)
    def on_boot_notification(self, **_payload: Any) -> call_result.BootNotification:
        status, interval = self._csms.next_boot_answer()
        self._csms.boot_answered_at.append(asyncio.get_running_loop().time())
        return call_result.BootNotification(current_time=_now(), interval=interval, status=status)

    @on(Action.heartbeat)
    def on_heartbeat(self) -> call_result.Heartbeat:
        return call_result.Heartbeat(current_time=_now())

    @on(Action.status_notification)
    def on_status_notification(self, **_payload: Any) -> call_result.StatusNotification:
        return call_result.StatusNotification()


@dataclass
class OcppCsms(LoopbackServer):
    """A central system built on the ``ocpp`` library, served on 127.0.0.1."""

    boot_answers: list[tuple[str, int]] = field(  # (status as either version spells it, interval)
        default_factory=lambda: [(RegistrationStatus.accepted, 300)]
    )
    passwords: set[str] | None = None  # T-6: accepted Basic passwords; None = no authentication
    frames: FrameLog = field(default_factory=FrameLog)
    sessions: list[Session] = field(default_factory=list)
    boot_answered_at: list[float] = field(default_factory=list)
    refused: list[tuple[float, str | None]] = field(default_factory=list)  # (time, Authorization) answered 401
    ssl: ssl.SSLContext | None = None  # serve wss:// (security profiles 2 and 3)
    charge_point_class: type[ChargePoint] = CsmsChargePoint  # 2.0.1: tests/interop/v201/conftest.py's
    subprotocol: str = "ocpp1.6"
    wait: float = WAIT  # how long its charge points wait for an answer
    _opened: asyncio.Event = field(default_factory=asyncio.Event)

    def next_boot_answer(self) -> tuple[str, int]:
        """The answers in order; the last one repeats."""
        return self.boot_answers.pop(0) if len(self.boot_answers) > 1 else self.boot_answers[0]

    async def start(self, port: int = 0) -> int:
        """Listen on ``port`` (0: any free one)."""
        return await self.listen(
            self._serve,
            port,
            subprotocols=[websockets.Subprotocol(self.subprotocol)],
            process_request=self._check_credentials,
            ssl=self.ssl,
        )

    @property
    def url(self) -> str:
        return f"{'ws' if self.ssl is None else 'wss'}://127.0.0.1:{self.port}"

    @property
    def cp(self) -> Any:
        """The ``ocpp`` ChargePoint of the latest connection."""
        return self.sessions[-1].cp

    async def call(self, request: Any, *, timeout: float = WAIT) -> Any:
        """A CALL through the ``ocpp`` library (it validates both ways); a CALLERROR answer raises."""
        cp = self.cp
        cp._response_timeout = timeout
        return await cp.call(request, suppress=False)

    async def raw(self, text: str, message_id: str, *, timeout: float = WAIT) -> list[Any]:
        """Write ``text`` on the latest connection as is; return the CALLRESULT/CALLERROR echoing ``message_id``."""
        start = len(self.frames.frames)
        await self.sessions[-1].ws.send(text)
        _, frame = await self.frames.wait_for(
            lambda f: isinstance(f.data, list) and f.data[:1] in ([3], [4]) and f.data[1:2] == [message_id],
            start=start,
            timeout=timeout,
        )
        return list(frame.data)

    async def wait_session(self, count: int = 1, *, timeout: float = WAIT) -> Session:
        """Wait until ``count`` connections have been accepted; return the latest."""

        async def opened() -> Session:
            while len(self.sessions) < count:
                self._opened.clear()
                await self._opened.wait()
            return self.sessions[-1]

        return await asyncio.wait_for(opened(), timeout)

    async def wait_call(self, action: str, *, start: int = 0, timeout: float = WAIT) -> tuple[int, Frame]:
        return await self.frames.wait_for(lambda f: f.action == action, start=start, timeout=timeout)

    async def wait_booted(self, connectors: int) -> int:
        """Wait for a boot and the StatusNotifications for connector 0..N (B-4); the index of the last one."""
        index, _ = await self.wait_call("BootNotification")
        for connector_id in range(connectors + 1):
            index, _ = await self.frames.wait_for(
                lambda f, c=connector_id: f.action == "StatusNotification" and f.payload["connectorId"] == c,
                start=index,
            )
        return index

    # -- internals ----------------------------------------------------------------------------

    def _check_credentials(self, connection: ServerConnection, request: Request) -> Response | None:
        """T-6: ``Authorization: Basic base64(<id>:<password>)``, the id being the one in the URL; else 401."""
        if self.passwords is None:
            return None
        header = request.headers.get("Authorization")
        charge_point_id = request.path.lstrip("/")
        expected = {basic(charge_point_id, password) for password in self.passwords}
        if header not in expected:
            self.refused.append((asyncio.get_running_loop().time(), header))
            return connection.respond(HTTPStatus.UNAUTHORIZED, "Unauthorized\n")
        return None

    async def _serve(self, ws: ServerConnection) -> None:
        assert ws.request is not None
        number = len(self.sessions) + 1
        cp = self.charge_point_class(ws.request.path.lstrip("/"), Tap(ws, self.frames, number), self)
        self.sessions.append(
            Session(
                number,
                ws.request.path,
                ws.request.headers.get("Authorization"),
                ws,
                cp,
                asyncio.get_running_loop().time(),
            )
        )
        self._opened.set()
        with contextlib.suppress(websockets.ConnectionClosed):
            await cp.start()


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def _now() -> str:
    return datetime.now(UTC).isoformat()


@pytest.fixture
async def csms(request: pytest.FixtureRequest) -> AsyncIterator[OcppCsms]:
    """The central system of a test: an ``OcppCsms``, or the subclass its module names as ``CSMS``."""
    async with running(getattr(request.module, "CSMS", OcppCsms)()) as server:
        yield server


class StationRunner:
    """``station_factory(**settings)`` builds a Station aimed at the central system and runs it; ``stop(station)``.

    Defaults: id CP-1, 2 connectors, a quick reconnect policy. A run task that died with an exception fails
    the test at teardown.
    """

    def __init__(self, csms_url: str) -> None:
        self.csms_url = csms_url
        self.running: dict[Station, asyncio.Task[None]] = {}

    def __call__(self, **settings: Any) -> Station:
        settings.setdefault("charge_point_id", "CP-1")
        settings.setdefault("csms_url", self.csms_url)
        settings.setdefault("connectors", 2)
        settings.setdefault("reconnect", ReconnectPolicy(initial=0.05, maximum=0.2, jitter=0.1))
        station = simulated_station(StationSettings(**settings))
        self.running[station] = asyncio.ensure_future(station.run())
        return station

    def task(self, station: Station) -> asyncio.Task[None]:
        return self.running[station]

    async def stop(self, station: Station) -> None:
        await stop_station(station, self.running[station])

    async def close(self) -> None:
        failures = []
        for station, task in self.running.items():
            if task.done() and not task.cancelled() and task.exception() is not None:
                failures.append(task.exception())
            await stop_station(station, task)
        assert not failures, f"station.run() failed: {failures!r}"


async def stop_station(station: Station, task: asyncio.Task[None]) -> None:
    await station.stop()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task


@pytest.fixture
async def station_factory(csms: OcppCsms) -> AsyncIterator[StationRunner]:
    runner = StationRunner(csms.url)
    yield runner
    await runner.close()
