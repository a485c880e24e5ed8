"""Firmware of a 2.0.1 station (use case L01): UpdateFirmware of a signed image, FirmwareStatusNotification.

The job is the kernel's signed-firmware job (``kernel/signed_firmware.py``, L01 is the whitepaper's job backported,
journalled in the same table), told 2.0.1's statuses and notification; its stages, statuses and decisions are said
there. What is 2.0.1's own, here:
- Installing waits for every transaction to end (L01.FR.06), reported InstallScheduled meanwhile (L01.FR.34); no
  transaction is ever aborted for it, and a Reset is refused while the install runs (B11.FR.06).
- While it waits, every free EVSE is Unavailable (L01.FR.07), unless
  ChargingStation.AllowNewSessionsPendingFirmwareUpdate is true: then a free EVSE stays Available and a new session
  may start on it (TC_L_14_CS), which may put the install off. Either way, from the moment the last transaction ends
  until the new firmware runs, every EVSE is Unavailable: no session starts under an install (the transactions'
  seam is the EVSE's status: an Unavailable one starts nothing). A change of the variable while the install waits
  applies at once.
- The station reboots into the new image with a BootNotification saying FirmwareUpdate (B01.FR.09).
- A triggered FirmwareStatusNotification (F06) may go while the boot is Pending (B02.FR.02).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from typing import Any, Final

from chargebox.protocol.v201 import messages as m
from chargebox.rpc import Handler, Reply
from chargebox.station.feature import Feature, Needs
from chargebox.station.kernel.kernel import Kernel
from chargebox.station.kernel.service import Permit, Service, Trigger, Triggers
from chargebox.station.kernel.signed_firmware import SignedFirmwareJob, Terms
from chargebox.station.v201.boot import BootService
from chargebox.station.v201.device_model import DeviceModel
from chargebox.station.v201.evses import EvsesService
from chargebox.station.v201.offer import Block
from chargebox.station.v201.reset import ResetService
from chargebox.station.v201.variables import declare

S = m.FirmwareStatusEnumType

TERMS: Final = Terms(
    statuses=S,
    notification=lambda status, request_id: m.FirmwareStatusNotificationRequest(status=status, request_id=request_id),
    request="UpdateFirmware",
    job="firmware",
    scheduled_while_busy=True,  # L01.FR.34
)

FILE_TRANSFER_PROTOCOLS: Final = declare(
    "OCPPCommCtrlr", "FileTransferProtocols", default="FTP,FTPS,HTTP,HTTPS", values=("FTP", "FTPS", "HTTP", "HTTPS"),
    description="How firmware is downloaded and logs uploaded: the kernel's transfer (SFTP is not offered)",
)  # fmt: skip


ALLOW_NEW_SESSIONS: Final = declare(
    "ChargingStation", "AllowNewSessionsPendingFirmwareUpdate", default="false",
    description="L01.FR.07: true keeps free EVSEs open to new sessions while an install waits for transactions",
)  # fmt: skip


class EvseMaintenance:
    """What an install asks of a 2.0.1 station's charging side (``kernel.firmware.Maintenance``): its EVSEs and the
    transactions (the Reset participants) that run on them."""

    def __init__(self, *, evses: EvsesService, reset: ResetService, allow_new_sessions: Callable[[], bool]) -> None:
        """``allow_new_sessions()`` reads AllowNewSessionsPendingFirmwareUpdate now."""
        self._evses = evses
        self._reset = reset
        self._allow_new_sessions = allow_new_sessions
        self._on = False  # an install waits or runs
        self._closed = False  # no transaction runs any more: the install begins, nothing may start
        self._idle = asyncio.Event()
        evses.sources.append(self.status_of)
        reset.idle_listeners.append(self._idle.set)

    def status_of(self, evse: int, _connector: int) -> m.ConnectorStatusEnumType | None:
        """L01.FR.07: a free EVSE is Unavailable while an install waits (unless new sessions are allowed) and from
        the moment it begins."""
        if not self._on or self._reset.busy(evse):
            return None
        if self._allow_new_sessions() and not self._closed:
            return None  # TC_L_14_CS: open to a new session while the install waits
        return m.ConnectorStatusEnumType.UNAVAILABLE

    def set_maintenance(self, on: bool) -> None:
        if on != self._on:
            self._on, self._closed = on, False
            self._evses.refresh()

    def allowance_changed(self) -> None:
        """AllowNewSessionsPendingFirmwareUpdate was set: the free EVSEs of a waiting install follow it at once."""
        if self._on:
            self._evses.refresh()

    def transaction_running(self) -> bool:
        return self._reset.busy(None)

    async def wait_until_no_transactions(self) -> None:
        """L01.FR.06: returns once nothing runs (never ends a transaction); each end frees its EVSE at once."""
        while self._reset.busy(None):
            self._idle.clear()
            await self._idle.wait()
            self._evses.refresh()
        self._closed = True  # L01.FR.05: the install begins now; no session may start before it is done
        self._evses.refresh()


class FirmwareService(SignedFirmwareJob[m.FirmwareStatusEnumType], Service[m.Action]):
    """UpdateFirmware, the download, the signature, the install and FirmwareStatusNotification."""

    def handlers(self) -> dict[m.Action, Handler]:
        return {m.Action.UPDATE_FIRMWARE: self.on_update_firmware}

    def triggers(self, permit: Permit) -> Triggers:
        async def send(_evse: int | None) -> None:
            permit(m.Action.FIRMWARE_STATUS_NOTIFICATION)  # B02.FR.02: a triggered message may go while Pending
            await self.send_status_notification(self.current_status())  # L01.FR.25, L01.FR.26

        return {m.MessageTriggerEnumType.FIRMWARE_STATUS_NOTIFICATION: Trigger(send)}

    def on_update_firmware(self, request: m.UpdateFirmwareRequest) -> m.UpdateFirmwareResponse | Reply[Any]:
        """L01.FR.21, L01.FR.24: check the signing certificate, journal the job, answer; the work starts after."""
        answer, start = self.order(request)
        response = m.UpdateFirmwareResponse(status=m.UpdateFirmwareStatusEnumType(answer.value))
        return Reply(response, then=self.start) if start else response


def _build(kernel: Kernel[DeviceModel], needs: Needs) -> FirmwareService:
    boot, reset = needs(BootService), needs(ResetService)

    def reboot(version: str) -> None:
        boot.reason = m.BootReasonEnumType.FIRMWARE_UPDATE  # B01.FR.09
        kernel.host.reboot(identity=replace(boot.identity, firmware_version=version))

    config = kernel.config
    maintenance = EvseMaintenance(evses=needs(EvsesService), reset=reset,
                                  allow_new_sessions=lambda: config.get_bool(ALLOW_NEW_SESSIONS.key))  # fmt: skip
    config.subscribe(ALLOW_NEW_SESSIONS.key, lambda _value: maintenance.allowance_changed())
    service = FirmwareService(
        terms=TERMS, lane=kernel.lane, store=kernel.store, clock=kernel.clock, installer=kernel.ports.installer,
        transfer=kernel.transfer, workspace=kernel.workspace,
        maintenance=maintenance,
        security_event=kernel.security_events.report, reboot=reboot, log=kernel.log,
    )  # fmt: skip
    reset.vetoes.append(service.installing)
    return service


FEATURE: Final = Feature(
    name="firmware",
    profile=Block.FIRMWARE_MANAGEMENT,
    service=FirmwareService,
    build=_build,
    actions=frozenset({m.Action.UPDATE_FIRMWARE}),
    variables=(FILE_TRANSFER_PROTOCOLS, ALLOW_NEW_SESSIONS),
    tables=frozenset({"signed_firmware_job"}),
    needs=(BootService, EvsesService, ResetService),
)
