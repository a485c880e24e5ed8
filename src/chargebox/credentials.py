"""The secrets the commands take: the AuthorizationKey (``--password``) and the control API's token.

A command line is readable by every user of the machine (``ps``, ``/proc/PID/cmdline`` is world-readable), so a
secret comes from a file (``--password-file``, ``--control-token-file``) or from the environment
(``CHARGEBOX_PASSWORD``, ``CHARGEBOX_CONTROL_TOKEN``; ``/proc/PID/environ`` is readable by its owner only). Given
on the command line it still works, with a warning. A file other users can read gets a warning too, and so does a
station file (``chargebox run``) that holds a password. No message ever echoes a secret.
"""

from __future__ import annotations

import logging
import os
import re
import stat
from pathlib import Path
from typing import Final

from chargebox.errors import UserError

log = logging.getLogger("chargebox")

MAX_SECRET_FILE: Final = 4096  # a secret is one short line: /dev/zero or a wrong file is not read whole
# A control token: RFC 3986's unreserved characters, which a URL, a cookie and a header all carry unescaped
# (``secrets.token_urlsafe(32)`` and ``openssl rand -hex 32`` both fit).
TOKEN_RE: Final = re.compile(r"[A-Za-z0-9._~-]{16,128}")
TOKEN_RULE: Final = "16 to 128 characters of A-Z a-z 0-9 . _ ~ -"


def secret(option: str, env: str, *, value: str | None, file: Path | None) -> tuple[str | None, str]:
    """The secret of ``option`` (``--password``) from the option itself, ``option-file`` or ``env``, in that
    order, and where it came from, to name in a message (``--password-file pw.txt``)."""
    if value is not None:
        log.warning(
            "! %s is visible to every user of this machine (ps, /proc/PID/cmdline): give %s-file FILE or %s instead",
            option, option, env,
        )  # fmt: skip
        return value, option
    if file is not None:
        return read_secret_file(file, f"{option}-file"), f"{option}-file {file}"
    from_env = os.environ.get(env)
    if from_env:  # set but empty: not given
        return from_env, env
    return None, option


def read_secret_file(path: Path, option: str) -> str:
    """The file's one line (its newline dropped); warns if other users can read it."""
    try:
        with path.open("rb") as file:
            raw = file.read(MAX_SECRET_FILE + 1)
    except OSError as exc:
        raise UserError(f"{option} {path}: cannot read: {exc.strerror or exc}") from exc
    if len(raw) > MAX_SECRET_FILE:
        raise UserError(f"{option} {path}: larger than {MAX_SECRET_FILE} bytes (a secret is one line)")
    try:
        text = raw.decode("utf-8").removesuffix("\n").removesuffix("\r")
    except UnicodeDecodeError:
        raise UserError(f"{option} {path}: not UTF-8 text") from None
    if not text:
        raise UserError(f"{option} {path}: empty")
    warn_if_shared(path, f"{option} {path}")
    return text


def warn_if_shared(path: Path, what: str) -> None:
    """A secret in a file that the machine's other users can read is theirs too."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return  # read already, or reported by whoever reads it
    if mode & (stat.S_IRGRP | stat.S_IROTH):
        log.warning("! %s is readable by other users (mode %04o): chmod 600 %s", what, mode, path)


def token_problem(token: str) -> str | None:
    return None if TOKEN_RE.fullmatch(token) else f"must be {TOKEN_RULE}"
