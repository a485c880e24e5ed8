"""Security events and the security log (whitepaper A04, checklist T-45, B-10, F-9, SF-1, SF-5).

``report(event_type, tech_info)`` is the one door: any service (and the TLS code) calls it, synchronously, from
wherever it detects an event. Every event is written to the security log in the store at once (A04.FR.01: all of
them); the ones the whitepaper marks critical, and the ones a rule says must be sent (SF-1, SF-5, CT-2), are also
*journaled* as a SecurityEventNotification through the lane (``lane.append``, Q-8), exactly like a transaction
message: in the outbox before it is sent, deleted once answered, so it survives an offline period and a power
loss and reaches the central system once. A central system without the whitepaper answers one NotImplemented: the
lane sets it aside at once, the rest of the lane goes on, and the log keeps the event either way.

What a crash can lose: the instant between ``report`` and the outbox commit (one group commit, a millisecond).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, Final

import msgspec

from chargebox.clock import Clock
from chargebox.errors import StoreError
from chargebox.log import Log
from chargebox.protocol.messages import SecurityEventNotificationRequest
from chargebox.station.feature import Feature, Needs
from chargebox.station.kernel.kernel import Kernel
from chargebox.station.kernel.lane import Lane
from chargebox.station.kernel.service import Service
from chargebox.station.v16.config_keys import Profile
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
# Configuration keys whose change is a ReconfigurationOfSecurityParameters (T-41: the value is never logged).
SECURITY_KEYS: Final = (
    "SecurityProfile",
    "AuthorizationKey",
    "CpoName",
    "AdditionalRootCertificateCheck",
    "CertificateSignedMaxChainSize",
    "CertificateStoreMaxLength",
)
EVENT_TYPE_MAX, TECH_INFO_MAX = 50, 255  # CiString50, CiString255


class SecurityService(Service):
    """The security log and the SecurityEventNotifications (``Station.security``)."""

    def __init__(
        self,
        *,
        lane: Lane,
        store: Store,
        clock: Clock,
        log: Log,
    ) -> None:
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
        if event_type not in EVENT_TYPES:
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
        if critical or notify or event_type in SENT_TOO:
            request = SecurityEventNotificationRequest(
                type=event_type[:EVENT_TYPE_MAX], timestamp=now, tech_info=msgspec.UNSET if info is None else info
            )
            task = self._journaling.spawn(self._lane.append(request))
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)

    async def journaled(self) -> None:
        """Wait until every notification reported so far is in the outbox (a clean stop, tests)."""
        while self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)

    def configuration_changed(self, key: str) -> Callable[[str], None]:
        """A ``Configuration.subscribe`` listener for a security key: the key's name is logged, never its value."""
        return lambda _value: self.report("ReconfigurationOfSecurityParameters", f"{key} changed")


def _build(kernel: Kernel, _needs: Needs) -> SecurityService:
    service = SecurityService(lane=kernel.lane, store=kernel.store, clock=kernel.clock, log=kernel.log)
    kernel.security_events.handle(service.report)  # first of the features: every event is kept (T-45)
    for name in SECURITY_KEYS:
        if kernel.config.has(name):
            kernel.config.subscribe(name, service.configuration_changed(name))
    return service


# Core: every feature may report an event, and the whitepaper's part of it is offered on every station (offer.py).
FEATURE: Final = Feature(
    name="security_events",
    profile=Profile.CORE,
    service=SecurityService,
    build=_build,
    tables=frozenset({"security_log"}),
)
