"""Security events (T-45): where the kernel's parts and the features report one.

The link reports a failed TLS handshake or authentication, the certificates a certificate the
central system should not have sent; what becomes of an event is the version's to decide (1.6: the
security log and, for the ones the whitepaper says to send, a journaled SecurityEventNotification).
Its security feature registers with ``handle`` when it is built, first of all the features, so no
event reported afterwards is lost.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

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
