"""A card reader that writes one idTag per line: a UART RFID reader on a serial port (pyserial), or any
line-oriented source behind a FIFO or a character device (a keyboard-wedge reader on its own tty, a bridge
process writing into a FIFO).

Each line, stripped of white space, is presented to the station (``Station.id_tag_presented``) if it is an
idToken of the station's OCPP version (1 to 20 printable ASCII characters in 1.6, G-1; to 36 in 2.0.1); anything
else is logged and dropped. The source is
read without blocking through the event loop (``add_reader`` on its descriptor); a FIFO is opened read-write
so that a writer going away never ends the stream.
"""

from __future__ import annotations

import asyncio
import logging
import os
import stat
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Final

from chargebox.errors import HardwareError
from chargebox.station.station import is_id_token

MAX_LINE: Final = 256  # a longer line is noise, not a card


class LineCardReader:
    def __init__(
        self,
        *,
        path: Path | None = None,
        serial_device: str | None = None,
        baudrate: int = 9600,
        connector_id: int | None = None,
        log: logging.Logger,
    ) -> None:
        self.path = path
        self.serial_device = serial_device
        self.baudrate = baudrate
        self.connector_id = connector_id
        self._log = log

    async def run(self, present: Callable[[str, int | None], Awaitable[object]], id_token_length: int = 20) -> None:
        """Read lines forever and present each card (supervised by ``chargebox run``) of at most
        ``id_token_length`` characters (the station's version's: ``Table.id_token_length``)."""
        lines: asyncio.Queue[bytes] = asyncio.Queue()
        fd, close = self._open()
        loop = asyncio.get_running_loop()
        pending = bytearray()

        def readable() -> None:
            try:
                chunk = os.read(fd, 4096)
            except BlockingIOError:
                return
            pending.extend(chunk)
            while (end := pending.find(b"\n")) >= 0:
                lines.put_nowait(bytes(pending[:end]))
                del pending[: end + 1]
            if len(pending) > MAX_LINE:
                pending.clear()

        loop.add_reader(fd, readable)
        try:
            while True:
                await self._present(await lines.get(), present, id_token_length)
        finally:
            loop.remove_reader(fd)
            close()

    async def _present(
        self, line: bytes, present: Callable[[str, int | None], Awaitable[object]], id_token_length: int
    ) -> None:
        text = line.decode("ascii", "replace").strip()
        if not text:
            return
        if not is_id_token(text, id_token_length):
            self._log.warning("! card reader: %r is not an idToken (1 to %d printable ASCII characters)", text[:40],
                              id_token_length)  # fmt: skip
            return
        await present(text, self.connector_id)

    def _open(self) -> tuple[int, Callable[[], None]]:
        if self.serial_device is not None:
            import serial  # pyserial: only for a serial reader

            try:
                port = serial.Serial(self.serial_device, self.baudrate, timeout=0)
            except OSError as exc:  # serial.SerialException is one
                raise HardwareError(f"card reader {self.serial_device}: {exc}") from None
            return port.fileno(), port.close
        assert self.path is not None
        try:
            mode = os.stat(self.path).st_mode
            if not (stat.S_ISFIFO(mode) or stat.S_ISCHR(mode)):
                raise HardwareError(
                    f"card reader {self.path}: not a FIFO or a character device (make the FIFO with mkfifo {self.path})"
                )
            fd = os.open(self.path, os.O_RDWR | os.O_NONBLOCK | os.O_NOCTTY)  # RDWR: no EOF when a writer leaves
        except FileNotFoundError:
            raise HardwareError(f"card reader {self.path}: no such FIFO (make it with mkfifo {self.path})") from None
        except OSError as exc:
            raise HardwareError(f"card reader {self.path}: {exc.strerror or exc}") from None
        return fd, lambda: os.close(fd)
