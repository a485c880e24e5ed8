"""GetLog in, LogStatusNotification out (security whitepaper N01; checklist LG-1..LG-4).

The job is the kernel's GetLog job (``kernel/log_upload.py``, shared with 2.0.1's N01, journalled in
``store.log_job``), told the whitepaper's statuses and notification; what it does is said there. What is 1.6's own,
here: the diagnostics archive is GetDiagnostics' (``station/v16/diagnostics.py``) with the configuration keys, a
cancelled upload is not told (the whitepaper has no AcceptedCanceled upload status), and a triggered
LogStatusNotification comes through ExtendedTriggerMessage.
"""

from __future__ import annotations

from typing import Final

from chargebox.protocol.messages import (
    Action,
    ExtendedMessageTrigger,
    GetLogRequest,
    GetLogResponse,
    LogStatus,
    LogStatusNotificationRequest,
    UploadLogStatus,
)
from chargebox.rpc import Handler, Reply
from chargebox.station.feature import Feature, Needs
from chargebox.station.kernel.kernel import Kernel
from chargebox.station.kernel.log_upload import LogUploadJob, Terms
from chargebox.station.kernel.service import Permit, Service, Trigger
from chargebox.station.kernel.uploads import station_contents
from chargebox.station.v16.boot import BootService
from chargebox.station.v16.config_keys import Profile
from chargebox.station.v16.diagnostics import configuration_listing
from chargebox.station.v16.security.extended_trigger import ExtendedTriggers, ExtendedTriggerService

TERMS: Final = Terms(
    statuses=UploadLogStatus,
    notification=lambda status, request_id: LogStatusNotificationRequest(status=status, request_id=request_id),
    tell_canceled=False,
)


class GetLogService(LogUploadJob[UploadLogStatus], Service):
    """GetLog, the log file, its upload and LogStatusNotification."""

    def handlers(self) -> dict[Action, Handler]:
        return {Action.GET_LOG: self.on_get_log}

    def extended_triggers(self, permit: Permit) -> ExtendedTriggers:
        async def send(_connector_id: int | None) -> None:
            permit(Action.LOG_STATUS_NOTIFICATION)
            await self.send_log_status_notification(self.current_status())

        return {ExtendedMessageTrigger.LOG_STATUS_NOTIFICATION: Trigger(send)}

    def on_get_log(self, request: GetLogRequest) -> Reply[GetLogResponse]:
        """LG-1, LG-2: journal the request and answer with the file name; build and upload after the answer."""
        answer, file_name, start = self.order(request)
        return Reply(GetLogResponse(status=LogStatus(answer.value), filename=file_name), then=start)


def _build(kernel: Kernel, needs: Needs) -> GetLogService:
    service = GetLogService(terms=TERMS, lane=kernel.lane, store=kernel.store, clock=kernel.clock,
                            transfer=kernel.transfer, workspace=kernel.workspace,
                            charge_point_id=kernel.settings.charge_point_id,
                            diagnostics=station_contents(kernel, configuration_listing(kernel.config)),
                            log=kernel.log)  # fmt: skip
    needs(ExtendedTriggerService).add(service.extended_triggers(needs(BootService).permit_triggered))
    return service


FEATURE: Final = Feature(
    name="get_log",
    profile=Profile.SECURITY,
    service=GetLogService,
    build=_build,
    actions=frozenset({Action.GET_LOG}),
    tables=frozenset({"log_job"}),
    needs=(BootService, ExtendedTriggerService),
)
