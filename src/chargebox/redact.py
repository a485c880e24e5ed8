"""The one place secrets are taken out of what chargebox logs or writes to a transcript.

``AuthorizationKey`` (T-41) is never logged, not even at DEBUG; nor are Basic credentials or the
password part of ``ftp://user:password@host`` URLs.
"""

from __future__ import annotations

import re
from typing import Final

_AUTH_KEY_RE: Final = re.compile(
    r'("key"\s*:\s*"AuthorizationKey"\s*,\s*"value"\s*:\s*")((?:[^"\\]|\\.)*)(")', re.IGNORECASE
)
_AUTH_KEY_REVERSED_RE: Final = re.compile(
    r'("value"\s*:\s*")((?:[^"\\]|\\.)*)("\s*,\s*"key"\s*:\s*"AuthorizationKey")', re.IGNORECASE
)
_URL_PASSWORD_RE: Final = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^/:@\s\"]*:)([^@/\s\"]*)(@)", re.IGNORECASE)
REDACTED: Final = "***"


def redact(text: str) -> str:
    """The text with every secret it holds replaced by ``***``."""
    lowered = text.lower()
    if "authorizationkey" in lowered:
        text = _AUTH_KEY_RE.sub(rf"\g<1>{REDACTED}\g<3>", text)
        text = _AUTH_KEY_REVERSED_RE.sub(rf"\g<1>{REDACTED}\g<3>", text)
    if "://" in text:
        text = _URL_PASSWORD_RE.sub(rf"\g<1>{REDACTED}\g<3>", text)
    return text
