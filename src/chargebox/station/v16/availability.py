"""ChangeAvailability (C-3..C-7): Operative / Inoperative per connector or for the whole station.

The new availability is persisted before the answer, so it survives reboots (C-7, C-26). A
connector in use (a transaction, or a driver already Preparing) answers Scheduled and becomes
Unavailable when it is free (C-4); the status derivation in ``connectors`` applies it then.
"""

from __future__ import annotations

from typing import Final

from chargebox.protocol.messages import (
    Action,
    AvailabilityStatus,
    AvailabilityType,
    ChangeAvailabilityRequest,
    ChangeAvailabilityResponse,
)
from chargebox.rpc import Handler
from chargebox.station.feature import Feature, Needs
from chargebox.station.kernel.kernel import Kernel
from chargebox.station.kernel.service import Service
from chargebox.station.v16.config_keys import Profile
from chargebox.station.v16.connectors import ConnectorsService


class AvailabilityService(Service):
    def __init__(self, *, connectors: ConnectorsService) -> None:
        self._connectors = connectors

    def handlers(self) -> dict[Action, Handler]:
        return {Action.CHANGE_AVAILABILITY: self.on_change_availability}

    def on_change_availability(self, request: ChangeAvailabilityRequest) -> ChangeAvailabilityResponse:
        connectors = self._connectors
        if not connectors.exists(request.connector_id):
            return ChangeAvailabilityResponse(status=AvailabilityStatus.REJECTED)  # C-6
        affected = range(1, connectors.count + 1) if request.connector_id == 0 else (request.connector_id,)
        busy = request.type is AvailabilityType.INOPERATIVE and any(connectors.unavailable_blocked(c) for c in affected)
        connectors.set_availability(request.connector_id, request.type)  # C-3, C-5, C-7
        status = AvailabilityStatus.SCHEDULED if busy else AvailabilityStatus.ACCEPTED  # C-4
        return ChangeAvailabilityResponse(status=status)

    def reset(self) -> None:
        """Availability is persistent state (C-26)."""


def _build(_kernel: Kernel, needs: Needs) -> AvailabilityService:
    return AvailabilityService(connectors=needs(ConnectorsService))


FEATURE: Final = Feature(
    name="availability",
    profile=Profile.CORE,
    service=AvailabilityService,
    build=_build,
    actions=frozenset({Action.CHANGE_AVAILABILITY}),
    needs=(ConnectorsService,),
)
