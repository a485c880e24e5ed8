"""Reset (C-23..C-26) and UnlockConnector (C-33..C-36).

Reset: answered Accepted, then every transaction is stopped with reason SoftReset or HardReset
(its StopTransaction journaled, delivered after the reboot if need be) and the station reboots:
BootNotification again. Persistent state (availability, configuration, the cache) survives.
UnlockConnector: a running transaction is stopped first (UnlockCommand), then the cable unlocked.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from chargebox.clock import Clock
from chargebox.log import Log
from chargebox.protocol.messages import (
    Action,
    Reason,
    ResetRequest,
    ResetResponse,
    ResetStatus,
    ResetType,
    UnlockConnectorRequest,
    UnlockConnectorResponse,
    UnlockStatus,
)
from chargebox.rpc import Handler, Reply
from chargebox.station.feature import Feature, Needs
from chargebox.station.kernel.config import Configuration
from chargebox.station.kernel.kernel import Kernel
from chargebox.station.kernel.lane import Lane
from chargebox.station.kernel.service import Service
from chargebox.station.v16.config_keys import Profile
from chargebox.station.v16.connectors import ConnectorsService
from chargebox.station.v16.transactions import TransactionService

REBOOT_GRACE: Final = 0.5  # seconds between answering a Reset (and flushing the outbox) and going down


class ResetService(Service):
    def __init__(
        self,
        *,
        transactions: TransactionService,
        connectors: ConnectorsService,
        lane: Lane,
        config: Configuration,
        clock: Clock,
        reboot: Callable[[], None],
        log: Log,
    ) -> None:
        self._lane = lane
        self._clock = clock
        self._config = config
        self._transactions = transactions
        self._connectors = connectors
        self._reboot = reboot
        self._log = log

    def handlers(self) -> dict[Action, Handler]:
        return {Action.RESET: self.on_reset, Action.UNLOCK_CONNECTOR: self.on_unlock_connector}

    def on_reset(self, request: ResetRequest) -> Reply[ResetResponse]:
        reason = Reason.HARD_RESET if request.type is ResetType.HARD else Reason.SOFT_RESET

        async def reset() -> None:
            self._log.info("= %s reset", request.type)
            await self._transactions.stop_all(reason)  # C-23, C-24: journaled before going down
            # ... and sent before it, when the link allows; what is left goes after the reboot
            await self._lane.flush(self._config.get_int("MessageTimeout", default=30))
            # A real controller takes a moment to go down; dropping the link the instant the answer
            # is written can leave a central system that reads its socket lazily without it.
            await self._clock.sleep(REBOOT_GRACE)
            self._reboot()

        return Reply(ResetResponse(status=ResetStatus.ACCEPTED), then=reset)

    async def on_unlock_connector(self, request: UnlockConnectorRequest) -> UnlockConnectorResponse:
        connector_id = request.connector_id
        if not 1 <= connector_id <= self._connectors.count or not self._transactions.has_lock:
            return UnlockConnectorResponse(status=UnlockStatus.NOT_SUPPORTED)  # C-35, C-36
        await self._transactions.stop(connector_id, Reason.UNLOCK_COMMAND, unlock=False)  # C-34
        unlocked = await self._transactions.unlock(connector_id)
        return UnlockConnectorResponse(status=UnlockStatus.UNLOCKED if unlocked else UnlockStatus.UNLOCK_FAILED)

    def reset(self) -> None:
        """No runtime state of its own."""


def _build(kernel: Kernel, needs: Needs) -> ResetService:
    return ResetService(transactions=needs(TransactionService), connectors=needs(ConnectorsService),
                        lane=kernel.lane, config=kernel.config, reboot=kernel.host.reboot, clock=kernel.clock,
                        log=kernel.log)  # fmt: skip


FEATURE: Final = Feature(
    name="reset",
    profile=Profile.CORE,
    service=ResetService,
    build=_build,
    actions=frozenset({Action.RESET, Action.UNLOCK_CONNECTOR}),
    keys=frozenset({"ResetRetries"}),
    needs=(TransactionService, ConnectorsService),
)
