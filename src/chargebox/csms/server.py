"""A central system that accepts every charge point, answers every message, and logs every frame.

Built on the same sans-I/O core and ``Rpc`` as the charge point, serving ``ws://HOST:PORT/<id>``
with the ``ocpp2.0.1`` and ``ocpp1.6`` subprotocols: a station asks for the one it speaks, and its session
speaks that version (2.0.1's answers are ``csms/v201.py``'s, imported when a 2.0.1 station connects).
``CentralSystem.call`` sends a CALL to a connected charge point,
and ``events`` lets a watcher (the demo, a test) see each CALL as it is answered. A path whose charge point id
breaks the id rule (protocol/identity.py: 1 to 48 printable ASCII characters, no ``:``; the path's last
segment, under any endpoint path such as ``/ocpp``) is refused with HTTP 400 before the upgrade, the id logged
escaped.

With a TLS context (``start(tls=...)``, csms/tls.py) it serves ``wss://``, security profiles 2 and 3: a client
certificate, verified against the CA, must have the charge point id as its CN, and stands for the Basic
credentials (TC_087_CS). With a CA (``authority``) SignCertificate is answered by signing (csms/certificates.py).

``events`` holds only the last ``max_events`` unread events (``DEFAULT_MAX_EVENTS``, 1,000, unless
the constructor is told otherwise): ``chargebox csms`` runs for days with nobody reading them, and
a queue that kept every CALL would grow by ~110 bytes per CALL for as long as it runs.
"""

from __future__ import annotations

import asyncio
import base64
import enum
import hmac
import itertools
import logging
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Final

import websockets
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol

from chargebox.clock import Clock, SystemClock
from chargebox.csms.ca import CertificateAuthority
from chargebox.csms.certificates import CertificateSigning
from chargebox.csms.tls import client_common_name
from chargebox.errors import ConnectionLost, UserError
from chargebox.protocol import messages as m
from chargebox.protocol.base import Message
from chargebox.protocol.dialect import OCPP16, SUBPROTOCOLS, Dialect, dialect_for
from chargebox.protocol.identity import identity_from_path
from chargebox.rpc import Handler, Rpc, SendResult

log = logging.getLogger("chargebox.csms")

DEFAULT_MAX_EVENTS: Final = 1000


@dataclass(frozen=True, slots=True)
class CsmsEvent:
    """A CALL a charge point made, as the central system answered it."""

    charge_point_id: str
    action: enum.StrEnum  # the Action of the session's version
    request: Message


@dataclass(slots=True)
class Session:
    charge_point_id: str
    rpc: Rpc[Any]
    boots: int = 0
    security_profile: int = 0  # as the connection showed it: 3 a client certificate, 2 TLS, 1 Basic auth, 0 none

    @property
    def dialect(self) -> Dialect[Any]:
        """The OCPP version the charge point speaks."""
        return self.rpc.dialect


@dataclass
class CsmsPolicy:
    """How the central system answers; tests change it between steps."""

    registration: m.RegistrationStatus = m.RegistrationStatus.ACCEPTED  # 2.0.1 spells its statuses the same
    heartbeat_interval: int = 300
    password: str | None = None
    id_tag_status: m.AuthorizationStatus = m.AuthorizationStatus.ACCEPTED
    extra_handlers: dict[Any, Handler] = field(default_factory=dict)  # by the Action of either version


class CentralSystem:
    def __init__(
        self,
        policy: CsmsPolicy | None = None,
        *,
        clock: Clock | None = None,
        max_events: int = DEFAULT_MAX_EVENTS,
        authority: CertificateAuthority | None = None,
    ) -> None:
        if max_events < 1:  # asyncio.Queue would read 0 as "no bound at all"
            raise ValueError(f"max_events must be at least 1, not {max_events}")
        self.policy = policy or CsmsPolicy()
        self.sessions: dict[str, Session] = {}
        self.connections: dict[str, ServerConnection] = {}
        self.events: asyncio.Queue[CsmsEvent] = asyncio.Queue(maxsize=max_events)
        self.on_event: Callable[[CsmsEvent], None] | None = None
        self.session_listeners: list[Callable[[Session], None]] = []  # each new session (the control API's history)
        self.closed_listeners: list[Callable[[Session], None]] = []  # each session that ended
        self._clock = clock or SystemClock()
        self.certificates = CertificateSigning(authority, self._clock)
        self._server: Server | None = None
        self.listening: tuple[int, bool] | None = None  # (port, TLS) once started: where stations connect
        self._transaction_ids = itertools.count(1)

    async def start(self, host: str = "127.0.0.1", port: int = 0, *, tls: ssl.SSLContext | None = None) -> int:
        """Listen (``wss://`` with ``tls``); returns the port (pass 0 for any free one)."""
        try:
            self._server = await serve(
                self._serve,
                host,
                port,
                subprotocols=[Subprotocol(name) for name in SUBPROTOCOLS],
                process_request=self._check_request,
                compression=None,
                ping_interval=None,
                ssl=tls,
            )
        except OSError as exc:
            raise UserError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
        sockets = list(self._server.sockets)
        self.listening = (int(sockets[0].getsockname()[1]), tls is not None)
        return self.listening[0]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def call(self, charge_point_id: str, request: Message, *, timeout: float = 30.0) -> SendResult[Any]:
        session = self.sessions[charge_point_id]
        return await session.rpc.call(request, timeout=timeout)

    # -- internals ----------------------------------------------------------------------------

    def _check_request(self, connection: ServerConnection, request: Request) -> Response | None:
        """The path names one charge point id by the id rule (T-2, G-1: an id with a newline or markup would
        forge log lines and pages); T-6: with a password set, the Basic credentials must name the same id."""
        charge_point_id, problem = identity_from_path(request.path)
        if problem is not None:
            log.warning("! refused a charge point id %r: it %s", charge_point_id[:100], problem)  # escaped
            return connection.respond(HTTPStatus.BAD_REQUEST, "Bad charge point id\n")
        common_name = client_common_name(connection.transport.get_extra_info("peercert"))
        if common_name is not None:  # verified against the CA by the handshake (csms/tls.py)
            if common_name == charge_point_id:
                return None  # profile 3: the certificate is the credential
            log.warning("! %s: the client certificate is for %r (TC_087_CS)", charge_point_id, common_name[:100])
            return connection.respond(HTTPStatus.UNAUTHORIZED, "Unauthorized\n")
        password = self.policy.password
        if password is None:
            return None
        expected = "Basic " + base64.b64encode(f"{charge_point_id}:{password}".encode()).decode()
        given = request.headers.get("Authorization", "")
        if not hmac.compare_digest(given.encode("utf-8", "surrogateescape"), expected.encode()):  # no timing hint
            log.warning("! %s: bad or missing Basic credentials", charge_point_id)
            return connection.respond(HTTPStatus.UNAUTHORIZED, "Unauthorized\n")
        return None

    def open_session(
        self, charge_point_id: str, send: Callable[[bytes], Awaitable[None]], dialect: Dialect[Any] = OCPP16
    ) -> Rpc[Any]:
        """Serve a charge point speaking ``dialect`` over any link: frames from it go to the returned
        ``Rpc.receive``."""
        rpc: Rpc[Any] = Rpc(clock=self._clock, logger=log, name=charge_point_id, dialect=dialect)
        session = Session(charge_point_id, rpc)
        rpc.handlers.update(self._handlers(session))
        rpc.attach(send)
        self.sessions[charge_point_id] = session
        for listener in self.session_listeners:
            listener(session)
        log.info("= %s connected", charge_point_id)
        return rpc

    def close_session(self, charge_point_id: str, rpc: Rpc[Any]) -> None:
        rpc.detach()
        session = self.sessions.get(charge_point_id)
        if session is not None and session.rpc is rpc:
            del self.sessions[charge_point_id]
            for listener in self.closed_listeners:
                listener(session)
        log.info("= %s disconnected", charge_point_id)

    async def _serve(self, connection: ServerConnection) -> None:
        charge_point_id = identity_from_path(connection.request.path)[0] if connection.request else ""
        if connection.subprotocol not in SUBPROTOCOLS:  # websockets agreed to none the station offered
            await connection.close(1002, f"one of {', '.join(SUBPROTOCOLS)} required")
            return

        async def send(data: bytes) -> None:
            try:
                await connection.send(data, text=True)
            except websockets.ConnectionClosed as exc:
                raise ConnectionLost(str(exc)) from exc

        rpc = self.open_session(charge_point_id, send, dialect_for(connection.subprotocol))
        self.sessions[charge_point_id].security_profile = profile = _security_profile(connection)
        log.info("= %s is on security profile %d", charge_point_id, profile)
        self.connections[charge_point_id] = connection
        try:
            async for message in connection:
                await rpc.receive(message)
        except websockets.ConnectionClosed:
            pass
        finally:
            if self.connections.get(charge_point_id) is connection:
                del self.connections[charge_point_id]
            self.close_session(charge_point_id, rpc)

    async def disconnect(self, charge_point_id: str) -> None:
        """Close a charge point's WebSocket from this side (tests of reconnection)."""
        connection = self.connections.get(charge_point_id)
        if connection is not None:
            await connection.close()

    def _handlers(self, session: Session) -> dict[Any, Handler]:
        if session.dialect is not OCPP16:
            from chargebox.csms.v201 import answers

            answers_201 = answers(self.policy, self._clock, lambda: self._booted(session))
            return {
                action: self._observed(session, action, self.policy.extra_handlers.get(action, answer))
                for action, answer in answers_201.items()
            }
        answers_16: dict[m.Action, Handler] = {
            m.Action.BOOT_NOTIFICATION: lambda _r: self._boot(session),
            m.Action.HEARTBEAT: lambda _r: m.HeartbeatResponse(current_time=self._clock.now()),
            m.Action.AUTHORIZE: lambda _r: m.AuthorizeResponse(id_tag_info=self._id_tag_info()),
            m.Action.START_TRANSACTION: lambda _r: m.StartTransactionResponse(
                id_tag_info=self._id_tag_info(), transaction_id=next(self._transaction_ids)
            ),
            m.Action.STOP_TRANSACTION: lambda _r: m.StopTransactionResponse(id_tag_info=self._id_tag_info()),
            m.Action.DATA_TRANSFER: lambda _r: m.DataTransferResponse(status=m.DataTransferStatus.ACCEPTED),
            m.Action.SIGN_CERTIFICATE: lambda r: self.certificates.on_sign_certificate(
                session.charge_point_id, session.rpc, r
            ),
        }
        handlers: dict[Any, Handler] = {}
        for action in m.CHARGE_POINT_INITIATED:
            answer = answers_16.get(action) or _empty_answer(action)
            handlers[action] = self._observed(session, action, self.policy.extra_handlers.get(action, answer))
        return handlers

    def _observed(self, session: Session, action: enum.StrEnum, handler: Handler) -> Handler:
        def observe(request: Message) -> Any:
            event = CsmsEvent(session.charge_point_id, action, request)
            if self.events.full():
                self.events.get_nowait()  # the oldest unread event makes room (a ring of max_events)
            self.events.put_nowait(event)
            if self.on_event is not None:
                self.on_event(event)
            return handler(request)

        return observe

    def _booted(self, session: Session) -> None:
        session.boots += 1

    def _boot(self, session: Session) -> m.BootNotificationResponse:
        self._booted(session)
        return m.BootNotificationResponse(
            status=self.policy.registration,
            current_time=self._clock.now(),
            interval=self.policy.heartbeat_interval,
        )

    def _id_tag_info(self) -> m.IdTagInfo:
        return m.IdTagInfo(status=self.policy.id_tag_status)


def _security_profile(connection: ServerConnection) -> int:
    """The profile a connection shows: a client certificate (verified, its CN checked) 3, TLS 2, Basic auth 1."""
    transport = connection.transport
    if transport.get_extra_info("ssl_object") is None:
        return 1 if connection.request is not None and "Authorization" in connection.request.headers else 0
    return 3 if transport.get_extra_info("peercert") else 2


def _empty_answer(action: m.Action) -> Callable[[Any], m.Message]:
    response_type = m.RESPONSES[action]
    return lambda _request: response_type()
