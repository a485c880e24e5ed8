"""Logs of a 2.0.1 station (use case N01): GetLog in, LogStatusNotification out.

The job is the kernel's GetLog job (``kernel/log_upload.py``, N01 is the whitepaper's GetLog, journalled in
``store.log_job``), told 2.0.1's statuses and notification; what it does is said there. What is 2.0.1's own, here:
the diagnostics archive lists the device model's entries (the write-only password left out), a cancelled upload is
told AcceptedCanceled with its requestId before the new one starts (N01.FR.20), and a triggered
LogStatusNotification comes through TriggerMessage (N01.FR.13).
"""

from __future__ import annotations

from typing import Final

from chargebox.protocol.v201 import messages as m
from chargebox.rpc import Handler, Reply
from chargebox.station.feature import Feature, Needs
from chargebox.station.kernel.kernel import Kernel
from chargebox.station.kernel.log_upload import LogUploadJob, Terms
from chargebox.station.kernel.service import Permit, Service, Trigger, Triggers
from chargebox.station.kernel.uploads import station_contents
from chargebox.station.v201.device_model import DeviceModel
from chargebox.station.v201.offer import Block

TERMS: Final = Terms(
    statuses=m.UploadLogStatusEnumType,
    notification=lambda status, request_id: m.LogStatusNotificationRequest(status=status, request_id=request_id),
    tell_canceled=True,  # N01.FR.20
)


class GetLogService(LogUploadJob[m.UploadLogStatusEnumType], Service[m.Action]):
    """GetLog, the log file, its upload and LogStatusNotification."""

    def handlers(self) -> dict[m.Action, Handler]:
        return {m.Action.GET_LOG: self.on_get_log}

    def triggers(self, permit: Permit) -> Triggers:
        async def send(_evse: int | None) -> None:
            permit(m.Action.LOG_STATUS_NOTIFICATION)  # B02.FR.02
            await self.send_log_status_notification(self.current_status())  # N01.FR.13

        return {m.MessageTriggerEnumType.LOG_STATUS_NOTIFICATION: Trigger(send)}

    def on_get_log(self, request: m.GetLogRequest) -> Reply[m.GetLogResponse]:
        """N01.FR.01, N01.FR.12: journal the request, answer with the file name; build and upload after."""
        answer, file_name, start = self.order(request)
        return Reply(m.GetLogResponse(status=m.LogStatusEnumType(answer.value), filename=file_name), then=start)


def _build(kernel: Kernel[DeviceModel], _needs: Needs) -> GetLogService:
    return GetLogService(terms=TERMS, lane=kernel.lane, store=kernel.store, clock=kernel.clock,
                         transfer=kernel.transfer, workspace=kernel.workspace,
                         charge_point_id=kernel.settings.charge_point_id,
                         diagnostics=station_contents(kernel, kernel.config.entries), log=kernel.log)  # fmt: skip


FEATURE: Final = Feature(
    name="get_log",
    profile=Block.DIAGNOSTICS,
    service=GetLogService,
    build=_build,
    actions=frozenset({m.Action.GET_LOG}),
    tables=frozenset({"log_job"}),
)
