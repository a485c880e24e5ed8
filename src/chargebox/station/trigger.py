"""Remote Trigger profile: TriggerMessage (C-27..C-32).

The trigger service knows no feature: each service offers what TriggerMessage may ask of it
(``triggers()``), as open-ocpp inverts it. The answer goes first; the requested message follows
once the answer is written (C-27, T-23).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import msgspec

from chargebox.protocol.messages import (
    Action,
    MessageTrigger,
    TriggerMessageRequest,
    TriggerMessageResponse,
    TriggerMessageStatus,
)
from chargebox.rpc import Handler, Reply
from chargebox.station.service import Service, Trigger, Triggers


class TriggerService(Service):
    def __init__(self, *, connector_count: Callable[[], int]) -> None:
        self._triggers: Triggers = {}
        self._connector_count = connector_count

    def add(self, triggers: Triggers) -> None:
        self._triggers.update(triggers)

    def handlers(self) -> dict[Action, Handler]:
        return {Action.TRIGGER_MESSAGE: self.on_trigger_message}

    def on_trigger_message(
        self, request: TriggerMessageRequest
    ) -> TriggerMessageResponse | Reply[TriggerMessageResponse]:
        status, send = self.decide(self._triggers.get(request.requested_message), request.connector_id)
        response = TriggerMessageResponse(status=status)
        return response if send is None else Reply(response, then=send)  # C-27

    def get(self, message: str) -> Trigger | None:
        """The trigger registered for a message name (ExtendedTriggerMessage shares this registry)."""
        try:
            return self._triggers.get(MessageTrigger(message))
        except ValueError:  # a name TriggerMessage cannot request
            return None

    def decide(
        self, trigger: Trigger | None, requested_connector: int | msgspec.UnsetType
    ) -> tuple[TriggerMessageStatus, Callable[[], Awaitable[None]] | None]:
        """The answer to a trigger request, and what to send once it is written (None: nothing)."""
        if trigger is None:
            return TriggerMessageStatus.NOT_IMPLEMENTED, None  # C-28
        connector_id = None if requested_connector is msgspec.UNSET else requested_connector
        if connector_id is not None and not 0 <= connector_id <= self._connector_count():
            return TriggerMessageStatus.REJECTED, None  # no such connector
        if not trigger.per_connector:
            connector_id = None  # C-31
        elif connector_id is not None and not 1 <= connector_id <= self._connector_count():
            return TriggerMessageStatus.REJECTED, None
        if not trigger.accepts(connector_id):
            return TriggerMessageStatus.REJECTED, None

        async def send() -> None:
            await trigger.send(connector_id)

        return TriggerMessageStatus.ACCEPTED, send

    def reset(self) -> None:
        """Triggers are wiring, not runtime state."""
