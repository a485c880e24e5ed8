"""Frame transcripts: every frame in and out as one JSON line (``--transcript FILE``).

The transcript is a logging handler on ``chargebox.frames``, so frames are formatted only when a
transcript or DEBUG logging asks for them, and secrets are already redacted by the Rpc layer.

A frame is written as JSON when it parses, else as a string: so is a frame that nests deeper than
``codec.MAX_DEPTH``, which ``json`` would parse by recursing until RecursionError.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path

from chargebox.errors import UserError
from chargebox.protocol.codec import MAX_DEPTH, nests_deeper


class _JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        frame = getattr(record, "frame", record.getMessage())
        return json.dumps(
            {
                "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
                "cp": getattr(record, "cp", ""),
                "dir": getattr(record, "direction", ""),
                "frame": _parsed(frame),
            },
            separators=(",", ":"),
        )


def open_transcript(path: Path) -> logging.Handler:
    """Start writing frames to ``path`` (appending); UserError if it cannot be opened."""
    try:
        handler = logging.FileHandler(path, encoding="utf-8")
    except OSError as exc:
        raise UserError(f"cannot write the transcript {path}: {exc.strerror or exc}") from exc
    handler.setFormatter(_JsonLines())
    handler.setLevel(logging.DEBUG)
    frames = logging.getLogger("chargebox.frames")
    frames.addHandler(handler)
    frames.setLevel(logging.DEBUG)
    return handler


def _parsed(frame: object) -> object:
    text = frame.decode("utf-8", "replace") if isinstance(frame, bytes) else str(frame)
    if nests_deeper(text, MAX_DEPTH):
        return text
    try:
        parsed: object = json.loads(text)
    except ValueError:
        return text
    return parsed
