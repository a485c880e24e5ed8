"""``fleet --ocpp``: which OCPP version each station of a fleet speaks.

``2.0.1`` makes every station speak it; ``1.6:70,2.0.1:30`` gives each version its percentage of the stations
(whole numbers summing to 100). Station ``i`` (1-based) speaks the version a smooth weighted round robin gives the
``i``-th turn, so the versions are spread through the fleet rather than in blocks (at 70/30, stations 1 to 10 are
7 and 3, and so is each next ten), the ramp meets both from the start, and the same command gives every id the same
version, whatever the count.
"""

from __future__ import annotations

from typing import Final

from chargebox.station.station import VERSIONS

Mix = tuple[tuple[str, int], ...]  # (version, percentage) in the order given, percentages summing to 100
_SYNTAX: Final = "expected a version (1.6, 2.0.1) or VERSION:PERCENT,... summing to 100, as 1.6:70,2.0.1:30"


def parse_mix(text: str) -> Mix:
    """``--ocpp``'s value; ValueError (one line, naming what is wrong) for anything else."""
    if text in VERSIONS:
        return ((text, 100),)
    if ":" not in text:
        raise ValueError(f"{text[:20]!r} is not an OCPP version chargebox speaks ({', '.join(VERSIONS)}); a mix is "
                         "VERSION:PERCENT,... as 1.6:70,2.0.1:30")  # fmt: skip
    mix: list[tuple[str, int]] = []
    for part in text.split(","):
        version, colon, percent = part.strip().partition(":")
        if not colon or not percent.isascii() or not percent.isdigit():
            raise ValueError(f"{_SYNTAX}, got {text[:40]!r}")
        if version not in VERSIONS:
            raise ValueError(f"{version[:20]!r} is not an OCPP version chargebox speaks ({', '.join(VERSIONS)})")
        if any(version == seen for seen, _share in mix):
            raise ValueError(f"{version} is named twice")
        if not 1 <= int(percent) <= 100:
            raise ValueError(f"{version}: a percentage is 1 to 100, got {percent[:20]}")
        mix.append((version, int(percent)))
    if sum(share for _version, share in mix) != 100:
        raise ValueError(f"the percentages sum to {sum(share for _version, share in mix)}, not 100")
    return tuple(mix)


def spread(mix: Mix, count: int) -> list[str]:
    """The version of each of ``count`` stations, in id order: smooth weighted round robin (each turn, every
    version gains its percentage and the one ahead is picked and set back by 100)."""
    credit = dict.fromkeys((version for version, _share in mix), 0)
    versions = []
    for _ in range(count):
        for version, share in mix:
            credit[version] += share
        chosen = max(credit, key=lambda version: credit[version])  # the first named wins a tie
        credit[chosen] -= 100
        versions.append(chosen)
    return versions
