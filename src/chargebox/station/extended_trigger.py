"""ExtendedTriggerMessage (security whitepaper F06; checklist 3.1, CT-1, LG-3, SF-9).

The same registry as TriggerMessage (``station/trigger.py``): a message both can request is sent by the trigger
its service registered for TriggerMessage, checked the same way (C-27, C-28, C-31). Two kinds of entries are
this service's own (``add``):
- messages only ExtendedTriggerMessage can request: LogStatusNotification (the GetLog service) and
  SignChargePointCertificate (the certificate service registers it; until then it is NotImplemented);
- a different message for a name both share: FirmwareStatusNotification is answered with a
  SignedFirmwareStatusNotification by a station that offers signed firmware (SF-9, L01.FR.28-29).
"""

from __future__ import annotations

from chargebox.protocol.messages import (
    Action,
    ExtendedMessageTrigger,
    ExtendedTriggerMessageRequest,
    ExtendedTriggerMessageResponse,
)
from chargebox.rpc import Handler, Reply
from chargebox.station.service import Service, Trigger
from chargebox.station.trigger import TriggerService

ExtendedTriggers = dict[ExtendedMessageTrigger, Trigger]


class ExtendedTriggerService(Service):
    def __init__(self, *, trigger: TriggerService) -> None:
        self._trigger = trigger
        self._own: ExtendedTriggers = {}

    def add(self, triggers: ExtendedTriggers) -> None:
        """Register what only ExtendedTriggerMessage requests, or overrides for it (the registry is open)."""
        self._own.update(triggers)

    def handlers(self) -> dict[Action, Handler]:
        return {Action.EXTENDED_TRIGGER_MESSAGE: self.on_extended_trigger_message}

    def on_extended_trigger_message(
        self, request: ExtendedTriggerMessageRequest
    ) -> ExtendedTriggerMessageResponse | Reply[ExtendedTriggerMessageResponse]:
        trigger = self._own.get(request.requested_message) or self._trigger.get(request.requested_message.value)
        status, send = self._trigger.decide(trigger, request.connector_id)
        response = ExtendedTriggerMessageResponse(status=status)
        return response if send is None else Reply(response, then=send)

    def reset(self) -> None:
        """Triggers are wiring, not runtime state."""
