"""ExtendedTriggerMessage (security whitepaper F06; checklist 3.1, CT-1, LG-3, SF-9).

The same registry as TriggerMessage (``station/v16/trigger.py``): a message both can request is sent by the trigger
its service registered for TriggerMessage, checked the same way (C-27, C-28, C-31). Two kinds of entries are
this service's own (``add``):
- messages only ExtendedTriggerMessage can request: LogStatusNotification (the GetLog service) and
  SignChargePointCertificate (the certificate service registers it; until then it is NotImplemented);
- a different message for a name both share: FirmwareStatusNotification is answered with a
  SignedFirmwareStatusNotification by a station that offers signed firmware (SF-9, L01.FR.28-29).
"""

from __future__ import annotations

from collections.abc import Callable

from chargebox.protocol.messages import (
    Action,
    ExtendedMessageTrigger,
    ExtendedTriggerMessageRequest,
    ExtendedTriggerMessageResponse,
)
from chargebox.rpc import Handler, Reply
from chargebox.station.kernel.service import Service, Trigger, Triggers
from chargebox.station.v16.trigger import decide

ExtendedTriggers = dict[ExtendedMessageTrigger, Trigger]


class ExtendedTriggerService(Service):
    def __init__(self, *, triggers: Triggers, connector_count: Callable[[], int]) -> None:
        self._triggers = triggers
        self._connector_count = connector_count
        self._own: ExtendedTriggers = {}

    def add(self, triggers: ExtendedTriggers) -> None:
        """Register what only ExtendedTriggerMessage requests, or overrides for it (the registry is open)."""
        self._own.update(triggers)

    def handlers(self) -> dict[Action, Handler]:
        return {Action.EXTENDED_TRIGGER_MESSAGE: self.on_extended_trigger_message}

    def on_extended_trigger_message(
        self, request: ExtendedTriggerMessageRequest
    ) -> ExtendedTriggerMessageResponse | Reply[ExtendedTriggerMessageResponse]:
        trigger = self._own.get(request.requested_message) or self._triggers.get(request.requested_message)
        status, send = decide(trigger, request.connector_id, self._connector_count())
        response = ExtendedTriggerMessageResponse(status=status)
        return response if send is None else Reply(response, then=send)

    def reset(self) -> None:
        """Triggers are wiring, not runtime state."""
