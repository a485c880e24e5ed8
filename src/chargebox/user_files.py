"""The files an operator names: read whole, each with a bound, every problem one line naming the option and the
file (a ``ConfigError``: the CLI prints it and exits with code 2).

A bound, because a wrong name (``/dev/zero``, a log, a disk image) must not take the memory: without one,
``--ocpp-config /dev/zero`` read until the machine ran out. Regular files only, because a fifo or a device has
no end to read to, or would hold the start until a writer came. A configuration file also nests at most
``MAX_DEPTH`` levels, so that neither its parser nor what checks it recurses deeper (a traceback, before).

- a configuration file (``run --config``, ``--ocpp-config`` in TOML or JSON, ``fleet --template``): at most
  ``MAX_CONFIG_BYTES`` (1 MiB) and ``MAX_DEPTH`` (32) levels;
- a PEM file (``--cert``, ``--key``, ``--ca-file`` and a station file's ``cert``, ``key``, ``ca_file``;
  ``firmware-image --sign`` and ``--cert``): at most ``MAX_PEM_BYTES`` (1 MiB);
- ``firmware-image --payload``: at most 64 MiB (``cli.MAX_PAYLOAD``).
"""

from __future__ import annotations

import json
import os
import ssl
import stat
import tomllib
from pathlib import Path
from typing import Any, Final

from chargebox.errors import ConfigError

KIB: Final = 1024
MIB: Final = 1024 * KIB
MAX_CONFIG_BYTES: Final = 1 * MIB
MAX_PEM_BYTES: Final = 1 * MIB  # a CA bundle of every public root is about 220 KiB
MAX_DEPTH: Final = 32  # tables and arrays within each other, as a frame may nest (``codec.MAX_DEPTH``)


def read_bytes(path: Path, what: str, limit: int) -> bytes:
    """The whole of a regular file of at most ``limit`` bytes; ``what`` names it (the option) in every error."""
    named = f"{what} {path}".strip()
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)  # a fifo opens at once, to be refused
    except OSError as exc:
        raise ConfigError(f"cannot read {named}: {exc.strerror or exc}") from exc
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ConfigError(f"{named}: not a regular file (a fifo, a device or a directory)")
        file = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    with file:
        try:
            data = file.read(limit + 1)
        except OSError as exc:
            raise ConfigError(f"cannot read {named}: {exc.strerror or exc}") from exc
    if len(data) > limit:
        raise ConfigError(f"{named}: larger than {_size(limit)}")
    return data


def read_text(path: Path, what: str, limit: int, encoding: str = "utf-8") -> str:
    data = read_bytes(path, what, limit)
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{what} {path}: not {encoding.upper()} text (byte {exc.start})".strip()) from exc


def read_config(path: Path, what: str, *, toml: bool | None = None) -> dict[str, Any]:
    """A configuration file's table: TOML if ``toml`` (by default: if the name ends in ``.toml``), JSON else."""
    return parse_config(read_text(path, what, MAX_CONFIG_BYTES), f"{what} {path}".strip(), toml=toml)


def read_document(path: Path, what: str, *, toml: bool | None = None) -> object:
    """A configuration file's content of any shape (a JSON list too), bounded as ``read_config``'s."""
    return parse_document(read_text(path, what, MAX_CONFIG_BYTES), f"{what} {path}".strip(), toml=toml)


def parse_document(text: str, source: str, *, toml: bool | None = None) -> object:
    """``text`` as TOML (by default: if ``source`` ends in ``.toml``) or JSON; ``source`` names it in errors."""
    if toml is None:
        toml = source.lower().endswith(".toml")
    kind = "TOML" if toml else "JSON"
    try:
        data: object = tomllib.loads(text) if toml else json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{source}: not valid {kind}: {exc}") from exc
    except RecursionError:
        raise ConfigError(f"{source}: nests deeper than {MAX_DEPTH} levels") from None
    if _nests_deeper(data, MAX_DEPTH):
        raise ConfigError(f"{source}: nests deeper than {MAX_DEPTH} levels")
    return data


def parse_config(text: str, source: str, *, toml: bool | None = None) -> dict[str, Any]:
    """``text`` as one TOML table or JSON object; ``source`` names the file in every error."""
    data = parse_document(text, source, toml=toml)
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: must hold an object of key -> value, not a {type(data).__name__}")
    return data


def ca_context(path: Path, what: str) -> ssl.SSLContext:
    """A client context that trusts the CA certificates of a PEM file (for https:// and ftps:// transfers)."""
    text = read_text(path, what, MAX_PEM_BYTES, encoding="ascii")
    try:
        if "-----BEGIN CERTIFICATE-----" not in text:
            raise ValueError("no certificate in it")
        return ssl.create_default_context(cadata=text)
    except (ssl.SSLError, ValueError) as exc:
        raise ConfigError(f"{what} {path}: not a readable PEM CA certificate: {exc}".strip()) from exc


def _nests_deeper(data: object, limit: int) -> bool:
    """Whether tables and arrays nest deeper than ``limit``, found without recursion."""
    level: list[object] = [data]
    for _ in range(limit):
        level = [
            item
            for value in level
            for item in (value.values() if isinstance(value, dict) else value if isinstance(value, list) else ())
        ]
        if not level:
            return False
    return any(isinstance(value, dict | list) for value in level)


def _size(limit: int) -> str:
    if limit % MIB == 0:
        return f"{limit // MIB} MiB"
    return f"{limit // KIB} KiB" if limit % KIB == 0 else f"{limit} bytes"
