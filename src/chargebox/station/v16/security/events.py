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

from datetime import datetime
from typing import Final

import msgspec

from chargebox.clock import Clock
from chargebox.log import Log
from chargebox.protocol.messages import SecurityEventNotificationRequest
from chargebox.station.feature import Feature, Needs
from chargebox.station.kernel.events import SecurityEventLog
from chargebox.station.kernel.kernel import Kernel
from chargebox.station.kernel.lane import Lane
from chargebox.station.v16.config_keys import Profile
from chargebox.store import Store

# Configuration keys whose change is a ReconfigurationOfSecurityParameters (T-41: the value is never logged).
SECURITY_KEYS: Final = (
    "SecurityProfile",
    "AuthorizationKey",
    "CpoName",
    "AdditionalRootCertificateCheck",
    "CertificateSignedMaxChainSize",
    "CertificateStoreMaxLength",
)


class SecurityService(SecurityEventLog):
    """The security log and the SecurityEventNotifications (``Station.security``)."""

    def __init__(self, *, lane: Lane, store: Store, clock: Clock, log: Log) -> None:
        super().__init__(lane=lane, store=store, clock=clock, request=_notification, log=log)


def _notification(event_type: str, timestamp: datetime, tech_info: str | None) -> SecurityEventNotificationRequest:
    return SecurityEventNotificationRequest(
        type=event_type, timestamp=timestamp, tech_info=msgspec.UNSET if tech_info is None else tech_info
    )


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
