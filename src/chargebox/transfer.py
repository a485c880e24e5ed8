"""File transfer for UpdateFirmware and GetDiagnostics: HTTP(S) with aiohttp, FTP(S) with aioftp (F-5, D-2).

``Transfer.download(url, dest)`` streams a file to disk with progress callbacks and resumes a partial file a
killed process left behind (HTTP ``Range``, FTP ``REST``). ``Transfer.upload(file, directory_url, name)`` puts a
file into a directory: FTP ``STOR`` into the directory, HTTP ``PUT`` to ``<directory>/<name>`` or ``POST``
multipart/form-data to the directory URL (``TransferSettings.upload_method``). Every aiohttp, aioftp, ssl and OS
error comes out as one ``TransferError`` (the httpcore ``map_exceptions`` idea), so the services retry on one type.

Schemes: ``http``, ``https``, ``ftp`` (passive only: EPSV, then PASV; ``ftp://user:password@host:port/path``,
anonymous without credentials) and ``ftps`` (implicit TLS, port 990 by default: control and data channels are
TLS from the first byte). aioftp has no explicit ``AUTH TLS`` server to test against here, so explicit FTPS is
not claimed. Paths in FTP URLs are relative to the login directory (RFC 1738 §3.2.2). ``https`` and ``ftps``
verify the server against ``TransferSettings.ssl_context`` (the system CAs when None).

Disk writes: DESIGN.md makes store.py the only writer to disk, with one exception, file transfer itself. This
module writes the downloaded image (``<name>.part`` while it grows, fsynced and renamed when complete, so a
complete name is always a complete file) and the diagnostics archive builder writes its zip; both only inside
the station's ``Workspace``: ``<data-dir>/transfer/``, or a private temporary directory when the station keeps
its state in memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import os
import shutil
import ssl
import tempfile
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, BinaryIO, Final
from urllib.parse import quote, unquote, urlsplit

from chargebox.errors import TransferError
from chargebox.redact import redact

# aiohttp and aioftp are imported when a transfer first needs them: together they are some 300 ms of a
# station's start-up, and most stations start without a download in sight (bench/startup.py).
if TYPE_CHECKING:
    import aiohttp

SUPPORTED_SCHEMES: Final = frozenset({"http", "https", "ftp", "ftps"})
# SupportedFileTransferProtocols (F-5): what the schemes above are called there.
FILE_TRANSFER_PROTOCOLS: Final = "FTP,FTPS,HTTP,HTTPS"
Progress = Callable[[int, "int | None"], None]


class UploadMethod(enum.StrEnum):
    """How a diagnostics file goes to an http(s) directory URL (D-2 leaves it open)."""

    PUT = "PUT"  # PUT <location>/<fileName>, the body is the file (WebDAV, S3 presigned folders, nginx dav)
    POST = "POST"  # POST <location>, multipart/form-data with the file in field "file" (most web back-ends)


@dataclass(frozen=True, slots=True)
class TransferSettings:
    """How the station transfers files; ``simulate --upload-method`` and ``--ca-file`` set them."""

    ssl_context: ssl.SSLContext | None = None  # trust for https:// and ftps://; None = the system CAs
    upload_method: UploadMethod = UploadMethod.PUT
    connect_timeout: float = 15.0
    read_timeout: float = 60.0  # seconds without a byte before an attempt fails
    # An attempt's overall deadline: ``deadline_grace`` seconds plus its size at ``min_rate`` bytes a second (the
    # size the server announced, else what has arrived so far: then the transfer must keep up that rate on
    # average). read_timeout alone let a server dripping a byte a second hold a download for days. 8 KiB/s is
    # below what a GPRS link carries; a 100 MB image may take 3.5 hours at it.
    min_rate: int = 8 * 1024
    deadline_grace: float = 60.0
    chunk_size: int = 64 * 1024
    # A download with no end must not fill the disk the store lives on: an image larger than this
    # fails (DownloadFailed), and so does one that would leave less than ``min_free_bytes`` free.
    max_download_bytes: int = 512 * 1024 * 1024
    min_free_bytes: int = 64 * 1024 * 1024
    # What UpdateFirmware, GetDiagnostics, SignedUpdateFirmware and GetLog may ask of the attempts (F-4, D-2):
    # their ``retries`` and ``retryInterval`` are brought within these before the job is journalled. No central
    # system needs more, and attempts closer together than ``min_retry_interval`` to a location that refuses at
    # once are a flood (each attempt is journalled with an fsync): 2^31 - 1 retries 0 s apart ran for 25 days.
    max_retries: int = 10
    min_retry_interval: int = 10
    max_retry_interval: int = 86_400


class Workspace:
    """The one directory file transfers write into (see the module docstring)."""

    def __init__(self, data_dir: Path | None) -> None:
        self._data_dir = data_dir
        self._path: Path | None = None

    @property
    def path(self) -> Path:
        if self._path is None:
            if self._data_dir is not None:
                self._path = self._data_dir / "transfer"
                self._path.mkdir(parents=True, exist_ok=True)
            else:
                self._path = Path(tempfile.mkdtemp(prefix="chargebox-transfer-"))
                weakref.finalize(self, shutil.rmtree, self._path, ignore_errors=True)
        return self._path

    def file(self, name: str) -> Path:
        """A path for ``name`` inside the workspace (only the last component of ``name`` is kept)."""
        return self.path / (PurePosixPath(name).name or "file")


def partial_path(dest: Path) -> Path:
    """Where a download of ``dest`` grows until it is complete."""
    return dest.with_name(dest.name + ".part")


def remove_download(dest: Path) -> None:
    """A download given up or done with: the file and its partial part, whichever exist."""
    dest.unlink(missing_ok=True)
    partial_path(dest).unlink(missing_ok=True)


class Transfer:
    """Downloads and uploads over HTTP(S) and FTP(S); every failure is a ``TransferError``."""

    def __init__(self, settings: TransferSettings | None = None) -> None:
        self.settings = settings or TransferSettings()

    async def download(self, url: str, dest: Path, *, progress: Progress | None = None) -> int:
        """Fetch ``url`` into ``dest``; returns its size in bytes.

        A ``dest.part`` left by an interrupted attempt (or a killed process) is continued where it stopped
        when the server can (HTTP 206, FTP REST), else started again. If a continued attempt fails before it
        got a new byte, the partial file is dropped, so the next attempt starts afresh rather than repeating
        a resume the server cannot do.
        """
        scheme = _scheme(url)
        part = partial_path(dest)
        offset = part.stat().st_size if part.exists() else 0
        received = [0]
        deadline = _Deadline(url, self.settings)

        def counted(done: int, total: int | None) -> None:
            received[0] += 1
            deadline.moved(done - offset, None if total is None else total - offset)
            if progress is not None:
                progress(done, total)

        try:
            with _map_errors(url):
                async with deadline:
                    if scheme in ("http", "https"):
                        size = await self._http_download(url, part, offset, counted)
                    else:
                        size = await self._ftp_download(url, part, offset, counted)
                await asyncio.to_thread(_fsync, part)
                os.replace(part, dest)
        except _OutOfBounds:
            part.unlink(missing_ok=True)  # give the space back: the next attempt fails the same way
            raise
        except TransferError:
            if offset and received[0] == 0:
                part.unlink(missing_ok=True)
            raise
        return size

    def _check_room(self, url: str, part: Path, done: int, total: int | None) -> None:
        """Refuse, before and while it is written, an image over the size limit or one the disk cannot
        hold with ``min_free_bytes`` to spare."""
        limit = self.settings.max_download_bytes
        if done > limit or (total is not None and total > limit):
            raise _OutOfBounds(f"{redact(url)}: the image is larger than the {limit}-byte limit")
        still = (total - done) if total is not None else 0
        free = shutil.disk_usage(part.parent).free
        if free - still < self.settings.min_free_bytes:
            raise DiskFull(
                f"{redact(url)}: not enough free space ({free} bytes free, {self.settings.min_free_bytes} kept free)"
            )

    async def upload(self, source: Path, directory_url: str, file_name: str) -> None:
        """Put ``source`` into the directory ``directory_url`` under ``file_name`` (D-2)."""
        scheme = _scheme(directory_url)
        with _map_errors(directory_url):
            async with _Deadline(directory_url, self.settings, source.stat().st_size):
                if scheme in ("http", "https"):
                    await self._http_upload(source, directory_url, file_name)
                else:
                    await self._ftp_upload(source, directory_url, file_name)

    # -- HTTP(S) ------------------------------------------------------------------------------

    def _session(self) -> aiohttp.ClientSession:
        import aiohttp

        timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=self.settings.connect_timeout, sock_read=self.settings.read_timeout
        )
        return aiohttp.ClientSession(timeout=timeout, auto_decompress=False)

    @property
    def _ssl(self) -> ssl.SSLContext | bool:
        return self.settings.ssl_context if self.settings.ssl_context is not None else True

    async def _http_download(self, url: str, part: Path, offset: int, progress: Progress) -> int:
        headers = {"Range": f"bytes={offset}-"} if offset else {}
        async with self._session() as session, session.get(url, headers=headers, ssl=self._ssl) as response:
            if response.status == 206 and offset and _range_start(response) == offset:
                mode, done = "ab", offset
            elif response.status == 200:
                mode, done = "wb", 0  # no Range support (or no partial file): from the start
            else:
                raise TransferError(f"{redact(url)}: HTTP {response.status} {response.reason or ''}".rstrip())
            total = done + response.content_length if response.content_length is not None else None
            self._check_room(url, part, done, total)
            with part.open(mode) as file:
                async for chunk in response.content.iter_chunked(self.settings.chunk_size):
                    done += len(chunk)
                    self._check_room(url, part, done, total)
                    file.write(chunk)
                    progress(done, total)
            if total is not None and done != total:
                raise TransferError(f"{redact(url)}: truncated: {done} of {total} bytes")
            return done

    async def _http_upload(self, source: Path, directory_url: str, file_name: str) -> None:
        async with self._session() as session:
            with source.open("rb") as file:
                if self.settings.upload_method is UploadMethod.PUT:
                    target = directory_url.rstrip("/") + "/" + quote(file_name)
                    request = session.put(target, data=file, ssl=self._ssl)
                else:
                    import aiohttp

                    form = aiohttp.FormData()
                    form.add_field("file", file, filename=file_name, content_type="application/zip")
                    request = session.post(directory_url, data=form, ssl=self._ssl)
                async with request as response:
                    if not 200 <= response.status < 300:
                        raise TransferError(
                            f"{redact(directory_url)}: {self.settings.upload_method} answered HTTP {response.status}"
                        )

    # -- FTP(S) -------------------------------------------------------------------------------

    async def _ftp_download(self, url: str, part: Path, offset: int, progress: Progress) -> int:
        target = _FtpTarget.parse(url)
        client = await self._ftp_login(target)
        try:
            total = await _ftp_size(client, target.path)
            if offset and total is not None and offset >= total:
                offset = 0  # the partial file is not a prefix of this file: start again
            done = offset
            self._check_room(url, part, done, total)
            with part.open("ab" if offset else "wb") as file:
                async with client.download_stream(target.path, offset=offset) as stream:
                    async for block in stream.iter_by_block(self.settings.chunk_size):
                        done += len(block)
                        self._check_room(url, part, done, total)
                        file.write(block)
                        progress(done, total)
            if total is not None and done != total:
                raise TransferError(f"{redact(url)}: truncated: {done} of {total} bytes")
            return done
        finally:
            client.close()

    async def _ftp_upload(self, source: Path, directory_url: str, file_name: str) -> None:
        target = _FtpTarget.parse(directory_url)
        client = await self._ftp_login(target)
        try:
            destination = str(PurePosixPath(target.path) / file_name) if target.path else file_name
            with source.open("rb") as file:
                async with client.upload_stream(destination) as stream:
                    while chunk := file.read(self.settings.chunk_size):
                        await stream.write(chunk)
        finally:
            client.close()

    async def _ftp_login(self, target: _FtpTarget) -> Any:
        import aioftp

        tls: ssl.SSLContext | None = None
        if target.tls:
            tls = self.settings.ssl_context or ssl.create_default_context()
        client = aioftp.Client(
            ssl=tls,
            socket_timeout=self.settings.read_timeout,
            connection_timeout=self.settings.connect_timeout,
            passive_commands=("epsv", "pasv"),  # F-5: passive only
        )
        try:
            await client.connect(target.host, target.port)
            await client.login(target.user, target.password)
        except BaseException:
            client.close()
            raise
        return client


class _Deadline:
    """An attempt's overall deadline (``TransferSettings.min_rate``): ``deadline_grace`` seconds from its start, plus
    the bytes it moves at ``min_rate``, those it will move once known, else those moved so far. Past it the attempt
    fails with a TransferError, and a partial download is kept for the next attempt to continue."""

    def __init__(self, url: str, settings: TransferSettings, size: int = 0) -> None:
        """``size``: the bytes the attempt will move, when known from the start (an upload)."""
        self._url = url
        self._settings = settings
        self._start = asyncio.get_running_loop().time()
        self._timeout = asyncio.timeout_at(self._at(size))

    def moved(self, done: int, total: int | None) -> None:
        """The attempt has moved ``done`` bytes of ``total`` (None: not known)."""
        if not self._timeout.expired():  # expiring: the attempt is being cancelled
            self._timeout.reschedule(self._at(total if total is not None else done))

    def _at(self, size: int) -> float:
        return self._start + self._settings.deadline_grace + size / self._settings.min_rate

    async def __aenter__(self) -> _Deadline:
        await self._timeout.__aenter__()
        return self

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: Any) -> None:
        try:
            await self._timeout.__aexit__(kind, exc, tb)
        except TimeoutError:
            elapsed = asyncio.get_running_loop().time() - self._start
            raise TransferError(
                f"{redact(self._url)}: slower than {self._settings.min_rate} bytes/s on average: "
                f"given up after {elapsed:.1f} s"
            ) from None


@dataclass(frozen=True, slots=True)
class _FtpTarget:
    host: str
    port: int
    user: str
    password: str
    path: str
    tls: bool

    @classmethod
    def parse(cls, url: str) -> _FtpTarget:
        parts = urlsplit(url)
        if not parts.hostname:
            raise ValueError("no host in the URL")
        tls = parts.scheme.lower() == "ftps"
        return cls(
            host=parts.hostname,
            port=parts.port or (990 if tls else 21),
            user=unquote(parts.username) if parts.username else "anonymous",
            password=unquote(parts.password) if parts.password else "anonymous@",
            path=unquote(parts.path).lstrip("/"),  # RFC 1738: relative to the login directory
            tls=tls,
        )


async def _ftp_size(client: Any, path: str) -> int | None:
    """The file's size (MLST/LIST), to detect a truncated transfer; None if the server will not say."""
    import aioftp

    try:
        info = await client.stat(path)
    except aioftp.StatusCodeError:
        return None
    size = info.get("size")
    return int(size) if size is not None and str(size).isdigit() else None


def _scheme(url: str) -> str:
    scheme = urlsplit(url).scheme.lower()
    if scheme not in SUPPORTED_SCHEMES:
        raise TransferError(
            f"{redact(url)}: unsupported scheme {scheme or '(none)'!r} (supported: {FILE_TRANSFER_PROTOCOLS})"
        )
    return scheme


def _range_start(response: aiohttp.ClientResponse) -> int | None:
    """The first byte of a 206 answer (``Content-Range: bytes 100-199/200``)."""
    value = response.headers.get("Content-Range", "")
    unit, _, spec = value.partition(" ")
    start, _, _ = spec.partition("-")
    return int(start) if unit == "bytes" and start.isdigit() else None


def _fsync(path: Path) -> None:
    """Make a finished file durable before anything (a status, the journal) says it is there."""
    with path.open("rb+") as file:
        os.fsync(file.fileno())


def write_durably(path: Path, write: Callable[[BinaryIO], None]) -> None:
    """Write a file completely or not at all: ``<name>.part``, fsync, rename (for the diagnostics archive)."""
    part = partial_path(path)
    with part.open("wb") as file:
        write(file)
        file.flush()
        os.fsync(file.fileno())
    os.replace(part, path)


@contextlib.contextmanager
def _map_errors(url: str) -> Iterator[None]:
    """Translate third-party failures into TransferError at the boundary, naming the URL without its password."""
    try:
        yield
    except TransferError:
        raise
    except Exception as exc:
        import aioftp
        import aiohttp

        if not isinstance(exc, aiohttp.ClientError | aioftp.AIOFTPException | OSError | TimeoutError | ValueError):
            raise
        raise TransferError(f"{redact(url)}: {_reason(exc)}") from exc


def _reason(exc: BaseException) -> str:
    import aioftp
    import aiohttp

    if isinstance(exc, aiohttp.ClientPayloadError):
        return f"truncated: {exc}"
    if isinstance(exc, aioftp.StatusCodeError):
        return f"FTP {' '.join(str(c) for c in exc.received_codes)} {' '.join(exc.info)}".strip()
    if isinstance(exc, ConnectionRefusedError) or (
        isinstance(exc, aiohttp.ClientConnectorError) and isinstance(exc.os_error, ConnectionRefusedError)
    ):
        return "connection refused"
    return redact(str(exc)) or type(exc).__name__


class _OutOfBounds(TransferError):
    """A download refused for its size or the disk's free space (its partial file is removed)."""


class DiskFull(_OutOfBounds):
    """A download refused because the disk would keep less than ``min_free_bytes`` free (MemoryExhausted)."""
