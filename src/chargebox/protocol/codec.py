"""OCPP-J frames: CALL, CALLRESULT and CALLERROR to and from JSON text (checklist 1.2; 2.0.1 Part 4 section 4).

Decoding reads the frame head first and keeps the payload raw, so a CALL's payload is decoded
straight into its action's Struct and a CALLRESULT's once the call it answers is known. The frame
layout is the same in 1.6 and 2.0.1; what a broken frame is answered with is not, so decoding takes
the version's ``CallErrors`` (1.6's by default): 2.0.1 answers an unknown MessageTypeId with
MessageTypeNotSupported (Part 4 4.4) and a frame whose unique id cannot be read with RpcFrameworkError
and the id "-1" (4.2.3), where 1.6 ignores both (T-15).

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
from chargebox.protocol.base import Message
from chargebox.protocol.errors import OCPP16_CALL_ERRORS, CallErrorCode, CallErrors, code_for_validation_error

MAX_MESSAGE_ID_LENGTH: Final = 36  # T-11; 2.0.1 Part 4 4.1.4, Table 4: string[36]
UNREADABLE_MESSAGE_ID: Final = "-1"  # 2.0.1 Part 4 4.2.3: the id of a CALLERROR whose CALL's id is unreadable

# Bytes in one frame unless the Connection is given another limit. The largest frames OCPP 1.6
# needs stay well under it: a full SendLocalList (SendLocalListMaxLength 250 entries of ~130
# bytes) is ~33 KB, a CertificateSigned chain at most 10,000 characters. Every 2.0.1 message with
# each string at its maximum length and one item in each list fits in 11 KB (the widest,
# CertificateSigned, is 10.4 KB; tests/protocol/test_codec_v201.py builds them all). What 2.0.1
# leaves unbounded is the number of items (SetVariables, GetVariables, SendLocalList; up to 3 x 1,024
# charging schedule periods), bounded in turn by what the station announces in its device model
# (DeviceDataCtrlr.BytesPerMessage and ItemsPerMessage, SmartChargingCtrlr.PeriodsPerSchedule): this
# limit is the BytesPerMessage to announce. A frame over it is refused with FormatViolation, as
# B08.FR.18 lets a station answer a GetReport over BytesPerMessage.
MAX_FRAME_SIZE: Final = 64 * 1024

# Levels of arrays and objects, the frame's own array counting as one. The deepest 1.6 frame,
# SetChargingProfile (frame, payload, csChargingProfiles, chargingSchedule, chargingSchedulePeriod,
# one period), nests 6 deep. The deepest 2.0.1 frames, customData at the bottom included, nest 13
# (SetChargingProfile, RequestStartTransaction: ... chargingSchedule, salesTariff, salesTariffEntry,
# consumptionCost, cost) and 14 (ReportChargingProfiles) deep; tests/protocol/test_codec_v201.py
# measures every schema. 32 leaves room for vendor data (DataTransfer data, the properties of
# customData) and is far below the interpreter's recursion limit (1,000 frames, shared with
# whatever called the decoder).
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
_ANSWER_HEAD_RE: Final = re.compile(rb"^\s*\[\s*[34]\s*[,\]]")
_JSON_STRING_RE: Final = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_AS_SQUARE_BRACKETS: Final = bytes.maketrans(b"{}", b"[]")
_NOT_BRACKETS: Final = bytes(b for b in range(256) if b not in b"[]{}")


def decode_frame(
    data: str | bytes, *, max_size: int = MAX_FRAME_SIZE, errors: CallErrors = OCPP16_CALL_ERRORS
) -> RawFrame:
    """Split a frame into its parts; raise ``FrameError`` for anything that is not OCPP-J, or that
    is bigger than ``max_size`` bytes or nests deeper than ``MAX_DEPTH`` (then it is not decoded).
    ``errors`` decides which CALLERROR, if any, answers a broken frame."""
    plain = data.isascii()  # most frames: then length, encoding and UTF-8 are settled at C speed
    size = len(data) if plain or isinstance(data, bytes) else len(_utf8(data))
    if size > max_size:
        raise _refused_unread(data, f"frame of {size} bytes is over the limit of {max_size}", errors)
    if nests_deeper(data, MAX_DEPTH):
        raise _refused_unread(data, f"frame nests deeper than {MAX_DEPTH} levels", errors)
    if not plain and not _is_unicode(data):
        # JSON text is UTF-8 (RFC 8259 8.1); msgspec would raise UnicodeError, not DecodeError, from
        # a binary frame's invalid bytes or a str's lone surrogate, wherever they sit in the frame.
        raise _refused_unread(data, "frame is not valid UTF-8", errors)
    try:
        head = _head_decoder.decode(data)
    except msgspec.DecodeError as exc:
        raise _refused_unread(data, f"not a JSON array: {exc}", errors) from exc
    if not head:
        raise _unreadable(data, "empty frame", errors)
    try:
        kind = _int_decoder.decode(head[0])
    except msgspec.DecodeError as exc:
        raise _unreadable(data, "MessageTypeId is not an integer", errors, _message_id(head)) from exc
    if kind not in (2, 3, 4):
        # 1.6 T-15: ignored; 2.0.1 Part 4 4.4: MessageTypeNotSupported (4.1.3: the payload is not read)
        code = errors.unknown_message_type
        message_id = (_message_id(head) or UNREADABLE_MESSAGE_ID) if code else None
        raise FrameError(code, f"unknown MessageTypeId {kind}", message_id=message_id, frame=data)
    try:
        message_id = _str_decoder.decode(head[1])
    except (IndexError, msgspec.DecodeError) as exc:
        reason = "frame has no unique id" if len(head) < 2 else "unique id is not a string"
        if kind == MessageType.CALL:
            raise _unreadable(data, reason, errors) from exc
        raise FrameError(None, reason, frame=data) from exc  # T-15: an answer is never answered
    if kind == MessageType.CALL:
        return _call(head, message_id, data, errors)
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


def _call(head: list[msgspec.Raw], message_id: str, data: str | bytes, errors: CallErrors) -> RawCall:
    if len(message_id) > MAX_MESSAGE_ID_LENGTH:
        raise FrameError(
            errors.malformed_call,
            f"unique id longer than {MAX_MESSAGE_ID_LENGTH} characters",
            message_id=message_id,
            frame=data,
        )
    if len(head) < 4:  # checklist 1.4: a frame too short is a ProtocolError
        raise FrameError(errors.incomplete_call, "CALL has no payload", message_id=message_id, frame=data)
    if len(head) > 4:
        raise FrameError(errors.malformed_call, "CALL has more than 4 elements", message_id=message_id, frame=data)
    try:
        action = _str_decoder.decode(head[2])
    except msgspec.DecodeError as exc:
        raise FrameError(errors.malformed_call, "Action is not a string", message_id=message_id, frame=data) from exc
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


def decode_payload(raw: msgspec.Raw, kind: type[Message], errors: CallErrors = OCPP16_CALL_ERRORS) -> Message:
    """Decode and validate a payload; raise ``RemoteProtocolError`` with the code its version names for the
    failure (checklist 1.4; 2.0.1 Part 4 4.3), spelt by ``errors``."""
    try:
        message: Message = _decoder(kind).decode(raw)
        return message
    except msgspec.ValidationError as exc:
        raise RemoteProtocolError(code_for_validation_error(exc, errors), str(exc)) from exc
    except msgspec.DecodeError as exc:  # cannot happen after the head parsed, kept for safety
        raise RemoteProtocolError(errors.spell(CallErrorCode.FORMATION_VIOLATION), str(exc)) from exc


def encode_call(message_id: str, action: str, payload: Message | msgspec.Raw) -> bytes:
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


def _refused_unread(data: str | bytes, reason: str, errors: CallErrors) -> FrameError:
    # Checklist 1.4: a frame we will not parse is, to us, unparsable JSON whose unique id may still
    # be read from its head, which the table answers with FormationViolation (2.0.1: FormatViolation,
    # as B08.FR.18 answers a frame over BytesPerMessage). Not ProtocolError: that one says the payload
    # is incomplete, and this frame may be complete, only too big or deep. An answer (a CALLRESULT or
    # CALLERROR head) is never answered; anything else is unreadable.
    message_id = _recover_call_id(data)
    if message_id is not None:
        return FrameError(errors.spell(CallErrorCode.FORMATION_VIOLATION), reason, message_id=message_id, frame=data)
    if _ANSWER_HEAD_RE.match(_utf8(data) if isinstance(data, str) else data):
        return FrameError(None, reason, frame=data)
    return _unreadable(data, reason, errors)


def _unreadable(data: str | bytes, reason: str, errors: CallErrors, message_id: str | None = None) -> FrameError:
    """A frame that is no RPC message: ignored in 1.6 (T-15); in 2.0.1 answered with RpcFrameworkError, under
    its unique id if one could be read, else "-1" (Part 4 4.2.3)."""
    code = errors.unreadable_frame
    return FrameError(code, reason, message_id=(message_id or UNREADABLE_MESSAGE_ID) if code else None, frame=data)


def _message_id(head: list[msgspec.Raw]) -> str | None:
    """The frame's unique id, if its second element is a string."""
    if len(head) < 2:
        return None
    try:
        message_id: str = _str_decoder.decode(head[1])
    except msgspec.DecodeError:
        return None
    return message_id


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
