"""The non-Modbus reference drivers on real files: the A/B slot firmware installer (F-6, F-7: a refused image
is InstallationFailed and keeps the old slot) and the line card reader on a FIFO (G-1: only IdTokens)."""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path

import pytest

from chargebox.errors import HardwareError
from chargebox.firmware_image import make_image
from chargebox.run.drivers.cardreader import LineCardReader
from chargebox.run.drivers.installer import SlotInstaller

LOG = logging.getLogger("test")


def _installer(tmp_path: Path, reboot: tuple[str, ...] | None = None) -> SlotInstaller:
    slots = tmp_path / "slots"
    (slots / "a").mkdir(parents=True)
    (slots / "a" / "VERSION").write_text("1.0.0\n")
    os.symlink("a", slots / "current")
    return SlotInstaller(slots, reboot_command=reboot, log=LOG)


async def test_F_7_an_image_goes_to_the_inactive_slot_which_becomes_current(tmp_path: Path) -> None:
    marker = tmp_path / "rebooted"
    installer = _installer(tmp_path, reboot=("touch", str(marker)))
    image = tmp_path / "fw.img"
    image.write_bytes(make_image("2.0.0", b"payload" * 1000))
    assert installer.running_version() == "1.0.0"
    assert await installer.install(image) == "2.0.0"
    assert installer.active_slot() == "b" and installer.running_version() == "2.0.0"
    assert (tmp_path / "slots" / "b" / "firmware.bin").read_bytes() == b"payload" * 1000
    assert marker.exists()  # the reboot command from the file ran
    image.write_bytes(make_image("3.0.0", b"again"))
    assert await installer.install(image) == "3.0.0"
    assert installer.active_slot() == "a"  # A/B: back to the other slot


@pytest.mark.parametrize("corrupt", ["payload", "opaque"])
async def test_F_6_a_refused_image_keeps_the_old_slot_and_runs_nothing(tmp_path: Path, corrupt: str) -> None:
    marker = tmp_path / "rebooted"
    installer = _installer(tmp_path, reboot=("touch", str(marker)))
    image = tmp_path / "fw.img"
    good = make_image("2.0.0", b"payload" * 1000)
    image.write_bytes(good[:-1] + b"X" if corrupt == "payload" else b"just some file")
    with pytest.raises(HardwareError, match="refused"):
        await installer.install(image)
    assert installer.active_slot() == "a" and installer.running_version() == "1.0.0"
    assert not marker.exists()


async def test_a_card_reader_on_a_fifo_presents_each_idtag_line(tmp_path: Path) -> None:
    fifo = tmp_path / "reader"
    os.mkfifo(fifo)
    presented: asyncio.Queue[tuple[str, int | None]] = asyncio.Queue()

    async def present(id_tag: str, connector_id: int | None) -> None:
        presented.put_nowait((id_tag, connector_id))

    reader = LineCardReader(path=fifo, connector_id=1, log=LOG)
    task = asyncio.ensure_future(reader.run(present))
    try:
        await asyncio.sleep(0)  # the reader opens its end first
        for chunk in (b"04A2B3C4\r\n", b"\n", b"not an id tag, far too long\n", b"DEAD", b"BEEF\n"):
            fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
            os.write(fd, chunk)
            os.close(fd)  # a writer going away does not end the stream
        assert await asyncio.wait_for(presented.get(), 5) == ("04A2B3C4", 1)
        assert await asyncio.wait_for(presented.get(), 5) == ("DEADBEEF", 1)
        assert presented.empty()
    finally:
        task.cancel()


async def test_a_card_reader_path_that_is_a_plain_file_fails_with_its_name(tmp_path: Path) -> None:
    path = tmp_path / "cards.txt"
    path.write_text("04A2B3C4\n")

    async def present(id_tag: str, connector_id: int | None) -> None:
        raise AssertionError("nothing to present")

    with pytest.raises(HardwareError, match=f"card reader {path}: not a FIFO or a character device .*mkfifo"):
        await LineCardReader(path=path, log=LOG).run(present)


async def test_a_card_reader_path_that_does_not_exist_says_mkfifo(tmp_path: Path) -> None:
    async def present(id_tag: str, connector_id: int | None) -> None:
        raise AssertionError("nothing to present")

    path = tmp_path / "cards"
    with pytest.raises(HardwareError, match=f"no such FIFO \\(make it with mkfifo {path}\\)"):
        await LineCardReader(path=path, log=LOG).run(present)
