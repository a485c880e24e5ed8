"""TriggerMessage (F06): send a message now because the central system asks for it.

The trigger service knows no feature: each service offers what TriggerMessage may ask of it (``triggers()``,
collected in ``Kernel.triggers``), as 1.6's does. A message no built feature offers is NotImplemented (F06.FR.08),
so MeterValues, TransactionEvent, LogStatusNotification, FirmwareStatusNotification and the certificate requests
become triggerable as their blocks are built. An EVSE (and connector) the station does not have is Rejected; one
named for a message that is not per EVSE is ignored (F06.FR.03); none named where it matters means every EVSE
(F06.FR.11). The answer goes first, the message after it (F06.FR.04); it is sent even if the same message just
went out (F06.FR.10). While the boot is Pending the trigger lets its message through (B02.FR.02: each service's
``send`` asks ``permit``); while it is Rejected the central system's CALLs are refused whole (B03.FR.08).
"""

from __future__ import annotations

from typing import Final

import msgspec

from chargebox.protocol.v201 import messages as m
from chargebox.rpc import Handler, Reply
from chargebox.station.feature import Feature, Needs
from chargebox.station.kernel.kernel import Kernel
from chargebox.station.kernel.service import Service, Triggers
from chargebox.station.v201.device_model import DeviceModel
from chargebox.station.v201.evses import EvsesService
from chargebox.station.v201.offer import Block

Status = m.TriggerMessageStatusEnumType


class TriggerService(Service[m.Action]):
    """TriggerMessage, over what every service offers."""

    def __init__(self, *, triggers: Triggers, evses: EvsesService) -> None:
        """``triggers``: the kernel's registry, filled by the station from every service's ``triggers()``."""
        self._triggers = triggers
        self._evses = evses

    def handlers(self) -> dict[m.Action, Handler]:
        return {m.Action.TRIGGER_MESSAGE: self.on_trigger_message}

    def on_trigger_message(
        self, request: m.TriggerMessageRequest
    ) -> m.TriggerMessageResponse | Reply[m.TriggerMessageResponse]:
        trigger = self._triggers.get(request.requested_message)
        if trigger is None:
            return _answer(Status.NOT_IMPLEMENTED)  # F06.FR.08
        evse: int | None = None
        if not isinstance(request.evse, msgspec.UnsetType) and trigger.per_connector:  # else ignored (F06.FR.03)
            connector = None if request.evse.connector_id is msgspec.UNSET else request.evse.connector_id
            if not self._evses.exists(request.evse.id, connector):
                return _answer(Status.REJECTED, "UnknownEvse" if connector is None else "UnknownConnector")
            evse = request.evse.id
        if not trigger.accepts(evse):
            return _answer(Status.REJECTED)  # F06.FR.17: a BootNotification after an accepted boot

        async def send() -> None:
            await trigger.send(evse)  # F06.FR.04: after the answer; F06.FR.10: whatever went out before

        return Reply(_answer(Status.ACCEPTED), then=send)

    def reset(self) -> None:
        """Triggers are wiring, not runtime state."""


def _answer(status: Status, reason: str | None = None) -> m.TriggerMessageResponse:
    info = msgspec.UNSET if reason is None else m.StatusInfoType(reason_code=reason)
    return m.TriggerMessageResponse(status=status, status_info=info)


def _build(kernel: Kernel[DeviceModel], needs: Needs) -> TriggerService:
    return TriggerService(triggers=kernel.triggers, evses=needs(EvsesService))


FEATURE: Final = Feature(
    name="trigger",
    profile=Block.REMOTE_CONTROL,
    service=TriggerService,
    build=_build,
    actions=frozenset({m.Action.TRIGGER_MESSAGE}),
    needs=(EvsesService,),
)
