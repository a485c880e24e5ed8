"""GetDiagnostics in, DiagnosticsStatusNotification out (checklist 4.2), and the diagnostics archive.

Answers: GetDiagnostics (D-1). Sends: DiagnosticsStatusNotification (D-3). TriggerMessage:
DiagnosticsStatusNotification (C-32, D-4).

GetDiagnostics is journalled in ``store.diagnostics`` before it is answered with the file name, and runs on the
job engine (``kernel/jobs.py``); the archive is built after the answer and uploaded to the directory ``location``
(D-2) with ``retries`` further attempts ``retryInterval`` apart: Uploading → Uploaded, or UploadFailed after the
last attempt (D-3). A reboot resumes the upload with the attempts already used (the archive is built again if it
was lost). A second GetDiagnostics while one uploads replaces it (the latest request wins, as with
UpdateFirmware). A triggered DiagnosticsStatusNotification reports Uploading while an upload runs and Idle
otherwise (D-4), also after UploadFailed: nothing is left half done by a failed upload, unlike a failed firmware
update.

The archive (a zip, written by ``build_archive`` into the transfer workspace, the one other place besides
store.py that writes files) holds ``manifest.json``, ``log.txt`` (the station's log records between startTime
and stopTime, from ``LOG_RING``), ``transcript.jsonl`` (the frames of ``--transcript`` in the window, when a
transcript is written), ``configuration.json`` (every key; AuthorizationKey and any URL password redacted) and
``state.json`` (connectors, registration, the firmware and diagnostics jobs).
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

import msgspec

from chargebox.clock import Clock
from chargebox.errors import TransferError
from chargebox.log import Log
from chargebox.protocol.messages import (
    Action,
    DiagnosticsStatus,
    DiagnosticsStatusNotificationRequest,
    DiagnosticsStatusNotificationResponse,
    GetDiagnosticsRequest,
    GetDiagnosticsResponse,
    MessageTrigger,
)
from chargebox.redact import REDACTED, redact
from chargebox.rpc import Handler, Reply, SendResult
from chargebox.station.feature import Feature, Needs
from chargebox.station.kernel.jobs import After, Job, S, retries_or_default, retry_interval_or_default
from chargebox.station.kernel.kernel import Kernel
from chargebox.station.kernel.lane import Lane
from chargebox.station.kernel.service import Service, Trigger, Triggers
from chargebox.station.v16.config_keys import Profile
from chargebox.store import DiagnosticsJobRecord, Store
from chargebox.transfer import Transfer, Workspace, write_durably

SECRET_KEYS: Final = frozenset({"authorizationkey"})
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


class DiagnosticsService(Service):
    """GetDiagnostics, the archive, its upload and DiagnosticsStatusNotification."""

    def __init__(
        self,
        *,
        lane: Lane,
        store: Store,
        clock: Clock,
        transfer: Transfer,
        workspace: Workspace,
        charge_point_id: str,
        contents: Contents,
        log: Log,
    ) -> None:
        """``contents(start, stop)`` gathers what the archive holds for a window (``station_contents``)."""
        self.transfer = transfer  # public: an integrator (or a test) may swap it
        self._lane = lane
        self._store = store
        self._clock = clock
        self._id = charge_point_id
        self.contents = contents
        self._log = log
        self._job = Job(
            name="diagnostics",
            journal=store.diagnostics,
            statuses=DiagnosticsStatus,
            steps={Stage.UPLOADING: self._upload},
            send=self.send_diagnostics_status_notification,
            clock=clock,
            log=log,
        )
        self._upload_step = FileUpload(job=self._job, workspace=workspace, transfer=lambda: self.transfer)

    def handlers(self) -> dict[Action, Handler]:
        return {Action.GET_DIAGNOSTICS: self.on_get_diagnostics}

    def triggers(self, permit: Callable[[Action], None]) -> Triggers:
        async def send(_connector_id: int | None) -> None:
            permit(Action.DIAGNOSTICS_STATUS_NOTIFICATION)
            await self.send_diagnostics_status_notification(self.current_status())  # D-4

        return {MessageTrigger.DIAGNOSTICS_STATUS_NOTIFICATION: Trigger(send)}  # C-32, D-4

    # -- status -----------------------------------------------------------------------------------

    @property
    def status(self) -> DiagnosticsStatus:
        """The last status entered, as persisted."""
        return self._job.status

    def current_status(self) -> DiagnosticsStatus:
        """D-4: Uploading while an upload runs, Idle otherwise."""
        job = self._store.diagnostics.load()
        return DiagnosticsStatus(job.status) if job.stage == Stage.UPLOADING else DiagnosticsStatus.IDLE

    def set_diagnostics_status(self, status: DiagnosticsStatus) -> None:
        """Persisted before it is sent (D-3)."""
        self._job.set_status(status)

    async def send_diagnostics_status_notification(
        self, status: DiagnosticsStatus | None = None
    ) -> SendResult[DiagnosticsStatusNotificationResponse]:
        """Sends ``status``, by default the one last set (the trigger passes ``current_status()``, D-4)."""
        return await self._lane.call(DiagnosticsStatusNotificationRequest(status=status or self.status))

    # -- GetDiagnostics -------------------------------------------------------------------------

    def on_get_diagnostics(self, request: GetDiagnosticsRequest) -> Reply[GetDiagnosticsResponse]:
        """D-1: journal the request and answer with the file name; build and upload after the answer."""
        if self._job.stage == Stage.UPLOADING:
            self._log.info("= GetDiagnostics replaces the upload under way")
            self._upload_step.abandon(self._store.diagnostics.load().file_name)
        now = self._clock.now()
        file_name = f"diagnostics-{safe_name(self._id, 180)}-{now:%Y%m%dT%H%M%SZ}.zip"
        self._store.diagnostics.save_job(
            location=request.location,
            file_name=file_name,
            retries=retries_or_default(request.retries, self.transfer.settings),
            retry_interval=retry_interval_or_default(request.retry_interval, self.transfer.settings),
            start_time=None if request.start_time is msgspec.UNSET else request.start_time.isoformat(),
            stop_time=None if request.stop_time is msgspec.UNSET else request.stop_time.isoformat(),
            received_at=now.isoformat(),
        )
        self._log.info("= GetDiagnostics: %s to %s", file_name, redact(request.location))
        return Reply(GetDiagnosticsResponse(file_name=file_name), then=self._job.start)

    # -- lifecycle ------------------------------------------------------------------------------

    async def resume(self) -> None:
        """After an accepted boot: finish an upload a reboot or a power loss interrupted."""
        await self._job.resume()

    def reset(self) -> None:
        """Seed: the DiagnosticStatusNotification module's ResetGlobals. The journal is kept."""
        self._job.reset()

    # -- the upload: the job's one step -----------------------------------------------------------

    async def _upload(self, job: DiagnosticsJobRecord) -> After:
        """D-2, D-3: the archive (built again if a reboot lost it), uploaded with the attempts left."""
        assert job.file_name is not None and job.location is not None

        async def build(archive: Path) -> None:
            await asyncio.to_thread(build_archive, archive, self.contents(job.start_time, job.stop_time))

        return await self._upload_step.run(
            job.file_name,
            job.location,
            build,
            uploading=DiagnosticsStatus.UPLOADING,
            uploaded=DiagnosticsStatus.UPLOADED,
            failed=DiagnosticsStatus.UPLOAD_FAILED,
        )


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


def station_contents(kernel: Kernel) -> Contents:
    """What an archive holds for a window, gathered from the station: its log lines (the station's
    records join the ring from now on), transcripts, configuration (AuthorizationKey redacted) and
    state. GetDiagnostics uploads it; so does GetLog's DiagnosticsLog."""
    charge_point_id, clock, config = kernel.settings.charge_point_id, kernel.clock, kernel.config
    LOG_RING.attach(charge_point_id, clock)

    def contents(start_time: str | None, stop_time: str | None) -> ArchiveContents:
        window = Window(
            datetime.fromisoformat(start_time) if start_time else None,
            datetime.fromisoformat(stop_time) if stop_time else None,
        )
        configuration = [
            {"key": key.name, "value": REDACTED if key.name.lower() in SECRET_KEYS else config.configured(key.name),
             "readonly": key.readonly}
            for key in config.keys()  # noqa: SIM118 (a list of ConfigKey, not a dict)
        ]  # fmt: skip
        return ArchiveContents(
            charge_point_id=charge_point_id,
            created_at=clock.now(),
            window=window,
            log_lines=LOG_RING.lines(charge_point_id, window),
            transcripts=_transcript_files(),
            configuration=configuration,
            state=kernel.host.diagnostics_state(),
        )

    return contents


def _build(kernel: Kernel, _needs: Needs) -> DiagnosticsService:
    return DiagnosticsService(lane=kernel.lane, store=kernel.store, clock=kernel.clock, transfer=kernel.transfer,
                              workspace=kernel.workspace, charge_point_id=kernel.settings.charge_point_id,
                              contents=station_contents(kernel), log=kernel.log)  # fmt: skip


FEATURE: Final = Feature(
    name="diagnostics",
    profile=Profile.FIRMWARE_MANAGEMENT,
    service=DiagnosticsService,
    build=_build,
    actions=frozenset({Action.GET_DIAGNOSTICS}),
    tables=frozenset({"diagnostics_job"}),
)
