"""The charge point: a kernel, and the features of the profiles it offers built from its version's table.

``Station`` speaks the OCPP version its settings name (``StationSettings.ocpp``: "1.6", the default, or
"2.0.1"). It reads that version's ``Table`` (``station/front.py``; ``v16/table.py``, ``v201/table.py``), starts
the kernel (``kernel/``: the store, configuration, Rpc, outbound lane, link and transport) with the version's
configuration and ``Version``, builds the features of the table that its offer names, registers the actions
each answers (the others are answered NotSupported) and the messages each offers to TriggerMessage, and runs
the connection; what only the version knows of the station's life is its ``Front``. It is also what the
features see of the whole station (``kernel.Host``): a reboot, an accepted boot, its state for a diagnostics
archive. 2.0.1's modules are imported only by a station that speaks it.
"""

from __future__ import annotations

import asyncio
import enum
import importlib
import logging
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any, Final

from chargebox.clock import Clock, Event, SystemClock, sleep_or_wake
from chargebox.errors import ConfigError
from chargebox.protocol.messages import ChargePointErrorCode, Reason
from chargebox.redact import redact
from chargebox.rpc import Handler
from chargebox.station.feature import assemble
from chargebox.station.front import VERSIONS as VERSIONS  # what a user may name, for sim/ and run/
from chargebox.station.front import Outcome, Table
from chargebox.station.front import is_id_token as is_id_token  # what a card reader may present, for run/
from chargebox.station.kernel.kernel import Kernel
from chargebox.station.kernel.log import StationLog
from chargebox.station.kernel.settings import Identity
from chargebox.station.kernel.settings import Ports as Ports
from chargebox.station.kernel.settings import StationSettings as StationSettings
from chargebox.station.v16.authorization import AuthorizationService
from chargebox.station.v16.boot import BootService
from chargebox.station.v16.connectors import ConnectorsService
from chargebox.station.v16.data_transfer import DataTransferService
from chargebox.station.v16.diagnostics import DiagnosticsService
from chargebox.station.v16.firmware import FirmwareService
from chargebox.station.v16.metering import MeteringService
from chargebox.station.v16.reservation import ReservationService
from chargebox.station.v16.security.certificates import CertificateService
from chargebox.station.v16.security.events import SecurityService
from chargebox.station.v16.security.get_log import GetLogService
from chargebox.station.v16.security.signed_firmware import SignedFirmwareService
from chargebox.station.v16.smart_charging import SmartChargingService
from chargebox.station.v16.storage import StorageService
from chargebox.station.v16.transactions import TransactionService
from chargebox.store import Store
from chargebox.tasks import Tasks
from chargebox.transport import csms_url_problem

if TYPE_CHECKING:
    from chargebox.station.v201.data_transfer import DataTransferService as DataTransfer201

# A clean stop (SIGTERM) waits this long at most for the central system to take the StopTransactions it journaled:
# a live link answers in milliseconds, and the stop must end well inside a service manager's patience (the unit of
# docs/howto/chargebox.service allows 15 s). What is not delivered by then goes after the next start.
STOP_DELIVERY_S: Final = 5.0
# A store that refuses writes (a full disk) holds a stop this long at most, from the moment the stop began (SIGTERM's
# ends of transactions included): what it still refuses then is given up on, and said.
STOP_WAIT_S: Final = 5.0

# Where each version's table lives: a 1.6 station never imports 2.0.1's messages (~70 ms, protocol/dialect.py).
_TABLES: Final = {"1.6": "chargebox.station.v16.table", "2.0.1": "chargebox.station.v201.table"}


def table_for(settings: StationSettings) -> Table:
    """The table of the version the settings name; ConfigError for one chargebox does not speak."""
    if settings.ocpp not in _TABLES:
        raise ConfigError(f"ocpp: {settings.ocpp!r} is not an OCPP version chargebox speaks ({', '.join(VERSIONS)})")
    table: Table = importlib.import_module(_TABLES[settings.ocpp]).TABLE
    return table


class Station:
    """One charge point: its kernel, its features, its connection.

    The features are built from its version's table (``self.features``, in table order): the station
    registers the actions each answers and the triggers each offers, resumes each after the first accepted
    boot and resets each on a reboot. A new feature is its module, its store module, its tests and one
    entry in its version's ``table.py``.
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
        self.table = table = table_for(settings)
        offer = table.offer(settings)  # profiles and connectors, checked before anything is allocated for them
        self.settings, self.id, self.ports, self.profiles = settings, settings.charge_point_id, ports, offer.profiles
        self.clock: Clock = clock or SystemClock()
        self.log = StationLog(logging.getLogger("chargebox.station"), self.id, self.clock)  # repeats limited
        self.store = store or Store.open(settings.data_dir, clock=self.clock)
        self.store.connectors.ensure(offer.connectors)
        self.config = table.configuration(offer, settings, self.store, self.log)
        if table.provision is not None:  # before the link asks what TLS has (T-44)
            table.provision(settings, self.store, self.clock, self.log)
        self.kernel: Kernel[Any] = Kernel.start(
            settings, ports=ports, host=self, profiles=offer.offered, connector_count=offer.connectors,
            clock=self.clock, log=self.log, store=self.store, config=self.config, version=table.version,
            on_open=self._on_open, on_close=self._on_close,
        )  # fmt: skip
        kernel = self.kernel
        self.rpc, self.lane, self.link, self.transport = kernel.rpc, kernel.lane, kernel.link, kernel.transport
        self.transfer, self.workspace, self.meter = kernel.transfer, kernel.workspace, kernel.meter
        self.security_events, self.clock_sync = kernel.security_events, kernel.clock_sync
        self.features = assemble(kernel, table.features, kernel.profiles)
        self.services = self.features.services
        self.front = table.front(kernel, self.features)
        self._withheld = self.features.withheld  # NotSupported, whoever registers a handler for them
        for action, handler in self.features.handlers():
            self.register(action, handler)
        for service in self.services:
            kernel.triggers.update(service.triggers(self.front.permit_triggered))
        self._tasks = Tasks(self.log, "station")
        self._stopped = False
        self._stop_began: float | None = None  # monotonic: when the stop began, for STOP_WAIT_S
        self._gave_up = False  # the stop gave up on writes the store refused (and said so)
        self.boot_accepted = Event()  # set at the first accepted boot: a card swiped before it is refused

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
    def storage(self) -> StorageService:
        return self.features.need(StorageService)

    @property
    def data_transfer(self) -> DataTransferService | DataTransfer201:
        """Where an integrator registers a vendor's DataTransfer handler (``register_vendor``), for the version the
        station speaks: its handler takes and returns that version's DataTransfer messages."""
        if self.settings.ocpp == "2.0.1":  # imported only by a station that speaks it
            from chargebox.station.v201.data_transfer import DataTransferService as DataTransfer201

            return self.features.need(DataTransfer201)
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

    def register(self, action: enum.StrEnum, handler: Handler) -> None:
        """Answer ``action`` (an Action of the station's version) with ``handler`` (an integrator may override
        any, or add a vendor one).

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
        # before anything else, end what a power loss cut (1.6: X-12); once what ends it has its places in the
        # lane, connect: its commits may wait for a full disk, which the station must report meanwhile
        placed = asyncio.Event()
        recovering = self._tasks.spawn(self.front.start(placed))
        waiting = asyncio.ensure_future(placed.wait())
        await asyncio.wait({recovering, waiting}, return_when=asyncio.FIRST_COMPLETED)
        waiting.cancel()
        if recovering.done():
            recovering.result()  # a failure is the run's own, as it was when the recovery was awaited whole
        self.security_events.report("StartupOfTheDevice")  # B-10; A04: the same type in 2.0.1
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
                    await self._end_sessions(reason)
                except Exception:  # the stop goes on: what was journaled is safe, the rest is X-12's at next start
                    self.log.exception("! stopping: the transactions could not all be ended")
            raise
        finally:
            if not link.done():
                link.cancel()
                await asyncio.wait([link])

    # -- hardware events (a real charger's drivers and the simulator call these) ---------------

    async def plugged(self, connector_id: int, connector: int = 1) -> Outcome:
        """A cable at that connector (1.6) or EVSE (2.0.1), at its ``connector`` (2.0.1: one EVSE may have several)."""
        return await self.front.plugged(connector_id, connector)

    async def unplugged(self, connector_id: int) -> None:
        await self.front.unplugged(connector_id)

    async def id_tag_presented(
        self, id_tag: str, connector_id: int | None = None, token_type: str | None = None
    ) -> Outcome:
        """A card at a reader: ``connector_id`` None for the station's one reader; ``token_type`` a 2.0.1
        IdTokenEnumType (None: ISO14443, a card). One the reader read wrong (not an idToken of the station's
        version: ``id_token_problem``) is refused here, never authorized."""
        problem = self.id_token_problem(id_tag, token_type)
        if problem is not None:
            self.log.warning("! card %r refused: %s", id_tag[:40], problem)
            return Outcome("refused", connector_id, problem)
        return await self.front.id_token_presented(id_tag, connector_id, token_type)

    def id_token_problem(self, id_tag: str, token_type: str | None = None) -> str | None:
        """Why ``id_tag`` (of ``token_type``) is no idToken this station's version can carry (1.6: 20 characters
        and no type, 2.0.1: 36 and one of IdTokenEnumType), in one sentence; None if it is one."""
        length = self.table.id_token_length
        if not is_id_token(id_tag, length):
            return f"an OCPP {self.settings.ocpp} idToken is 1 to {length} printable ASCII characters"
        if token_type is not None and token_type not in self.table.id_token_types:
            if not self.table.id_token_types:
                return f"an OCPP {self.settings.ocpp} idTag has no type"
            return f"the type must be one of {', '.join(self.table.id_token_types)}"
        return None

    def fault(self, connector_id: int, error_code: ChargePointErrorCode | str, info: str | None = None) -> None:
        """A fault that prevents charging at that connector (1.6) or EVSE (2.0.1); 0: the whole station.
        ``error_code`` is one of 1.6's ChargePointErrorCode values (ValueError otherwise on a 1.6 station); 2.0.1
        reports it as the NotifyEvent's techCode."""
        self.front.fault(connector_id, error_code, info)

    def clear_fault(self, connector_id: int) -> None:
        self.front.clear_fault(connector_id)

    async def emergency_stop(self) -> None:
        """The emergency button: every transaction ends with reason EmergencyStop (X-8; 2.0.1's word is the same)."""
        await self.front.end_sessions(Reason.EMERGENCY_STOP)

    async def local_reboot(self) -> None:
        """A reboot the station decides itself (a watchdog, a local operator): reason Reboot (X-8)."""
        await self.front.end_sessions(Reason.REBOOT)
        self.reboot()

    async def retire(self, reason: str) -> None:
        """Taken out of service while it runs (a fleet stops or removes it): what a stop on SIGTERM does first,
        every transaction ended with ``reason`` (X-8) and delivered within the bound."""
        await self._end_sessions(reason)

    async def _end_sessions(self, reason: str) -> None:
        """A clean stop: every transaction ends with ``reason``, and what says so goes out within the bound.
        A store that refuses writes holds it STOP_WAIT_S at most; nothing is delivered then (a delivery is a
        write too): the restart ends what is still open (X-12)."""
        if not await self._persisted(self.front.end_sessions(reason)) or self.store.fault is not None:
            return  # nothing can be delivered now: the delete of a delivered message is a write too
        if not await self.lane.flush(STOP_DELIVERY_S):
            self.log.warning("! stopping: %d journaled message(s) not delivered within %ss; they go after the next "
                             "start", self.lane.pending(), STOP_DELIVERY_S)  # fmt: skip

    async def ev_suspended(self, connector_id: int, suspended: bool) -> None:
        """The EV stopped (or resumed) taking energy at that connector (1.6) or EVSE (2.0.1): SuspendedEV."""
        await self.front.ev_suspended(connector_id, suspended)

    async def stop(self) -> None:
        """Shut down cleanly: the link closed, every service's tasks cancelled, every write committed.
        Stopping twice is harmless. A store that refuses writes (a full disk) does not make it hang: once
        STOP_WAIT_S have passed since the stop began, the stop goes on and says what is lost."""
        if self._stopped:
            return
        self._stopped = True
        await self._persisted(self._persist_for_stop())
        await self.transport.stop()
        self._tasks.cancel()
        self.reset_all()
        if self.store.fault is None:
            await self._persisted(self.store.idle())
        self.front.detach()
        self.store.close()  # says how many writes it gives up on, if any

    async def _persist_for_stop(self) -> None:
        await self.front.stopping()
        if (writing := self.kernel.clock_sync.remember()) is not None:
            await asyncio.wait([writing])  # a write that failed was logged: the stop goes on

    async def _persisted(self, writes: Awaitable[None]) -> bool:
        """Await ``writes`` while the store takes them; while it refuses them, until STOP_WAIT_S after the stop
        began at most (one bound for the whole stop). False if they were given up on."""
        if self._stop_began is None:
            self._stop_began = self.clock.monotonic()
        task = asyncio.ensure_future(writes)
        done = asyncio.Event()
        task.add_done_callback(lambda _task: done.set())
        while not done.is_set():
            left = self._stop_began + STOP_WAIT_S - self.clock.monotonic()
            if left <= 0 and self.store.fault is not None:
                task.cancel()
                if not self._gave_up:
                    self._gave_up = True
                    self.log.error("! stopping while the store cannot write (%s)", self.store.fault.problem)
                    self.front.unpersisted()
                return False
            await sleep_or_wake(self.clock, left if left > 0 else STOP_WAIT_S, done)
        await task
        return True

    def reboot(self, identity: Identity | None = None) -> None:
        """Restart the station software: runtime state reset, the link dropped, and on the next
        connection a BootNotification again (B-1) — with ``identity`` if it changed (F-7)."""
        self.log.info("= rebooting")
        self.security_events.report("ResetOrReboot")  # B-10
        self.reset_all()
        finish = self.front.rebooting(identity)
        if finish is not None:
            self._tasks.spawn(finish)
        self.transport.reconnect()

    def reset_all(self) -> None:
        """Seed: OCPPResetAllGlobals. Every service back to just-constructed; the store is kept."""
        self.kernel.reset()
        for service in self.services:
            service.reset()

    @property
    def registration(self) -> str | None:
        """The status of the last BootNotification's answer, in either version's words (None: not answered yet)."""
        return self.front.registration

    def snapshot(self) -> dict[str, Any]:
        """The station as the control API shows it (``GET /api/state``)."""
        return self.front.snapshot()

    def diagnostics_state(self) -> dict[str, Any]:
        """The station as a diagnostics archive holds it: the snapshot, the jobs, the dead letters."""
        return self.front.diagnostics_state()

    # -- connection lifecycle -----------------------------------------------------------------

    async def _on_open(self) -> None:
        self.link.opened()
        self.front.opened()

    def _on_close(self) -> None:
        self.front.closed()
        self.lane.close()

    async def accepted(self, first: bool) -> None:
        """After an accepted boot (``first``) or a reconnect after one."""
        await self.front.accepted(first)  # the statuses first, then the queue (Q-5, B04)
        self.boot_accepted.set()
        if first:  # finish what a reboot or power loss interrupted (after B-4's StatusNotifications)
            for service in self.services:
                await service.resume()


def connector_count(settings: StationSettings) -> int:
    """The connectors (1.6: ``--connectors`` or NumberOfConnectors) or EVSEs (2.0.1) the settings give, checked."""
    return table_for(settings).offer(settings).connectors
