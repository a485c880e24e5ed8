"""How ``fleet --auto`` draws its sessions: the simulator's automatic transaction generator, as settings.

Apart from ``sim/`` because the command line states these defaults in ``chargebox fleet --help``, and the command
line is also what a real charger runs (``chargebox run``), whose process holds no simulator code.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

MAX_AUTO_SECONDS: Final = 7 * 86_400  # a week: longer than any gap or session a run is meant to show
MIN_AUTO_SECONDS: Final = 0.01
MAX_ARRIVAL_RATE: Final = 3600 / MIN_AUTO_SECONDS  # EVs per hour per connector: a mean gap of MIN_AUTO_SECONDS
MIN_ARRIVAL_RATE: Final = 3600 / MAX_AUTO_SECONDS
MAX_CARDS: Final = 1_000_000
MAX_SESSIONS: Final = 1_000_000
ID_TAG_LENGTH: Final = 20  # an idTag every version takes: 1.6's CiString20 (2.0.1's IdToken allows 36)


@dataclass(frozen=True, slots=True)
class AutoSettings:
    """How ``fleet --auto`` draws its sessions, per connector (seconds): a newcomer's 20-station, one-minute run
    shows sessions starting and ending; a template's ``[auto]`` and the flags that mirror it (``--mean-gap`` or
    ``--arrival-rate``, ``--session-seconds``, ``--cards``/``--card-pattern``, ``--start-probability``,
    ``--sessions``) set a real day's. The EVs that come are the template's models (sim/ev.py), by weight."""

    mean_gap_s: float = 20.0  # between an EV leaving (or the start) and the next arriving, exponential
    session_min_s: float = 30.0
    session_max_s: float = 300.0
    cards: int = 50  # idTags card_pattern.format(0 .. cards - 1), drawn uniformly
    card_pattern: str = "AUTO{:04d}"
    card_list: tuple[str, ...] = ()  # these idTags instead, drawn uniformly (fleet --cards FILE, [auto] cards = [...])
    start_probability: float = 1.0  # of an EV that arrives presenting a card; the others park and leave unstarted
    sessions: int = 0  # EVs per connector, then the connector's generator stops (0: no end)

    def card(self, index: int) -> str:
        """The idTag a draw of ``index`` (0 .. cards - 1, or into ``card_list``) stands for."""
        return self.card_list[index] if self.card_list else self.card_pattern.format(index)


def arrival_gap(rate_per_hour: float) -> float:
    """The mean gap (seconds) of an arrival rate of EVs per hour per connector: a Poisson process either way."""
    return 3600 / rate_per_hour


def card_problem(pattern: str, count: int) -> str | None:
    """Why ``pattern`` cannot make ``count`` distinct idTags (None: it can): one ``{}`` field of an integer, every
    tag 1 to 20 printable ASCII characters (the longest, ``count - 1``, at most)."""
    try:
        first, last = pattern.format(0), pattern.format(count - 1)
        distinct = count == 1 or pattern.format(1) != first
    except (ValueError, IndexError, KeyError, AttributeError):
        return f"must hold one {{}} field of a number, such as AUTO{{:04d}}, got {pattern[:40]!r}"
    if not distinct:
        return f"must hold a {{}} field for the card's number, got {pattern[:40]!r}"
    for tag in (first, last):
        if problem := id_tag_problem(tag):
            return f"makes {tag[:40]!r}, which {problem}"
    return None


def id_tag_problem(tag: str) -> str | None:
    """Why ``tag`` cannot be presented as an idTag (None: it can)."""
    if not (1 <= len(tag) <= ID_TAG_LENGTH and tag.isascii() and tag.isprintable()):
        return f"must be 1 to {ID_TAG_LENGTH} printable ASCII characters"
    return None


def card_list_problem(tags: Sequence[str]) -> str | None:
    """Why ``tags`` cannot be the cards (None: they can), naming the first bad one by its 1-based position."""
    if not tags:
        return "holds no card"
    for number, tag in enumerate(tags, 1):
        if problem := id_tag_problem(tag):
            return f"card {number} ({tag[:40]!r}) {problem}"
    return None
