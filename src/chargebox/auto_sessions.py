"""How ``fleet --auto`` draws its sessions: the simulator's automatic transaction generator, as settings.

Apart from ``sim/`` because the command line states these defaults in ``chargebox fleet --help``, and the command
line is also what a real charger runs (``chargebox run``), whose process holds no simulator code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

MAX_AUTO_SECONDS: Final = 7 * 86_400  # a week: longer than any gap or session a run is meant to show


@dataclass(frozen=True, slots=True)
class AutoSettings:
    """How ``fleet --auto`` draws its sessions, per connector (seconds): a newcomer's 20-station, one-minute run
    shows sessions starting and ending; ``[auto]``, ``--mean-gap`` and ``--session-seconds`` set a real day's."""

    mean_gap_s: float = 20.0  # between an EV leaving (or the start) and the next arriving, exponential
    session_min_s: float = 30.0
    session_max_s: float = 300.0
    cards: int = 50  # idTags AUTO0000.. drawn uniformly
