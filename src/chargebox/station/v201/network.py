"""Network connection profiles: SetNetworkProfile, NetworkConfigurationPriority, reconnecting (B09, B10, A05).

A 2.0.1 station keeps NetworkConnectionProfiles (URL, security profile, message timeout) in configuration
slots (``SLOTS``, the valuesList of NetworkConfigurationPriority: B09.FR.06 asks for two at least). The central
system writes one with SetNetworkProfile (validated and stored, B09.FR.01 to B09.FR.05) and orders them with
NetworkConfigurationPriority (every slot named must hold a usable profile, B10.FR.02, A05.FR.02, A05.FR.03;
in force after the next reboot, so SetVariables answers RebootRequired, B10.FR.01).

This feature chooses each connection attempt's endpoint for the link (``LinkService.use``): after a boot it
begins with the first slot of NetworkConfigurationPriority (B10.FR.04, A05.FR.05), moves to the next after
NetworkProfileConnectionAttempts failed attempts (B10.FR.03), and when the last has failed too, goes back to
the profile it last connected with (B10.FR.07), or to the first when it never connected. A connection makes its
slot ActiveNetworkProfile and its messageTimeout OCPPCommCtrlr.MessageTimeout[Default]; one with a higher
security profile than SecurityCtrlr.SecurityProfile raises it and drops the profiles below it (A05.FR.06).
The waits between attempts are Part 4's (5.3): RetryBackOffWaitMinimum seconds plus at most
RetryBackOffRandomRange, doubled RetryBackOffRepeatTimes times.

The station's first profile is its settings' (``--csms``, ``--security-profile``, a password for profile 1):
written to slot 0 at the first start only; from then on the stored profiles decide.

A new BasicAuthPassword (A01.FR.11) and a raised security profile are security events of the type
ReconfigurationOfSecurityParameters, reported to the kernel's ``security_events`` (the security feature keeps them
in the security log); the password itself is never told.
"""

from __future__ import annotations

import logging
from typing import Final

import msgspec

from chargebox.protocol.v201 import messages as m
from chargebox.rpc import Handler
from chargebox.station.feature import Feature, Needs
from chargebox.station.kernel.events import SecurityEvent
from chargebox.station.kernel.kernel import Kernel
from chargebox.station.kernel.link import RECONFIGURATION, Endpoint, LinkService
from chargebox.station.kernel.service import Service
from chargebox.station.v201.device_model import DeviceModel
from chargebox.station.v201.offer import Block, security_profile
from chargebox.station.v201.variables import declare
from chargebox.store import Store, StoreError
from chargebox.store.network_profiles import NetworkProfilesTable
from chargebox.transport import ReconnectPolicy, Transport, csms_url_problem

Status = m.SetNetworkProfileStatusEnumType
SLOTS: Final = ("0", "1", "2")
LAST_CONNECTED: Final = "network.last_connected_slot"  # in ``store.state``: B10.FR.07 goes back to it

PRIORITY: Final = declare(
    "OCPPCommCtrlr", "NetworkConfigurationPriority", default="0", values=SLOTS, reboot_required=True,
    description="The slots of the network connection profiles, in the order a boot tries them (B10)",
)  # fmt: skip
ATTEMPTS: Final = declare(
    "OCPPCommCtrlr", "NetworkProfileConnectionAttempts", default="3", min_limit=1,
    description="Failed attempts on one profile before the next is tried (B10.FR.03)",
)  # fmt: skip
ACTIVE: Final = declare("OCPPCommCtrlr", "ActiveNetworkProfile", description="The slot in use (B09)")
WAIT_MINIMUM: Final = declare(
    "OCPPCommCtrlr", "RetryBackOffWaitMinimum", default="1", min_limit=0,
    description="Seconds before the first attempt to reconnect (Part 4 5.3)",
)  # fmt: skip
RANDOM_RANGE: Final = declare(
    "OCPPCommCtrlr", "RetryBackOffRandomRange", default="5", min_limit=0,
    description="At most this many seconds of random wait added to each attempt, so a fleet spreads out",
)  # fmt: skip
REPEAT_TIMES: Final = declare(
    "OCPPCommCtrlr", "RetryBackOffRepeatTimes", default="6", min_limit=0, max_limit=20,
    description="Times the wait doubles after a failed attempt before it stays (1 s to 64 s by default)",
)  # fmt: skip


class NetworkService(Service[m.Action]):
    """The network connection profiles, and which one each connection attempt uses."""

    def __init__(
        self,
        *,
        model: DeviceModel,
        store: Store,
        link: LinkService,
        transport: Transport,
        security_profile_key: str,
        message_timeout_key: str,
        password_key: str,
        security_event: SecurityEvent,
        first: m.NetworkConnectionProfileType,
        give_up_after: int | None,
        log: logging.LoggerAdapter[logging.Logger] | logging.Logger,
    ) -> None:
        """``first`` is the profile the settings give, slot 0 at the first start; ``give_up_after`` the failed
        attempts after which the station stops (``--give-up-after``), None for never."""
        self._model = model
        self._table = NetworkProfilesTable(store)
        self._state = store.state
        self._link = link
        self._transport = transport
        self._security_profile = security_profile_key
        self._message_timeout = message_timeout_key
        self._security_event = security_event
        self._give_up_after = give_up_after
        self._log = log
        self.profiles: dict[int, m.NetworkConnectionProfileType] = {}
        stored = self._table.all()
        if not stored:
            self._table.put(0, msgspec.json.encode(first))
            stored = self._table.all()
        for slot, raw in stored.items():
            try:
                self.profiles[slot] = msgspec.json.decode(raw, type=m.NetworkConnectionProfileType)
            except msgspec.ValidationError as exc:  # an edited store: that slot is unusable, the others are not
                log.warning("! network profile %d in the store is unusable: %s", slot, exc)
        self._order: list[int] = []
        self._position = 0
        self._failures = 0
        self._last_connected = self._stored_last_connected()
        model.add_rule(PRIORITY.key, self._usable_priority)
        model.subscribe(password_key, lambda _value: security_event(RECONFIGURATION, "BasicAuthPassword changed"))
        model.provide(ACTIVE.key, lambda: str(self.current_slot))
        for variable in (WAIT_MINIMUM, RANDOM_RANGE, REPEAT_TIMES):
            model.subscribe(variable.key, lambda _value: transport.use_policy(self.policy()))
        transport.use_policy(self.policy())
        link.use(self)
        self.restart()

    def handlers(self) -> dict[m.Action, Handler]:
        return {m.Action.SET_NETWORK_PROFILE: self.on_set_network_profile}

    # -- SetNetworkProfile (B09) --------------------------------------------------------------

    def on_set_network_profile(self, request: m.SetNetworkProfileRequest) -> m.SetNetworkProfileResponse:
        slot, profile = request.configuration_slot, request.connection_data
        problem = self._problem(slot, profile)
        if problem is not None:
            self._log.info("= SetNetworkProfile slot %d rejected: %s", slot, problem)
            return m.SetNetworkProfileResponse(status=Status.REJECTED, status_info=m.StatusInfoType(
                reason_code="InvalidProfile", additional_info=problem))  # fmt: skip
        try:
            self._table.put(slot, msgspec.json.encode(profile))  # B09.FR.01: stored before it is answered
        except StoreError as exc:
            self._log.error("! SetNetworkProfile slot %d could not be stored: %s", slot, exc)
            return m.SetNetworkProfileResponse(status=Status.FAILED)  # B09.FR.03
        self.profiles[slot] = profile
        self._log.info("= network profile %d: %s, security profile %d (in use after a reboot that names it)",
                       slot, profile.ocpp_csms_url, profile.security_profile)  # fmt: skip
        return m.SetNetworkProfileResponse(status=Status.ACCEPTED)

    def _problem(self, slot: int, profile: m.NetworkConnectionProfileType) -> str | None:
        """Why the station cannot take this profile (B09.FR.02), None if it can."""
        if str(slot) not in SLOTS:
            return f"slot {slot} is not one of {','.join(SLOTS)}"  # B09.FR.05
        if profile.security_profile < self._model.get_int(self._security_profile):
            return "a lower security profile than the one in use"  # B09.FR.04, A00.FR.005
        if profile.security_profile not in (0, 1, 2, 3):
            return f"no security profile {profile.security_profile}"
        if profile.ocpp_transport is not m.OCPPTransportEnumType.JSON:
            return "only JSON"
        if (problem := csms_url_problem(profile.ocpp_csms_url)) is not None:
            return f"ocppCsmsUrl {problem}"
        if profile.ocpp_csms_url.lower().startswith("wss:") and profile.security_profile < 2:
            return "wss:// is for security profiles 2 and 3"
        if profile.message_timeout < 1:
            return "messageTimeout must be at least 1 second"
        if profile.vpn is not msgspec.UNSET or profile.apn is not msgspec.UNSET:
            return "this station sets up neither a VPN nor an APN"
        return None

    # -- NetworkConfigurationPriority (B10, A05) ------------------------------------------------

    def _usable_priority(self, value: str) -> bool:
        """B10.FR.02, A05.FR.02 to A05.FR.04: every slot holds a profile the station can connect with, none
        below the security profile in use."""
        slots = [int(item) for item in value.split(",") if item]
        floor = self._model.get_int(self._security_profile)
        return bool(slots) and all(
            slot in self.profiles
            and self.profiles[slot].security_profile >= floor
            and self._link.can_use(self.profiles[slot].security_profile)
            for slot in slots
        )

    # -- the endpoints of the link (LinkService.use) ----------------------------------------------

    @property
    def current_slot(self) -> int:
        return self._order[self._position] if self._position < len(self._order) else self._fallback()

    def current(self) -> Endpoint:
        slot = self.current_slot
        profile = self.profiles[slot]
        return Endpoint(csms_url=profile.ocpp_csms_url, security_profile=profile.security_profile,
                        name=f"network profile {slot}")  # fmt: skip

    def failed(self) -> None:
        """B10.FR.03: NetworkProfileConnectionAttempts on one profile, then the next; after the last, the one
        the station last connected with (B10.FR.07)."""
        self._failures += 1
        if self._position < len(self._order) and self._failures >= self._model.get_int(ATTEMPTS.key, 1):
            self._position += 1
            self._failures = 0
            self._log.warning("! %d failed attempts; next: network profile %d",
                              self._model.get_int(ATTEMPTS.key, 1), self.current_slot)  # fmt: skip

    def connected(self) -> None:
        slot = self.current_slot
        profile = self.profiles[slot]
        self._failures = 0
        if slot != self._last_connected:
            self._last_connected = slot
            self._state.set(LAST_CONNECTED, str(slot))
        self._model.set_internal(self._message_timeout, str(profile.message_timeout))
        if profile.security_profile > self._model.get_int(self._security_profile):
            self._upgrade(profile.security_profile)

    def restart(self) -> None:
        """B10.FR.04, A05.FR.05: after a boot the first slot of NetworkConfigurationPriority is tried first."""
        self._order = [int(item) for item in self._model.get_list(PRIORITY.key) if int(item) in self.profiles]
        self._position = 0
        self._failures = 0

    def policy(self) -> ReconnectPolicy:
        """Part 4 5.3: RetryBackOffWaitMinimum plus at most RetryBackOffRandomRange seconds, doubled after each
        failed attempt RetryBackOffRepeatTimes times, then kept."""
        wait = float(self._model.get_int(WAIT_MINIMUM.key))
        return ReconnectPolicy(initial=wait, factor=2.0, maximum=wait * 2 ** self._model.get_int(REPEAT_TIMES.key),
                               jitter=0.0, spread=float(self._model.get_int(RANDOM_RANGE.key)),
                               max_attempts=self._give_up_after)  # fmt: skip

    # -- internals ----------------------------------------------------------------------------

    def _fallback(self) -> int:
        if self._last_connected is not None and self._last_connected in self.profiles:
            return self._last_connected
        return self._order[0] if self._order else min(self.profiles)

    def _upgrade(self, profile: int) -> None:
        """A05.FR.06: connected with a higher security profile: it is the station's now, and the profiles below
        it are gone, from the slots and from NetworkConfigurationPriority."""
        self._log.info("= security profile %d in use: the profiles below it are removed", profile)
        self._model.set_internal(self._security_profile, str(profile))
        self._security_event(RECONFIGURATION, f"security profile {profile}")
        lower = sorted(slot for slot, kept in self.profiles.items() if kept.security_profile < profile)
        self._table.remove(lower)
        for slot in lower:
            del self.profiles[slot]
        remaining = [str(slot) for slot in self._order if slot not in lower]
        self._model.set_internal(PRIORITY.key, ",".join(remaining))
        self._order = [int(slot) for slot in remaining]
        self._position = self._order.index(self.current_slot) if self.current_slot in self._order else 0

    def _stored_last_connected(self) -> int | None:
        text = self._state.get(LAST_CONNECTED)
        return int(text) if text is not None and text.isdigit() else None


def first_profile(kernel: Kernel[DeviceModel]) -> m.NetworkConnectionProfileType:
    """The profile the settings give: slot 0 of a station's first start."""
    settings = kernel.settings
    return m.NetworkConnectionProfileType(
        ocpp_version=m.OCPPVersionEnumType.OCPP20,
        ocpp_transport=m.OCPPTransportEnumType.JSON,
        ocpp_csms_url=settings.csms_url,
        message_timeout=kernel.config.get_int(kernel.version.keys.message_timeout, 30),
        security_profile=security_profile(settings),
        ocpp_interface=m.OCPPInterfaceEnumType.WIRED0,
    )


def _build(kernel: Kernel[DeviceModel], _needs: Needs) -> NetworkService:
    keys = kernel.version.keys
    return NetworkService(
        model=kernel.config, store=kernel.store, link=kernel.link, transport=kernel.transport,
        security_profile_key=keys.security_profile, message_timeout_key=keys.message_timeout,
        password_key=keys.authorization_key, security_event=kernel.security_events.report,
        first=first_profile(kernel), give_up_after=kernel.settings.reconnect.max_attempts, log=kernel.log,
    )  # fmt: skip


FEATURE: Final = Feature(
    name="network",
    profile=Block.PROVISIONING,
    service=NetworkService,
    build=_build,
    actions=frozenset({m.Action.SET_NETWORK_PROFILE}),
    variables=(PRIORITY, ATTEMPTS, ACTIVE, WAIT_MINIMUM, RANDOM_RANGE, REPEAT_TIMES),
    tables=frozenset({"network_profiles"}),
)
