"""Which central system a fleet's station connects to, when ``fleet --csms`` is given several times.

Apart from ``sim/`` because the command line offers the policies (``chargebox fleet --help``), and the command line is
also what a real charger runs (``chargebox run``), whose process holds no simulator code.

Each policy gives a station the same URL whichever process of ``fleet --processes`` runs it and whenever it is
added (a live station of ``POST /api/stations`` too): it depends on the station alone, never on the order the
stations start in or on N.

    round-robin  by index: station i connects to URL (i - 1) mod n, so every URL has its share, one apart at most
    hash         by a stable hash of the id (SHA-256, not Python's ``hash``, which is salted per process): the same
                 id goes to the same URL in every run, whatever the index
    random       drawn from a stream seeded by ``--seed`` and the id: another seed, another spread
"""

from __future__ import annotations

import functools
import hashlib
import random
from collections.abc import Sequence
from typing import Final, Literal, get_args

from chargebox.redact import redact

Policy = Literal["round-robin", "random", "hash"]
POLICIES: Final[tuple[str, ...]] = get_args(Policy)


def choose_url(urls: Sequence[str], policy: Policy, index: int, station_id: str, seed: int) -> str:
    """The URL of station ``index`` (1-based) whose id is ``station_id``."""
    if len(urls) == 1:
        return urls[0]
    if policy == "round-robin":
        return urls[(index - 1) % len(urls)]
    if policy == "hash":
        digest = hashlib.sha256(station_id.encode("utf-8")).digest()
        return urls[int.from_bytes(digest[:8], "big") % len(urls)]
    return random.Random(f"{seed}:{station_id}:csms").choice(urls)


@functools.cache
def csms_label(url: str) -> str:
    """How the figures and ``/metrics`` name a URL: without its credentials, worked out once per URL (the figures
    are read twice a second, of every station)."""
    return redact(url)
