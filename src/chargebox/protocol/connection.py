"""One OCPP-J conversation, without I/O: text in, events out; typed calls in, text out.

Both sides use it (the charge point and the built-in central system). It correlates results with
calls, allows one outstanding CALL of its own (T-20; 2.0.1 Part 4 4.1.1) while still answering the
peer's (T-21), times calls out when told the time (T-22), and answers every unprocessable CALL with
the CALLERROR its version names (checklist 1.4; 2.0.1 Part 4 4.2.3, 4.3, 4.4). Nothing here raises
on bad input from the peer: it becomes an event.

It speaks the ``Dialect`` it is given, OCPP 1.6 by default: ``Connection()`` is 1.6,
``Connection(OCPP201)`` 2.0.1 (``chargebox.protocol.v201.dialect``). Events carry that dialect's
Action; a bare ``Connection`` or ``CallReceived`` in a type hint is the 1.6 one.

    conn.receive(text, now)   -> [CallReceived | CallResultReceived | CallErrorReceived
                                  | ResponseInvalid | FrameRejected]
    conn.send_call(request, now) / send_result(id, response) / send_error(id, code, ...)
    conn.data_to_send()       -> frames to write, in order
    conn.expire(now)          -> [CallTimedOut]
"""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Generic

import msgspec

from chargebox.errors import LocalProtocolError, RemoteProtocolError
from chargebox.protocol import codec
from chargebox.protocol.base import Message
from chargebox.protocol.dialect import OCPP16, A, Dialect
from chargebox.protocol.errors import CallErrorCode
from chargebox.protocol.messages import Action

ACTION_OF_REQUEST: Final[Mapping[type[Message], Action]] = OCPP16.action_of_request
"""The 1.6 action of each request Struct; a dialect's own is ``Dialect.action_of_request``."""


@dataclass(frozen=True, slots=True)
class CallReceived(Generic[A]):
    message_id: str
    action: A
    request: Message


@dataclass(frozen=True, slots=True)
class CallResultReceived(Generic[A]):
    message_id: str
    action: A
    response: Message


@dataclass(frozen=True, slots=True)
class CallErrorReceived(Generic[A]):
    message_id: str
    action: A
    error_code: str
    description: str
    details: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ResponseInvalid(Generic[A]):
    """A CALLRESULT to our call whose payload breaks the schema: the call failed (seed: NOT_OK)."""

    message_id: str
    action: A
    error: RemoteProtocolError


@dataclass(frozen=True, slots=True)
class CallTimedOut(Generic[A]):
    message_id: str
    action: A


@dataclass(frozen=True, slots=True)
class FrameRejected:
    """A frame that could not be used. ``reply`` is the CALLERROR code queued in answer, if any."""

    frame: str | bytes
    reason: str
    reply: CallErrorCode | None


Event = (
    CallReceived[A]
    | CallResultReceived[A]
    | CallErrorReceived[A]
    | ResponseInvalid[A]
    | CallTimedOut[A]
    | FrameRejected
)


@dataclass(slots=True)
class PendingCall(Generic[A]):
    message_id: str
    action: A
    request: Message
    deadline: float


@dataclass(slots=True)
class Connection(Generic[A]):
    """The state of one OCPP-J conversation in one ``dialect`` (OCPP 1.6 unless told otherwise).

    ``is_supported`` tells known actions this side answers from known ones it does not
    (NotSupported rather than NotImplemented, checklist 1.4). ``max_frame_size`` bounds, in bytes,
    what a frame may be before it is decoded (``codec.MAX_FRAME_SIZE``, 64 KiB, by default).
    """

    dialect: Dialect[A] = OCPP16  # type: ignore[assignment]  # the default dialect binds A to 1.6's Action
    call_timeout: float = 30.0
    is_supported: Callable[[A], bool] = lambda _action: True
    max_frame_size: int = codec.MAX_FRAME_SIZE
    _pending: PendingCall[A] | None = None
    _in_progress: set[str] = field(default_factory=set)
    _out: list[bytes] = field(default_factory=list)
    _ids: Callable[[], str] = field(default_factory=lambda: _id_source())

    @property
    def pending(self) -> PendingCall[A] | None:
        """Our outstanding CALL, if any (T-20)."""
        return self._pending

    def next_deadline(self) -> float | None:
        return self._pending.deadline if self._pending else None

    # -- sending ------------------------------------------------------------------------------

    def send_call(self, request: Message, now: float, timeout: float | None = None) -> str:
        """Queue a CALL. Raise ``LocalProtocolError`` if one is outstanding or the payload is invalid."""
        if self._pending is not None:
            raise LocalProtocolError(f"T-20: {self._pending.action} {self._pending.message_id} still pending")
        action = self.dialect.action_of_request.get(type(request))
        if action is None:
            raise LocalProtocolError(f"{type(request).__name__} is not an OCPP {self.dialect.version} request")
        message_id = self._ids()
        payload = _validated(request, self.dialect)
        self._out.append(codec.encode_call(message_id, action, payload))
        self._pending = PendingCall(message_id, action, request, now + (timeout or self.call_timeout))
        return message_id

    def send_result(self, message_id: str, response: Message) -> None:
        self._in_progress.discard(message_id)
        self._out.append(codec.encode_call_result(message_id, _validated(response, self.dialect)))

    def send_error(
        self,
        message_id: str,
        code: CallErrorCode,
        description: str = "",
        details: dict[str, Any] | None = None,
    ) -> None:
        """Queue a CALLERROR. ``code`` may be named in either version's words (FormationViolation or
        FormatViolation); it is written in this dialect's. Raise ``LocalProtocolError`` for a code the
        version does not have (RpcFrameworkError in 1.6)."""
        errors = self.dialect.errors
        code = errors.spell(code)
        if code not in errors.codes:
            raise LocalProtocolError(f"{code} is not an OCPP {errors.version} CALLERROR code")
        if errors.description_limit is not None:
            description = description[: errors.description_limit]  # 2.0.1 Part 4 Table 7: string[255]
        self._in_progress.discard(message_id)
        self._out.append(codec.encode_call_error(message_id, code, description, details))

    def drop(self, message_id: str) -> None:
        """Leave a received CALL unanswered on purpose (B-6: a Rejected charge point stays silent)."""
        self._in_progress.discard(message_id)

    def has_data_to_send(self) -> bool:
        return bool(self._out)

    def data_to_send(self) -> list[bytes]:
        out, self._out = self._out, []
        return out

    # -- receiving ----------------------------------------------------------------------------

    def receive(self, data: str | bytes, now: float) -> list[Event[A]]:
        try:
            frame = codec.decode_frame(data, max_size=self.max_frame_size, errors=self.dialect.errors)
        except codec.FrameError as exc:
            if exc.reply_code is not None and exc.message_id is not None:
                self.send_error(exc.message_id, exc.reply_code, exc.description)
            return [FrameRejected(data, exc.description, exc.reply_code if exc.message_id else None)]
        if isinstance(frame, codec.RawCall):
            return [self._receive_call(frame, data)]
        return self._receive_answer(frame, data, now)

    def expire(self, now: float) -> list[Event[A]]:
        """Time the outstanding CALL out if its deadline passed (T-22)."""
        if self._pending is None or now < self._pending.deadline:
            return []
        pending, self._pending = self._pending, None
        return [CallTimedOut(pending.message_id, pending.action)]

    def abandon(self) -> PendingCall[A] | None:
        """The connection is gone: forget the outstanding CALL and the calls being answered."""
        pending, self._pending = self._pending, None
        self._in_progress.clear()
        return pending

    def _receive_call(self, frame: codec.RawCall, data: str | bytes) -> Event[A]:
        def reject(code: CallErrorCode, reason: str) -> FrameRejected:
            self.send_error(frame.message_id, code, reason)
            return FrameRejected(data, reason, code)

        if frame.message_id in self._in_progress:
            # Checklist 1.4; the CALL being processed keeps its id (send_error would release it), so
            # its answer stays the only CALLRESULT with that id.
            reason = "a CALL with this unique id is still being processed"
            self._out.append(codec.encode_call_error(frame.message_id, CallErrorCode.GENERIC_ERROR, reason))
            return FrameRejected(data, reason, CallErrorCode.GENERIC_ERROR)
        action = self.dialect.actions_by_name.get(frame.action)
        if action is None:
            return reject(CallErrorCode.NOT_IMPLEMENTED, f"unknown action {frame.action!r}")
        if not self.is_supported(action):
            return reject(CallErrorCode.NOT_SUPPORTED, f"{action} is not supported")
        try:
            request = codec.decode_payload(frame.payload, self.dialect.requests[action], self.dialect.errors)
        except RemoteProtocolError as exc:
            return reject(CallErrorCode(exc.code), exc.description)
        self._in_progress.add(frame.message_id)
        return CallReceived(frame.message_id, action, request)

    def _receive_answer(
        self, frame: codec.RawCallResult | codec.RawCallError, data: str | bytes, now: float
    ) -> list[Event[A]]:
        pending = self._pending
        if pending is None or pending.message_id != frame.message_id:
            return [FrameRejected(data, "answer to no outstanding CALL (T-15)", None)]
        self._pending = None
        if isinstance(frame, codec.RawCallError):
            return [
                CallErrorReceived(
                    frame.message_id,
                    pending.action,
                    frame.error_code,
                    frame.error_description,
                    frame.error_details,
                )
            ]
        try:
            response = codec.decode_payload(frame.payload, self.dialect.responses[pending.action], self.dialect.errors)
        except RemoteProtocolError as exc:
            exc.frame = data
            return [ResponseInvalid(frame.message_id, pending.action, exc)]
        return [CallResultReceived(frame.message_id, pending.action, response)]


def _validated(payload: Message, dialect: Dialect[Any]) -> msgspec.Raw:
    """Encode a payload and check it against its own schema: an invalid one is our bug."""
    encoded = msgspec.json.encode(payload)
    try:
        codec.decode_payload(msgspec.Raw(encoded), type(payload), dialect.errors)
    except RemoteProtocolError as exc:
        raise LocalProtocolError(f"invalid {type(payload).__name__}: {exc.description}") from exc
    return msgspec.Raw(encoded)


def _id_source() -> Callable[[], str]:
    """Unique ids for one connection (T-11): a random prefix and a counter, well under 36 chars."""
    prefix = secrets.token_hex(4)
    counter = itertools.count(1)
    return lambda: f"{prefix}-{next(counter)}"
