"""SignedUpdateFirmware in, SignedFirmwareStatusNotification out (security whitepaper L01; checklist SF-1..SF-10).

The job is the kernel's signed-firmware job (``kernel/signed_firmware.py``, shared with 2.0.1's L01, journalled in
``store.signed_firmware``), told the whitepaper's statuses and notification; its stages, statuses and decisions
(SF-1 to SF-5, SF-9) are said there. What is 1.6's own, here:
- InstallScheduled says only that installDateTime is ahead (SF-4); the install still waits for every transaction
  to end, with free connectors Unavailable (SF-7). (Edition 2 has no InvalidCertificate *firmware status*.)
- The triggered status comes through ExtendedTriggerMessage.
- A station that offers this answers plain UpdateFirmware NotSupported (SF-10: the station does it), so it is offered
  only with the ``signed_firmware_only`` switch (``--signed-firmware-only``), never with the Security profile alone.
"""

from __future__ import annotations

from typing import Any, Final

from chargebox.protocol.messages import (
    Action,
    ExtendedMessageTrigger,
    SignedFirmwareStatus,
    SignedFirmwareStatusNotificationRequest,
    SignedUpdateFirmwareRequest,
    SignedUpdateFirmwareResponse,
    UpdateFirmwareStatus,
)
from chargebox.rpc import Handler, Reply
from chargebox.station.feature import Feature, Needs
from chargebox.station.kernel.kernel import Kernel
from chargebox.station.kernel.service import Permit, Service, Trigger
from chargebox.station.kernel.signed_firmware import SignedFirmwareJob, Terms
from chargebox.station.v16.boot import BootService, reboot_with_firmware
from chargebox.station.v16.connectors import ConnectorsService
from chargebox.station.v16.offer import SIGNED_FIRMWARE_ONLY
from chargebox.station.v16.security.events import SecurityService
from chargebox.station.v16.security.extended_trigger import ExtendedTriggers, ExtendedTriggerService

TERMS: Final = Terms(
    statuses=SignedFirmwareStatus,
    notification=lambda status, request_id: SignedFirmwareStatusNotificationRequest(
        status=status, request_id=request_id
    ),
    request="SignedUpdateFirmware",
    job="signed firmware",
    scheduled_while_busy=False,  # SF-4: InstallScheduled for installDateTime only
)


class SignedFirmwareService(SignedFirmwareJob[SignedFirmwareStatus], Service):
    """SignedUpdateFirmware, the download, the signature, the install and SignedFirmwareStatusNotification."""

    def handlers(self) -> dict[Action, Handler]:
        return {Action.SIGNED_UPDATE_FIRMWARE: self.on_signed_update_firmware}

    def extended_triggers(self, permit: Permit) -> ExtendedTriggers:
        async def send(_connector_id: int | None) -> None:
            permit(Action.SIGNED_FIRMWARE_STATUS_NOTIFICATION)
            await self.send_status_notification(self.current_status())  # SF-9

        return {ExtendedMessageTrigger.FIRMWARE_STATUS_NOTIFICATION: Trigger(send)}

    def on_signed_update_firmware(
        self, request: SignedUpdateFirmwareRequest
    ) -> SignedUpdateFirmwareResponse | Reply[Any]:
        """SF-1, SF-2: check the signing certificate, journal the job, answer; the work starts after the answer."""
        answer, start = self.order(request)
        response = SignedUpdateFirmwareResponse(status=UpdateFirmwareStatus(answer.value))
        return Reply(response, then=self.start) if start else response


def _build(kernel: Kernel, needs: Needs) -> SignedFirmwareService:
    boot = needs(BootService)
    service = SignedFirmwareService(
        terms=TERMS,
        lane=kernel.lane,
        store=kernel.store,
        installer=kernel.ports.installer,
        transfer=kernel.transfer,
        workspace=kernel.workspace,
        maintenance=needs(ConnectorsService),
        security_event=needs(SecurityService).report,
        reboot=reboot_with_firmware(kernel, boot),
        clock=kernel.clock,
        log=kernel.log,
    )
    needs(ExtendedTriggerService).add(service.extended_triggers(boot.permit_triggered))
    return service


FEATURE: Final = Feature(
    name="signed_firmware",
    profile=SIGNED_FIRMWARE_ONLY,  # the switch, not the Security profile: it withdraws UpdateFirmware
    service=SignedFirmwareService,
    build=_build,
    actions=frozenset({Action.SIGNED_UPDATE_FIRMWARE}),
    withdraws=frozenset({Action.UPDATE_FIRMWARE}),  # SF-10: a station with signed updates refuses unsigned ones
    tables=frozenset({"signed_firmware_job"}),
    needs=(BootService, ConnectorsService, SecurityService, ExtendedTriggerService),
)
