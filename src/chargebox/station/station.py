"""The charge point: every service built and wired in one place (open-ocpp's ChargePoint.cpp).

``Station`` owns the clock, the store, the Rpc and the transport, gives each service what it needs
through its constructor, registers the actions each answers for the feature profiles the station
offers (the others are answered NotSupported), and runs the connection.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Final

from chargebox import hal
from chargebox.clock import Clock, SystemClock, sleep_or_wake
from chargebox.errors import ConfigError
from chargebox.protocol.messages import (
    Action,
    ChargePointErrorCode,
    ExtendedMessageTrigger,
    FirmwareStatus,
    Reason,
    RegistrationStatus,
)
from chargebox.redact import redact
from chargebox.rpc import Handler, Rpc
from chargebox.station.authorization import AuthorizationService
from chargebox.station.availability import AvailabilityService
from chargebox.station.boot import BootService, Identity
from chargebox.station.certificates import CENTRAL_SYSTEM_ROOT, CertificateService
from chargebox.station.config import Configuration, ConfigurationService
from chargebox.station.config_keys import Profile
from chargebox.station.connectors import ConnectorsService
from chargebox.station.data_transfer import DataTransferService
from chargebox.station.diagnostics import DiagnosticsService
from chargebox.station.extended_trigger import ExtendedTriggerService
from chargebox.station.firmware import FirmwareService
from chargebox.station.get_log import GetLogService
from chargebox.station.lane import Lane
from chargebox.station.link import LinkService
from chargebox.station.local_list import LocalListService
from chargebox.station.meter import GuardedMeter
from chargebox.station.metering import MeteringService
from chargebox.station.reservation import ReservationService
from chargebox.station.reset import ResetService
from chargebox.station.security import SECURITY_KEYS, SecurityService
from chargebox.station.service import Service
from chargebox.station.signed_firmware import SignedFirmwareService
from chargebox.station.smart_charging import SmartChargingService
from chargebox.station.storage import StorageService
from chargebox.station.tls import TlsSettings
from chargebox.station.transactions import Outcome, TransactionService
from chargebox.station.trigger import Trigger, TriggerService
from chargebox.store import Store, StoreFault
from chargebox.tasks import Tasks
from chargebox.transfer import Transfer, TransferSettings, Workspace
from chargebox.transport import ReconnectPolicy, Transport, csms_url_problem

# Every feature profile is implemented (the six of 1.6 and the whitepaper's Security); a template may offer fewer.
IMPLEMENTED_PROFILES: Final = frozenset(Profile)
# Security (the whitepaper) is offered when SupportedFeatureProfiles names it: a central system without it would
# answer its messages NotImplemented, and SF-10 turns plain UpdateFirmware away.
DEFAULT_PROFILES: Final = IMPLEMENTED_PROFILES - {Profile.SECURITY}
STOP_WAIT_S: Final = 5.0  # how long a stop waits for writes a failing store refuses before it gives them up


@dataclass(frozen=True, slots=True, kw_only=True)
class Ports:
    """The hardware of one station (the ports of ``hal``), always given explicitly: a station has no
    default hardware, so a charger that forgets its installer fails at start, never reports a
    simulated flash as Installed. ``sim.station`` builds the simulated set."""

    meter: hal.EnergyMeter
    contactor: hal.Contactor
    ev: hal.EvPort
    lock: hal.ConnectorLock | None  # None: a fixed cable, nothing to lock (C-35)
    installer: hal.FirmwareInstaller


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
    transfer: TransferSettings = field(default_factory=TransferSettings)  # firmware and diagnostics (F-5, D-2)
    tls: TlsSettings = field(default_factory=TlsSettings)  # security profiles 2 and 3 (T-44)


class Station:
    """One charge point: its services, its store, its connection.

    The station is assembled from a list of services (``self.services``): each is built with what
    it needs, and the station registers the actions it answers, the triggers it offers, resumes it
    after boot and resets it. A new feature is one module under ``station/`` and one entry there.
    """

    def __init__(
        self,
        settings: StationSettings,
        *,
        ports: Ports,
        clock: Clock | None = None,
        store: Store | None = None,
    ) -> None:
        problem = csms_url_problem(settings.csms_url)
        if problem is not None:  # the integrator's mistake, said in one line before anything is opened
            raise ConfigError(f"csms_url {redact(settings.csms_url)!r}: {problem}")
        self.settings = settings
        self.id = settings.charge_point_id
        self.clock: Clock = clock or SystemClock()
        self.log = logging.LoggerAdapter(logging.getLogger("chargebox.station"), {"cp": self.id})
        template = _template(settings)
        profiles = _profiles(template, settings.ocpp_config_source)
        count = _connector_count(settings, template)
        self.profiles = profiles
        self.ports = ports
        self.store = store or Store.open(settings.data_dir, clock=self.clock)
        self.store.connectors.ensure(count)
        self.config = Configuration(
            store=self.store,
            profiles=profiles,
            facts={
                "NumberOfConnectors": str(count),
                "ConnectorPhaseRotationMaxLength": str(count + 1),
                # the whitepaper's Security is offered beside the profiles, not listed among them
                "SupportedFeatureProfiles": ",".join(
                    p.value for p in Profile if p in profiles and p is not Profile.SECURITY
                ),
            },
            fixed_cable=settings.fixed_cable,
            log=self.log,
        )
        # SupportedFeatureProfiles is a fact (above), read by _profiles; the template's may name Security, which
        # the key itself never lists (it is not a 1.6 feature profile)
        offered = {k: v for k, v in template.items() if k.lower() != "supportedfeatureprofiles"}
        self.config.load_template(offered, settings.ocpp_config_source)
        self.rpc = Rpc(clock=self.clock, logger=self.log, name=self.id)
        self.lane = Lane(rpc=self.rpc, store=self.store, clock=self.clock, config=self.config, log=self.log)
        self.security = SecurityService(  # first: every service may report a security event (T-45)
            lane=self.lane, store=self.store, clock=self.clock, send=lambda: Profile.SECURITY in profiles, log=self.log
        )
        served = {key.name for key in self.config.keys()}  # noqa: SIM118 (a list of ConfigKey, not a dict)
        for name in (name for name in SECURITY_KEYS if name in served):
            self.config.subscribe(name, self.security.configuration_changed(name))
        self.link = LinkService(
            config=self.config,
            rpc=self.rpc,
            clock=self.clock,
            csms_url=settings.csms_url,
            charge_point_id=self.id,
            compression=settings.compression,
            log=self.log,
            tls=settings.tls,
            roots=lambda: self.store.certificates.pems(CENTRAL_SYSTEM_ROOT),
            credentials=self.store.private_keys.charge_point_credentials,
            security_event=self.security_event,
        )
        problem = self.link.start_problem()
        if problem is not None:
            raise ConfigError(problem)
        self.transport = Transport(
            settings=self.link.settings,
            rpc=self.rpc,
            clock=self.clock,
            logger=self.log,
            on_open=self._on_open,
            on_close=self._on_close,
            policy=settings.reconnect,
            on_failure=self.link.connect_failed,
        )
        self.link.transport = self.transport
        common: dict[str, Any] = {"clock": self.clock, "log": self.log}
        self.boot = BootService(
            rpc=self.rpc,
            lane=self.lane,
            config=self.config,
            identity=replace(  # B-1, F-7: the version the firmware really runs
                settings.identity,
                firmware_version=ports.installer.running_version() or settings.identity.firmware_version,
            ),
            on_accepted=self._on_accepted,
            clock=self.security.watch_clock(self.clock),  # B-10: a clock set far is SettingSystemTime
            log=self.log,
        )
        self.connectors = ConnectorsService(lane=self.lane, config=self.config, store=self.store, count=count, **common)
        # a store that refuses writes: no energy (the EV port every service drives is gated), no new transaction
        self.storage = StorageService(store=self.store, connectors=self.connectors, lane=self.lane, ev=ports.ev,
                                      log=self.log)  # fmt: skip
        self.meter = GuardedMeter(
            ports.meter, connectors=self.connectors, registers=self.store.connectors.all_meter_wh(), log=self.log
        )
        self.authorization = AuthorizationService(
            store=self.store, lane=self.lane, config=self.config, online=self._online, **common
        )
        self.local_list = LocalListService(store=self.store, config=self.config, connectors=self.connectors, **common)
        if Profile.LOCAL_AUTH_LIST_MANAGEMENT in profiles:  # list -> cache -> Authorize.req (checklist 5.1)
            self.authorization.local_list = self.local_list.lookup
            self.authorization.list_conflict = self.local_list.conflict
        self.metering = MeteringService(
            lane=self.lane, store=self.store, config=self.config, connectors=self.connectors, meter=self.meter, **common
        )
        self.transactions = TransactionService(
            store=self.store,
            config=self.config,
            connectors=self.connectors,
            authorization=self.authorization,
            lane=self.lane,
            metering=self.metering,
            meter=self.meter,
            contactor=ports.contactor,
            lock=None if settings.fixed_cable else ports.lock,
            ev=self.storage.ev,
            registration=lambda: self.boot.registration,
            **common,
        )
        self.reservation = ReservationService(
            store=self.store,
            config=self.config,
            connectors=self.connectors,
            authorize=self.authorization.authorize,
            validate=self.authorization.validate,
            **common,
        )
        if Profile.RESERVATION in profiles:
            self.transactions.reservation = self.reservation.permit
            self.transactions.reservation_used = self.reservation.used
        # Firmware Management (checklist 4.1, 4.2): file transfers write only into the workspace
        self.transfer = Transfer(settings.transfer)
        self.workspace = Workspace(settings.data_dir)
        self.firmware = FirmwareService(
            lane=self.lane,
            store=self.store,
            installer=ports.installer,
            transfer=self.transfer,
            workspace=self.workspace,
            connectors=self.connectors,
            reboot=lambda version: self.reboot(identity=replace(self.boot.identity, firmware_version=version)),
            **common,
        )
        self.firmware.listeners.append(self._firmware_updated)  # F-9
        self.diagnostics = DiagnosticsService(
            lane=self.lane,
            store=self.store,
            transfer=self.transfer,
            workspace=self.workspace,
            charge_point_id=self.id,
            configuration=self._configuration_entries,
            state=self._diagnostics_state,
            **common,
        )
        self.configuration = ConfigurationService(config=self.config, log=self.log)
        self.data_transfer = DataTransferService(lane=self.lane)
        self.availability = AvailabilityService(connectors=self.connectors)
        self.reset_service = ResetService(
            transactions=self.transactions, connectors=self.connectors, lane=self.lane, config=self.config,
            reboot=self.reboot, **common,
        )  # fmt: skip
        self.trigger = TriggerService(connector_count=lambda: self.connectors.count)
        self.certificates = CertificateService(
            store=self.store, lane=self.lane, config=self.config, charge_point_id=self.id,
            security_event=self.security_event, security_profile=lambda: self.config.get_int("SecurityProfile"),
            on_certificate=self.link.reconnect_for_certificate, **common,
        )  # fmt: skip
        self.extended_trigger = ExtendedTriggerService(trigger=self.trigger)
        self.get_log = GetLogService(
            lane=self.lane, store=self.store, transfer=self.transfer, workspace=self.workspace, charge_point_id=self.id,
            diagnostics=self.diagnostics.contents, **common,
        )  # fmt: skip
        self.signed_firmware = SignedFirmwareService(
            lane=self.lane, store=self.store, installer=ports.installer, transfer=self.transfer,
            workspace=self.workspace, connectors=self.connectors, security=self.security,
            reboot=lambda version: self.reboot(identity=replace(self.boot.identity, firmware_version=version)),
            **common,
        )  # fmt: skip
        self.extended_trigger.add(self.get_log.extended_triggers(self.boot.permit_triggered))
        self.extended_trigger.add(self.signed_firmware.extended_triggers(self.boot.permit_triggered))
        self.extended_trigger.add(
            {ExtendedMessageTrigger.SIGN_CHARGE_POINT_CERTIFICATE: Trigger(send=self._sign_certificate_triggered)}
        )
        self.smart_charging = (  # checklist 7; it hooks itself into the transactions
            SmartChargingService(store=self.store, config=self.config, connectors=self.connectors,
                                 transactions=self.transactions, ev=self.storage.ev, **common)
            if Profile.SMART_CHARGING in profiles else None
        )  # fmt: skip
        # The assembly: a new feature is its module and one entry here (its handlers, triggers,
        # resume and reset are taken from it).
        self.services: list[Service] = [
            self.link,
            self.boot,
            self.connectors,
            self.storage,
            self.configuration,
            self.data_transfer,
            self.authorization,
            self.metering,
            self.transactions,
            self.availability,
            self.reset_service,
            self.firmware,
            self.diagnostics,
            self.trigger,
            self.local_list,
            self.reservation,
            self.security,
            self.extended_trigger,
            self.get_log,
            self.signed_firmware,
            self.certificates,
            *([self.smart_charging] if self.smart_charging else []),
        ]
        for service in self.services:
            for action, handler in service.handlers().items():
                self.register(action, handler)
            self.trigger.add(service.triggers(self.boot.permit_triggered))
        if Profile.SECURITY in profiles:  # SF-10: a station with signed updates refuses unsigned ones
            self.rpc.handlers.pop(Action.UPDATE_FIRMWARE, None)
        self._tasks = Tasks(self.log, "station")
        self._stopped = False

    async def _sign_certificate_triggered(self, _connector_id: int | None) -> None:
        """ExtendedTriggerMessage(SignChargePointCertificate): a new key pair and its SignCertificate (CT-1)."""
        self.certificates.sign_certificate()

    def security_event(self, event_type: str, tech_info: str | None) -> None:
        """A security event the whitepaper names (T-45), from the link or the certificates: logged,
        kept in the security log and, if it is one to send, journaled as a SecurityEventNotification."""
        self.security.report(event_type, tech_info)

    def register(self, action: Action, handler: Handler) -> None:
        """Answer ``action`` with ``handler`` (an integrator may override any, or add a vendor one).

        Actions of a feature profile this station does not offer stay NotSupported (checklist 1.4).
        """
        if ACTION_PROFILE.get(action, Profile.CORE) in self.profiles:
            self.rpc.handlers[action] = handler

    async def run(self) -> None:
        """Connect and serve until ``stop()``; raises CsmsUnreachable if the policy gives up."""
        # before anything else, end what a power loss cut; once the StopTransactions have their places in
        # the lane, connect: their commits may wait for a full disk, which the station must report meanwhile
        placed = asyncio.Event()
        recovering = self._tasks.spawn(self.transactions.recover(placed=placed))
        waiting = asyncio.ensure_future(placed.wait())
        await asyncio.wait({recovering, waiting}, return_when=asyncio.FIRST_COMPLETED)
        waiting.cancel()
        if recovering.done():
            recovering.result()  # a failure is the run's own, as it was when the recovery was awaited whole
        self.security.report("StartupOfTheDevice")  # B-10
        await self.transport.run()

    # -- hardware events (a real charger's drivers and the simulator call these) ---------------

    async def plugged(self, connector_id: int) -> Outcome:
        return await self.transactions.plugged(connector_id)

    async def unplugged(self, connector_id: int) -> None:
        await self.transactions.unplugged(connector_id)

    async def id_tag_presented(self, id_tag: str, connector_id: int | None = None) -> Outcome:
        """A card at a reader: ``connector_id`` None for the station's one reader."""
        return await self.transactions.id_tag_presented(id_tag, connector_id)

    def fault(self, connector_id: int, error_code: ChargePointErrorCode, info: str | None = None) -> None:
        self.connectors.fault(connector_id, error_code, info)

    def clear_fault(self, connector_id: int) -> None:
        self.connectors.clear_fault(connector_id)

    async def emergency_stop(self) -> None:
        """The emergency button: every transaction ends with reason EmergencyStop (X-8)."""
        await self.transactions.stop_all(Reason.EMERGENCY_STOP)

    async def local_reboot(self) -> None:
        """A reboot the station decides itself (a watchdog, a local operator): reason Reboot (X-8)."""
        await self.transactions.stop_all(Reason.REBOOT)
        self.reboot()

    def ev_suspended(self, connector_id: int, suspended: bool) -> None:
        """The EV stopped (or resumed) taking energy: SuspendedEV (S-4)."""
        self.connectors[connector_id].ev_suspended = suspended
        self.connectors.refresh(connector_id)

    async def stop(self) -> None:
        """Shut down cleanly: the link closed, every service's tasks cancelled, every write committed.
        Stopping twice is harmless. A store that refuses writes (a full disk) does not make it hang: once
        it has refused them for STOP_WAIT_S the stop goes on and says what is lost."""
        if self._stopped:
            return
        self._stopped = True
        await self._persisted(self._persist_for_stop())
        await self.transport.stop()
        self._tasks.cancel()
        self.reset_all()
        if self.store.fault is None:
            await self._persisted(self.store.idle())
        self.storage.detach()
        self.store.close()  # says how many writes it gives up on, if any

    async def _persist_for_stop(self) -> None:
        await self.metering.persist_registers()  # a clean stop loses no Wh of a running transaction
        await self.security.journaled()  # an event reported just before the stop is kept

    async def _persisted(self, writes: Awaitable[None]) -> None:
        """Await ``writes`` while the store takes them, or until it has refused them for STOP_WAIT_S."""
        task = asyncio.ensure_future(writes)
        done = asyncio.Event()
        task.add_done_callback(lambda _task: done.set())
        while not done.is_set():
            if await sleep_or_wake(self.clock, STOP_WAIT_S, done) and self.store.fault is not None:
                task.cancel()
                self._log_unpersisted(self.store.fault)
                return
        await task

    def _log_unpersisted(self, fault: StoreFault) -> None:
        self.log.error("! stopping while the store cannot write (%s)", fault.problem)
        for connector in self.connectors.connectors[1:]:
            record = self.store.transactions.get(connector.transaction_ref) if connector.transaction_ref else None
            if record is not None:
                self.log.error("! transaction %s on connector %d: the register is at %d Wh; the store keeps %d Wh, "
                               "what its StopTransaction will say after the restart",
                               connector.transaction_id or "(transactionId not yet known)", connector.id,
                               self.meter.energy_wh(connector.id), record.meter_last)  # fmt: skip

    def reboot(self, identity: Identity | None = None) -> None:
        """Restart the station software: runtime state reset, the link dropped, and on the next
        connection a BootNotification again (B-1) — with ``identity`` if it changed (F-7)."""
        self.log.info("= rebooting")
        self.security.report("ResetOrReboot")  # B-10
        self.reset_all()
        for connector in self.connectors.connectors[1:]:  # the cable may still be in (the pilot says so)
            if self.ports.ev.plugged(connector.id):
                self.connectors.plugged(connector.id)
        if identity is not None:
            self.boot.identity = identity
        # A transaction still running is cut by the restart: ended (Reboot, X-8) and its StopTransaction
        # journaled before the new boot, never left open behind later transactions.
        self._tasks.spawn(self.transactions.recover(Reason.REBOOT))
        self.transport.reconnect()

    def reset_all(self) -> None:
        """Seed: OCPPResetAllGlobals. Every service back to just-constructed; the store is kept."""
        self.rpc.reset()
        self.lane.reset()
        for service in self.services:
            service.reset()

    def snapshot(self) -> dict[str, Any]:
        """The station as the control API shows it (``GET /api/state``)."""
        return {
            "id": self.id,
            "connected": self.transport.connected,
            "registration": self.boot.registration.value if self.boot.registration else None,
            "firmwareStatus": self.firmware.current_status().value,
            "firmwareProgress": self.firmware.progress.as_json(),
            "diagnosticsStatus": self.diagnostics.current_status().value,
            "queued": self.lane.pending(),
            "deadLetters": self.store.dead_letters.count(),
            "connectors": [
                {
                    "id": c.id,
                    "status": c.status.value,
                    "errorCode": c.error_code.value,
                    "plugged": c.plugged,
                    "transactionId": c.transaction_id,
                    "meterWh": self.meter.energy_wh(c.id),
                    "reservation": self.reservation.snapshot(c.id),
                    "limit": self.smart_charging.limit_json(c.id) if self.smart_charging else None,
                }
                for c in self.connectors.connectors[1:]
            ],
        }

    def _firmware_updated(self, status: FirmwareStatus, _progress: object) -> None:
        if status is FirmwareStatus.INSTALLED:
            self.security.report("FirmwareUpdated", self.boot.identity.firmware_version)  # F-9

    def _configuration_entries(self) -> list[dict[str, Any]]:
        """Every configuration key for the diagnostics archive (the service redacts AuthorizationKey)."""
        keys = self.config.keys()
        return [{"key": k.name, "value": self.config.configured(k.name), "readonly": k.readonly} for k in keys]

    def _diagnostics_state(self) -> dict[str, Any]:
        return {
            **self.snapshot(),
            "firmwareVersion": self.boot.identity.firmware_version,
            "firmwareJob": asdict(self.store.firmware.load()),
            "diagnosticsJob": asdict(self.store.diagnostics.load()),
            "deadLetters": [
                {**asdict(letter), "payload": letter.payload.decode("utf-8", "replace")}
                for letter in self.store.dead_letters.all()
            ],
        }

    # -- connection lifecycle -----------------------------------------------------------------

    async def _on_open(self) -> None:
        self.link.opened()
        self.boot.connected()

    def _on_close(self) -> None:
        self.boot.disconnected()
        self.connectors.offline()
        self.lane.close()

    def _online(self) -> bool:
        return self.rpc.connected and self.boot.registration is RegistrationStatus.ACCEPTED

    async def _on_accepted(self, first: bool) -> None:
        await self.connectors.online(after_boot=first)  # statuses first, then the queue
        self.lane.open()
        self.metering.online()
        if first:  # finish what a reboot or power loss interrupted (after B-4's StatusNotifications)
            for service in self.services:
                await service.resume()


def connector_count(settings: StationSettings) -> int:
    """The number of connectors the settings give (``--connectors`` or NumberOfConnectors), checked."""
    return _connector_count(settings, _template(settings))


def _template(settings: StationSettings) -> dict[str, object]:
    template = dict(settings.ocpp_config)
    if settings.password is not None:
        template.setdefault("AuthorizationKey", settings.password)
        template.setdefault("SecurityProfile", 1)
    if settings.tls.security_profile is not None:
        template["SecurityProfile"] = settings.tls.security_profile
    return template


def _profiles(template: Mapping[str, object], source: str) -> frozenset[Profile]:
    raw = _template_value(template, "SupportedFeatureProfiles", source)
    if raw is None:
        return DEFAULT_PROFILES
    names = raw if isinstance(raw, list) else [p.strip() for p in str(raw).split(",") if p.strip()]
    profiles = set()
    for name in names:
        try:
            profile = Profile(name)
        except ValueError:
            raise ConfigError(f"{source}: SupportedFeatureProfiles: unknown profile {name!r}") from None
        profiles.add(profile)
    if Profile.CORE not in profiles:
        raise ConfigError(f"{source}: SupportedFeatureProfiles must include Core")
    return frozenset(profiles)


def _connector_count(settings: StationSettings, template: Mapping[str, object]) -> int:
    """Checked before anything is allocated per connector (store rows, timers, tasks)."""
    from chargebox.station.config_keys import MAX_CONNECTORS

    source = settings.ocpp_config_source
    if settings.connectors is not None and not 1 <= settings.connectors <= MAX_CONNECTORS:
        raise ConfigError(f"connectors: {settings.connectors} is not 1 to {MAX_CONNECTORS}")
    raw = _template_value(template, "NumberOfConnectors", source)
    if raw is None:
        return settings.connectors or 1
    try:
        count = int(str(raw))
    except ValueError:
        raise ConfigError(f"{source}: NumberOfConnectors: not an integer: {raw!r}") from None
    if not 1 <= count <= MAX_CONNECTORS:
        raise ConfigError(f"{source}: NumberOfConnectors: must be 1 to {MAX_CONNECTORS}")
    if settings.connectors is not None and settings.connectors != count:
        raise ConfigError(f"{source}: NumberOfConnectors={count} contradicts --connectors {settings.connectors}")
    return count


def _template_value(template: Mapping[str, object], name: str, source: str) -> object | None:
    """A template key, matched case-insensitively as configuration keys are (G-1); two spellings
    of it are an error, since either value could be the one meant."""
    found = [(key, value) for key, value in template.items() if key.lower() == name.lower()]
    if len(found) > 1:
        raise ConfigError(
            f"{source}: {found[0][0]!r} and {found[1][0]!r} are the same configuration key (keys ignore case)"
        )
    return found[0][1] if found else None
