"""UnlockConnector (F05): release the cable of a socket when the driver cannot.

A connector the station does not have is UnknownConnector (F05.FR.03). A connector where an authorized
transaction runs is neither unlocked nor stopped: OngoingAuthorizedTransaction (F05.FR.02). Whether one runs is
the transactions block's to know: it joins ``authorized``. Otherwise the station asks the lock (the hardware port
1.6's UnlockConnector uses, indexed by EVSE), also with no cable detected (F05.FR.06), and says how that went:
Unlocked or UnlockFailed (F05.FR.04, F05.FR.05). A fixed cable has no lock: the request is answered CALLERROR
NotSupported, as 1.6 answers it NotSupported (C-35); 2.0.1's UnlockStatus has no such value.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Final

from chargebox import hal
from chargebox.errors import RemoteProtocolError
from chargebox.protocol.errors import CallErrorCode
from chargebox.protocol.v201 import messages as m
from chargebox.rpc import Handler
from chargebox.station.feature import Feature, Needs
from chargebox.station.kernel.kernel import Kernel
from chargebox.station.kernel.service import Service
from chargebox.station.v201.device_model import DeviceModel
from chargebox.station.v201.evses import EvsesService
from chargebox.station.v201.offer import Block

Unlock = m.UnlockStatusEnumType
# Does an authorized transaction run on this connector of this EVSE? The transactions block's word (F05.FR.02).
AuthorizedProbe = Callable[[int, int], bool]


class UnlockService(Service[m.Action]):
    """UnlockConnector through the connector lock."""

    def __init__(
        self,
        *,
        evses: EvsesService,
        lock: hal.ConnectorLock | None,
        log: logging.LoggerAdapter[logging.Logger] | logging.Logger,
    ) -> None:
        """``lock`` None: a fixed cable, nothing to unlock."""
        self.authorized: list[AuthorizedProbe] = []
        self._evses = evses
        self._lock = lock
        self._log = log

    def handlers(self) -> dict[m.Action, Handler]:
        return {m.Action.UNLOCK_CONNECTOR: self.on_unlock_connector}

    def on_unlock_connector(
        self, request: m.UnlockConnectorRequest
    ) -> m.UnlockConnectorResponse | Awaitable[m.UnlockConnectorResponse]:
        """What the request decides is answered at once (a CALLERROR is raised here, where the Rpc maps it); only
        the lock is awaited."""
        evse, connector = request.evse_id, request.connector_id
        if not self._evses.exists(evse, connector):
            return m.UnlockConnectorResponse(status=Unlock.UNKNOWN_CONNECTOR)  # F05.FR.03
        if self._lock is None:
            raise RemoteProtocolError(CallErrorCode.NOT_SUPPORTED, "a fixed cable: no lock to open")  # as C-35
        if any(probe(evse, connector) for probe in self.authorized):
            return m.UnlockConnectorResponse(status=Unlock.ONGOING_AUTHORIZED_TRANSACTION)  # F05.FR.02
        return self._unlock(self._lock, evse, connector)

    async def _unlock(self, lock: hal.ConnectorLock, evse: int, connector: int) -> m.UnlockConnectorResponse:
        unlocked = await lock.unlock(evse)  # F05.FR.06: tried whether a cable is in or not
        self._log.info("= EVSE %d connector %d %s", evse, connector, "unlocked" if unlocked else "did not unlock")
        return m.UnlockConnectorResponse(status=Unlock.UNLOCKED if unlocked else Unlock.UNLOCK_FAILED)  # F05.FR.04/05


def _build(kernel: Kernel[DeviceModel], needs: Needs) -> UnlockService:
    lock = None if kernel.settings.fixed_cable else kernel.ports.lock
    return UnlockService(evses=needs(EvsesService), lock=lock, log=kernel.log)


FEATURE: Final = Feature(
    name="unlock",
    profile=Block.REMOTE_CONTROL,
    service=UnlockService,
    build=_build,
    actions=frozenset({m.Action.UNLOCK_CONNECTOR}),
    needs=(EvsesService,),
)
