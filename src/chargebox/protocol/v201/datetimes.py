"""2.0.1's dateTime on the wire: RFC 3339 with at most three decimals of a second (Part 2 2.1.4).

msgspec writes a ``datetime`` with microseconds as six decimals, which a strict central system refuses, so a
2.0.1 message carries its times to the second (``wire``); the device model's ClockCtrlr.DateTime, a string, keeps
milliseconds (``text``).
"""

from __future__ import annotations

from datetime import datetime


def wire(moment: datetime) -> datetime:
    """``moment`` as a 2.0.1 message carries it: without the fraction of a second msgspec would write in six
    decimals."""
    return moment.replace(microsecond=0)


def text(moment: datetime) -> str:
    """``moment`` as a 2.0.1 dateTime string, to the millisecond."""
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
