"""``hal.FirmwareInstaller`` for a Linux controller with A/B slot directories.

``slots_dir`` holds two slot directories, ``a`` and ``b``, and a symlink ``current`` naming the active one
(the boot scripts start the firmware from ``slots_dir/current``). Installing:

1. checks the image (the format ``chargebox firmware-image`` writes, ``firmware_image.py``: a header with the
   version, size and SHA-256, then the payload); any other file is refused, an image is never guessed at;
2. writes the payload into the inactive slot as ``firmware.bin`` with its ``VERSION``, each through a
   temporary file, fsync and rename, then verifies the written payload against the header's SHA-256;
3. flips ``current`` to the inactive slot atomically (a new symlink renamed over the old one, then the
   directory fsynced): a power cut leaves either the old slot or the new one active, never half of each;
4. runs ``reboot_command`` (the argv list from the file, no shell) if there is one.

A refused or unverifiable image raises ``HardwareError`` before step 3: the station reports
InstallationFailed and the old slot stays active. ``running_version()`` reads ``current/VERSION``.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
from pathlib import Path
from typing import Final

from chargebox.errors import HardwareError
from chargebox.firmware_image import MAX_HEADER, ImageError, ImageHeader, read_header, verify_image

SLOTS: Final = ("a", "b")
CURRENT: Final = "current"
PAYLOAD: Final = "firmware.bin"
VERSION: Final = "VERSION"


class SlotInstaller:
    def __init__(self, slots_dir: Path, *, reboot_command: tuple[str, ...] | None, log: logging.Logger) -> None:
        self.slots_dir = slots_dir
        self.reboot_command = reboot_command
        self._log = log

    def running_version(self) -> str | None:
        """The version in the active slot, as the bootloader booted it; None before chargebox installed one."""
        try:
            text = (self.slots_dir / CURRENT / VERSION).read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError):
            return None  # no firmware installed through chargebox yet: the identity's version stands
        return text or None

    def active_slot(self) -> str | None:
        """Which slot ``current`` points to: the install writes the other, so a failed one leaves this one booting."""
        try:
            target = os.readlink(self.slots_dir / CURRENT)
        except OSError:
            return None
        return target if target in SLOTS else None

    async def install(self, image: Path) -> str:
        """Verify, write to the inactive slot, read back, flip ``current`` and reboot; any failure leaves the old
        slot booting (F-7)."""
        try:
            version, slot = await asyncio.to_thread(self._write_slot, image)
        except (ImageError, OSError) as exc:
            raise HardwareError(f"firmware image {image.name} refused: {exc}") from exc
        await asyncio.to_thread(self._activate, slot)
        self._log.info("= firmware %s installed in slot %s", version, slot)
        if self.reboot_command:
            await self._reboot()
        return version

    def _write_slot(self, image: Path) -> tuple[str, str]:
        with image.open("rb") as file:
            header = read_header(file.read(MAX_HEADER))
        if header is None:
            raise ImageError("not a chargebox firmware image (no 'chargebox-firmware 1' header)")
        version = verify_image(image, None)  # the whole payload against the header, before a byte is written
        slot = "b" if self.active_slot() == "a" else "a"
        target = self.slots_dir / slot
        target.mkdir(parents=True, exist_ok=True)
        _copy_payload(image, header, target / PAYLOAD)
        _write_atomic(target / VERSION, f"{version}\n".encode("ascii"))
        if _sha256(target / PAYLOAD) != header.sha256:  # what the flash holds, read back
            raise ImageError(f"slot {slot}: the written payload does not match the header's SHA-256")
        return version, slot

    def _activate(self, slot: str) -> None:
        link = self.slots_dir / CURRENT
        temporary = self.slots_dir / f".{CURRENT}.new"
        temporary.unlink(missing_ok=True)
        os.symlink(slot, temporary)
        os.replace(temporary, link)
        _fsync_dir(self.slots_dir)

    async def _reboot(self) -> None:
        assert self.reboot_command is not None
        self._log.info("= asking for a reboot: %s", " ".join(self.reboot_command))
        try:
            process = await asyncio.create_subprocess_exec(*self.reboot_command)
            code = await process.wait()
        except OSError as exc:
            self._log.error("! reboot command failed: %s", exc)
            return
        if code != 0:  # the new slot is active either way: the next boot of any kind runs it
            self._log.error("! reboot command exited with %d", code)


def _copy_payload(image: Path, header: ImageHeader, target: Path) -> None:
    temporary = target.with_name(f".{target.name}.new")
    with image.open("rb") as source, temporary.open("wb") as out:
        source.seek(header.header_length)
        while chunk := source.read(1 << 20):
            out.write(chunk)
        out.flush()
        os.fsync(out.fileno())
    os.replace(temporary, target)


def _write_atomic(target: Path, data: bytes) -> None:
    temporary = target.with_name(f".{target.name}.new")
    with temporary.open("wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    os.replace(temporary, target)
    _fsync_dir(target.parent)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
