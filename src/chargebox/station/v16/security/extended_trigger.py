"""ExtendedTriggerMessage (security whitepaper F06; checklist 3.1, CT-1, LG-3, SF-9).

The same registry as TriggerMessage (``station/v16/trigger.py``): a message both can request is sent by the trigger
its service registered for TriggerMessage, checked the same way (C-27, C-28, C-31). Two kinds of entries are
this service's own (``add``):
- messages only ExtendedTriggerMessage can request: LogStatusNotification (the GetLog feature registers it)
  and SignChargePointCertificate (the certificates feature registers it);
- a different message for a name both share: FirmwareStatusNotification is answered with a
  SignedFirmwareStatusNotification by a station that offers signed firmware (SF-9, L01.FR.28-29).
"""

from __future__ import annotations

from typing import Final

from chargebox.protocol.messages import (
    Action,
    ExtendedMessageTrigger,
    ExtendedTriggerMessageRequest,
    ExtendedTriggerMessageResponse,
)
from chargebox.rpc import Handler, Reply
from chargebox.station.feature import Feature, Needs
from chargebox.station.kernel.kernel import Kernel
from chargebox.station.kernel.service import Service, Trigger, Triggers
from chargebox.station.v16.config_keys import Profile
from chargebox.station.v16.trigger import decide

ExtendedTriggers = dict[ExtendedMessageTrigger, Trigger]


class ExtendedTriggerService(Service):
    def __init__(self, *, triggers: Triggers, connector_count: int) -> None:
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
        status, send = decide(trigger, request.connector_id, self._connector_count)
        response = ExtendedTriggerMessageResponse(status=status)
        return response if send is None else Reply(response, then=send)

    def reset(self) -> None:
        """Triggers are wiring, not runtime state."""


def _build(kernel: Kernel, _needs: Needs) -> ExtendedTriggerService:
    return ExtendedTriggerService(triggers=kernel.triggers, connector_count=kernel.connector_count)


FEATURE: Final = Feature(
    name="extended_trigger",
    profile=Profile.SECURITY,
    service=ExtendedTriggerService,
    build=_build,
    actions=frozenset({Action.EXTENDED_TRIGGER_MESSAGE}),
)
