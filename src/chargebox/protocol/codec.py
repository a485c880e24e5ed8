"""OCPP-J frames: CALL, CALLRESULT and CALLERROR to and from JSON text (checklist 1.2).

Decoding reads the frame head first and keeps the payload raw, so a CALL's payload is decoded
straight into its action's Struct and a CALLRESULT's once the call it answers is known.

Before any of that, a frame's size and nesting are checked without decoding it: msgspec (like
``json``) recurses once per level of nesting, so a 2 KB frame of 1,000 nested arrays would raise
RecursionError from deep inside the decoder and end the station. ``MAX_FRAME_SIZE`` and
``MAX_DEPTH`` keep such a frame from reaching it.
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

# Bytes in one frame unless the Connection is given another limit. The largest frames OCPP 1.6
# needs stay well under it: a full SendLocalList (SendLocalListMaxLength 250 entries of ~130
# bytes) is ~33 KB, a CertificateSigned chain at most 10,000 characters.
MAX_FRAME_SIZE: Final = 64 * 1024

# Levels of arrays and objects, the frame's own array counting as one. The deepest 1.6 frame,
# SetChargingProfile (frame, payload, csChargingProfiles, chargingSchedule, chargingSchedulePeriod,
# one period), nests 6 deep; 32 leaves room for vendor DataTransfer data and is far below the
# interpreter's recursion limit (1,000 frames, shared with whatever called the decoder).
MAX_DEPTH: Final = 32


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
_JSON_STRING_RE: Final = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_AS_SQUARE_BRACKETS: Final = bytes.maketrans(b"{}", b"[]")
_NOT_BRACKETS: Final = bytes(b for b in range(256) if b not in b"[]{}")


def decode_frame(data: str | bytes, *, max_size: int = MAX_FRAME_SIZE) -> RawFrame:
    """Split a frame into its parts; raise ``FrameError`` for anything that is not OCPP-J, or that
    is bigger than ``max_size`` bytes or nests deeper than ``MAX_DEPTH`` (then it is not decoded)."""
    plain = data.isascii()  # most frames: then length, encoding and UTF-8 are settled at C speed
    size = len(data) if plain or isinstance(data, bytes) else len(_utf8(data))
    if size > max_size:
        raise _refused_unread(data, f"frame of {size} bytes is over the limit of {max_size}")
    if nests_deeper(data, MAX_DEPTH):
        raise _refused_unread(data, f"frame nests deeper than {MAX_DEPTH} levels")
    if not plain and not _is_unicode(data):
        # JSON text is UTF-8 (RFC 8259 8.1); msgspec would raise UnicodeError, not DecodeError, from
        # a binary frame's invalid bytes or a str's lone surrogate, wherever they sit in the frame.
        raise _refused_unread(data, "frame is not valid UTF-8")
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


def nests_deeper(data: str | bytes, limit: int) -> bool:
    """Whether the JSON text's arrays and objects nest deeper than ``limit``, found without decoding
    it (brackets inside strings do not count), so that a decoder never has to recurse that far.

    Exact for well-formed JSON. For broken JSON (which no decoder accepts anyway) it errs only in
    the safe direction: what it lets through nests at most ``2 * limit`` deep.
    """
    if isinstance(data, str):
        if data.count("[") + data.count("{") <= limit:
            return False  # most frames: too few brackets to nest that deep, counted at C speed
        data = _utf8(data)
    elif data.count(b"[") + data.count(b"{") <= limit:
        return False
    brackets = _JSON_STRING_RE.sub(b"", data).translate(_AS_SQUARE_BRACKETS, _NOT_BRACKETS)
    # Each round takes away the innermost pairs, so after ``limit`` rounds a well-formed text is
    # empty unless it nests deeper. What no round can take away is unbalanced: ``]]]`` then ``[[[``,
    # and those unclosed openers nest too.
    for _ in range(limit):
        inner = brackets.replace(b"[]", b"")
        if inner == brackets:
            break
        brackets = inner
    return b"[]" in brackets or brackets.count(b"[") > limit


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


def _refused_unread(data: str | bytes, reason: str) -> FrameError:
    # Checklist 1.4: a frame we will not parse is, to us, unparsable JSON whose unique id may still
    # be read from its head, which the table answers with FormationViolation. Not ProtocolError:
    # that one says the payload is incomplete, and this frame may be complete, only too big or deep.
    message_id = _recover_call_id(data)
    code = CallErrorCode.FORMATION_VIOLATION if message_id else None
    return FrameError(code, reason, message_id=message_id, frame=data)


def _utf8(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")  # a lone surrogate must not raise here


def _is_unicode(data: str | bytes) -> bool:
    try:
        data.decode("utf-8") if isinstance(data, bytes) else data.encode("utf-8")
    except UnicodeError:
        return False
    return True


def _recover_call_id(data: str | bytes) -> str | None:
    """The unique id of a CALL whose JSON is broken after the id, so a CALLERROR can answer it.
    None as well when the id itself is not UTF-8: no CALLERROR could echo it."""
    match = _CALL_ID_RE.match(_utf8(data) if isinstance(data, str) else data)
    if match is None:
        return None
    try:
        return match.group(1).decode()
    except UnicodeDecodeError:
        return None
