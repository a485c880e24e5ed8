"""The configuration behind the WebSocket link: credentials, security profile, keep-alive, timeouts.

Owns AuthorizationKey (T-41, T-42), SecurityProfile (T-43), WebSocketPingInterval (T-30) and
MessageTimeout (T-22): it checks their new values, turns them into ``LinkSettings`` for each
connection attempt, and reconnects when the credentials change (T-35), a moment after the answer
that changed them: a central system that reads its socket lazily (or answers one of our CALLs first)
must still find that answer before the link goes.
"""

from __future__ import annotations

import logging
from typing import Final

from chargebox.clock import Clock
from chargebox.rpc import Rpc
from chargebox.station.config import Configuration
from chargebox.station.service import Service
from chargebox.tasks import Tasks
from chargebox.transport import LinkSettings, Transport

# T-41: the whitepaper's Basic-auth password is 16 to 40 characters (40 hex digits = 20 bytes).
AUTHORIZATION_KEY_LENGTH: Final = range(16, 41)
# Profiles 2 and 3 need the certificate store of the security issue; until then they are refused.
SUPPORTED_PROFILES: Final = frozenset({0, 1})
RECONNECT_GRACE: Final = 0.5  # seconds between the answer that changed the credentials and the reconnect


class LinkService(Service):
    def __init__(
        self,
        *,
        config: Configuration,
        rpc: Rpc,
        clock: Clock,
        csms_url: str,
        charge_point_id: str,
        compression: bool,
        log: logging.LoggerAdapter[logging.Logger] | logging.Logger,
    ) -> None:
        self._config = config
        self._rpc = rpc
        self._csms_url = csms_url
        self._charge_point_id = charge_point_id
        self._compression = compression
        self._log = log
        self._clock = clock
        self._tasks = Tasks(log, "reconnect")
        self.transport: Transport | None = None
        config.add_rule("AuthorizationKey", _valid_authorization_key)
        config.add_rule("SecurityProfile", self._may_raise_profile)
        config.subscribe("AuthorizationKey", lambda _value: self._reconnect("AuthorizationKey changed"))
        config.subscribe("SecurityProfile", lambda value: self._reconnect(f"security profile {value}"))
        config.subscribe("WebSocketPingInterval", lambda _value: self._settings_changed())
        config.subscribe("MessageTimeout", lambda value: setattr(rpc, "call_timeout", float(value)))
        rpc.call_timeout = float(config.get_int("MessageTimeout", default=30))

    def settings(self) -> LinkSettings:
        """Read before every connection attempt, so new credentials apply to the next one."""
        return LinkSettings(
            csms_url=self._csms_url,
            charge_point_id=self._charge_point_id,
            security_profile=self._config.get_int("SecurityProfile"),
            authorization_key=self._config.configured("AuthorizationKey"),
            ping_interval=float(self._config.get_int("WebSocketPingInterval")),
            compression=self._compression,
        )

    def _may_raise_profile(self, value: str) -> bool:
        """T-43: only upwards, and only to a profile whose credentials are in place."""
        new, current = int(value), self._config.get_int("SecurityProfile")
        if new <= current or new not in SUPPORTED_PROFILES:
            return False
        return not (new in (1, 2) and not self._config.configured("AuthorizationKey"))

    def reset(self) -> None:
        self._tasks.cancel()

    def _reconnect(self, why: str) -> None:
        transport = self.transport
        if transport is None:
            return

        async def later() -> None:
            await self._clock.sleep(RECONNECT_GRACE)
            self._log.info("= reconnecting: %s", why)  # T-35: queued messages stay in the store
            transport.reconnect()

        self._tasks.spawn(later())

    def _settings_changed(self) -> None:
        if self.transport is not None:
            self.transport.settings_changed()


def _valid_authorization_key(value: str) -> bool:
    return len(value) in AUTHORIZATION_KEY_LENGTH and value.isprintable()
