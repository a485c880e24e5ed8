"""What stations upload to the central system (GetDiagnostics, GetLog: ``PUT /uploads/{name}``, ``POST /uploads/``),
bounded in count and size, in memory or under ``csms --files DIR`` (in ``DIR/uploads/``).

On disk an upload is streamed to a hidden partial file (0600: a diagnostics archive holds the station's log) and
renamed into place once whole, so a listing never shows half a file and one over ``MAX_UPLOAD_BYTES`` leaves
nothing behind; past ``MAX_UPLOADS`` the oldest is deleted. Uploads already in the directory when the central
system starts are listed (the newest ``MAX_UPLOADS``). ``DIR/uploads/`` is not served at ``/files/``: reading an
upload back needs the control API's token (``GET /api/uploads/{name}``).

A station names its file (D-2); only a plain file name is kept (``UPLOAD_NAME``: no path, no markup, no control
character, no leading dot), so no name reaches outside the directory or forges a log line.
"""

from __future__ import annotations

import os
import re
import tempfile
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

MAX_UPLOADS: Final = 10
MAX_UPLOAD_BYTES: Final = 16 * 1024 * 1024
UPLOAD_NAME: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")
PARTIAL_PREFIX: Final = ".partial-"


class UploadTooLarge(Exception):
    """An upload passed ``MAX_UPLOAD_BYTES`` (``limit``); nothing of it is kept."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"an upload is at most {limit} bytes")
        self.limit = limit


@dataclass(frozen=True, slots=True)
class Upload:
    name: str
    size: int
    time: float  # when it was received (seconds since the epoch)
    data: bytes | None = None  # in memory; None when it is a file of ``directory``


class Uploads:
    """The last ``MAX_UPLOADS`` uploads, newest last; in ``directory`` when given, else in memory."""

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory
        self.files: OrderedDict[str, Upload] = OrderedDict()
        self.listeners: list[Callable[[], None]] = []  # told of each new upload
        if directory is not None:
            directory.mkdir(mode=0o700, exist_ok=True)
            found = [p for p in directory.iterdir() if p.is_file() and UPLOAD_NAME.fullmatch(p.name)]
            for path in sorted(found, key=lambda p: p.stat().st_mtime)[-MAX_UPLOADS:]:
                stat = path.stat()
                self.files[path.name] = Upload(path.name, stat.st_size, stat.st_mtime)

    async def receive(self, name: str, chunks: AsyncIterator[bytes]) -> Upload:
        """Keep the upload named ``name`` (checked by the caller against ``UPLOAD_NAME``), read from ``chunks``.

        Raises:
            UploadTooLarge: past ``MAX_UPLOAD_BYTES`` (nothing is kept).
        """
        if self.directory is None:
            data = bytearray()
            async for chunk in chunks:
                data += chunk
                if len(data) > MAX_UPLOAD_BYTES:
                    raise UploadTooLarge(MAX_UPLOAD_BYTES)
            upload = Upload(name, len(data), time.time(), bytes(data))
        else:
            upload = await self._write(name, chunks)
        self._keep(upload)
        return upload

    def path_of(self, upload: Upload) -> Path:
        assert self.directory is not None
        return self.directory / upload.name

    def _keep(self, upload: Upload) -> None:
        self.files.pop(upload.name, None)
        self.files[upload.name] = upload
        while len(self.files) > MAX_UPLOADS:
            _name, oldest = self.files.popitem(last=False)
            if self.directory is not None:
                self.path_of(oldest).unlink(missing_ok=True)
        for listener in self.listeners:
            listener()

    async def _write(self, name: str, chunks: AsyncIterator[bytes]) -> Upload:
        assert self.directory is not None
        fd, partial_name = tempfile.mkstemp(prefix=PARTIAL_PREFIX, dir=self.directory)  # 0600, its own name
        partial = Path(partial_name)
        size = 0
        try:
            with os.fdopen(fd, "wb") as file:
                async for chunk in chunks:
                    size += len(chunk)
                    if size > MAX_UPLOAD_BYTES:
                        raise UploadTooLarge(MAX_UPLOAD_BYTES)
                    file.write(chunk)
            os.replace(partial, self.directory / name)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        return Upload(name, size, time.time())
