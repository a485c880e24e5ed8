"""The configuration behind the WebSocket link: credentials, security profile, TLS, keep-alive, timeouts.

Owns AuthorizationKey (T-41, T-42), SecurityProfile (T-40, T-43), WebSocketPingInterval (T-30) and
MessageTimeout (T-22): it checks their new values, turns them into ``LinkSettings`` for each
connection attempt, and reconnects when the credentials change (T-35), a moment after the answer
that changed them: a central system that reads its socket lazily (or answers one of our CALLs first)
must still find that answer before the link goes.

Security profiles (checklist 1.6): 0 nothing, 1 Basic auth over ws://, 2 Basic auth over wss://, 3
mutual TLS. For 2 and 3 a ``ws://`` central system URL is used as ``wss://``; a ``wss://`` URL with
0 or 1 is refused at start. TLS trusts only the CentralSystemRootCertificates (installed, and
``--ca-file``): a station without one does not connect rather than connect unverified.

SecurityProfile only goes up, once its preconditions hold (T-43), and takes effect by reconnecting.
If the new profile has not connected within ``TlsSettings.fallback_seconds`` (120 s) the station goes back to
the previous one (TC_083_CS's SHOULD), says so in the log and raises the security event
ReconfigurationOfSecurityParameters. The trial is not persisted: a reboot during it keeps the new
profile.

Where each attempt goes may be chosen by the version instead (``use(endpoints)``): 2.0.1's network connection
profiles (B09, B10) give the URL and security profile of each attempt, are told each failure (so they move to
the next profile after NetworkProfileConnectionAttempts) and each success, and change the security profile by
connecting with a higher one (A05), never by a reconnect on a changed key.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, Protocol
from urllib.parse import urlsplit

from chargebox.clock import Clock
from chargebox.log import Log
from chargebox.redact import redact
from chargebox.rpc import Rpc
from chargebox.station.kernel.config import KernelConfig
from chargebox.station.kernel.events import SecurityEvent
from chargebox.station.kernel.service import Service
from chargebox.station.kernel.tls import (
    INVALID_CENTRAL_SYSTEM_CERTIFICATE,
    TlsSettings,
    TlsUnavailable,
    client_context,
    read_pem,
    security_event_of,
)
from chargebox.station.kernel.version import Version
from chargebox.tasks import Tasks
from chargebox.transport import LinkSettings, Transport

# T-41: the whitepaper's Basic-auth password is 16 to 40 characters (40 hex digits = 20 bytes).
AUTHORIZATION_KEY_LENGTH: Final = range(16, 41)
SUPPORTED_PROFILES: Final = frozenset({0, 1, 2, 3})
RECONNECT_GRACE: Final = 0.5  # seconds between the answer that changed the credentials and the reconnect
RECONFIGURATION: Final = "ReconfigurationOfSecurityParameters"


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where one connection attempt goes and how it authenticates."""

    csms_url: str
    security_profile: int
    name: str  # how the log names it ("network profile 1")


class Endpoints(Protocol):
    """Who chooses each connection attempt's endpoint (2.0.1: the network connection profiles, B10)."""

    def current(self) -> Endpoint:
        """The endpoint of the next attempt."""
        ...

    def failed(self) -> None:
        """An attempt on the current endpoint failed."""
        ...

    def connected(self) -> None:
        """An attempt on the current endpoint connected."""
        ...


class RootTrust(Protocol):
    """Who chooses the central-system roots each attempt verifies against (2.0.1's AdditionalRootCertificateCheck,
    M05.FR.13/14): without one, every stored root is trusted at once."""

    def roots(self) -> tuple[list[str], bool]:
        """The roots of the next attempt, and whether one of them may be an intermediate (a new root signed by the
        old one is not self-signed: OpenSSL must be let to stop at it)."""
        ...

    def refused(self) -> None:
        """The attempt's roots did not verify the central system's certificate."""
        ...

    def verified(self) -> None:
        """A connection opened, verified by the attempt's roots."""
        ...


class LinkService(Service):
    def __init__(
        self,
        *,
        config: KernelConfig,
        version: Version,
        rpc: Rpc[Any],
        clock: Clock,
        csms_url: str,
        charge_point_id: str,
        compression: bool,
        log: Log,
        tls: TlsSettings | None = None,
        roots: Callable[[], list[str]] = list,
        credentials: Callable[[], tuple[str, str] | None] = lambda: None,
        security_event: SecurityEvent = lambda _type, _info: None,
    ) -> None:
        self._config = config
        self._keys = version.keys  # the configuration the link reads, by the version's names
        self._subprotocol = version.subprotocol
        self._rpc = rpc
        self._csms_url = csms_url
        self._charge_point_id = charge_point_id
        self._compression = compression
        self._log = log
        self._clock = clock
        self._tls = tls or TlsSettings()
        self._roots = roots
        self._credentials = credentials
        self._security_event = security_event
        self._fallback_after = self._tls.fallback_seconds
        self._tasks = Tasks(log, "reconnect")
        self._trial: int | None = None  # the profile to fall back to while a raised one is tried
        self._profile = config.get_int(self._keys.security_profile)
        self._file_credentials: tuple[str, str] | None = None
        self._endpoints: Endpoints | None = None
        self._trust: RootTrust | None = None
        self._over_tls = False  # the last attempt's profile was 2 or 3: its server was verified by a root
        self.transport: Transport | None = None
        config.add_rule(self._keys.authorization_key, _valid_authorization_key)
        config.add_rule(self._keys.security_profile, self._may_raise_profile)
        config.subscribe(self._keys.authorization_key, lambda _value: self._key_changed())
        config.subscribe(self._keys.security_profile, self._profile_changed)
        config.subscribe(self._keys.ping_interval, lambda _value: self._settings_changed())
        config.subscribe(self._keys.message_timeout, lambda value: setattr(rpc, "call_timeout", float(value)))
        rpc.call_timeout = float(config.get_int(self._keys.message_timeout, default=30))

    def start_problem(self) -> str | None:
        """Why the station cannot start with its profile, URL and TLS files (None if it can): the
        integrator's mistake, said in one line before anything connects."""
        tls = self._tls
        if (tls.cert_file is None) != (tls.key_file is None):
            return "--cert and --key go together (the ChargePointCertificate and its private key)"
        try:
            if tls.cert_file is not None and tls.key_file is not None:
                self._file_credentials = (
                    read_pem(tls.cert_file, "--cert"),
                    read_pem(tls.key_file, "--key"),
                )
            if tls.ca_file is not None:
                read_pem(tls.ca_file, "--ca-file")
        except TlsUnavailable as exc:
            return str(exc)
        profile = self._config.get_int(self._keys.security_profile)
        if urlsplit(self._csms_url).scheme.lower() == "wss" and profile < 2:
            return (
                f"--csms is wss:// but --security-profile is {profile}: wss:// is for profiles 2 and 3 "
                "(1 is Basic auth over ws://)"
            )
        if profile >= 2 and not self._has_root():
            return f"security profile {profile} needs a CentralSystemRootCertificate: give --ca-file"
        if profile == 3 and self._client_credentials() is None:
            return "security profile 3 needs a ChargePointCertificate: give --cert and --key"
        if profile >= 2:
            try:
                self._context(profile)
            except TlsUnavailable as exc:
                return str(exc)
        return None

    def use(self, endpoints: Endpoints) -> None:
        """From now on ``endpoints`` chooses where each attempt goes (2.0.1's network connection profiles)."""
        self._endpoints = endpoints

    def trust(self, trust: RootTrust) -> None:
        """From now on ``trust`` chooses the roots each attempt verifies against (2.0.1's M05)."""
        self._trust = trust

    def can_use(self, profile: int) -> bool:
        """T-43, A05.FR.02, A05.FR.03: the credentials a security profile needs are in place (a password for 1
        and 2, a central system root for 2 and 3, a station certificate for 3)."""
        if profile not in SUPPORTED_PROFILES:
            return False
        if profile in (1, 2) and not self._config.configured(self._keys.authorization_key):
            return False
        if profile >= 2 and not self._has_root():
            return False
        return not (profile == 3 and self._client_credentials() is None)

    def settings(self) -> LinkSettings:
        """Read before every connection attempt, so new credentials (or a new endpoint) apply to the next one."""
        endpoint = self._endpoints.current() if self._endpoints is not None else None
        profile = endpoint.security_profile if endpoint else self._config.get_int(self._keys.security_profile)
        csms_url = endpoint.csms_url if endpoint else self._csms_url
        context, problem = None, None
        self._over_tls = profile >= 2
        if profile >= 2:
            try:
                context = self._context(profile)
            except TlsUnavailable as exc:
                problem = str(exc)  # no connection rather than an unverified one (T-44)
        elif urlsplit(csms_url).scheme.lower() == "wss":
            problem = f"wss:// needs security profile 2 or 3, not {profile}"
        return LinkSettings(
            csms_url=self._url(csms_url, profile),
            charge_point_id=self._charge_point_id,
            subprotocol=self._subprotocol,
            security_profile=profile,
            authorization_key=self._config.configured(self._keys.authorization_key),
            ping_interval=float(self._config.get_int(self._keys.ping_interval)),
            compression=self._compression,
            ssl_context=context,
            server_hostname=self._tls.server_name if context is not None else None,
            problem=problem,
        )

    def connect_failed(self, exc: BaseException) -> None:
        """A connection attempt failed: a TLS or authentication failure is a security event (T-44)."""
        event = security_event_of(exc)
        if event is not None:
            self._security_event(event, redact(str(exc))[:255])
        if event == INVALID_CENTRAL_SYSTEM_CERTIFICATE and self._trust is not None:
            self._trust.refused()  # M05.FR.14: the other roots next
        if self._endpoints is not None:
            self._endpoints.failed()

    def opened(self) -> None:
        """A connection opened: a raised SecurityProfile on trial has proven itself, and so has the endpoint."""
        if self._trial is not None:
            self._log.info("= security profile %d connected", self._profile)
        self._trial = None
        if self._endpoints is not None:
            self._endpoints.connected()
        if self._trust is not None and self._over_tls:
            self._trust.verified()  # M05.FR.13

    def reset(self) -> None:
        self._tasks.cancel()
        self._trial = None

    # -- internals ----------------------------------------------------------------------------

    def _url(self, csms_url: str, profile: int) -> str:
        if profile >= 2 and urlsplit(csms_url).scheme.lower() == "ws":
            return "wss" + csms_url[2:]
        return csms_url

    def _has_root(self) -> bool:
        return bool(self._roots()) or self._tls.ca_file is not None

    def _client_credentials(self) -> tuple[str, str] | None:
        """The signed ChargePointCertificate from the store, else the ``--cert``/``--key`` files."""
        return self._credentials() or self._file_credentials

    def _context(self, profile: int) -> ssl.SSLContext:
        chain, key = (None, None)
        if profile == 3:
            credentials = self._client_credentials()
            if credentials is None:
                raise TlsUnavailable("security profile 3 needs a ChargePointCertificate")
            chain, key = credentials
        roots, partial = self._trust.roots() if self._trust is not None else (self._roots(), False)
        return client_context(roots, ca_file=self._tls.ca_file, cert_chain=chain, key=key, partial_chain=partial)

    def _may_raise_profile(self, value: str) -> bool:
        """T-43: only upwards, and only to a profile whose credentials are in place."""
        new = int(value)
        return new > self._config.get_int(self._keys.security_profile) and self.can_use(new)

    def _profile_changed(self, value: str) -> None:
        previous, self._profile = self._profile, int(value)
        if self._profile <= previous or self._endpoints is not None:  # the fallback itself; or A05.FR.06, done
            return
        self._trial = previous
        self._reconnect(f"security profile {self._profile}")
        self._tasks.spawn(self._fall_back_unless_connected(previous, self._profile))

    async def _fall_back_unless_connected(self, previous: int, tried: int) -> None:
        await self._clock.sleep(self._fallback_after)
        if self._trial != previous or self._profile != tried:
            return
        self._trial = None
        why = f"security profile {tried} did not connect within {self._fallback_after:g}s; back to {previous}"
        self._log.warning("! %s", why)
        self._security_event(RECONFIGURATION, why)
        self._config.set_internal(self._keys.security_profile, str(previous))
        if self.transport is not None:
            self.transport.reconnect()

    def _key_changed(self) -> None:
        self._reconnect("AuthorizationKey changed")

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

    def reconnect_for_certificate(self) -> None:
        """A new ChargePointCertificate: on profile 3 it is used by reconnecting now."""
        if self._config.get_int(self._keys.security_profile) == 3:
            self._reconnect("new ChargePointCertificate")


def _valid_authorization_key(value: str) -> bool:
    return len(value) in AUTHORIZATION_KEY_LENGTH and value.isprintable()
