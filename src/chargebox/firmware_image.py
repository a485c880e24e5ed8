"""The firmware image format ``chargebox firmware-image`` writes, which the simulated installer
(``sim/installer.py``) and the reference slot installer of a real charger (``run/drivers/installer.py``) both
verify. It lives beside both rather than in either: a real charger never imports simulator code.

A CSMS operator points a simulator at whatever file they have, so a file that is not in this format is an opaque
image. Files in this format are verified, so a corrupt one fails installation (InstallationFailed, TC_044_3_CS).

The format: a short ASCII header, a blank line, then the payload::

    chargebox-firmware 1
    version: 1.2.0
    size: 1048576
    sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08

    <payload: exactly `size` bytes whose SHA-256 is `sha256`>

The first line is the magic and format number; ``version`` (1 to 50 printable ASCII characters, the
BootNotification ``firmwareVersion`` after the update) and ``size`` and ``sha256`` (lower-case hex) are
required, in any order; other ``key: value`` lines are ignored. The header is at most 1 KiB. A file that
starts with the magic line but breaks any of these rules is corrupt. Any other file is opaque: it installs,
and the version becomes ``<previous>+<first 8 hex digits of its SHA-256>``, so the BootNotification after
the update still shows that something changed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Final

MAGIC: Final = b"chargebox-firmware 1\n"
MAX_HEADER: Final = 1024


class ImageError(ValueError):
    """A file in the image format that is malformed or corrupt."""


@dataclass(frozen=True, slots=True)
class ImageHeader:
    version: str
    size: int
    sha256: str
    header_length: int


def make_image(version: str, payload: bytes) -> bytes:
    """An image in this format: the header for ``payload``, then ``payload``."""
    _check_version(version)
    header = (
        MAGIC.decode() + f"version: {version}\nsize: {len(payload)}\nsha256: {hashlib.sha256(payload).hexdigest()}\n\n"
    )
    return header.encode("ascii") + payload


def default_payload(version: str, size: int = 1 << 20) -> bytes:
    """Deterministic filler for an image made without ``--payload`` (1 MiB: a progress bar worth watching)."""
    block = hashlib.sha256(version.encode()).digest() * 64
    return (block * (size // len(block) + 1))[:size]


def read_header(head: bytes) -> ImageHeader | None:
    """The header at the start of a file (pass its first MAX_HEADER bytes); None for an opaque file.

    Raises ImageError if the file claims the format but the header breaks it.
    """
    if not head.startswith(MAGIC):
        return None
    end = head.find(b"\n\n", len(MAGIC) - 1)
    if end < 0:
        raise ImageError(f"no end of header within {MAX_HEADER} bytes")
    fields: dict[str, str] = {}
    for line in head[len(MAGIC) : end].decode("ascii", "replace").splitlines():
        key, sep, value = line.partition(":")
        if not sep:
            raise ImageError(f"header line without a colon: {line!r}")
        fields[key.strip().lower()] = value.strip()
    missing = {"version", "size", "sha256"} - fields.keys()
    if missing:
        raise ImageError(f"header lacks {', '.join(sorted(missing))}")
    _check_version(fields["version"])
    if not fields["size"].isdigit():
        raise ImageError(f"size is not a number: {fields['size']!r}")
    digest = fields["sha256"]
    if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise ImageError("sha256 must be 64 lower-case hex digits")
    return ImageHeader(fields["version"], int(fields["size"]), digest, end + 2)


def verify_image(path: Path, previous_version: str | None) -> str:
    """Check an image file; returns the version it installs. ImageError if corrupt (blocking: run in a thread)."""
    digest = hashlib.sha256()
    with path.open("rb") as file:
        head = file.read(MAX_HEADER)
        header = read_header(head)
        if header is None:
            digest.update(head)
            while chunk := file.read(1 << 20):
                digest.update(chunk)
            return f"{(previous_version or 'unknown')[:41]}+{digest.hexdigest()[:8]}"
        file.seek(header.header_length)
        size = 0
        while chunk := file.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    if size != header.size:
        raise ImageError(f"payload is {size} bytes, the header says {header.size}")
    if digest.hexdigest() != header.sha256:
        raise ImageError("payload SHA-256 does not match the header")
    return header.version


def _check_version(version: str) -> None:
    if not 1 <= len(version) <= 50 or not version.isascii() or not version.isprintable():
        raise ImageError("version must be 1 to 50 printable ASCII characters (BootNotification firmwareVersion)")
