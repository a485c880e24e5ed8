"""OCPP-J frames: CALL, CALLRESULT and CALLERROR to and from JSON text (checklist 1.2).

Decoding reads the frame head first and keeps the payload raw, so a CALL's payload is decoded
straight into its action's Struct and a CALLRESULT's once the call it answers is known.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from typing import Any, Final

import msgspec

from chargebox.errors import RemoteProtocolError
from chargebox.protocol.errors import CallErrorCode, code_for_validation_error
from chargebox.protocol.messages import Action, Message

MAX_MESSAGE_ID_LENGTH: Final = 36  # T-11


class MessageType(enum.IntEnum):
    CALL = 2
    CALL_RESULT = 3
    CALL_ERROR = 4


@dataclass(frozen=True, slots=True)
class RawCall:
    message_id: str
    action: str
    payload: msgspec.Raw


@dataclass(frozen=True, slots=True)
class RawCallResult:
    message_id: str
    payload: msgspec.Raw


@dataclass(frozen=True, slots=True)
class RawCallError:
    message_id: str
    error_code: str
    error_description: str
    error_details: dict[str, Any]


RawFrame = RawCall | RawCallResult | RawCallError


class FrameError(RemoteProtocolError):
    """A frame that is not OCPP-J. ``message_id`` is set when a CALLERROR can still answer it."""

    def __init__(
        self,
        code: CallErrorCode | None,
        description: str,
        *,
        message_id: str | None = None,
        frame: str | bytes | None = None,
    ) -> None:
        super().__init__(code or "Ignored", description, frame=frame)
        self.reply_code = code
        self.message_id = message_id


_head_decoder: Final = msgspec.json.Decoder(list[msgspec.Raw])
_int_decoder: Final = msgspec.json.Decoder(int)
_str_decoder: Final = msgspec.json.Decoder(str)
_details_decoder: Final = msgspec.json.Decoder(dict[str, Any])
_encoder: Final = msgspec.json.Encoder()
_CALL_ID_RE: Final = re.compile(rb'^\s*\[\s*2\s*,\s*"([^"\\]{1,36})"')


def decode_frame(data: str | bytes) -> RawFrame:
    """Split a frame into its parts; raise ``FrameError`` for anything that is not OCPP-J."""
    try:
        head = _head_decoder.decode(data)
    except msgspec.DecodeError as exc:
        raise FrameError(
            CallErrorCode.FORMATION_VIOLATION if (mid := _recover_call_id(data)) else None,
            f"not a JSON array: {exc}",
            message_id=mid,
            frame=data,
        ) from exc
    if not head:
        raise FrameError(None, "empty frame", frame=data)
    try:
        kind = _int_decoder.decode(head[0])
    except msgspec.DecodeError as exc:
        raise FrameError(None, "MessageTypeId is not an integer", frame=data) from exc
    if kind not in (2, 3, 4):
        raise FrameError(None, f"unknown MessageTypeId {kind}", frame=data)  # T-15: ignored
    if len(head) < 2:
        raise FrameError(None, "frame has no unique id", frame=data)
    try:
        message_id = _str_decoder.decode(head[1])
    except msgspec.DecodeError as exc:
        raise FrameError(None, "unique id is not a string", frame=data) from exc
    if kind == MessageType.CALL:
        return _call(head, message_id, data)
    if kind == MessageType.CALL_RESULT:
        if len(head) != 3:
            raise FrameError(None, f"CALLRESULT has {len(head)} elements, not 3", frame=data)
        return RawCallResult(message_id, head[2])
    if len(head) != 5:
        raise FrameError(None, f"CALLERROR has {len(head)} elements, not 5", frame=data)
    try:
        return RawCallError(
            message_id,
            _str_decoder.decode(head[2]),
            _str_decoder.decode(head[3]),
            _details_decoder.decode(head[4]),
        )
    except msgspec.DecodeError as exc:
        raise FrameError(None, f"malformed CALLERROR: {exc}", frame=data) from exc


def _call(head: list[msgspec.Raw], message_id: str, data: str | bytes) -> RawCall:
    if len(message_id) > MAX_MESSAGE_ID_LENGTH:
        raise FrameError(
            CallErrorCode.FORMATION_VIOLATION,
            f"unique id longer than {MAX_MESSAGE_ID_LENGTH} characters",
            message_id=message_id,
            frame=data,
        )
    if len(head) < 4:  # checklist 1.4: a frame too short is a ProtocolError
        raise FrameError(CallErrorCode.PROTOCOL_ERROR, "CALL has no payload", message_id=message_id, frame=data)
    if len(head) > 4:
        raise FrameError(
            CallErrorCode.FORMATION_VIOLATION,
            "CALL has more than 4 elements",
            message_id=message_id,
            frame=data,
        )
    try:
        action = _str_decoder.decode(head[2])
    except msgspec.DecodeError as exc:
        raise FrameError(
            CallErrorCode.FORMATION_VIOLATION, "Action is not a string", message_id=message_id, frame=data
        ) from exc
    return RawCall(message_id, action, head[3])


def decode_payload(raw: msgspec.Raw, kind: type[Message]) -> Message:
    """Decode and validate a payload; raise ``RemoteProtocolError`` with the code checklist 1.4 names."""
    try:
        message: Message = _decoder(kind).decode(raw)
        return message
    except msgspec.ValidationError as exc:
        raise RemoteProtocolError(code_for_validation_error(exc), str(exc)) from exc
    except msgspec.DecodeError as exc:  # cannot happen after the head parsed, kept for safety
        raise RemoteProtocolError(CallErrorCode.FORMATION_VIOLATION, str(exc)) from exc


def encode_call(message_id: str, action: Action, payload: Message | msgspec.Raw) -> bytes:
    return _encoder.encode((MessageType.CALL, message_id, action, payload))


def encode_call_result(message_id: str, payload: Message | msgspec.Raw) -> bytes:
    return _encoder.encode((MessageType.CALL_RESULT, message_id, payload))


def encode_call_error(
    message_id: str, code: str, description: str = "", details: dict[str, Any] | None = None
) -> bytes:
    # T-14: errorDescription is a string, errorDetails always an object
    return _encoder.encode((MessageType.CALL_ERROR, message_id, code, description, details or {}))


_decoders: dict[type[Message], msgspec.json.Decoder[Any]] = {}


def _decoder(kind: type[Message]) -> msgspec.json.Decoder[Any]:
    decoder = _decoders.get(kind)
    if decoder is None:
        decoder = _decoders[kind] = msgspec.json.Decoder(kind)
    return decoder


def _recover_call_id(data: str | bytes) -> str | None:
    """The unique id of a CALL whose JSON is broken after the id, so a CALLERROR can answer it."""
    match = _CALL_ID_RE.match(data.encode() if isinstance(data, str) else data)
    return match.group(1).decode() if match else None
