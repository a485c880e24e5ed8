"""Uploads of a file the central system asks for, and the diagnostics archive, for both OCPP versions.

GetDiagnostics (1.6, checklist 4.2) and GetLog (the whitepaper's and 2.0.1's N01) run on the job engine
(``jobs.py``) with the one step ``FileUpload``: the file built (again, if a reboot lost it), uploaded through the
transfer in attempts ``retryInterval`` apart, then the end status. The archive (a zip, written into the transfer
workspace) holds ``manifest.json``, ``log.txt`` (the station's log records between startTime and stopTime, from
``LOG_RING``), ``transcript.jsonl`` (the frames of ``--transcript`` in the window, when a transcript is written),
``configuration.json`` (the version's configuration, secrets redacted: the version lists it) and ``state.json``.
"""

from __future__ import annotations

import asyncio
import collections
import enum
import json
import logging
import re
import zipfile
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO, Final, Generic

from chargebox.clock import Clock
from chargebox.errors import TransferError
from chargebox.redact import redact
from chargebox.station.kernel.jobs import After, Job, S
from chargebox.station.kernel.kernel import Kernel
from chargebox.store import Store
from chargebox.transfer import Transfer, Workspace, write_durably

_UNSAFE_NAME_RE: Final = re.compile(r"[^A-Za-z0-9._-]+")
# An upload the server refused for our credentials (HTTP 401/403, FTP 530): LG-3's PermissionDenied.
_DENIED_RE: Final = re.compile(r"\b(401|403|530)\b|permission|denied|login", re.IGNORECASE)


class Stage(enum.StrEnum):
    """The stages of an upload job (GetDiagnostics, GetLog)."""

    IDLE = "idle"
    UPLOADING = "uploading"


def safe_name(text: str, limit: int) -> str:
    """``text`` (a charge point id) fit for a file name: what is not a letter, digit, dot or dash becomes ``_``."""
    return _UNSAFE_NAME_RE.sub("_", text)[:limit]


class FileUpload(Generic[S]):
    """The step GetDiagnostics and GetLog share: their file (built again if a reboot lost it) uploaded in attempts
    ``retryInterval`` apart, then the end status; and dropping an upload a new request replaces. They differ in the
    file they build and in their status names, not in these."""

    def __init__(self, *, job: Job[S, Any], workspace: Workspace, transfer: Callable[[], Transfer]) -> None:
        """``transfer()`` is the service's transfer at the time (a public attribute, which may be swapped)."""
        self._job = job
        self._workspace = workspace
        self._transfer = transfer

    async def run(
        self,
        file_name: str,
        location: str,
        build: Callable[[Path], Awaitable[None]],
        *,
        uploading: S,
        uploaded: S,
        failed: S,
        denied: S | None = None,
    ) -> After:
        """D-2, D-3, LG-1, LG-3: ``uploading`` as the attempts start, then ``uploaded``, or after the last attempt
        ``failed`` (``denied`` instead, where given, when the server refused our credentials)."""
        path = self._workspace.file(file_name)
        if not path.exists():
            await build(path)
        refused = False

        async def upload() -> None:
            nonlocal refused
            try:
                await self._transfer().upload(path, location, file_name)
            except TransferError as exc:
                refused = bool(_DENIED_RE.search(str(exc)))
                raise

        done = await self._job.attempt("upload", upload, announce=uploading)
        path.unlink(missing_ok=True)
        status = uploaded if done else denied if denied is not None and refused else failed
        await self._job.enter(status, stage=Stage.IDLE)
        return After.NEXT

    def abandon(self, file_name: str | None) -> None:
        """A new request replaces the upload under way: its task stops and its file goes."""
        self._job.reset()
        if file_name:
            self._workspace.file(file_name).unlink(missing_ok=True)


@dataclass(frozen=True, slots=True)
class Window:
    """GetDiagnostics startTime / stopTime: the oldest and latest log entries to include (D-2)."""

    start: datetime | None = None
    stop: datetime | None = None

    def __contains__(self, moment: datetime) -> bool:
        return (self.start is None or moment >= self.start) and (self.stop is None or moment <= self.stop)


class LogRing(logging.Handler):
    """The recent log records of every station in this process, for the archive's ``log.txt``.

    One handler on the ``chargebox`` logger for the whole process (a fleet must not pay one handler per
    station per record), keeping the newest records that carry a charge point id: at most ``capacity``
    of them and ``max_bytes`` of text (a line is cut at ``max_line``), so a central system flooding the
    station with rejected frames cannot grow its memory. A record is stamped with its station's clock, so
    windows work in virtual time as in real time. It holds what the logging configuration lets through
    (INFO and up under the CLI; frames too with ``-v``).
    """

    def __init__(self, capacity: int = 50_000, max_bytes: int = 8 * 1024 * 1024, max_line: int = 2_000) -> None:
        super().__init__()
        self._records: collections.deque[tuple[str, datetime, str]] = collections.deque()
        self._clocks: dict[str, Clock] = {}
        self.capacity, self.max_bytes, self.max_line = capacity, max_bytes, max_line
        self._bytes = 0

    def attach(self, charge_point_id: str, clock: Clock) -> None:
        self._clocks[charge_point_id] = clock
        logger = logging.getLogger("chargebox")
        if self not in logger.handlers:
            logger.addHandler(self)

    def emit(self, record: logging.LogRecord) -> None:
        """Never raises (logging must not fail the code that logs): a record it cannot keep goes to
        ``handleError``, as every ``logging`` handler does."""
        try:
            self._keep(record)
        except Exception:
            self.handleError(record)

    def _keep(self, record: logging.LogRecord) -> None:
        cp = getattr(record, "cp", None)
        clock = self._clocks.get(cp) if isinstance(cp, str) else None
        if clock is None or not isinstance(cp, str):
            return
        try:
            line = f"{record.levelname} {record.name} {record.getMessage()}"
        except Exception:  # a bad format string must not break logging
            line = f"{record.levelname} {record.name} {record.msg!r}"
        line = line[: self.max_line]
        self._records.append((cp, clock.now(), line))
        self._bytes += len(line)
        while len(self._records) > self.capacity or self._bytes > self.max_bytes:
            self._bytes -= len(self._records.popleft()[2])

    def lines(self, charge_point_id: str, window: Window) -> list[str]:
        return [
            f"{when.isoformat()} {redact(line)}"
            for cp, when, line in list(self._records)
            if cp == charge_point_id and when in window
        ]


LOG_RING: Final = LogRing()


@dataclass(frozen=True, slots=True)
class ArchiveContents:
    """What goes into the archive, gathered on the event loop (quick), written in a thread (slow)."""

    charge_point_id: str
    created_at: datetime
    window: Window
    log_lines: list[str]
    transcripts: list[Path]
    configuration: list[dict[str, Any]]
    state: dict[str, Any]


def build_archive(path: Path, contents: ArchiveContents) -> None:
    """Write the diagnostics zip (blocking: run it in a thread). Written whole or not at all."""

    def write(file: BinaryIO) -> None:
        with zipfile.ZipFile(file, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            window = contents.window
            manifest = {
                "chargePointId": contents.charge_point_id,
                "createdAt": contents.created_at.isoformat(),
                "startTime": window.start.isoformat() if window.start else None,
                "stopTime": window.stop.isoformat() if window.stop else None,
                "files": ["log.txt", "transcript.jsonl", "configuration.json", "state.json"],
            }
            archive.writestr("manifest.json", json.dumps(manifest, indent=2))
            archive.writestr("log.txt", "".join(line + "\n" for line in contents.log_lines))
            frames = _transcript_lines(contents.transcripts, contents.charge_point_id, window)
            archive.writestr("transcript.jsonl", "".join(frames))
            archive.writestr("configuration.json", redact(json.dumps(contents.configuration, indent=2)))
            archive.writestr("state.json", redact(json.dumps(contents.state, indent=2, default=str)))

    write_durably(path, write)


# What an archive holds for a window (start, stop: ISO timestamps or None).
Contents = Callable[[str | None, str | None], ArchiveContents]


def _transcript_files() -> list[Path]:
    """The ``--transcript`` files being written (FileHandlers on ``chargebox.frames``)."""
    handlers = logging.getLogger("chargebox.frames").handlers
    return [Path(h.baseFilename) for h in handlers if isinstance(h, logging.FileHandler)]


def _transcript_lines(paths: list[Path], charge_point_id: str, window: Window) -> Iterator[str]:
    for path in paths:
        try:
            with path.open(encoding="utf-8", errors="replace") as file:
                for line in file:
                    try:
                        entry = json.loads(line)
                        when = datetime.fromisoformat(entry["time"])
                    except (ValueError, KeyError, TypeError):
                        continue
                    if entry.get("cp") == charge_point_id and when.astimezone(UTC) in window:
                        yield redact(line if line.endswith("\n") else line + "\n")
        except OSError:
            continue


def station_contents(kernel: Kernel[Any], configuration: Callable[[], list[dict[str, Any]]]) -> Contents:
    """What an archive holds for a window, gathered from the station: its log lines (the station's records join
    the ring from now on), transcripts, ``configuration()`` (the version's listing, secrets redacted) and state.
    GetDiagnostics uploads it; so does GetLog's DiagnosticsLog."""
    charge_point_id, clock = kernel.settings.charge_point_id, kernel.clock
    LOG_RING.attach(charge_point_id, clock)

    def contents(start_time: str | None, stop_time: str | None) -> ArchiveContents:
        window = Window(
            datetime.fromisoformat(start_time) if start_time else None,
            datetime.fromisoformat(stop_time) if stop_time else None,
        )
        return ArchiveContents(
            charge_point_id=charge_point_id,
            created_at=clock.now(),
            window=window,
            log_lines=LOG_RING.lines(charge_point_id, window),
            transcripts=_transcript_files(),
            configuration=configuration(),
            state=kernel.host.diagnostics_state(),
        )

    return contents


async def write_security_log(store: Store, oldest: str | None, latest: str | None, path: Path) -> None:
    """GetLog(SecurityLog) of either version (LG-1, N01.FR.01): the security log's entries within the window, one
    line each, written whole or not at all."""
    lines = [
        f"{entry.timestamp} {entry.event_type}{' critical' if entry.critical else ''}"
        f"{' ' + entry.tech_info if entry.tech_info else ''}\n"
        for entry in store.security_log.entries(
            datetime.fromisoformat(oldest) if oldest else None, datetime.fromisoformat(latest) if latest else None
        )
    ]

    def write(file: BinaryIO) -> None:
        file.write("".join(lines).encode())

    await asyncio.to_thread(write_durably, path, write)
