"""SIGKILL a real ``chargebox simulate`` at each stage of an update; the job resumes where it was.

The central system is the ``ocpp`` library's; the image comes from a real HTTP server in this process. After the
kill the same data dir is started again, and the central system must see one coherent sequence: the job goes on
(a partial download continues with a Range request, the attempts are not reset, an interrupted install is done
again) and ends with Installed after a BootNotification carrying the new version.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ocpp.v16 import call

from chargebox.firmware_image import make_image
from tests.crash.conftest import running_copy
from tests.firmware.conftest import WAIT, FirmwareCsms, HttpFiles
from tests.loopback import StationLives, until

IMAGE = make_image("2.0.0", bytes(range(256)) * 8192)  # 2 MiB
FSN = "FirmwareStatusNotification"


def simulate(lives: StationLives, csms: FirmwareCsms, install_seconds: float = 0.1) -> subprocess.Popen[bytes]:
    return lives.start(csms.url, "CP-CRASH", "--firmware-version", "1.0.0", "--install-seconds", str(install_seconds))


async def boot(csms: FirmwareCsms, start: int = 0) -> int:
    index = await csms.wait_for("BootNotification", start=start)
    return await csms.wait_for("StatusNotification", start=index, connectorId=1)


async def update(csms: FirmwareCsms, location: str, delay: float = 0, **fields: object) -> None:
    retrieve = (datetime.now(UTC) + timedelta(seconds=delay)).isoformat()
    await csms.points[-1].call(call.UpdateFirmware(location=location, retrieve_date=retrieve, **fields), suppress=False)


def attempts(store: Path) -> int:
    with contextlib.closing(sqlite3.connect(store)) as db:
        return int(db.execute("SELECT attempts FROM firmware_job").fetchone()[0])


async def test_F_2_killed_while_waiting_for_retrieve_date(
    csms: FirmwareCsms, http_files: HttpFiles, lives: StationLives
) -> None:
    http_files.files["fw.img"] = IMAGE
    first = simulate(lives, csms)
    await boot(csms)
    not_before = datetime.now(UTC) + timedelta(seconds=1.5)
    await update(csms, f"{http_files.url}/fw.img", delay=1.5)  # answered: the job is journalled
    await lives.kill(first)
    simulate(lives, csms)
    await csms.wait_for(FSN, status="Installed")
    assert datetime.now(UTC) >= not_before
    assert http_files.hits == {"fw.img": 1}
    assert csms.sequence("BootNotification", FSN) == [
        "Boot:1.0.0", "Boot:1.0.0", f"{FSN}:Downloading", f"{FSN}:Downloaded", f"{FSN}:Installing",
        "Boot:2.0.0", f"{FSN}:Installed",
    ]  # fmt: skip


async def test_F_4_killed_during_the_download_continues_it_without_resetting_the_attempts(
    csms: FirmwareCsms, http_files: HttpFiles, lives: StationLives, tmp_path: Path
) -> None:
    http_files.files["fw.img"] = IMAGE
    http_files.gate["fw.img"] = gate = asyncio.Event()
    first = simulate(lives, csms)
    await boot(csms)
    await update(csms, f"{http_files.url}/fw.img", retries=1, retry_interval=0)
    await asyncio.wait_for(http_files.sent_half.wait(), WAIT)
    part = lives.data_dir / "transfer"
    await until(lambda: any(p.suffix == ".part" and p.stat().st_size > 0 for p in part.iterdir()))
    await lives.kill(first)
    del http_files.gate["fw.img"]
    gate.set()
    kept = next(p for p in part.iterdir() if p.suffix == ".part").stat().st_size
    second = simulate(lives, csms)
    await csms.wait_for(FSN, status="Installed")
    assert http_files.ranges == [None, f"bytes={kept}-"]  # continued, not started again
    assert attempts(running_copy(lives.data_dir, second.pid, tmp_path / "copy")) == 2
    assert csms.sequence("BootNotification", FSN) == [
        "Boot:1.0.0", f"{FSN}:Downloading", "Boot:1.0.0", f"{FSN}:Downloading", f"{FSN}:Downloaded",
        f"{FSN}:Installing", "Boot:2.0.0", f"{FSN}:Installed",
    ]  # fmt: skip


async def test_F_7_killed_during_the_install_installs_again_after_the_restart(
    csms: FirmwareCsms, http_files: HttpFiles, lives: StationLives
) -> None:
    http_files.files["fw.img"] = IMAGE
    first = simulate(lives, csms, install_seconds=30)
    await boot(csms)
    await update(csms, f"{http_files.url}/fw.img")
    await csms.wait_for(FSN, status="Installing")
    await lives.kill(first)
    simulate(lives, csms)
    await csms.wait_for(FSN, status="Installed")
    assert http_files.hits == {"fw.img": 1}  # the downloaded image was kept
    assert csms.sequence("BootNotification", FSN) == [
        "Boot:1.0.0", f"{FSN}:Downloading", f"{FSN}:Downloaded", f"{FSN}:Installing",
        "Boot:1.0.0", f"{FSN}:Installing", "Boot:2.0.0", f"{FSN}:Installed",
    ]  # fmt: skip
