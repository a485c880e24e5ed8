"""transfer.py against real servers on 127.0.0.1:0: HTTP(S) with aiohttp, FTP with pyftpdlib, FTPS with aioftp (F-5)."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

from chargebox.errors import TransferError
from chargebox.transfer import Transfer, TransferSettings, UploadMethod, Workspace, partial_path
from tests.firmware.conftest import FtpServer, HttpFiles, TlsFiles
from tests.loopback import free_port

BODY = bytes(range(256)) * 4096  # 1 MiB


async def test_F_5_http_download_streams_to_disk_with_progress(http_files: HttpFiles, tmp_path: Path) -> None:
    http_files.files["fw.img"] = BODY
    seen: list[tuple[int, int | None]] = []
    url = f"{http_files.url}/fw.img"
    size = await Transfer().download(url, tmp_path / "fw.img", progress=lambda d, t: seen.append((d, t)))
    assert size == len(BODY) and (tmp_path / "fw.img").read_bytes() == BODY
    assert seen[-1] == (len(BODY), len(BODY)) and len(seen) > 1
    assert not partial_path(tmp_path / "fw.img").exists()


async def test_F_5_https_download_verifies_the_server_against_the_configured_ca(tls: TlsFiles, tmp_path: Path) -> None:
    from aiohttp import web

    app = web.Application()
    app.router.add_get("/fw.img", lambda _r: _body(BODY))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=tls.server_context)
    await site.start()
    url = f"https://localhost:{runner.addresses[0][1]}/fw.img"
    try:
        with pytest.raises(TransferError, match="certificate"):
            await Transfer().download(url, tmp_path / "untrusted.img")  # the system CAs do not know the test CA
        await Transfer(TransferSettings(ssl_context=tls.client_context)).download(url, tmp_path / "fw.img")
        assert (tmp_path / "fw.img").read_bytes() == BODY
    finally:
        await runner.cleanup()


async def _body(data: bytes) -> object:
    from aiohttp import web

    return web.Response(body=data)


async def test_F_5_ftp_download_passive_with_credentials_from_the_url(ftp_server: FtpServer, tmp_path: Path) -> None:
    (ftp_server.root / "fw.img").write_bytes(BODY)
    seen: list[int] = []
    await Transfer().download(f"{ftp_server.url}/fw.img", tmp_path / "fw.img", progress=lambda d, _t: seen.append(d))
    assert (tmp_path / "fw.img").read_bytes() == BODY
    assert ftp_server.retrieved == ["fw.img"] and seen[-1] == len(BODY)


async def test_F_5_ftps_download_and_upload_with_implicit_tls(
    ftps_server: FtpServer, tls: TlsFiles, tmp_path: Path
) -> None:
    (ftps_server.root / "fw.img").write_bytes(BODY)
    transfer = Transfer(TransferSettings(ssl_context=tls.client_context))
    await transfer.download(f"{ftps_server.url}/fw.img", tmp_path / "fw.img")
    assert (tmp_path / "fw.img").read_bytes() == BODY
    await transfer.upload(tmp_path / "fw.img", f"{ftps_server.url}/uploads/", "copy.bin")
    assert (ftps_server.root / "uploads" / "copy.bin").read_bytes() == BODY


@pytest.mark.parametrize(
    ("problem", "message"),
    [("404", "HTTP 404"), ("refused", "connection refused"), ("truncated", "truncated")],
)
async def test_F_4_each_failed_download_is_one_transfer_error(
    http_files: HttpFiles, tmp_path: Path, problem: str, message: str
) -> None:
    http_files.files["fw.img"] = BODY
    url = f"{http_files.url}/{'missing.img' if problem == '404' else 'fw.img'}"
    if problem == "refused":
        url = f"http://127.0.0.1:{free_port()}/fw.img"
    if problem == "truncated":
        http_files.truncate["fw.img"] = 1000
    with pytest.raises(TransferError, match=message):
        await Transfer().download(url, tmp_path / "fw.img")
    assert not (tmp_path / "fw.img").exists()


async def test_F_4_an_interrupted_http_download_resumes_with_a_range_request(
    http_files: HttpFiles, tmp_path: Path
) -> None:
    http_files.files["fw.img"] = BODY
    partial_path(tmp_path / "fw.img").write_bytes(BODY[:300_000])  # what a killed process left behind
    await Transfer().download(f"{http_files.url}/fw.img", tmp_path / "fw.img")
    assert http_files.ranges == ["bytes=300000-"]
    assert (tmp_path / "fw.img").read_bytes() == BODY


async def test_F_4_an_interrupted_ftp_download_resumes_with_rest(ftp_server: FtpServer, tmp_path: Path) -> None:
    (ftp_server.root / "fw.img").write_bytes(BODY)
    partial_path(tmp_path / "fw.img").write_bytes(BODY[:123_456])
    seen: list[int] = []
    await Transfer().download(f"{ftp_server.url}/fw.img", tmp_path / "fw.img", progress=lambda d, _t: seen.append(d))
    assert (tmp_path / "fw.img").read_bytes() == BODY
    assert seen[0] > 123_456 and seen[-1] == len(BODY) and len(seen) < len(BODY) // 65536 + 2


async def test_D_2_ftp_upload_stores_the_file_into_the_directory(ftp_server: FtpServer, tmp_path: Path) -> None:
    source = tmp_path / "diag.zip"
    source.write_bytes(b"PK archive")
    await Transfer().upload(source, f"{ftp_server.url}/uploads/", "diag.zip")
    assert (ftp_server.root / "uploads" / "diag.zip").read_bytes() == b"PK archive"


@pytest.mark.parametrize("method", [UploadMethod.PUT, UploadMethod.POST])
async def test_D_2_http_upload_by_put_or_post(http_files: HttpFiles, tmp_path: Path, method: UploadMethod) -> None:
    source = tmp_path / "diag.zip"
    source.write_bytes(b"PK archive")
    await Transfer(TransferSettings(upload_method=method)).upload(source, f"{http_files.url}/uploads/", "diag.zip")
    assert http_files.uploads == {"diag.zip": b"PK archive"}
    assert http_files.hits == {"uploads" if method is UploadMethod.POST else "diag.zip": 1}


async def test_D_3_an_unreachable_upload_location_is_a_transfer_error(tmp_path: Path) -> None:
    source = tmp_path / "diag.zip"
    source.write_bytes(b"x")
    with pytest.raises(TransferError, match="refused"):
        await Transfer().upload(source, f"ftp://127.0.0.1:{free_port()}/uploads/", "diag.zip")


async def test_F_5_an_unsupported_scheme_is_refused_and_passwords_stay_out_of_the_message(tmp_path: Path) -> None:
    with pytest.raises(TransferError) as caught:
        await Transfer().download("sftp://user:hunter2@host/fw.img", tmp_path / "fw.img")
    assert "hunter2" not in str(caught.value) and "unsupported scheme" in str(caught.value)


async def test_F_4_a_failed_resume_drops_the_partial_file_so_the_next_attempt_starts_afresh(
    http_files: HttpFiles, tmp_path: Path
) -> None:
    partial_path(tmp_path / "fw.img").write_bytes(b"stale")
    with pytest.raises(TransferError):
        await Transfer().download(f"{http_files.url}/gone.img", tmp_path / "fw.img")
    assert not partial_path(tmp_path / "fw.img").exists()


def test_workspace_is_under_the_data_dir_or_a_private_temp_dir(tmp_path: Path) -> None:
    assert Workspace(tmp_path).file("../../etc/passwd") == tmp_path / "transfer" / "passwd"
    memory = Workspace(None)
    path = memory.path
    assert path.is_dir() and path.name.startswith("chargebox-transfer-")
    del memory
    assert not path.exists()


async def test_download_speed_on_loopback(http_files: HttpFiles, tmp_path: Path) -> None:
    """Not a timed assertion: prints the figure the report quotes (run with -s)."""
    http_files.files["big.img"] = bytes(32 << 20)
    loop = asyncio.get_running_loop()
    start = loop.time()
    await Transfer().download(f"{http_files.url}/big.img", tmp_path / "big.img")
    print(f"\nHTTP loopback download: {32 / (loop.time() - start):.0f} MiB/s")


async def test_F_5_a_download_with_no_end_stops_at_the_size_limit(http_files: HttpFiles, tmp_path: Path) -> None:
    http_files.endless.add("fw.img")
    settings = TransferSettings(max_download_bytes=2 * 1024 * 1024, min_free_bytes=0)
    with pytest.raises(TransferError, match="larger than the 2097152-byte limit"):
        await Transfer(settings).download(f"{http_files.url}/fw.img", tmp_path / "fw.img")
    assert not partial_path(tmp_path / "fw.img").exists() and not (tmp_path / "fw.img").exists()
    assert http_files.sent < 64 * 1024 * 1024


async def test_F_5_a_download_the_disk_cannot_hold_fails_before_filling_it(
    http_files: HttpFiles, tmp_path: Path
) -> None:
    http_files.files["fw.img"] = BODY
    free = shutil.disk_usage(tmp_path).free
    settings = TransferSettings(min_free_bytes=free)  # less than this would be left: refused at once
    with pytest.raises(TransferError, match="not enough free space"):
        await Transfer(settings).download(f"{http_files.url}/fw.img", tmp_path / "fw.img")
    assert not partial_path(tmp_path / "fw.img").exists()


async def test_F_5_an_ftp_image_over_the_limit_is_refused(ftp_server: FtpServer, tmp_path: Path) -> None:
    (ftp_server.root / "fw.img").write_bytes(BODY)
    settings = TransferSettings(max_download_bytes=len(BODY) - 1, min_free_bytes=0)
    with pytest.raises(TransferError, match="limit"):
        await Transfer(settings).download(f"{ftp_server.url}/fw.img", tmp_path / "fw.img")
    assert not partial_path(tmp_path / "fw.img").exists()


SLOW = TransferSettings(min_rate=1_000, deadline_grace=0.2)  # 1 kB/s on average, after 0.2 s


@pytest.mark.parametrize("sized", [True, False], ids=["content-length", "no-content-length"])
async def test_F_4_a_server_dripping_bytes_fails_the_attempt_at_its_deadline(
    http_files: HttpFiles, tmp_path: Path, sized: bool
) -> None:
    """A server sending a byte every 10 ms, 400 bytes: the attempt fails at grace + size / min_rate (0.6 s), or,
    without a size, once it falls behind min_rate on average (~0.2 s); not after the 4 s the body takes. With only
    read_timeout (a byte at least every 60 s) a real image dripped at 1 byte/s held the download for days."""
    http_files.files["fw.img"] = bytes(400)
    http_files.drip["fw.img"] = 0.01
    if not sized:
        http_files.unsized.add("fw.img")
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(TransferError, match="slower than 1000 bytes/s on average"):
        await Transfer(SLOW).download(f"{http_files.url}/fw.img", tmp_path / "fw.img")
    assert loop.time() - started < 2.0
    assert 0 < partial_path(tmp_path / "fw.img").stat().st_size < 400  # kept: the next attempt continues it


async def test_F_4_a_download_at_loopback_speed_is_well_within_its_deadline(
    http_files: HttpFiles, tmp_path: Path
) -> None:
    http_files.files["fw.img"] = BODY
    assert await Transfer(SLOW).download(f"{http_files.url}/fw.img", tmp_path / "fw.img") == len(BODY)


async def test_D_3_an_upload_the_server_never_answers_fails_at_its_deadline(
    http_files: HttpFiles, tmp_path: Path
) -> None:
    source = tmp_path / "diag.zip"
    source.write_bytes(b"PK" * 50)
    http_files.gate["diag.zip"] = asyncio.Event()  # the body is read, the answer never comes
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(TransferError, match="slower than 1000 bytes/s on average"):
        await Transfer(SLOW).upload(source, f"{http_files.url}/", "diag.zip")
    assert loop.time() - started < 2.0
