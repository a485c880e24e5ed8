"""The asyncio side of an OCPP-J conversation: awaitable calls, handler dispatch, timeouts.

It drives a sans-I/O ``protocol.Connection`` with frames from a transport, as websockets' asyncio
layer drives its protocol. The receive path never awaits an outgoing CALL (T-21): a handler's answer
is written first, and its follow-up (``Reply.then``) runs after the CALLRESULT is out (T-23, C-27).
Both the charge point and the built-in central system use it, in the ``Dialect`` they are given (OCPP 1.6
unless told otherwise): ``Rpc(..., dialect=OCPP201)`` answers and calls 2.0.1's actions, and a bare ``Rpc`` in
a type hint is the 1.6 one.
"""

from __future__ import annotations

import asyncio
import enum
import inspect
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final, Generic, TypeVar

from chargebox.clock import Clock, TimerHandle
from chargebox.errors import ConnectionLost, RemoteProtocolError
from chargebox.log import Log
from chargebox.protocol.base import Message
from chargebox.protocol.codec import MAX_FRAME_SIZE, MessageType
from chargebox.protocol.connection import (
    CallErrorReceived,
    CallReceived,
    CallResultReceived,
    CallTimedOut,
    Connection,
    Event,
    FrameRejected,
    ResponseInvalid,
)
from chargebox.protocol.dialect import OCPP16, A, Dialect
from chargebox.protocol.errors import CallErrorCode
from chargebox.redact import redact
from chargebox.tasks import Tasks

frames_log = logging.getLogger("chargebox.frames")
EXCERPT: Final = 300  # characters of a rejected frame that a warning shows
R = TypeVar("R", bound=Message)


class SendOutcome(enum.Enum):
    """The seed's FIRMWARE_STATUS_NOTIFICATION_STATE_T, for every message we send."""

    SUCCESS = "SUCCESS"  # the frame was built and written; its answer is awaited
    FAILED = "FAILED"  # not sent: no connection, or not allowed now (B-2, B-5, B-6)
    RESPONSE_FAILED = "RESPONSE_FAILED"  # sent, no answer: timed out (T-22) or the connection dropped
    RESPONSE_ACCEPT_FAILED = "RESPONSE_ACCEPT_FAILED"  # answered by CALLERROR or an invalid payload
    RESPONSE_SUCCESS = "RESPONSE_SUCCESS"  # a valid CALLRESULT arrived


@dataclass(frozen=True, slots=True)
class SendResult(Generic[R]):
    """What became of one CALL we sent. ``response`` is set only for RESPONSE_SUCCESS."""

    outcome: SendOutcome
    response: R | None = None
    error_code: str | None = None
    error_description: str = ""

    @property
    def ok(self) -> bool:
        return self.outcome is SendOutcome.RESPONSE_SUCCESS


@dataclass(frozen=True, slots=True)
class Reply(Generic[R]):
    """A handler's answer, with the work to start once that answer is written (T-23)."""

    response: R
    then: Callable[[], Awaitable[None]] | None = None


HandlerResult = Message | Reply[Any]
Handler = Callable[[Any], HandlerResult | Awaitable[HandlerResult]]
Send = Callable[[bytes], Awaitable[None]]
# Applies an answer's effect the moment the answer is known: inside ``receive`` for a CALLRESULT,
# so before the next frame is handled (a RemoteStopTransaction right after StartTransaction.conf).
OnResult = Callable[[SendResult[Any]], None]
# Told each message in ("<") and out (">"): its type (None: a frame received that could not be used), its action
# ("" where the frame named none this side knows), a CALLERROR's code, and an answer to our CALL's round trip in
# seconds. What a control API's GET /metrics counts (metrics.py).
OnMessage = Callable[[str, MessageType | None, str, str | None, float | None], None]


class Rpc(Generic[A]):
    """Calls out, answers in, over whichever WebSocket is attached at the moment, in one OCPP version."""

    def __init__(
        self,
        *,
        clock: Clock,
        logger: Log,
        call_timeout: float = 30.0,
        name: str = "",
        dialect: Dialect[A] = OCPP16,  # type: ignore[assignment]  # the default dialect binds A to 1.6's Action
    ) -> None:
        self.dialect = dialect
        self.handlers: dict[A, Handler] = {}
        self.may_send: Callable[[A], bool] = lambda _action: True
        self.answering = True  # False while Rejected: CSMS calls are not answered (B-6)
        # B03.FR.08 (2.0.1): while the boot is Rejected every CSMS call is answered with this CALLERROR
        self.refusal: CallErrorCode | None = None
        self.call_timeout = call_timeout
        self.last_outcome: dict[A, SendOutcome] = {}
        self.last_sent_at = float("-inf")
        # Told each answered CALL's round trip in seconds and its outcome (a fleet's p50/p99); None costs nothing.
        self.on_round_trip: Callable[[float, SendOutcome], None] | None = None
        self.on_message: OnMessage | None = None  # None costs nothing
        self._clock = clock
        self._log = logger
        self._name = name
        self._frames = frames_log.isEnabledFor(logging.DEBUG)
        # (direction, redacted frame) for each frame in ("<") and out (">"): the dashboard's ring
        self.frame_listeners: list[Callable[[str, str], None]] = []
        self._conn: Connection[A] | None = None
        self._send: Send | None = None
        self._busy = False
        self._queue: deque[_Queued] = deque()
        self._pump: asyncio.Future[None] | None = None
        self._waiting: _Waiting[A] | None = None
        self._timer: TimerHandle | None = None
        self._timer_at = float("inf")
        self._tasks = Tasks(logger, "follow-up task")
        self._after_write: list[Callable[[], Awaitable[None]]] = []

    @property
    def connected(self) -> bool:
        return self._send is not None

    def attach(self, send: Send) -> None:
        """A WebSocket is open: frames go out through ``send`` from now on."""
        self._frames = frames_log.isEnabledFor(logging.DEBUG)
        self._conn = Connection(self.dialect, call_timeout=self.call_timeout, is_supported=self.handlers.__contains__)
        self._send = send

    def detach(self) -> None:
        """The WebSocket is gone: the outstanding CALL fails (RESPONSE_FAILED), answers are dropped
        (and the work that was to follow them)."""
        self._send = None
        self._after_write = []
        if self._conn is not None:
            self._conn.abandon()
        self._resolve(None)

    def reset(self) -> None:
        """Cancel every handler task this Rpc started and every queued CALL (seed: reset globals)."""
        self._tasks.cancel()
        while self._queue:
            self._queue.popleft().future.cancel()

    async def call(
        self, request: R | Message, *, timeout: float | None = None, on_result: OnResult | None = None
    ) -> SendResult[Any]:
        """Send a CALL and wait for its answer; one at a time per connection (T-20), in the order
        the calls were made (S-7). ``on_result`` runs as soon as the outcome is known, before any
        later frame is handled."""
        if self._busy or self._queue:
            return await self.submit(request, timeout=timeout, on_result=on_result)
        self._busy = True  # the fast path: nothing queued, the caller drives the exchange itself
        try:
            return await self._exchange(request, timeout, on_result)
        finally:
            self._busy = False
            self._kick()

    def submit(
        self, request: Message, *, timeout: float | None = None, on_result: OnResult | None = None
    ) -> asyncio.Future[SendResult[Any]]:
        """Queue a CALL now, without awaiting: its place in the order is taken at once."""
        future: asyncio.Future[SendResult[Any]] = asyncio.get_running_loop().create_future()
        self._queue.append(_Queued(request, timeout, on_result, future))
        self._kick()
        return future

    def _kick(self) -> None:
        if not self._busy and self._queue:
            self._busy = True
            self._pump = asyncio.ensure_future(self._drain_queue())

    async def _drain_queue(self) -> None:
        try:
            while self._queue:
                queued = self._queue.popleft()
                future = queued.future
                try:
                    result = await self._exchange(queued.request, queued.timeout, queued.on_result)
                except Exception as exc:  # a LocalProtocolError: the caller's bug, raised where it awaits
                    if not future.done():
                        future.set_exception(exc)
                    continue
                if not future.done():
                    future.set_result(result)
        finally:
            self._busy = False
            self._kick()

    async def _exchange(self, request: Message, timeout: float | None, on_result: OnResult | None) -> SendResult[Any]:
        action = self.dialect.action_of_request[type(request)]
        conn, send = self._conn, self._send
        if conn is None or send is None or not self.may_send(action):
            result = self._result(action, SendResult(SendOutcome.FAILED))
            self._apply(on_result, result)
            return result
        now = self._clock.monotonic()
        message_id = conn.send_call(request, now, timeout or self.call_timeout)
        self._tell(">", MessageType.CALL, action)
        future: asyncio.Future[SendResult[Any]] = asyncio.get_running_loop().create_future()
        self._waiting = _Waiting(message_id, action, on_result, future, now)
        self._arm(now + (timeout or self.call_timeout))
        self.last_sent_at = now
        self.last_outcome[action] = SendOutcome.SUCCESS
        await self._flush(conn, send)
        return await future

    async def receive(self, data: str | bytes) -> None:
        """Feed one WebSocket message. Never waits for an outgoing CALL."""
        conn = self._conn
        if conn is None:
            return
        if self._frames or self.frame_listeners:
            self._log_frame("<", data)
        for event in conn.receive(data, self._clock.monotonic()):
            if isinstance(event, CallReceived):
                self._tell("<", MessageType.CALL, event.action)
                self._dispatch(conn, event)
            elif isinstance(event, FrameRejected):
                self._log.warning("! %s: %s", event.reason, _excerpt(event.frame))
                self._tell("<", None, "")
                if event.reply is not None:  # the Connection answered it
                    self._tell(">", MessageType.CALL_ERROR, "", conn.dialect.errors.spell(event.reply))
            else:
                self._resolve(event)
        if self._send is not None and (conn.has_data_to_send() or self._after_write):  # an answer to ours: nothing
            await self._flush(conn, self._send)

    # -- internals ----------------------------------------------------------------------------

    def _dispatch(self, conn: Connection[A], event: CallReceived[A]) -> None:
        if not self.answering:
            conn.drop(event.message_id)  # B-6
            return
        if self.refusal is not None:
            self._send_error(conn, event, self.refusal, "not accepted by the central system yet")  # B03.FR.08
            return
        try:
            result = self.handlers[event.action](event.request)
        except RemoteProtocolError as exc:  # a request the schema allows but the station cannot (SC-4)
            self._send_error(conn, event, CallErrorCode(exc.code), exc.description)
            return
        except Exception as exc:
            self._internal_error(conn, event, exc)
            return
        if inspect.isawaitable(result):
            self._tasks.spawn(self._answer_later(conn, event, result))
        else:
            self._answer(conn, event, result)

    async def _answer_later(
        self, conn: Connection[A], event: CallReceived[A], pending: Awaitable[HandlerResult]
    ) -> None:
        try:
            result = await pending
        except RemoteProtocolError as exc:  # as in _dispatch: an awaited handler may refuse the request too
            self._send_error(conn, event, CallErrorCode(exc.code), exc.description)
        except Exception as exc:
            self._internal_error(conn, event, exc)
        else:
            self._answer(conn, event, result)
        if conn is self._conn and self._send is not None:
            await self._flush(conn, self._send)

    def _answer(self, conn: Connection[A], event: CallReceived[A], result: HandlerResult | None) -> None:
        if result is None:
            return
        reply = result if isinstance(result, Reply) else Reply(result)
        conn.send_result(event.message_id, reply.response)
        self._tell(">", MessageType.CALL_RESULT, event.action)
        if reply.then is not None:
            self._after_write.append(reply.then)  # started once the CALLRESULT is written (T-23)

    def _internal_error(self, conn: Connection[A], event: CallReceived[A], exc: Exception) -> None:
        self._log.error("! handler for %s failed", event.action, exc_info=exc)
        self._send_error(conn, event, CallErrorCode.INTERNAL_ERROR, f"{type(exc).__name__}")

    def _send_error(self, conn: Connection[A], event: CallReceived[A], code: CallErrorCode, description: str) -> None:
        conn.send_error(event.message_id, code, description)
        self._tell(">", MessageType.CALL_ERROR, event.action, conn.dialect.errors.spell(code))

    def _tell(
        self, direction: str, kind: MessageType | None, action: str, code: str | None = None, rtt: float | None = None
    ) -> None:
        if self.on_message is not None:
            self.on_message(direction, kind, action, code, rtt)

    async def _flush(self, conn: Connection[A], send: Send) -> None:
        # Taken together: every follow-up belongs to an answer in this batch of frames.
        frames, follow_ups = conn.data_to_send(), self._after_write
        self._after_write = []
        for data in frames:
            if self._frames or self.frame_listeners:
                self._log_frame(">", data)
            try:
                await send(data)
            except ConnectionLost:
                if conn is self._conn:
                    self.detach()
                return
        for then in follow_ups:
            self._tasks.spawn(then())

    def _arm(self, deadline: float) -> None:
        """One timer per Rpc, moved only when a call needs it sooner: a timer per call would cost
        more than the rest of the bookkeeping (bench/). A timer that fires early re-arms itself."""
        if deadline < self._timer_at:
            if self._timer is not None:
                self._timer.cancel()
            self._timer_at = deadline
            self._timer = self._clock.call_later(deadline - self._clock.monotonic(), self._expire)

    def _expire(self) -> None:
        self._timer, self._timer_at = None, float("inf")
        conn = self._conn
        if conn is None:
            return
        for event in conn.expire(self._clock.monotonic()):
            self._resolve(event)  # T-22
        deadline = conn.next_deadline()
        if deadline is not None:
            self._arm(deadline)

    def _resolve(self, event: Event[A] | None) -> None:
        waiting = self._waiting
        if waiting is None:
            return
        if event is not None and getattr(event, "message_id", None) != waiting.message_id:
            return
        self._waiting = None
        result = self._result(waiting.action, _outcome_of(event))
        seconds = self._clock.monotonic() - waiting.sent_at
        if self.on_round_trip is not None:
            self.on_round_trip(seconds, result.outcome)
        if isinstance(event, CallErrorReceived):
            self._tell("<", MessageType.CALL_ERROR, waiting.action, event.error_code, seconds)
        elif isinstance(event, _ANSWERED):
            self._tell("<", MessageType.CALL_RESULT, waiting.action, None, seconds)
        self._apply(waiting.on_result, result)
        if not waiting.future.done():
            waiting.future.set_result(result)

    def _apply(self, on_result: OnResult | None, result: SendResult[Any]) -> None:
        if on_result is None:
            return
        try:
            on_result(result)
        except Exception:  # the effect's bug: logged, and neither the frame nor the caller is lost
            self._log.exception("! applying the answer to a CALL failed")

    def _result(self, action: A, result: SendResult[Any]) -> SendResult[Any]:
        self.last_outcome[action] = result.outcome
        if result.outcome is SendOutcome.RESPONSE_ACCEPT_FAILED:
            self._log.warning("! %s answered with %s %s", action, result.error_code, result.error_description)
        return result

    def _log_frame(self, direction: str, data: str | bytes) -> None:
        text = redact(_text(data))
        for listener in self.frame_listeners:
            listener(direction, text)
        if not self._frames:
            return
        frames_log.debug(
            "%s %s %s",
            self._name,
            direction,
            text,
            extra={"cp": self._name, "direction": direction, "frame": text},
        )


_ANSWERED: Final = (CallResultReceived, ResponseInvalid)  # a tuple: isinstance of a union costs more (bench/)


@dataclass(slots=True)
class _Queued:
    request: Message
    timeout: float | None
    on_result: OnResult | None
    future: asyncio.Future[SendResult[Any]]


@dataclass(slots=True)
class _Waiting(Generic[A]):
    """The one outstanding CALL (T-20) and what to do with its answer."""

    message_id: str
    action: A
    on_result: OnResult | None
    future: asyncio.Future[SendResult[Any]]
    sent_at: float


def _outcome_of(event: Event[Any] | None) -> SendResult[Any]:
    if isinstance(event, CallResultReceived):
        return SendResult(SendOutcome.RESPONSE_SUCCESS, event.response)
    if isinstance(event, CallErrorReceived):
        return SendResult(SendOutcome.RESPONSE_ACCEPT_FAILED, None, event.error_code, event.description)
    if isinstance(event, ResponseInvalid):
        return SendResult(SendOutcome.RESPONSE_ACCEPT_FAILED, None, event.error.code, event.error.description)
    if isinstance(event, CallTimedOut):
        return SendResult(SendOutcome.RESPONSE_FAILED, None, None, "timed out")
    return SendResult(SendOutcome.RESPONSE_FAILED, None, None, "connection lost")


def _excerpt(frame: str | bytes) -> str:
    """A rejected frame as the log shows it: secrets out, at most EXCERPT characters, so a peer sending
    large bad frames cannot fill the log or the memory that keeps recent records."""
    if len(frame) > MAX_FRAME_SIZE:
        return f"<{len(frame)} bytes, over the frame limit>"
    text = redact(_text(frame))
    return text if len(text) <= EXCERPT else f"{text[:EXCERPT]}… ({len(text)} characters)"


def _text(data: str | bytes) -> str:
    return data if isinstance(data, str) else data.decode("utf-8", "replace")
