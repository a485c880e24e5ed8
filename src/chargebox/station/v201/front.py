"""The station's life as OCPP 2.0.1 lives it (``station/front.py``'s ``Front``), over the 2.0.1 features built.

A connection boots (B01) or, after an accepted boot, picks up without one (Part 4 5.3); an accepted boot sends
every connector's status before the queue (B01.FR.05, B04); a reboot puts in force what waited for it (a
NetworkConfigurationPriority set with RebootRequired), starts again from the first network profile (B10.FR.04)
and keeps a cable that is still in. A transaction a power cut left open is ended before the first connection
(PowerLoss), one a reboot cut after it (Reboot), and a clean stop ends every transaction with its reason; a cable and
a card go to the transactions feature.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

from chargebox.protocol.v201 import messages as m
from chargebox.station.feature import Assembly
from chargebox.station.front import Outcome
from chargebox.station.kernel.kernel import Kernel
from chargebox.station.kernel.settings import Identity
from chargebox.station.v201.availability import AvailabilityService
from chargebox.station.v201.boot import BootService
from chargebox.station.v201.device_model import DeviceModel
from chargebox.station.v201.evses import EvsesService
from chargebox.station.v201.meter_values import MeterValuesService
from chargebox.station.v201.network import NetworkService
from chargebox.station.v201.transactions import Reason, TransactionService, reason_for


class Front201:
    """OCPP 2.0.1's side of the station's life."""

    def __init__(self, kernel: Kernel[DeviceModel], features: Assembly) -> None:
        self._kernel = kernel
        self._boot = features.need(BootService)
        self._evses = features.need(EvsesService)
        self._network = features.need(NetworkService)
        self._transactions = features.need(TransactionService)
        self._availability = features.need(AvailabilityService)
        self._meter_values = features.need(MeterValuesService)

    async def start(self, placed: asyncio.Event) -> None:
        await self._transactions.recover(Reason.POWER_LOSS, placed)  # what a power cut left open ends first

    def opened(self) -> None:
        self._boot.connected()

    def closed(self) -> None:
        self._boot.disconnected()
        self._evses.offline()

    async def accepted(self, first: bool) -> None:
        await self._evses.online(after_boot=first)  # B01.FR.05, B04: the statuses first, then the queue
        self._kernel.lane.open()
        self._meter_values.run_clock_aligned()  # J01: from the first accepted boot on

    async def end_sessions(self, reason: str) -> None:
        await self._transactions.stop_all(reason_for(reason))

    async def stopping(self) -> None:
        """No block built so far holds what a clean stop must write first."""

    def unpersisted(self) -> None:
        """No block built so far keeps a register the store may lose."""

    def detach(self) -> None:
        """No block built so far follows the store."""

    def rebooting(self, identity: Identity | None) -> Coroutine[Any, Any, None]:
        self._kernel.config.reboot()  # what waited for a reboot is in force now (B10.FR.01)
        self._network.restart()  # B10.FR.04: the first profile of NetworkConfigurationPriority first
        ports = self._kernel.ports
        for evse, _connectors in self._evses.connectors_by_evse():  # the cable may still be in (the pilot says so)
            if ports.ev.plugged(evse):
                self._transactions.cable_in(evse)
        if identity is not None:
            self._boot.identity = identity
        if self._boot.reason is m.BootReasonEnumType.POWER_UP:  # no cause said its own (a Reset does): a local one
            self._boot.reason = m.BootReasonEnumType.LOCAL_RESET  # B01.FR.09
        # a transaction still running is cut by the restart: ended (Reboot) before the new boot, never left open
        return self._transactions.recover(Reason.REBOOT)

    def permit_triggered(self, action: m.Action) -> None:
        self._boot.permit(action)

    def fault(self, connector_id: int, error_code: str, info: str | None) -> None:
        """A fault at EVSE ``connector_id`` (0: the station): Faulted, and a NotifyEvent with the hardware's code."""
        self._availability.fault(connector_id, error_code, info)

    def clear_fault(self, connector_id: int) -> None:
        self._availability.clear_fault(connector_id)

    async def plugged(self, connector_id: int, connector: int = 1) -> Outcome:
        """A cable at ``connector`` of EVSE ``connector_id``: it is Occupied (G01), a transaction may start
        (E01)."""
        return await self._transactions.plugged(connector_id, connector)

    async def unplugged(self, connector_id: int) -> None:
        await self._transactions.unplugged(connector_id)

    async def id_token_presented(self, id_tag: str, connector_id: int | None, token_type: str | None = None) -> Outcome:
        kind = m.IdTokenEnumType(token_type) if token_type is not None else m.IdTokenEnumType.ISO14443
        return await self._transactions.id_token_presented(id_tag, connector_id, kind)

    async def ev_suspended(self, connector_id: int, suspended: bool) -> None:
        await self._transactions.ev_suspended(connector_id, suspended)

    @property
    def registration(self) -> str | None:
        return self._boot.registration.value if self._boot.registration else None

    def snapshot(self) -> dict[str, Any]:
        kernel = self._kernel
        return {
            "id": kernel.settings.charge_point_id,
            "ocpp": "2.0.1",
            "connected": kernel.transport.connected,
            "registration": self.registration,
            "queued": kernel.lane.pending(),
            "deadLetters": kernel.store.dead_letters.count(),
            "connectors": [  # as the control API and the dashboard count them: one per EVSE
                {
                    "id": evse,
                    "status": self._evses.evse_status(evse).value,
                    "errorCode": self._availability.fault_code(evse) or "NoError",  # what the hardware said
                    "plugged": any(self._evses.status(evse, c) is m.ConnectorStatusEnumType.OCCUPIED for c in cs),
                    "meterWh": kernel.meter.energy_wh(evse),
                    "transactionId": self._transactions.transaction_id(evse),
                    "seqNo": self._transactions.last_seq_no(evse),  # the latest event's: how far the CSMS was told
                }
                for evse, cs in self._evses.connectors_by_evse()
            ],
        }

    def diagnostics_state(self) -> dict[str, Any]:
        return {**self.snapshot(), "firmwareVersion": self._boot.identity.firmware_version}
