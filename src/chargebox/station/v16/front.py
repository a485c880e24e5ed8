"""The station's life as OCPP 1.6 lives it (``station/front.py``'s ``Front``), over the 1.6 features built.

At start a transaction a power loss cut is ended (X-12); a connection boots (B-1) or, after an accepted boot,
picks up without one (T-34); an accepted boot sends every connector's status before the queue (B-4, Q-5); a
clean stop ends transactions with the SIGTERM reason (X-8) and keeps the meter registers and a security event
just reported; a reboot keeps a cable that is still in and ends what ran with reason Reboot (X-12, Q-2).
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from dataclasses import asdict
from typing import Any

from chargebox.protocol.messages import Action, ChargePointErrorCode, Reason
from chargebox.station.feature import Assembly
from chargebox.station.front import Outcome
from chargebox.station.kernel.kernel import Kernel
from chargebox.station.kernel.settings import Identity
from chargebox.station.v16.boot import BootService
from chargebox.station.v16.connectors import ConnectorsService
from chargebox.station.v16.diagnostics import DiagnosticsService
from chargebox.station.v16.firmware import FirmwareService
from chargebox.station.v16.metering import MeteringService
from chargebox.station.v16.reservation import ReservationService
from chargebox.station.v16.security.events import SecurityService
from chargebox.station.v16.smart_charging import SmartChargingService
from chargebox.station.v16.storage import StorageService
from chargebox.station.v16.transactions import TransactionService


class Front16:
    """OCPP 1.6's side of the station's life."""

    def __init__(self, kernel: Kernel, features: Assembly) -> None:
        self._kernel = kernel
        self._boot = features.need(BootService)
        self._connectors = features.need(ConnectorsService)
        self._transactions = features.need(TransactionService)
        self._metering = features.need(MeteringService)
        self._security = features.need(SecurityService)
        self._storage = features.need(StorageService)
        self._firmware = features.get(FirmwareService)
        self._diagnostics = features.get(DiagnosticsService)
        self._reservation = features.get(ReservationService)
        self._smart_charging = features.get(SmartChargingService)

    async def start(self, placed: asyncio.Event) -> None:
        await self._transactions.recover(placed=placed)  # end what a power loss cut

    def opened(self) -> None:
        self._boot.connected()

    def closed(self) -> None:
        self._boot.disconnected()
        self._connectors.offline()

    async def accepted(self, first: bool) -> None:
        await self._connectors.online(after_boot=first)  # statuses first, then the queue
        self._kernel.lane.open()
        self._metering.online()

    async def end_sessions(self, reason: str) -> None:
        sessions = self._transactions.sessions
        if sessions:
            self._kernel.log.info("= %d transaction(s) end with reason %s", len(sessions), reason)
        await self._transactions.stop_all(Reason(reason))

    async def stopping(self) -> None:
        await self._metering.persist_registers()  # a clean stop loses no Wh of a running transaction
        await self._security.journaled()  # an event reported just before the stop is kept

    def unpersisted(self) -> None:
        store, meter = self._kernel.store, self._kernel.meter
        for connector in self._connectors.connectors[1:]:
            record = store.transactions.get(connector.transaction_ref) if connector.transaction_ref else None
            if record is not None:
                self._kernel.log.error("! transaction %s on connector %d: the register is at %d Wh; the store keeps "
                                       "%d Wh, what its StopTransaction will say after the restart",
                                       connector.transaction_id or "(transactionId not yet known)", connector.id,
                                       meter.energy_wh(connector.id), record.meter_last)  # fmt: skip

    def detach(self) -> None:
        self._storage.detach()

    def rebooting(self, identity: Identity | None) -> Coroutine[Any, Any, None]:
        for connector in self._connectors.connectors[1:]:  # the cable may still be in (the pilot says so)
            if self._kernel.ports.ev.plugged(connector.id):
                self._connectors.plugged(connector.id)
        if identity is not None:
            self._boot.identity = identity
        # A transaction still running is cut by the restart: ended (Reboot, X-8) and its StopTransaction
        # journaled before the new boot, never left open behind later transactions.
        return self._transactions.recover(Reason.REBOOT)

    def permit_triggered(self, action: Action) -> None:
        self._boot.permit_triggered(action)

    async def ev_suspended(self, connector_id: int, suspended: bool) -> None:
        """SuspendedEV (S-4) while the EV takes no energy."""
        self._connectors[connector_id].ev_suspended = suspended
        self._connectors.refresh(connector_id)

    def fault(self, connector_id: int, error_code: str, info: str | None) -> None:
        self._connectors.fault(connector_id, ChargePointErrorCode(error_code), info)

    def clear_fault(self, connector_id: int) -> None:
        self._connectors.clear_fault(connector_id)

    async def plugged(self, connector_id: int, connector: int = 1) -> Outcome:
        """``connector`` is always 1: a 1.6 connector is its own (the control API refuses another)."""
        return await self._transactions.plugged(connector_id)

    async def unplugged(self, connector_id: int) -> None:
        await self._transactions.unplugged(connector_id)

    async def id_token_presented(self, id_tag: str, connector_id: int | None, token_type: str | None = None) -> Outcome:
        return await self._transactions.id_tag_presented(id_tag, connector_id)  # 1.6: an idTag has no type

    @property
    def registration(self) -> str | None:
        return self._boot.registration.value if self._boot.registration else None

    def snapshot(self) -> dict[str, Any]:
        kernel = self._kernel
        return {
            "id": kernel.settings.charge_point_id,
            "ocpp": "1.6",
            "connected": kernel.transport.connected,
            "registration": self.registration,
            "firmwareStatus": self._firmware.current_status().value if self._firmware else None,
            "firmwareProgress": self._firmware.progress.as_json() if self._firmware else None,
            "diagnosticsStatus": self._diagnostics.current_status().value if self._diagnostics else None,
            "queued": kernel.lane.pending(),
            "deadLetters": kernel.store.dead_letters.count(),
            "connectors": [
                {
                    "id": c.id,
                    "status": c.status.value,
                    "errorCode": c.error_code.value,
                    "plugged": c.plugged,
                    "transactionId": c.transaction_id,
                    "meterWh": kernel.meter.energy_wh(c.id),
                    "reservation": self._reservation.snapshot(c.id) if self._reservation else None,
                    "limit": self._smart_charging.limit_json(c.id) if self._smart_charging else None,
                }
                for c in self._connectors.connectors[1:]
            ],
        }

    def diagnostics_state(self) -> dict[str, Any]:
        store = self._kernel.store
        return {
            **self.snapshot(),
            "firmwareVersion": self._boot.identity.firmware_version,
            "firmwareJob": asdict(store.firmware.load()),
            "diagnosticsJob": asdict(store.diagnostics.load()),
            "deadLetters": [
                {**asdict(letter), "payload": letter.payload.decode("utf-8", "replace")}
                for letter in store.dead_letters.all()
            ],
        }
