"""Security events (T-45): where the kernel's parts and the features report one.

The link reports a failed TLS handshake or authentication, the certificates a certificate the
central system should not have sent; what becomes of an event is the version's security feature's to decide:
both keep every event in the security log and journal the SecurityEventNotification of the ones the whitepaper
and 2.0.1's A04 say to send (``SecurityEventLog``, told the version's message).
Its security feature registers with ``handle`` when it is built, first of all the features, so no
event reported afterwards is lost.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Final, Protocol

from chargebox.clock import Clock
from chargebox.errors import StoreError
from chargebox.log import Log
from chargebox.protocol.base import Message
from chargebox.station.kernel.lane import Lane
from chargebox.station.kernel.service import Service
from chargebox.store import Store
from chargebox.tasks import Tasks

# Whitepaper edition 2, §8 (Security events): the critical ones MUST be sent (A04.FR.01..04).
CRITICAL: Final = frozenset(
    {
        "FirmwareUpdated",
        "SettingSystemTime",
        "StartupOfTheDevice",
        "ResetOrReboot",
        "SecurityLogWasCleared",
        "MemoryExhausted",
        "TamperDetectionActivated",
    }
)
# Not critical, but a rule of the whitepaper says "send SecurityEventNotification" for them.
SENT_TOO: Final = frozenset(
    {
        "InvalidFirmwareSignature",  # SF-5, L01.FR.03
        "InvalidFirmwareSigningCertificate",  # SF-1, L01.FR.02
        "InvalidChargePointCertificate",  # CT-2, A02.FR.07
        "InvalidCentralSystemCertificate",  # T-44, A00.FR.309, A00.FR.413
        "InvalidTLSVersion",  # T-44
        "InvalidTLSCipherSuite",  # T-44
    }
)
# Every type of §8; ``report`` refuses a misspelt one (a typo would be a silent hole in the log).
EVENT_TYPES: Final = (
    CRITICAL
    | SENT_TOO
    | frozenset(
        {
            "FailedToAuthenticateAtCentralSystem",
            "CentralSystemFailedToAuthenticate",
            "ReconfigurationOfSecurityParameters",
            "InvalidMessages",
            "AttemptedReplayAttacks",
        }
    )
)
# The station's own doing, not a sign of attack or failure: logged at INFO ("="), the others at WARNING ("!"),
# so a fleet of ten thousand stations does not print ten thousand warnings as it boots.
ROUTINE: Final = frozenset(
    {
        "StartupOfTheDevice",
        "ResetOrReboot",
        "FirmwareUpdated",
        "SettingSystemTime",
        "ReconfigurationOfSecurityParameters",
    }
)
EVENT_TYPE_MAX, TECH_INFO_MAX = 50, 255  # CiString50, CiString255

SecurityEvent = Callable[[str, str | None], None]  # (event type, techInfo): how a part reports one


class SecurityEventHandler(Protocol):
    """What the version's security feature does with a reported event; ``notify`` asks for a notification of an
    event the standard leaves to the station (a refused time, docs/reliability.md "Time")."""

    def __call__(self, event_type: str, tech_info: str | None = None, *, notify: bool = False) -> None: ...


class SecurityEvents:
    """The station's one door for security events."""

    def __init__(self) -> None:
        self._handlers: list[SecurityEventHandler] = []

    def handle(self, handler: SecurityEventHandler) -> None:
        """``handler(event_type, tech_info)`` is told every event reported from now on."""
        self._handlers.append(handler)

    def report(self, event_type: str, tech_info: str | None = None, *, notify: bool = False) -> None:
        for handler in self._handlers:
            handler(event_type, tech_info, notify=notify)


class SecurityEventLog(Service[Any]):
    """The security log and the journaled SecurityEventNotifications of either version (A04.FR.01-04, T-45):
    the version gives ``request(type, timestamp, techInfo)``, its SecurityEventNotification."""

    def __init__(
        self,
        *,
        lane: Lane,
        store: Store,
        clock: Clock,
        request: Callable[[str, datetime, str | None], Message],
        log: Log,
        renamed: Mapping[str, str] | None = None,
    ) -> None:
        """``renamed``: the types the version spells otherwise (2.0.1 says Csms for CentralSystem, ChargingStation
        for ChargePoint); a part of the kernel reports either spelling, the log and the message carry the version's."""
        self._request = request
        self._renamed = dict(renamed or {})
        self._known, self._sent = _spelt(tuple(self._renamed.items()))
        self._lane = lane
        self._store = store
        self._clock = clock
        self._log = log
        # Not cancelled by reset(): an event reported just before a reboot (ResetOrReboot) is still journaled.
        self._journaling = Tasks(log, "security event")
        self._pending: set[asyncio.Future[Any]] = set()

    def report(self, event_type: str, tech_info: str | None = None, *, notify: bool = False) -> None:
        """Log a security event now and, if it is one to send (or ``notify`` asks for one the whitepaper leaves
        to the station), journal its SecurityEventNotification."""
        event_type = self._renamed.get(event_type, event_type)
        if event_type not in self._known:
            raise ValueError(f"unknown security event type {event_type!r}")
        info = None if tech_info is None else tech_info[:TECH_INFO_MAX]
        now = self._clock.now()
        critical = event_type in CRITICAL
        try:
            self._store.security_log.add(now.isoformat(), event_type, info, critical=critical)
        except StoreError as exc:  # logged below all the same, and journaled (that write waits for the disk)
            self._log.error("! security event %s not kept in the security log: %s", event_type, exc)
        level, mark = (logging.INFO, "=") if event_type in ROUTINE else (logging.WARNING, "!")
        self._log.log(level, "%s security event %s%s", mark, event_type, f": {info}" if info else "")
        if critical or notify or event_type in self._sent:
            task = self._journaling.spawn(self._lane.append(self._request(event_type[:EVENT_TYPE_MAX], now, info)))
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)

    async def journaled(self) -> None:
        """Wait until every notification reported so far is in the outbox (a clean stop, tests)."""
        while self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)

    def configuration_changed(self, key: str) -> Callable[[str], None]:
        """A ``Configuration.subscribe`` listener for a security key: the key's name is logged, never its value."""
        return lambda _value: self.report("ReconfigurationOfSecurityParameters", f"{key} changed")


@functools.cache
def _spelt(renamed: tuple[tuple[str, str], ...]) -> tuple[frozenset[str], frozenset[str]]:
    """The event types a version knows and those it sends, as it spells them: one pair of sets for a whole fleet."""
    spelt = dict(renamed).get
    return frozenset(spelt(name, name) for name in EVENT_TYPES), frozenset(spelt(name, name) for name in SENT_TOO)
