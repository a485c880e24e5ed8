"""The charge point: a kernel, and the features of the profiles it offers built from a table.

``Station`` starts the kernel (``kernel/``: the store, configuration, Rpc, outbound lane, link and
transport), then builds the features of OCPP 1.6's table (``v16/table.py``) that its profiles offer,
registers the actions each answers (the others are answered NotSupported) and the messages each
offers to TriggerMessage, and runs the connection. It is also what the features see of the whole
station (``kernel.Host``): a reboot, an accepted boot, its state for a diagnostics archive.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import asdict
from typing import Any, Final

from chargebox.clock import Clock, SystemClock
from chargebox.errors import ConfigError
from chargebox.protocol.messages import Action, ChargePointErrorCode, Reason
from chargebox.redact import redact
from chargebox.rpc import Handler
from chargebox.station.feature import assemble
from chargebox.station.kernel.kernel import Kernel
from chargebox.station.kernel.log import StationLog
from chargebox.station.kernel.settings import Identity
from chargebox.station.kernel.settings import Ports as Ports
from chargebox.station.kernel.settings import StationSettings as StationSettings
from chargebox.station.v16 import offer as v16
from chargebox.station.v16.authorization import AuthorizationService
from chargebox.station.v16.boot import BootService
from chargebox.station.v16.connectors import ConnectorsService
from chargebox.station.v16.data_transfer import DataTransferService
from chargebox.station.v16.diagnostics import DiagnosticsService
from chargebox.station.v16.firmware import FirmwareService
from chargebox.station.v16.metering import MeteringService
from chargebox.station.v16.reservation import ReservationService
from chargebox.station.v16.security.certificates import CertificateService, install_factory_root
from chargebox.station.v16.security.events import SecurityService
from chargebox.station.v16.security.get_log import GetLogService
from chargebox.station.v16.security.signed_firmware import SignedFirmwareService
from chargebox.station.v16.smart_charging import SmartChargingService
from chargebox.station.v16.table import FEATURES, VERSION
from chargebox.station.v16.transactions import Outcome, TransactionService
from chargebox.store import Store
from chargebox.tasks import Tasks
from chargebox.transport import csms_url_problem

# A clean stop (SIGTERM) waits this long at most for the central system to take the StopTransactions it journaled:
# a live link answers in milliseconds, and the stop must end well inside a service manager's patience (the unit of
# docs/howto/chargebox.service allows 15 s). What is not delivered by then goes after the next start.
STOP_DELIVERY_S: Final = 5.0


class Station:
    """One charge point: its kernel, its features, its connection.

    The features are built from the table (``self.features``, in table order): the station registers
    the actions each answers and the triggers each offers, resumes each after the first accepted boot
    and resets each on a reboot. A new feature is its module, its store module, its tests and one
    entry in ``v16/table.py``.
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
        offer = v16.offer(settings)  # profiles and connectors, checked before anything is allocated for them
        self.settings, self.id, self.ports, self.profiles = settings, settings.charge_point_id, ports, offer.profiles
        self.clock: Clock = clock or SystemClock()
        self.log = StationLog(logging.getLogger("chargebox.station"), self.id, self.clock)  # repeats limited
        self.store = store or Store.open(settings.data_dir)
        self.store.connectors.ensure(offer.connectors)
        self.config = v16.configuration(offer, settings, self.store, self.log)
        if settings.install_root is not None:  # the factory's root, before the link asks what TLS has (T-44)
            install_factory_root(settings.install_root, self.store, self.clock, self.log)
        self.kernel = kernel = Kernel.start(
            settings, ports=ports, host=self, profiles=offer.offered, connector_count=offer.connectors,
            clock=self.clock, log=self.log, store=self.store, config=self.config, version=VERSION,
            on_open=self._on_open, on_close=self._on_close,
        )  # fmt: skip
        self.rpc, self.lane, self.link, self.transport = kernel.rpc, kernel.lane, kernel.link, kernel.transport
        self.transfer, self.workspace, self.meter = kernel.transfer, kernel.workspace, kernel.meter
        self.security_events, self.clock_sync = kernel.security_events, kernel.clock_sync
        self.features = assemble(kernel, FEATURES, kernel.profiles)
        self.services = self.features.services
        self._withheld = self.features.withheld  # NotSupported, whoever registers a handler for them
        for action, handler in self.features.handlers():
            self.register(action, handler)
        for service in self.services:
            kernel.triggers.update(service.triggers(self.boot.permit_triggered))
        self._tasks = Tasks(self.log, "station")
        self._stopped = False

    # -- the features (those of a profile the station does not offer are None) ------------------

    @property
    def security(self) -> SecurityService:
        return self.features.need(SecurityService)

    @property
    def boot(self) -> BootService:
        return self.features.need(BootService)

    @property
    def connectors(self) -> ConnectorsService:
        return self.features.need(ConnectorsService)

    @property
    def data_transfer(self) -> DataTransferService:
        """Where an integrator registers a vendor's DataTransfer handler (``register_vendor``)."""
        return self.features.need(DataTransferService)

    @property
    def authorization(self) -> AuthorizationService:
        return self.features.need(AuthorizationService)

    @property
    def metering(self) -> MeteringService:
        return self.features.need(MeteringService)

    @property
    def transactions(self) -> TransactionService:
        return self.features.need(TransactionService)

    @property
    def reservation(self) -> ReservationService | None:
        return self.features.get(ReservationService)

    @property
    def smart_charging(self) -> SmartChargingService | None:
        return self.features.get(SmartChargingService)

    @property
    def firmware(self) -> FirmwareService | None:
        return self.features.get(FirmwareService)

    @property
    def diagnostics(self) -> DiagnosticsService | None:
        return self.features.get(DiagnosticsService)

    @property
    def certificates(self) -> CertificateService | None:
        return self.features.get(CertificateService)

    @property
    def get_log(self) -> GetLogService | None:
        return self.features.get(GetLogService)

    @property
    def signed_firmware(self) -> SignedFirmwareService | None:
        return self.features.get(SignedFirmwareService)

    def register(self, action: Action, handler: Handler) -> None:
        """Answer ``action`` with ``handler`` (an integrator may override any, or add a vendor one).

        Actions of a feature profile this station does not offer stay NotSupported (checklist 1.4), as
        does UpdateFirmware where SignedUpdateFirmware is offered (SF-10).
        """
        if action not in self._withheld:
            self.rpc.handlers[action] = handler

    async def run(self) -> None:
        """Connect and serve until ``stop()`` or a cancel; raises CsmsUnreachable if the policy gives up.

        With ``settings.sigterm_reason`` a cancel (the CLI's on SIGTERM or Ctrl-C) is a clean stop: every running
        transaction ends with that reason (X-8) and the link stays up for at most ``STOP_DELIVERY_S`` while the
        lane delivers what is journaled; what it cannot deliver goes after the next start (Q-1)."""
        self.kernel.clock_sync.start()  # a clock that reads before the build (no real-time clock) is set forward first
        await self.transactions.recover()  # end what a power loss cut
        self.security_events.report("StartupOfTheDevice")  # B-10
        reason = self.settings.sigterm_reason
        if reason is None:
            await self.transport.run()
            return
        link = asyncio.ensure_future(self.transport.run())
        try:
            await asyncio.shield(link)
        except asyncio.CancelledError:
            if not link.done():
                try:
                    await self._end_sessions(Reason(reason))
                except Exception:  # the stop goes on: what was journaled is safe, the rest is X-12's at next start
                    self.log.exception("! stopping: the transactions could not all be ended")
            raise
        finally:
            if not link.done():
                link.cancel()
                await asyncio.wait([link])

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

    async def _end_sessions(self, reason: Reason) -> None:
        """A clean stop: every transaction ends with ``reason``, and its StopTransaction goes out within the bound."""
        if self.transactions.sessions:
            self.log.info("= stopping: %d transaction(s) end with reason %s", len(self.transactions.sessions), reason)
        await self.transactions.stop_all(reason)
        if not await self.lane.flush(STOP_DELIVERY_S):
            self.log.warning("! stopping: %d journaled message(s) not delivered within %ss; they go after the next "
                             "start", self.lane.pending(), STOP_DELIVERY_S)  # fmt: skip

    def ev_suspended(self, connector_id: int, suspended: bool) -> None:
        """The EV stopped (or resumed) taking energy: SuspendedEV (S-4)."""
        self.connectors[connector_id].ev_suspended = suspended
        self.connectors.refresh(connector_id)

    async def stop(self) -> None:
        """Shut down cleanly: the link closed, every service's tasks cancelled, every write committed.
        Stopping twice is harmless."""
        if self._stopped:
            return
        self._stopped = True
        await self.metering.persist_registers()  # a clean stop loses no Wh of a running transaction
        if (writing := self.kernel.clock_sync.remember()) is not None:
            await asyncio.wait([writing])  # a write that failed was logged: the stop goes on
        await self.security.journaled()  # an event reported just before the stop is kept
        await self.transport.stop()
        self._tasks.cancel()
        self.reset_all()
        await self.store.idle()
        self.store.close()

    def reboot(self, identity: Identity | None = None) -> None:
        """Restart the station software: runtime state reset, the link dropped, and on the next
        connection a BootNotification again (B-1) — with ``identity`` if it changed (F-7)."""
        self.log.info("= rebooting")
        self.security_events.report("ResetOrReboot")  # B-10
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
        self.kernel.reset()
        for service in self.services:
            service.reset()

    def snapshot(self) -> dict[str, Any]:
        """The station as the control API shows it (``GET /api/state``)."""
        return {
            "id": self.id,
            "connected": self.transport.connected,
            "registration": self.boot.registration.value if self.boot.registration else None,
            "firmwareStatus": self.firmware.current_status().value if self.firmware else None,
            "firmwareProgress": self.firmware.progress.as_json() if self.firmware else None,
            "diagnosticsStatus": self.diagnostics.current_status().value if self.diagnostics else None,
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
                    "reservation": self.reservation.snapshot(c.id) if self.reservation else None,
                    "limit": self.smart_charging.limit_json(c.id) if self.smart_charging else None,
                }
                for c in self.connectors.connectors[1:]
            ],
        }

    def diagnostics_state(self) -> dict[str, Any]:
        """The station as a diagnostics archive holds it: the snapshot, the jobs, the dead letters."""
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

    async def accepted(self, first: bool) -> None:
        """After an accepted boot (``first``) or a reconnect after one."""
        await self.connectors.online(after_boot=first)  # statuses first, then the queue
        self.lane.open()
        self.metering.online()
        if first:  # finish what a reboot or power loss interrupted (after B-4's StatusNotifications)
            for service in self.services:
                await service.resume()


def connector_count(settings: StationSettings) -> int:
    """The number of connectors the settings give (``--connectors`` or NumberOfConnectors), checked."""
    return v16.connector_count(settings)
