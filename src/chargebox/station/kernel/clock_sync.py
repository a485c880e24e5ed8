"""The station's wall clock: set from the central system's ``currentTime`` (B-4, B-7), within reason.

A central system's clock can be wrong, and a ``currentTime`` of year 9999 or 1969 is schema-valid. Set as is,
the first made every later timestamp overflow (a ``datetime`` ends with year 9999) and the second put journaled
messages two thousand years in the future. So a ``currentTime`` is believed only inside the ``TimeWindow`` around
the station's last known time (``clock.py``; docs/reliability.md, "Time"): outside it, the clock keeps its time,
the refusal is logged, and the first refusal of a run of them is a security event.

The last known time survives a restart (``store.state``): it is the time the station last believed, written at
start, at a clean stop and, when a sync moves it an hour or more from the stored one, at a sync. At start a clock
that reads before the window (a controller without a real-time clock starts in 1970) is set to it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from typing import Final

from chargebox.clock import BUILD_DATE, LATEST, Clock, TimeWindow, aware
from chargebox.log import Log
from chargebox.station.kernel.events import SecurityEvents
from chargebox.store import Store, StoreError
from chargebox.tasks import Tasks

LAST_KNOWN_KEY: Final = "last_known_time"  # in ``store.state``: ISO 8601, UTC
# A sync that moves the clock further than this is a SettingSystemTime event (B-10); a drift of seconds is not.
TIME_JUMP_SECONDS: Final = 60.0
# A believed time is written to the store when it lies this far from the stored one: a sync every Heartbeat
# would write the disk every few minutes for nothing, and the window is ten years wide.
REMEMBER_AFTER_SECONDS: Final = 3600.0


class ClockSync:
    """Sets the clock from a believable ``currentTime`` and keeps the last known time (``Kernel.clock_sync``): a
    kernel part, since either OCPP version's boot and heartbeat answers carry the central system's time."""

    def __init__(
        self,
        *,
        clock: Clock,
        store: Store,
        security: SecurityEvents,
        log: Log,
    ) -> None:
        self._clock = clock
        self._store = store
        self._security = security
        self._log = log
        self.last_known = self._stored()
        self._writing = Tasks(log, "writing the last known time")  # not cancelled by reset(): a write goes through
        self._refusing = False  # a refusal was reported since the last time believed
        # Told when a sync moves the clock: what a service planned on the wall clock (a charging schedule's next
        # period) is planned again at once, not at the moment the old time said.
        self.moved: list[Callable[[], None]] = []

    def window(self) -> TimeWindow:
        return TimeWindow.around(self.last_known)

    def start(self) -> None:
        """At start: a clock that reads before the window is set to the last known time (or the build date);
        a clock inside it becomes the last known time. One past the window is left to the central system."""
        now, window = self._clock.now(), self.window()
        if now < window.earliest:
            target = self.last_known or BUILD_DATE
            self._log.warning("! the clock reads %s, before %s: set to the last known time %s",
                              now.isoformat(), window.earliest.isoformat(), target.isoformat())  # fmt: skip
            self._clock.set_time(target)
            self._security.report(
                "SettingSystemTime", f"clock read {now.isoformat()} at start: set to {target.isoformat()}"
            )
        elif now > window.latest:
            self._log.warning("! the clock reads %s, past %s: waiting for the central system's time",
                              now.isoformat(), window.latest.isoformat())  # fmt: skip
            return
        self.remember()

    def set_time(self, current_time: datetime, source: str) -> bool:
        """B-4, B-7: set the clock to the central system's ``currentTime`` from ``source`` (a message name) if
        the window holds it; False if it was refused and the clock kept its time."""
        moment, window = aware(current_time), self.window()
        before = self._clock.now()
        if moment not in window:
            self._log.warning("! %s currentTime %s refused: not within %s; the clock keeps %s",
                              source, moment.isoformat(), window, before.isoformat())  # fmt: skip
            if not self._refusing:
                self._refusing = True
                # The whitepaper's list (§8) has no event for a refused time. SettingSystemTime says the time *was*
                # changed, which a central system reading only the type would believe; InvalidMessages is what
                # happened: a message the station received and could not take. It is not critical, so it is
                # sent on purpose: the central system must learn that the station ignores its clock.
                self._security.report(
                    "InvalidMessages", f"{source} currentTime {moment.isoformat()} refused", notify=True
                )
            return False
        self._refusing = False
        self._clock.set_time(moment)
        if abs((moment - before).total_seconds()) > TIME_JUMP_SECONDS:  # B-10
            self._security.report("SettingSystemTime", f"clock set from {before.isoformat()} to {moment.isoformat()}")
            for listener in self.moved:
                listener()
        if self.last_known is None or abs((moment - self.last_known).total_seconds()) >= REMEMBER_AFTER_SECONDS:
            self.remember()
        return True

    def remember(self) -> asyncio.Future[None] | None:
        """Make the clock's time the last known time, if the window holds it, and write it to the store in the
        next group commit; the write, which a clean stop awaits, or None if the time is not believed."""
        now = self._clock.now()
        if now not in self.window():
            return None
        self.last_known = now
        return self._writing.spawn(self._write(now))

    async def _write(self, moment: datetime) -> None:
        """A store that cannot write it costs only that: the window stays around the time stored before."""
        try:
            await self._store.state.put(LAST_KNOWN_KEY, moment.isoformat())
        except StoreError as exc:
            self._log.warning("! the last known time could not be stored: %s", exc)

    def _stored(self) -> datetime | None:
        """The last known time of the store; one that is unreadable or absurd (an edited file) is not trusted."""
        text = self._store.state.get(LAST_KNOWN_KEY)
        if text is None:
            return None
        try:
            moment = aware(datetime.fromisoformat(text))
        except ValueError:
            moment = None
        if moment is None or not BUILD_DATE <= moment <= LATEST:
            self._log.warning("! the stored last known time %r is not a time this build believes: ignored", text)
            return None
        return moment
