"""Security events of a 2.0.1 station (use case A04): the security log and SecurityEventNotification.

The kernel's door (``kernel.security_events``) is where every part reports an event: the link (a failed TLS
handshake), the clock (SettingSystemTime), the station (StartupOfTheDevice, ResetOrReboot), network profiles and
the password (ReconfigurationOfSecurityParameters), firmware (InvalidFirmwareSignature, FirmwareUpdated). This
feature registers first of the security-minded ones and keeps each event in the security log (A04.FR.04: all of
them, a rolling log of ``store.security_log``'s bound); a critical one, and one a rule says to send (L01.FR.02,
L01.FR.03), is journaled as a SecurityEventNotification in the lane (A04.FR.01, A04.FR.02): durable before it is
sent, sent in the order reported after the boot is accepted, once, across an offline period and a power cut.
The log and the journal are the kernel's ``SecurityEventLog``, shared with 1.6; what is 2.0.1's is the message
(its timestamp to the second, as every 2.0.1 dateTime this station writes).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

import msgspec

from chargebox.protocol.v201 import datetimes
from chargebox.protocol.v201 import messages as m
from chargebox.station.feature import Feature, Needs
from chargebox.station.kernel.events import SecurityEventLog
from chargebox.station.kernel.kernel import Kernel
from chargebox.station.v201.offer import Block

# Part 2 Appendix 1 (Security events): the four types 2.0.1 names otherwise than the 1.6 whitepaper.
RENAMED: Final = {
    "FailedToAuthenticateAtCentralSystem": "FailedToAuthenticateAtCsms",
    "CentralSystemFailedToAuthenticate": "CsmsFailedToAuthenticate",
    "InvalidCentralSystemCertificate": "InvalidCsmsCertificate",
    "InvalidChargePointCertificate": "InvalidChargingStationCertificate",
}


class SecurityEventsService(SecurityEventLog):
    """The security log and SecurityEventNotification of a 2.0.1 station."""


def notification(event_type: str, timestamp: datetime, tech_info: str | None) -> m.SecurityEventNotificationRequest:
    """A04: type (at most 50 characters), timestamp and techInfo (at most 255), as the log keeps them."""
    return m.SecurityEventNotificationRequest(
        type=event_type, timestamp=datetimes.wire(timestamp),
        tech_info=msgspec.UNSET if tech_info is None else tech_info,
    )  # fmt: skip


def _build(kernel: Kernel[Any], _needs: Needs) -> SecurityEventsService:
    service = SecurityEventsService(lane=kernel.lane, store=kernel.store, clock=kernel.clock,
                                    request=notification, log=kernel.log, renamed=RENAMED)  # fmt: skip
    kernel.security_events.handle(service.report)  # A04.FR.04: every event from now on
    return service


FEATURE: Final = Feature(
    name="security_events",
    profile=Block.SECURITY,
    service=SecurityEventsService,
    build=_build,
    tables=frozenset({"security_log"}),
)
