"""Remote Trigger profile: TriggerMessage (C-27..C-32).

The trigger service knows no feature: each service offers what TriggerMessage may ask of it
(``triggers()``), as open-ocpp inverts it. The answer goes first; the requested message follows
once the answer is written (C-27, T-23).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Final

import msgspec

from chargebox.protocol.messages import (
    Action,
    TriggerMessageRequest,
    TriggerMessageResponse,
    TriggerMessageStatus,
)
from chargebox.rpc import Handler, Reply
from chargebox.station.feature import Feature, Needs
from chargebox.station.kernel.kernel import Kernel
from chargebox.station.kernel.service import Service, Trigger, Triggers
from chargebox.station.v16.config_keys import Profile


class TriggerService(Service):
    def __init__(self, *, triggers: Triggers, connector_count: int) -> None:
        """``triggers``: what every service of the station offers (the kernel's registry, which
        ExtendedTriggerMessage shares)."""
        self._triggers = triggers
        self._connector_count = connector_count

    def handlers(self) -> dict[Action, Handler]:
        return {Action.TRIGGER_MESSAGE: self.on_trigger_message}

    def on_trigger_message(
        self, request: TriggerMessageRequest
    ) -> TriggerMessageResponse | Reply[TriggerMessageResponse]:
        trigger = self._triggers.get(request.requested_message)
        status, send = decide(trigger, request.connector_id, self._connector_count)
        response = TriggerMessageResponse(status=status)
        return response if send is None else Reply(response, then=send)  # C-27

    def reset(self) -> None:
        """Triggers are wiring, not runtime state."""


def decide(
    trigger: Trigger | None, requested_connector: int | msgspec.UnsetType, connector_count: int
) -> tuple[TriggerMessageStatus, Callable[[], Awaitable[None]] | None]:
    """The answer to a trigger request, and what to send once it is written (None: nothing)."""
    if trigger is None:
        return TriggerMessageStatus.NOT_IMPLEMENTED, None  # C-28
    connector_id = None if requested_connector is msgspec.UNSET else requested_connector
    if connector_id is not None and not 0 <= connector_id <= connector_count:
        return TriggerMessageStatus.REJECTED, None  # no such connector
    if not trigger.per_connector:
        connector_id = None  # C-31
    elif connector_id is not None and not 1 <= connector_id <= connector_count:
        return TriggerMessageStatus.REJECTED, None
    if not trigger.accepts(connector_id):
        return TriggerMessageStatus.REJECTED, None

    async def send() -> None:
        await trigger.send(connector_id)

    return TriggerMessageStatus.ACCEPTED, send


def _build(kernel: Kernel, _needs: Needs) -> TriggerService:
    return TriggerService(triggers=kernel.triggers, connector_count=kernel.connector_count)


FEATURE: Final = Feature(
    name="trigger",
    profile=Profile.REMOTE_TRIGGER,
    service=TriggerService,
    build=_build,
    actions=frozenset({Action.TRIGGER_MESSAGE}),
)
