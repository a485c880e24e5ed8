"""The charge point: every service built and wired in one place (open-ocpp's ChargePoint.cpp).

``Station`` owns the clock, the store, the Rpc and the transport, gives each service what it needs
through its constructor, registers the actions each answers for the feature profiles the station
offers (the others are answered NotSupported), and runs the connection.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from chargebox.clock import Clock, SystemClock
from chargebox.errors import ConfigError
from chargebox.protocol.messages import Action
from chargebox.rpc import Handler, Rpc
from chargebox.station.authorization import AuthorizationService
from chargebox.station.boot import BootService, Identity
from chargebox.station.config import Configuration, ConfigurationService
from chargebox.station.config_keys import Profile
from chargebox.station.connectors import ConnectorsService
from chargebox.station.data_transfer import DataTransferService
from chargebox.station.link import LinkService
from chargebox.station.trigger import TriggerService
from chargebox.store import Store
from chargebox.transport import ReconnectPolicy, Transport

# The feature profiles this version implements; a template may offer fewer, never more.
IMPLEMENTED_PROFILES: Final = frozenset({Profile.CORE, Profile.REMOTE_TRIGGER})

# Which profile each CSMS-initiated action belongs to (checklist 3.1, errata 3.2).
ACTION_PROFILE: Final[Mapping[Action, Profile]] = {
    Action.CHANGE_AVAILABILITY: Profile.CORE,
    Action.CHANGE_CONFIGURATION: Profile.CORE,
    Action.CLEAR_CACHE: Profile.CORE,
    Action.DATA_TRANSFER: Profile.CORE,
    Action.GET_CONFIGURATION: Profile.CORE,
    Action.REMOTE_START_TRANSACTION: Profile.CORE,
    Action.REMOTE_STOP_TRANSACTION: Profile.CORE,
    Action.RESET: Profile.CORE,
    Action.UNLOCK_CONNECTOR: Profile.CORE,
    Action.GET_DIAGNOSTICS: Profile.FIRMWARE_MANAGEMENT,
    Action.UPDATE_FIRMWARE: Profile.FIRMWARE_MANAGEMENT,
    Action.GET_LOCAL_LIST_VERSION: Profile.LOCAL_AUTH_LIST_MANAGEMENT,
    Action.SEND_LOCAL_LIST: Profile.LOCAL_AUTH_LIST_MANAGEMENT,
    Action.CANCEL_RESERVATION: Profile.RESERVATION,
    Action.RESERVE_NOW: Profile.RESERVATION,
    Action.CLEAR_CHARGING_PROFILE: Profile.SMART_CHARGING,
    Action.GET_COMPOSITE_SCHEDULE: Profile.SMART_CHARGING,
    Action.SET_CHARGING_PROFILE: Profile.SMART_CHARGING,
    Action.TRIGGER_MESSAGE: Profile.REMOTE_TRIGGER,
    Action.CERTIFICATE_SIGNED: Profile.SECURITY,
    Action.DELETE_CERTIFICATE: Profile.SECURITY,
    Action.EXTENDED_TRIGGER_MESSAGE: Profile.SECURITY,
    Action.GET_INSTALLED_CERTIFICATE_IDS: Profile.SECURITY,
    Action.GET_LOG: Profile.SECURITY,
    Action.INSTALL_CERTIFICATE: Profile.SECURITY,
    Action.SIGNED_UPDATE_FIRMWARE: Profile.SECURITY,
}


@dataclass(frozen=True, slots=True)
class StationSettings:
    """Everything a station is started with (the ``simulate`` and ``run`` options)."""

    charge_point_id: str
    csms_url: str
    identity: Identity = field(default_factory=lambda: Identity(vendor="chargebox", model="Simulator"))
    connectors: int | None = None
    data_dir: Path | None = None
    password: str | None = None
    ocpp_config: Mapping[str, object] = field(default_factory=dict)
    ocpp_config_source: str = "ocpp config"
    fixed_cable: bool = False
    compression: bool = False
    reconnect: ReconnectPolicy = field(default_factory=ReconnectPolicy)


class Station:
    """One charge point: its services, its store, its connection."""

    def __init__(self, settings: StationSettings, *, clock: Clock | None = None, store: Store | None = None) -> None:
        self.settings = settings
        self.id = settings.charge_point_id
        self.clock: Clock = clock or SystemClock()
        self.log = logging.LoggerAdapter(logging.getLogger("chargebox.station"), {"cp": self.id})
        template = _template(settings)
        profiles = _profiles(template, settings.ocpp_config_source)
        count = _connector_count(settings, template)
        self.store = store or Store.open(settings.data_dir)
        self.config = Configuration(
            store=self.store,
            profiles=profiles,
            facts={
                "NumberOfConnectors": str(count),
                "ConnectorPhaseRotationMaxLength": str(count + 1),
                "SupportedFeatureProfiles": ",".join(p.value for p in Profile if p in profiles),
            },
            fixed_cable=settings.fixed_cable,
            log=self.log,
        )
        self.config.load_template(template, settings.ocpp_config_source)
        self.rpc = Rpc(clock=self.clock, logger=self.log, name=self.id)
        self.link = LinkService(
            config=self.config,
            rpc=self.rpc,
            csms_url=settings.csms_url,
            charge_point_id=self.id,
            compression=settings.compression,
            log=self.log,
        )
        self.transport = Transport(
            settings=self.link.settings,
            rpc=self.rpc,
            clock=self.clock,
            logger=self.log,
            on_open=self._on_open,
            on_close=self._on_close,
            policy=settings.reconnect,
        )
        self.link.transport = self.transport
        self.boot = BootService(
            rpc=self.rpc,
            config=self.config,
            clock=self.clock,
            identity=settings.identity,
            on_accepted=self._on_accepted,
            log=self.log,
        )
        self.connectors = ConnectorsService(
            rpc=self.rpc, config=self.config, clock=self.clock, store=self.store, count=count, log=self.log
        )
        self.configuration = ConfigurationService(config=self.config, log=self.log)
        self.data_transfer = DataTransferService(rpc=self.rpc)
        self.authorization = AuthorizationService(store=self.store, log=self.log)
        self.trigger = TriggerService(connector_count=lambda: self.connectors.count)
        self.trigger.add(self.boot.triggers())
        self.trigger.add(self.connectors.triggers(self.boot.permit_triggered))
        self.profiles = profiles
        for service in (self.configuration, self.data_transfer, self.authorization, self.trigger):
            for action, handler in service.handlers().items():
                self.register(action, handler)
        self.resumers: list[Callable[[], Awaitable[None]]] = []
        self._runner: asyncio.Task[None] | None = None

    def register(self, action: Action, handler: Handler) -> None:
        """Answer ``action`` with ``handler`` (an integrator may override any, or add a vendor one).

        Actions of a feature profile this station does not offer stay NotSupported (checklist 1.4).
        """
        if ACTION_PROFILE.get(action, Profile.CORE) in self.profiles:
            self.rpc.handlers[action] = handler

    async def run(self) -> None:
        """Connect and serve until ``stop()``; raises CsmsUnreachable if the policy gives up."""
        await self.transport.run()

    async def stop(self) -> None:
        await self.transport.stop()
        self.rpc.reset()
        self.store.close()

    def reboot(self, identity: Identity | None = None) -> None:
        """Restart the station software: runtime state reset, the link dropped, and on the next
        connection a BootNotification again (B-1) — with ``identity`` if it changed (F-7)."""
        self.log.info("= rebooting")
        self.reset_all()
        if identity is not None:
            self.boot.identity = identity
        self.transport.reconnect()

    def reset_all(self) -> None:
        """Seed: OCPPResetAllGlobals. Every service back to just-constructed; the store is kept."""
        self.rpc.reset()
        self.boot.reset()
        self.connectors.reset()
        self.data_transfer.reset()
        self.authorization.reset()

    def snapshot(self) -> dict[str, Any]:
        """The station as the control API shows it (``GET /api/state``)."""
        return {
            "id": self.id,
            "connected": self.transport.connected,
            "registration": self.boot.registration.value if self.boot.registration else None,
            "firmwareStatus": "Idle",
            "diagnosticsStatus": "Idle",
            "connectors": [
                {
                    "id": c.id,
                    "status": c.status.value,
                    "errorCode": c.error_code.value,
                    "plugged": c.plugged,
                    "transactionId": c.transaction_id,
                    "meterWh": self.store.connectors.meter_wh(c.id),
                    "offeredA": 0.0,
                }
                for c in self.connectors.connectors[1:]
            ],
        }

    # -- connection lifecycle -----------------------------------------------------------------

    async def _on_open(self) -> None:
        self.boot.connected()

    def _on_close(self) -> None:
        self.boot.disconnected()
        self.connectors.offline()

    async def _on_accepted(self, first: bool) -> None:
        await self.connectors.online(after_boot=first)
        if first:  # finish what a reboot or power loss interrupted (after B-4's StatusNotifications)
            for resume in self.resumers:
                await resume()


def _template(settings: StationSettings) -> dict[str, object]:
    template = dict(settings.ocpp_config)
    if settings.password is not None:
        template.setdefault("AuthorizationKey", settings.password)
        template.setdefault("SecurityProfile", 1)
    return template


def _profiles(template: Mapping[str, object], source: str) -> frozenset[Profile]:
    raw = next((v for k, v in template.items() if k.lower() == "supportedfeatureprofiles"), None)
    if raw is None:
        return IMPLEMENTED_PROFILES
    names = raw if isinstance(raw, list) else [p.strip() for p in str(raw).split(",") if p.strip()]
    profiles = set()
    for name in names:
        try:
            profile = Profile(name)
        except ValueError:
            raise ConfigError(f"{source}: SupportedFeatureProfiles: unknown profile {name!r}") from None
        if profile not in IMPLEMENTED_PROFILES:
            raise ConfigError(f"{source}: SupportedFeatureProfiles: {name} is not implemented by this version")
        profiles.add(profile)
    if Profile.CORE not in profiles:
        raise ConfigError(f"{source}: SupportedFeatureProfiles must include Core")
    return frozenset(profiles)


def _connector_count(settings: StationSettings, template: Mapping[str, object]) -> int:
    raw = next((v for k, v in template.items() if k.lower() == "numberofconnectors"), None)
    source = settings.ocpp_config_source
    if raw is None:
        return settings.connectors or 1
    try:
        count = int(str(raw))
    except ValueError:
        raise ConfigError(f"{source}: NumberOfConnectors: not an integer: {raw!r}") from None
    if count < 1:
        raise ConfigError(f"{source}: NumberOfConnectors: must be at least 1")
    if settings.connectors is not None and settings.connectors != count:
        raise ConfigError(f"{source}: NumberOfConnectors={count} contradicts --connectors {settings.connectors}")
    return count
