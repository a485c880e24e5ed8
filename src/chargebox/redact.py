"""The one place secrets are taken out of what chargebox logs or writes to a transcript.

``AuthorizationKey`` (T-41) is never logged, not even at DEBUG; nor are Basic credentials or the
password part of ``ftp://user:password@host`` URLs.

A frame is redacted after JSON decoding, by key and case-insensitively (G-1): the central system may
spell the key ``authorizationkey`` or hide it behind a JSON escape (``"Authorization\\u004bey"``),
and only the decoded text says which key it is. Text that is not JSON (a log line, a URL, an HTTP
header) falls back to patterns.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
from typing import Final

from websockets.frames import Frame, Opcode

from chargebox.protocol.codec import MAX_DEPTH, nests_deeper

REDACTED: Final = "***"
# Configuration keys whose values are secrets (lower case, G-1).
SECRET_KEYS: Final = frozenset({"authorizationkey"})

_AUTH_KEY_RE: Final = re.compile(
    r'("key"\s*:\s*"AuthorizationKey"\s*,\s*"value"\s*:\s*")((?:[^"\\]|\\.)*)(")', re.IGNORECASE
)
_AUTH_KEY_REVERSED_RE: Final = re.compile(
    r'("value"\s*:\s*")((?:[^"\\]|\\.)*)("\s*,\s*"key"\s*:\s*"AuthorizationKey")', re.IGNORECASE
)
_URL_PASSWORD_RE: Final = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^/:@\s\"]*:)([^@/\s\"]*)(@)", re.IGNORECASE)
_BASIC_RE: Final = re.compile(r"(\b(?:proxy-)?authorization\s*:\s*)(\S+\s+)?\S+", re.IGNORECASE)


def redact(text: str) -> str:
    """The text with every secret it holds replaced by ``***``."""
    # A frame is logged before the codec checks its nesting, and ``json`` recurses once per level:
    # 1,000 levels would raise RecursionError here and end the station. Patterns redact it instead.
    if text[:1] in ("[", "{") and not nests_deeper(text, MAX_DEPTH):
        try:
            decoded: object = json.loads(text)
        except ValueError:
            pass
        else:
            redacted, changed = _redact_value(decoded)
            return json.dumps(redacted, separators=(",", ":"), ensure_ascii=False) if changed else text
    return _redact_text(text)


class RedactingFilter(logging.Filter):
    """Redacts a record before any handler formats it: websockets logs every handshake header
    (``Authorization: Basic …``) and every frame at DEBUG, which ``-v`` turns on."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and any(isinstance(arg, Frame) for arg in record.args):
            # a frame's log line shows only its start and end, which may cut the key from its value
            record.args = tuple(_redact_frame(arg) if isinstance(arg, Frame) else arg for arg in record.args)
        message = record.getMessage()
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


def redact_logger(name: str) -> None:
    """Install ``RedactingFilter`` on the logger ``name`` (filters on a logger see only the records
    logged there, not those of its children, so each logger that may carry a secret needs one)."""
    logger = logging.getLogger(name)
    if not any(isinstance(f, RedactingFilter) for f in logger.filters):
        logger.addFilter(RedactingFilter())


def _redact_frame(frame: Frame) -> Frame:
    if frame.opcode not in (Opcode.TEXT, Opcode.BINARY, Opcode.CONT):
        return frame
    text = bytes(frame.data).decode("utf-8", "replace")
    redacted = redact(text)
    return frame if redacted == text else dataclasses.replace(frame, data=redacted.encode())


def _redact_value(value: object) -> tuple[object, bool]:
    if isinstance(value, str):
        redacted = _redact_text(value)
        return redacted, redacted != value
    if isinstance(value, list):
        items = [_redact_value(item) for item in value]
        return [item for item, _ in items], any(changed for _, changed in items)
    if isinstance(value, dict):
        result: dict[str, object] = {}
        changed = False
        secret_pair = isinstance(value.get("key"), str) and value["key"].lower() in SECRET_KEYS
        for name, item in value.items():
            if (secret_pair and name == "value") or (name.lower() in SECRET_KEYS and item is not None):
                result[name], changed = REDACTED, True  # {"key": K, "value": V} and {K: V} alike
                continue
            result[name], item_changed = _redact_value(item)
            changed = changed or item_changed
        return result, changed
    return value, False


def _redact_text(text: str) -> str:
    lowered = text.lower()
    if "authorizationkey" in lowered:
        text = _AUTH_KEY_RE.sub(rf"\g<1>{REDACTED}\g<3>", text)
        text = _AUTH_KEY_REVERSED_RE.sub(rf"\g<1>{REDACTED}\g<3>", text)
    if "://" in text:
        text = _URL_PASSWORD_RE.sub(rf"\g<1>{REDACTED}\g<3>", text)
    if "authorization" in lowered:
        text = _BASIC_RE.sub(rf"\g<1>\g<2>{REDACTED}", text)
    return text
